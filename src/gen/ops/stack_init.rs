//! The tail of `do_misc_fixups`: may_goto stack init prepended at subprog
//! starts, each followed by `adjust_jmp_off`.

use super::OpGen;
use crate::gen::features::Feature;
use crate::gen::patchlet::Item;
use crate::insn::build::*;
use crate::insn::field;
use crate::op::Op;
use arbitrary::{Result, Unstructured};

impl OpGen<'_> {
    /// may_goto stack init at subprog starts, then `adjust_jmp_off`.
    pub(super) fn stack_init(&mut self, u: &mut Unstructured) -> Result<()> {
        let n_sub = self.shadow.view().subprogs.len() - 1;
        for k in 0..n_sub {
            if self.done(u) || !u.ratio(1, 2)? {
                continue;
            }
            let start = self.shadow.view().subprogs[k].start as usize;
            let timed = u.ratio(1, 3)?;
            let mut items = vec![Item::Plain(st_mem(field::DW, 10, -8, 8_388_608))];
            if timed {
                items.push(Item::Plain(st_mem(field::DW, 10, -16, 0)));
            }
            items.push(Item::Orig);
            let n = items.len();
            if self.patch_with(u, start, &items)? {
                self.features.add(Feature::AdjustJmpOff);
                self.emit(Op::AdjustJmpOff { tgt: start, delta: (n - 1) as u32 });
            }
        }
        Ok(())
    }
}
