//! Generation of valid programs and verifier-shaped op sequences from an
//! `arbitrary::Unstructured` (the fuzz input, or seeded random bytes).

pub mod config;
pub mod features;
mod large;
pub mod ops;
pub mod patchlet;
pub mod program;
pub mod real;

pub use config::{Config, OpWeights};
pub use features::{Feature, Features, Stats};
pub use real::RealPrograms;

use crate::case::Case;
use crate::op::{Op, Outcome};
use crate::patcher::{ArrayPatcher, PatchError, Patcher};
use crate::program::Program;
use arbitrary::Unstructured;

/// A generated case with what it exercised.
#[derive(Clone, Debug)]
pub struct GenCase {
    pub case: Case,
    pub features: Features,
    /// Per op: the program is valid after it (see `ops` for the exception).
    pub checkpoints: Vec<bool>,
    /// The real program the case started from (`FILE:PROG`), if any.
    pub real: Option<String>,
}

/// Generate one case: a valid program, then ops on it.
pub fn generate(cfg: &Config, u: &mut Unstructured) -> arbitrary::Result<GenCase> {
    generate_from(cfg, u, None)
}

/// Sees a case while it is generated, through the generator's shadow
/// `ArrayPatcher` (the seeded runner checks the case on the way:
/// `equiv::Follow`). Watching changes nothing the generator draws.
pub trait Watch {
    /// The program, before any op.
    fn program(&mut self, prog: &Program);
    /// Op `k`, right after the shadow applied it and returned `result`
    /// (reads included: the shadow answers them too).
    fn op(&mut self, k: usize, op: &Op, shadow: &ArrayPatcher, result: &Result<Outcome, PatchError>);
    /// The last op was given.
    fn end(&mut self, shadow: &ArrayPatcher);
}

/// The same, with real programs to start from `cfg.real_pct` percent of the
/// time (without them no byte is spent on the choice, so generated cases
/// stay what they were).
pub fn generate_from(cfg: &Config, u: &mut Unstructured, real: Option<&RealPrograms>) -> arbitrary::Result<GenCase> {
    generate_watched(cfg, u, real, None)
}

/// `generate_from`, with `watch` shown the program and every op.
pub fn generate_watched(
    cfg: &Config,
    u: &mut Unstructured,
    real: Option<&RealPrograms>,
    mut watch: Option<&mut dyn Watch>,
) -> arbitrary::Result<GenCase> {
    let (prog, info, from, ops_cfg) = match real {
        Some(set) if !set.is_empty() && program::pct(u, cfg.real_pct)? => {
            let (k, p, i) = real::pick(set, u)?;
            (p, i, Some(set.name(k).to_string()), real::ops_config(cfg, u)?)
        }
        _ => {
            let (p, i) = program::generate(cfg, u)?;
            (p, i, None, cfg.clone())
        }
    };
    let mut features = Features::default();
    note_program(&prog, &mut features);
    // Valid by construction (tests/generator.rs checks it over many seeds).
    let shadow = ArrayPatcher::from_valid(prog.clone());
    if let Some(w) = watch.as_deref_mut() {
        w.program(&prog);
    }
    let mut g = ops::OpGen::new(&ops_cfg, shadow, watch.as_mut().map(|w| &mut **w as &mut dyn Watch));
    g.generate(u, info.large)?;
    g.end();
    features.0 |= g.features.0;
    // A spent input answers every draw with its default: the generator
    // stopped adding ops there, and the case says so.
    if u.is_empty() {
        features.add(Feature::OutOfBytes);
    }
    let case = Case { name: String::new(), prog, ops: g.ops, expect: None, ignore_tokens: false, notes: Vec::new() };
    Ok(GenCase { case, features, checkpoints: g.checkpoints, real: from })
}

impl Case {
    /// A generated case (program + ops) from `cfg` and the bytes in `u`.
    pub fn generate(cfg: &Config, u: &mut Unstructured) -> arbitrary::Result<Case> {
        generate(cfg, u).map(|g| g.case)
    }
}

/// Features visible in the program itself.
fn note_program(p: &crate::program::Program, f: &mut Features) {
    for i in &p.insns {
        if i.is_gotol() {
            f.add(Feature::Gotol);
        }
        if i.is_pseudo_call() {
            f.add(Feature::PseudoCall);
        }
        if i.is_pseudo_func() {
            f.add(Feature::PseudoFunc);
        }
        if i.is_may_goto() {
            f.add(Feature::MayGoto);
        }
        if i.is_ld_imm64() {
            f.add(Feature::LdImm64);
        }
    }
    if !p.pokes.is_empty() {
        f.add(Feature::Tailcall);
    }
    if !p.insn_arrays.is_empty() {
        f.add(Feature::InsnArray);
    }
}

/// Input bytes a case of `cfg` may draw (with `real`, one that may start
/// from a real program), so that its program and passes are drawn, not
/// defaulted: 16 per slot and 8 per op, plus room for the rest and, with
/// real programs, a byte per slot of the longest and 8 per op of their op
/// budget. Measured on seed 1's first 100,000 cases with unlimited input: a
/// dense config (1,100-1,500 slots, 2,048 ops) drew at most 16,302 bytes
/// (this gives it at least 36,032), a 256-subprog one 10,308 (at least
/// 18,440), any other 2,148; real programs from `tests/bpf` (the longest
/// 10,325 slots) at most 6,122. Seeded runs never give less than
/// `campaign::CASE_BYTES`.
pub fn input_len(cfg: &Config, real: Option<&RealPrograms>) -> usize {
    let real = real.map_or(0, |r| r.longest() + 8 * real::MAX_OPS);
    2048 + 16 * cfg.max_insns + 8 * cfg.max_ops + real
}

/// The one path from bytes to a case, shared by the fuzz target and the
/// seeded campaigns: a swarm `Config` drawn from the bytes, then the case.
pub fn from_bytes(data: &[u8]) -> arbitrary::Result<(Config, GenCase)> {
    use arbitrary::Arbitrary;
    let mut u = Unstructured::new(data);
    let cfg = Config::arbitrary(&mut u)?;
    let case = generate(&cfg, &mut u)?;
    Ok((cfg, case))
}

/// The same with a fixed config (`--config FILE`): every byte goes to the case.
pub fn from_bytes_with(cfg: &Config, data: &[u8]) -> arbitrary::Result<GenCase> {
    generate(cfg, &mut Unstructured::new(data))
}

/// `from_bytes` / `from_bytes_with` with real programs to start from.
pub fn from_bytes_real(cfg: Option<&Config>, data: &[u8], real: &RealPrograms) -> arbitrary::Result<GenCase> {
    from_bytes_watched(cfg, data, Some(real), None)
}

/// Every `from_bytes*` in one: the config drawn from the bytes unless given,
/// real programs if any, and `watch` shown the case as it is generated.
pub fn from_bytes_watched(
    cfg: Option<&Config>,
    data: &[u8],
    real: Option<&RealPrograms>,
    watch: Option<&mut dyn Watch>,
) -> arbitrary::Result<GenCase> {
    use arbitrary::Arbitrary;
    let mut u = Unstructured::new(data);
    let drawn;
    let cfg = match cfg {
        Some(c) => c,
        None => {
            drawn = Config::arbitrary(&mut u)?;
            &drawn
        }
    };
    generate_watched(cfg, &mut u, real, watch)
}
