//! Ops on programs over 32767 slots (`gen::large`): patches inside long
//! branches' spans until one does not fit, so `bpf_patch_insn_single`'s probe
//! pass and its `-ERANGE` are exercised.

use super::OpGen;
use crate::gen::features::Feature;
use crate::gen::patchlet::Item;
use crate::gen::program::plain;
use crate::insn::build::*;
use crate::op::Op;
use arbitrary::{Result, Unstructured};

impl OpGen<'_> {
    /// A long branch whose span crosses subprogs (an invalid program from here
    /// on, so no more checkpoints): from the last subprog far back into
    /// subprog 0, or from subprog 0 to the program end. Patches anywhere in
    /// its span must still count for it in the range watch; returns the first
    /// slot of subprog 0 inside the span.
    fn cross_subprog_branch(&mut self, u: &mut Unstructured) -> Result<usize> {
        let start = self.shadow.view().subprogs[1].start as usize;
        let len = self.len();
        self.transient = true;
        if u.arbitrary()? {
            let back = u.int_in_range(32_700..=32_768i64)?.min(start as i64);
            self.emit(Op::Set { off: start + 1, insn: ja((-back) as i16) });
            Ok(start + 2 - back as usize)
        } else {
            let fwd = u.int_in_range(32_700..=32_767i64)?.min(len as i64 - 3);
            let off = len - 1 - fwd as usize;
            self.emit(Op::Set { off, insn: ja(fwd as i16) });
            Ok(off + 1)
        }
    }

    /// A few patches inside the long subprog 0. With `span` (the first slot of
    /// subprog 0 a cross-subprog branch covers), also at the head of the short
    /// last subprog and inside that branch's span on the subprog 0 side, so
    /// the patches that shrink its slack fall in either subprog. Never at a
    /// branch, pair or exit.
    fn large_patches(&mut self, u: &mut Unstructured, span: Option<usize>) -> Result<()> {
        let n = u.int_in_range(1..=12)?;
        for _ in 0..n {
            if u.is_empty() {
                break;
            }
            let len = self.len();
            let last = self.shadow.view().subprogs[1].start as usize;
            let p = match (span, u.int_in_range(0..=2u8)?) {
                (Some(_), 0) => last + u.int_in_range(0..=1)?,
                (Some(lo), 1) if lo.max(50) + 2 < last => u.int_in_range(lo.max(50)..=last - 2)?,
                _ => u.int_in_range(50..=len - 100)?,
            };
            let insn = self.insn(p);
            if insn.target(p).is_some() || insn.is_ld_imm64() || self.second_half(p) || insn.is_exit() {
                continue;
            }
            let k = u.int_in_range(1..=12)?;
            let mut items: Vec<Item> = (0..k).map(|_| plain(u).map(Item::Plain)).collect::<Result<_>>()?;
            items.push(Item::Orig);
            self.patch_with(u, p, &items)?;
        }
        Ok(())
    }

    /// Programs over 32767 slots: patches inside the long branches' spans
    /// until one does not fit (`-ERANGE`), with reads in between.
    pub(super) fn large_ops(&mut self, u: &mut Unstructured) -> Result<()> {
        // A prepend at the long forward jump's target, then adjust_jmp_off:
        // the jump gains `delta` there, which overflows when it had no slack.
        let long = {
            let v = self.shadow.view();
            v.targets().find_map(|(i, t)| {
                (v.insns[i].branch_field() == Some(crate::insn::BranchField::Off16) && t - i as i64 > 30_000)
                    .then_some(t as usize)
            })
        };
        if let (Some(t), true) = (long, !u.is_empty() && u.ratio(1, 2)?) {
            self.patch_with(u, t, &[Item::Plain(mov64_imm(11, 0)), Item::Orig])?;
            self.features.add(Feature::AdjustJmpOff);
            self.emit(Op::AdjustJmpOff { tgt: t, delta: 1 });
        }
        // Patches, then (every other time) a long branch across subprogs, then
        // more patches, in its span on both sides of the subprog boundary.
        self.large_patches(u, None)?;
        if !u.is_empty() && u.ratio(1, 2)? {
            let lo = self.cross_subprog_branch(u)?;
            self.large_patches(u, Some(lo))?;
        }
        Ok(())
    }
}
