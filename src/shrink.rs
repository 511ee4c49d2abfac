//! Minimising a divergent case while the same divergence (same op kind, same
//! table) persists: drop ops, shorten patchlets, delete instructions with the
//! kernel's own fix-ups (through the array patcher's removal), drop metadata.

use crate::case::Case;
use crate::op::Op;
use crate::patcher::{ArrayPatcher, Patcher};
use crate::program::Program;
use std::time::{Duration, Instant};

/// How long shrinking may go on.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Most candidate checks.
    pub tries: usize,
    /// No new candidate is checked after this.
    pub deadline: Option<Instant>,
}

impl Budget {
    /// At most `tries` checks, for at most `secs` seconds from now.
    pub fn new(tries: usize, secs: Option<f64>) -> Budget {
        Budget { tries, deadline: secs.map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0))) }
    }
}

/// The result of shrinking.
#[derive(Clone, Debug)]
pub struct Shrunk {
    pub case: Case,
    /// Candidates checked.
    pub tries: usize,
    /// The budget ran out before no smaller candidate failed.
    pub stopped_early: bool,
}

/// Most candidate checks by default.
pub const TRIES: usize = 20_000;

/// Shrink `case` while `still_fails` holds, within `budget`; the smallest
/// case found so far is returned when the budget runs out.
pub fn shrink(case: &Case, still_fails: &dyn Fn(&Case) -> bool, budget: Budget) -> Shrunk {
    // An expectation does not survive dropped ops; the shrunk case is differential.
    let mut best = Case { expect: None, ..case.clone() };
    let mut tries = 0usize;
    let over = |tries: usize| tries >= budget.tries || budget.deadline.is_some_and(|d| Instant::now() >= d);
    let accept = |cand: Case, best: &mut Case, tries: &mut usize| -> bool {
        *tries += 1;
        if cand.prog.validate().is_ok() && still_fails(&cand) {
            *best = cand;
            true
        } else {
            false
        }
    };
    loop {
        let before = size(&best);
        // 1. Drop ops: halves, then single ops, from the end.
        let mut chunk = best.ops.len().div_ceil(2).max(1);
        while chunk >= 1 && !over(tries) {
            let mut i = best.ops.len();
            while i > 0 && !over(tries) {
                let lo = i.saturating_sub(chunk);
                let mut cand = best.clone();
                cand.ops.drain(lo..i);
                accept(cand, &mut best, &mut tries);
                i = lo;
            }
            if chunk == 1 {
                break;
            }
            chunk /= 2;
        }
        // 2. Shorten patchlets slot by slot.
        for k in 0..best.ops.len() {
            let mut j = 0;
            while !over(tries) {
                let Some(Op::Patch { insns, .. } | Op::HiddenSubprog { insns }) = best.ops.get(k) else {
                    break;
                };
                if j >= insns.len() || insns.len() <= 1 {
                    break;
                }
                let mut cand = best.clone();
                if let Op::Patch { insns, .. } | Op::HiddenSubprog { insns } = &mut cand.ops[k] {
                    insns.remove(j);
                }
                if !accept(cand, &mut best, &mut tries) {
                    j += 1;
                }
            }
        }
        // 3. Delete program slots (ranges, then single slots) with the kernel's fix-ups.
        let mut width = best.prog.len().div_ceil(2).max(1);
        while width >= 1 && !over(tries) {
            let mut at = best.prog.len();
            while at > 0 && !over(tries) {
                let lo = at.saturating_sub(width);
                if let Some(cand) = delete_slots(&best, lo, at - lo) {
                    accept(cand, &mut best, &mut tries);
                }
                at = lo;
            }
            if width == 1 {
                break;
            }
            width /= 2;
        }
        // 4. Drop metadata the divergence may not need.
        for edit in metadata_edits(&best) {
            if over(tries) {
                break;
            }
            if let Some(cand) = apply(&best, edit) {
                accept(cand, &mut best, &mut tries);
            }
        }
        if over(tries) {
            return Shrunk { case: best, tries, stopped_early: true };
        }
        if size(&best) >= before {
            return Shrunk { case: best, tries, stopped_early: false };
        }
    }
}

/// Instructions plus ops plus metadata entries: what shrinking minimises.
pub fn size(c: &Case) -> usize {
    let p = &c.prog;
    p.len()
        + c.ops.len()
        + c.ops.iter().map(|o| if let Op::Patch { insns, .. } = o { insns.len() } else { 0 }).sum::<usize>()
        + p.linfo.len()
        + p.pokes.len()
        + p.insn_arrays.iter().map(Vec::len).sum::<usize>()
}

/// The case with program slots `[off, off + cnt)` removed the kernel's way,
/// and op positions after them moved down.
fn delete_slots(c: &Case, off: usize, cnt: usize) -> Option<Case> {
    if cnt == 0 || cnt >= c.prog.len() {
        return None;
    }
    let mut p = ArrayPatcher::new(c.prog.clone()).ok()?;
    p.remove(off, cnt).ok()?;
    let prog = p.into_program();
    let shift = |x: usize| if x >= off + cnt { x - cnt } else { x.min(off) };
    let ops = c
        .ops
        .iter()
        .map(|o| match o.clone() {
            Op::Patch { off: o, insns } => Op::Patch { off: shift(o), insns },
            Op::Remove { off: o, cnt: n } => Op::Remove { off: shift(o), cnt: n },
            Op::Set { off: o, insn } => Op::Set { off: shift(o), insn },
            Op::AdjustJmpOff { tgt, delta } => Op::AdjustJmpOff { tgt: shift(tgt), delta },
            Op::Read { idx } => Op::Read { idx: shift(idx) },
            h => h,
        })
        .collect();
    Some(Case { prog: renumber(prog), ops, ..c.clone() })
}

/// Fresh `orig_idx` values after slots were deleted (tokens stay).
fn renumber(mut p: Program) -> Program {
    for (i, a) in p.aux.iter_mut().enumerate() {
        if a.token != 0 {
            a.orig_idx = i as u32;
        }
    }
    p
}

/// One metadata edit the shrinker tries.
#[derive(Clone, Copy, Debug)]
enum Edit {
    ClearInsnArrays,
    DropInsnArrayEntry(usize, usize),
    ClearPokes,
    DropFuncInfo,
    ClearLinfo,
    DropLinfo(usize),
}

/// The edits to try on `c`, later indices first so that an accepted removal
/// does not move the entries still to be tried. Candidates are built one at a
/// time (`apply`): a large case is never copied once per edit up front.
fn metadata_edits(c: &Case) -> Vec<Edit> {
    let p = &c.prog;
    let mut out = Vec::new();
    if !p.insn_arrays.is_empty() {
        out.push(Edit::ClearInsnArrays);
        for m in (0..p.insn_arrays.len()).rev() {
            for e in (0..p.insn_arrays[m].len()).rev() {
                out.push(Edit::DropInsnArrayEntry(m, e));
            }
        }
    }
    if !p.pokes.is_empty() {
        out.push(Edit::ClearPokes);
    }
    if p.func_info.is_some() {
        out.push(Edit::DropFuncInfo);
    }
    if !p.linfo.is_empty() {
        out.push(Edit::ClearLinfo);
        out.extend((0..p.linfo.len()).rev().map(Edit::DropLinfo));
    }
    out
}

/// `c` with `edit` made, or `None` when it no longer applies.
fn apply(c: &Case, edit: Edit) -> Option<Case> {
    let p = &c.prog;
    let applies = match edit {
        Edit::ClearInsnArrays => !p.insn_arrays.is_empty(),
        Edit::DropInsnArrayEntry(m, e) => p.insn_arrays.get(m).is_some_and(|a| e < a.len()),
        Edit::ClearPokes => !p.pokes.is_empty(),
        Edit::DropFuncInfo => p.func_info.is_some(),
        Edit::ClearLinfo => !p.linfo.is_empty(),
        // A record at a subprog start stays: the subprog table points at it.
        Edit::DropLinfo(r) => p.linfo.get(r).is_some_and(|l| !p.subprogs.iter().any(|s| s.start == l.insn_off)),
    };
    if !applies {
        return None;
    }
    let mut n = c.clone();
    let p = &mut n.prog;
    match edit {
        Edit::ClearInsnArrays => p.insn_arrays.clear(),
        Edit::DropInsnArrayEntry(m, e) => {
            p.insn_arrays[m].remove(e);
        }
        Edit::ClearPokes => p.pokes.clear(),
        Edit::DropFuncInfo => {
            p.func_info = None;
            p.func_info_aux.clear();
        }
        Edit::ClearLinfo => {
            p.linfo.clear();
            for s in p.subprogs.iter_mut() {
                s.linfo_idx = 0;
            }
        }
        Edit::DropLinfo(r) => {
            p.linfo.remove(r);
            for s in p.subprogs.iter_mut() {
                if s.linfo_idx as usize > r {
                    s.linfo_idx -= 1;
                }
            }
        }
    }
    Some(n)
}
