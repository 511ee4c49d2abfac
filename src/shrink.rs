//! Minimising a divergent case while the same divergence (same op kind, same
//! table) persists: drop ops, shorten patchlets, delete instructions with the
//! kernel's own fix-ups (through the array patcher's removal), drop metadata.

use crate::case::Case;
use crate::op::Op;
use crate::patcher::{ArrayPatcher, Patcher};
use crate::program::Program;

/// Shrink `case` while `still_fails` holds; returns the smallest case found.
/// `budget` bounds the number of candidate checks.
pub fn shrink(case: &Case, still_fails: &dyn Fn(&Case) -> bool, budget: usize) -> Case {
    // An expectation does not survive dropped ops; the shrunk case is differential.
    let mut best = Case { expect: None, ..case.clone() };
    let mut tries = 0usize;
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
        while chunk >= 1 && tries < budget {
            let mut i = best.ops.len();
            while i > 0 && tries < budget {
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
            while tries < budget {
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
        while width >= 1 && tries < budget {
            let mut at = best.prog.len();
            while at > 0 && tries < budget {
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
        for cand in metadata_candidates(&best) {
            if tries >= budget {
                break;
            }
            accept(cand, &mut best, &mut tries);
        }
        if size(&best) >= before || tries >= budget {
            return best;
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

/// Candidates with one kind of metadata dropped or thinned.
fn metadata_candidates(c: &Case) -> Vec<Case> {
    let mut out = Vec::new();
    let p = &c.prog;
    let with = |f: &dyn Fn(&mut Program)| {
        let mut n = c.clone();
        f(&mut n.prog);
        n
    };
    if !p.insn_arrays.is_empty() {
        out.push(with(&|p| p.insn_arrays.clear()));
        for m in 0..p.insn_arrays.len() {
            for e in 0..p.insn_arrays[m].len() {
                out.push(with(&|p| {
                    p.insn_arrays[m].remove(e);
                }));
            }
        }
    }
    if !p.pokes.is_empty() {
        out.push(with(&|p| p.pokes.clear()));
    }
    if p.func_info.is_some() {
        out.push(with(&|p| {
            p.func_info = None;
            p.func_info_aux.clear();
        }));
    }
    if !p.linfo.is_empty() {
        out.push(with(&|p| {
            p.linfo.clear();
            for s in p.subprogs.iter_mut() {
                s.linfo_idx = 0;
            }
        }));
        let starts: Vec<u32> = p.subprogs.iter().map(|s| s.start).collect();
        for r in (0..p.linfo.len()).rev() {
            if starts.contains(&p.linfo[r].insn_off) {
                continue;
            }
            out.push(with(&|p| {
                p.linfo.remove(r);
                for s in p.subprogs.iter_mut() {
                    if s.linfo_idx as usize > r {
                        s.linfo_idx -= 1;
                    }
                }
            }));
        }
    }
    out
}
