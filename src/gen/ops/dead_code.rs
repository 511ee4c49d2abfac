//! `opt_remove_dead_code`: every maximal run of unseen slots removed, from the
//! front, at current indices.

use super::OpGen;
use crate::gen::features::Feature;
use crate::op::Op;

impl OpGen<'_> {
    /// Until the last run is gone, dead code not yet removed may point
    /// anywhere (as in the kernel), so these removals are no checkpoints; the
    /// program is valid again after the last one.
    pub(super) fn opt_remove_dead_code(&mut self) {
        self.transient = true;
        let mut i = 0;
        while i < self.len() {
            let aux = self.shadow.view().aux;
            let j = aux[i..].iter().take_while(|a| a.seen == 0).count();
            if j > 0 {
                self.features.add(Feature::DeadRunRemoval);
                let inherit = {
                    let v = self.shadow.view();
                    v.linfo.iter().any(|l| (l.insn_off as usize) >= i && (l.insn_off as usize) < i + j)
                        && i + j < v.insns.len()
                        && !v.linfo.iter().any(|l| l.insn_off as usize == i + j)
                };
                if self.emit(Op::Remove { off: i, cnt: j }) && inherit {
                    self.features.add(Feature::LineInfoInherit);
                }
            }
            i += 1;
        }
        self.transient = false;
        if let Some(c) = self.checkpoints.last_mut() {
            *c = true;
        }
    }
}
