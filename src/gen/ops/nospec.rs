//! Speculation hardening over a hot region: `[mov ax, limit; nospec; orig]`
//! at every slot of a run, as `convert_ctx_accesses` and the ALU sanitation
//! of `do_misc_fixups` place them.

use super::{OpGen, AX, NOSPEC};
use crate::gen::patchlet::Item;
use crate::insn::build::*;
use arbitrary::{Result, Unstructured};

impl OpGen<'_> {
    /// Speculation hardening of a run of consecutive slots (`i + delta`):
    /// `[mov ax, limit; nospec; orig]` before every slot but `ld_imm64` pairs.
    /// Long runs grow the list patcher's tree past a level, which split paths
    /// short programs never reach.
    pub(super) fn nospec_run(&mut self, u: &mut Unstructured) -> Result<()> {
        let len = self.len();
        let n = u.int_in_range(len / 2..=len)?;
        let start = u.int_in_range(0..=len - n)?;
        let mut delta = 0usize;
        for i in start..start + n {
            if self.done(u) {
                break;
            }
            let p = i + delta;
            if self.insn(p).is_ld_imm64() || self.second_half(p) {
                continue;
            }
            let limit = mov64_imm(AX, (i % 4096) as i32);
            if self.patch_with(u, p, &[Item::Plain(limit), Item::Plain(NOSPEC), Item::Orig])? {
                delta += 2;
            }
        }
        Ok(())
    }
}
