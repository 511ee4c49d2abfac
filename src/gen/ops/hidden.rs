//! `add_hidden_subprog`, as `do_misc_fixups` calls it for the exception
//! callback: `[last, r0 = r1, exit]` appended.

use super::OpGen;
use crate::gen::features::Feature;
use crate::insn::build::*;
use crate::op::Op;
use arbitrary::{Result, Unstructured};

impl OpGen<'_> {
    /// `add_hidden_subprog` with `[last, r0 = r1, exit]`; rarely twice
    /// (`-EFAULT`), and only when the input says so: a spent input's default
    /// would add the second one every time.
    pub(super) fn add_hidden_subprog(&mut self, u: &mut Unstructured) -> Result<()> {
        let times = if !u.is_empty() && u.ratio(1, 6)? { 2 } else { 1 };
        for _ in 0..times {
            let last = self.insn(self.len() - 1);
            self.features.add(Feature::HiddenSubprog);
            self.emit(Op::HiddenSubprog { insns: vec![last, mov64_reg(0, 1), exit()] });
            self.maybe_read(u, self.len() - 1)?;
        }
        Ok(())
    }
}
