//! `optimize_bpf_loop` → `inline_bpf_loop`: helper calls become the 19-slot
//! inline loop, whose slot 12 is a pseudo call out of the patchlet.

use super::OpGen;
use crate::gen::patchlet::{Item, To};
use crate::insn::build::*;
use crate::insn::{field, op, Insn};
use arbitrary::{Result, Unstructured};

impl OpGen<'_> {
    /// `optimize_bpf_loop`: some helper calls become the 19-slot inline loop
    /// whose slot 12 calls the callback subprog (a pseudo call out).
    pub(super) fn optimize_bpf_loop(&mut self, u: &mut Unstructured) -> Result<()> {
        let cnt = self.len();
        let mut delta = 0usize;
        for i in 0..cnt {
            if self.done(u) {
                break;
            }
            let p = i + delta;
            if !self.insn(p).is_helper_call() || !u.ratio(1, 2)? {
                continue;
            }
            let subs: Vec<usize> = self.shadow.view().subprogs.iter().map(|s| s.start as usize).collect();
            let (s, _) = self.subprog_of(p);
            let Some(&cb) = subs[..subs.len() - 1].iter().find(|&&c| c > s && self.live(c)) else {
                continue;
            };
            let items = bpf_loop_items(cb);
            if self.patch_with(u, p, &items)? {
                delta += 18;
            }
        }
        Ok(())
    }
}

/// The `inline_bpf_loop` patchlet (19 slots) calling subprog start `cb`.
fn bpf_loop_items(cb: usize) -> Vec<Item> {
    let p = |i: Insn| Item::Plain(i);
    vec![
        Item::Branch(jmp_imm(op::JLE, 1, 1 << 23, 0), To::Slot(3)),
        p(mov32_imm(0, -7)),
        Item::Branch(ja(0), To::End),
        p(stx_mem(field::DW, 10, 6, -24)),
        p(stx_mem(field::DW, 10, 7, -16)),
        p(stx_mem(field::DW, 10, 8, -8)),
        p(mov64_reg(6, 1)),
        p(mov64_imm(7, 0)),
        p(mov64_reg(8, 3)),
        Item::Branch(jmp_reg(op::JGE, 7, 6, 0), To::Slot(15)),
        p(mov64_reg(1, 7)),
        p(mov64_reg(2, 8)),
        Item::Branch(call_rel(0), To::Old(cb)),
        p(alu64_imm(op::ADD, 7, 1)),
        Item::Branch(jmp_imm(op::JEQ, 0, 0, 0), To::Slot(9)),
        p(mov64_reg(0, 7)),
        p(ldx_mem(field::DW, 6, 10, -24)),
        p(ldx_mem(field::DW, 7, 10, -16)),
        p(ldx_mem(field::DW, 8, 10, -8)),
    ]
}
