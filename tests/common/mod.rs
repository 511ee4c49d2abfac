//! Program builders shared by the rule tests and the list-patcher tests.
#![allow(dead_code)]

use patch_equiv::insn::Insn;
use patch_equiv::program::{LineInfo, Program, Subprog};

/// `from_insns` with an explicit subprog table `(start, linfo_idx)`; the fake
/// exit entry (`start == len`, `linfo_idx == 0`) is appended.
pub fn prog(insns: Vec<Insn>, subs: &[(u32, u32)]) -> Program {
    let mut p = Program::from_insns(insns);
    p.subprogs = subs.iter().map(|&(start, linfo_idx)| Subprog { start, linfo_idx }).collect();
    p.subprogs.push(Subprog { start: p.insns.len() as u32, linfo_idx: 0 });
    p
}

/// Line-info records `(insn_off, line_off)`; `line_off` is the record identity.
pub fn lines(recs: &[(u32, u32)]) -> Vec<LineInfo> {
    recs.iter().map(|&(insn_off, line_off)| LineInfo { insn_off, line_off, ..LineInfo::default() }).collect()
}

/// A subprog table from `(start, linfo_idx)` pairs, as given.
pub fn subs(s: &[(u32, u32)]) -> Vec<Subprog> {
    s.iter().map(|&(start, linfo_idx)| Subprog { start, linfo_idx }).collect()
}
