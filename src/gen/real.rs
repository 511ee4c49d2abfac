//! Real programs (imported from clang-built objects) as the generator's
//! starting point: `run --programs DIR` hands a `RealPrograms` to the
//! generator, which takes a case's program from it `Config::real_pct` percent
//! of the time and applies the same verifier-shaped op sequence it applies to
//! generated programs. A few conditional jumps get one successor marked never
//! taken (as the verifier's branch tracking would find), so the dead-code
//! passes have work; the rest of the program is live.

use super::config::Config;
use super::program::{live_slots, set_seen, ProgramInfo};
use crate::insn::code;
use crate::program::Program;
use arbitrary::{Result, Unstructured};
use std::collections::BTreeMap;

/// Imported programs by name (`FILE:PROG`), sorted by name so the same
/// directory contents give the same cases.
#[derive(Clone, Debug, Default)]
pub struct RealPrograms {
    names: Vec<String>,
    progs: Vec<Program>,
}

impl RealPrograms {
    pub fn new(mut v: Vec<(String, Program)>) -> RealPrograms {
        v.sort_by(|a, b| a.0.cmp(&b.0));
        let (names, progs) = v.into_iter().unzip();
        RealPrograms { names, progs }
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Slots of the longest program.
    pub fn longest(&self) -> usize {
        self.progs.iter().map(|p| p.len()).max().unwrap_or(0)
    }
}

/// Most ops a real-program case may draw (its op budget is at least the
/// config's).
pub(crate) const MAX_OPS: usize = 400;

/// Most conditional jumps given a never-taken successor.
const MAX_DEAD_BRANCHES: usize = 4;

/// A real program for this case: its index and the program with `seen` set.
pub(crate) fn pick(set: &RealPrograms, u: &mut Unstructured) -> Result<(usize, Program, ProgramInfo)> {
    let k = u.choose_index(set.len())?;
    let mut prog = set.progs[k].clone();
    let jumps: Vec<usize> = prog
        .insns
        .iter()
        .enumerate()
        .filter(|(i, x)| x.is_cond_jump() && x.code != code::TAIL_CALL && !is_second_half(&prog, *i))
        .map(|(i, _)| i)
        .collect();
    let mut kill = BTreeMap::new();
    if !jumps.is_empty() {
        for _ in 0..u.int_in_range(0..=MAX_DEAD_BRANCHES)? {
            kill.insert(*u.choose(&jumps)?, u.arbitrary::<bool>()?);
        }
    }
    let live = live_slots(&prog, |i| Ok(kill.get(&i).copied()))?;
    let pass = u.int_in_range(1..=3u32)?;
    let dead = set_seen(&mut prog, &live, pass);
    Ok((k, prog, ProgramInfo { dead, large: false }))
}

/// The config the ops of a real-program case run with: a real program is
/// long, so a pass may reach further into it than the swarm's op budget
/// for small generated programs allows.
pub(crate) fn ops_config(cfg: &Config, u: &mut Unstructured) -> Result<Config> {
    let max_ops = cfg.max_ops.max(u.int_in_range(16..=MAX_OPS)?);
    Ok(Config { max_ops, ..cfg.clone() })
}

fn is_second_half(p: &Program, i: usize) -> bool {
    i > 0 && p.insns[i - 1].is_ld_imm64()
}

impl RealPrograms {
    /// The name of program `k`.
    pub fn name(&self, k: usize) -> &str {
        &self.names[k]
    }
}
