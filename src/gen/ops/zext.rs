//! `opt_subreg_zext_lo32_rnd_hi32`: a zext after every 32-bit def.

use super::OpGen;
use crate::gen::patchlet::Item;
use crate::insn::build::*;
use arbitrary::{Result, Unstructured};

impl OpGen<'_> {
    /// `opt_subreg_zext_lo32_rnd_hi32`: `[orig, zext]` after every slot whose
    /// aux asks for it (not kfunc calls).
    pub(super) fn opt_subreg_zext_lo32_rnd_hi32(&mut self, u: &mut Unstructured) -> Result<()> {
        let cnt = self.len();
        let mut delta = 0usize;
        for i in 0..cnt {
            if self.done(u) {
                break;
            }
            let p = i + delta;
            let insn = self.insn(p);
            if !self.shadow.view().aux[p].zext_dst || insn.is_kfunc_call() {
                continue;
            }
            let Some(r) = insn.def_regno() else { continue };
            if self.patch_with(u, p, &[Item::Orig, Item::Plain(zext_reg(r))])? {
                delta += 1;
            }
        }
        Ok(())
    }
}
