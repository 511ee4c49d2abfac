//! `opt_remove_nops`: `ja +0` and `may_goto +0` removed one at a time, with
//! the kernel's re-examination of the previous slot after a `may_goto +0`.

use super::OpGen;
use crate::gen::features::Feature;
use crate::insn::build::*;
use crate::op::Op;
use arbitrary::{Result, Unstructured};

impl OpGen<'_> {
    pub(super) fn opt_remove_nops(&mut self, u: &mut Unstructured) -> Result<()> {
        let ja0 = ja(0);
        let mg0 = may_goto(0);
        let mut i: isize = 0;
        while (i as usize) < self.len() {
            let insn = self.insn(i as usize);
            let is_mg0 = insn == mg0;
            if insn != ja0 && !is_mg0 {
                i += 1;
                continue;
            }
            self.features.add(Feature::NopRemoval);
            if self.shadow.view().subprogs.iter().any(|s| s.start as usize == i as usize) {
                self.features.add(Feature::RemoveSubprogHead);
            }
            if !self.emit(Op::Remove { off: i as usize, cnt: 1 }) {
                break;
            }
            self.maybe_read(u, i as usize)?;
            i -= if is_mg0 && i > 0 { 2 } else { 1 };
            i += 1;
        }
        Ok(())
    }
}
