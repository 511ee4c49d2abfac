//! `opt_hard_wire_dead_code_branches`: a conditional jump with a dead
//! successor becomes `ja off` or `ja +0`, so no live jump targets dead code.

use super::OpGen;
use crate::gen::features::Feature;
use crate::insn::build::*;
use crate::op::Op;

impl OpGen<'_> {
    /// Every conditional jump (may_goto included), in the kernel's order.
    pub(super) fn opt_hard_wire_dead_code_branches(&mut self) {
        for i in 0..self.len() {
            let insn = self.insn(i);
            if !insn.is_cond_jump() {
                continue;
            }
            let aux = self.shadow.view().aux;
            let t = (i as i64 + insn.off as i64 + 1) as usize;
            let new = if aux.get(i + 1).is_some_and(|a| a.seen == 0) {
                ja(insn.off)
            } else if aux.get(t).is_some_and(|a| a.seen == 0) {
                ja(0)
            } else {
                continue;
            };
            self.features.add(Feature::HardWire);
            self.emit(Op::Set { off: i, insn: new });
        }
    }
}
