//! `convert_ctx_accesses`: epilogue setup and prologue at slot 0 (then
//! `adjust_jmp_off`), ctx-load rewrites, `nospec` around loads and stores,
//! epilogues at the main program's exits.

use super::{OpGen, NOSPEC};
use crate::gen::features::Feature;
use crate::gen::patchlet::{Item, To};
use crate::gen::program::plain;
use crate::insn::build::*;
use crate::insn::{class, field, op};
use crate::op::Op;
use arbitrary::{Result, Unstructured};

impl OpGen<'_> {
    /// `convert_ctx_accesses`: epilogue setup and prologue at 0 (+
    /// `adjust_jmp_off`), then ctx rewrites, nospec, and epilogues at exits.
    pub(super) fn convert_ctx_accesses(&mut self, u: &mut Unstructured) -> Result<()> {
        let epilogue = u.ratio(1, 3)?;
        let mut delta = 0usize;
        if epilogue && self.patch_with(u, 0, &[Item::Plain(stx_mem(field::DW, 10, 1, -8)), Item::Orig])? {
            delta += 1;
        }
        if u.ratio(1, 3)? {
            let n = u.int_in_range(2..=9)?;
            let mut items: Vec<Item> = (0..n).map(|_| plain(u).map(Item::Plain)).collect::<Result<_>>()?;
            items.insert(1, Item::Branch(jmp_imm(op::JEQ, 0, 0, 0), To::Slot(n + 3)));
            items.insert(2, Item::Plain(call_helper(u.int_in_range(1..=200)?)));
            items.push(Item::Plain(exit()));
            items.push(Item::Orig);
            if self.patch_with(u, 0, &items)? {
                delta += items.len() - 1;
            }
        }
        if delta > 0 {
            self.features.add(Feature::AdjustJmpOff);
            self.emit(Op::AdjustJmpOff { tgt: 0, delta: delta as u32 });
        }
        let cnt = self.len() - delta;
        let mut epilogue_idx: Option<usize> = None;
        for i in 0..cnt {
            if self.done(u) {
                break;
            }
            let p = i + delta;
            let insn = self.insn(p);
            let sub_main = p < self.shadow.view().subprogs[1].start as usize;
            let mut items: Option<Vec<Item>> = None;
            if epilogue && insn.is_exit() && sub_main {
                items = Some(match epilogue_idx {
                    None => vec![
                        Item::Plain(ldx_mem(field::DW, 1, 10, -8)),
                        Item::Plain(mov64_imm(0, 0)),
                        Item::Plain(exit()),
                    ],
                    Some(e) => vec![Item::Branch(gotol(0), To::Old(e))],
                });
                if epilogue_idx.is_none() {
                    epilogue_idx = Some(p);
                }
            } else if insn.class() == class::LDX && u.ratio(1, 3)? {
                let n = u.int_in_range(1..=5)?;
                let mut v = vec![Item::Plain(ldx_mem(
                    *u.choose(&[field::W, field::DW])?,
                    insn.dst,
                    insn.src,
                    u.int_in_range(0..=64)? * 4,
                ))];
                for _ in 1..n {
                    v.push(Item::Plain(alu64_imm(
                        *u.choose(&[op::RSH, op::AND, op::LSH])?,
                        insn.dst,
                        u.int_in_range(1..=31)?,
                    )));
                }
                items = Some(v);
            } else if matches!(insn.class(), class::LDX | class::STX | class::ST)
                && insn.code != NOSPEC.code
                && u.ratio(1, 6)?
            {
                items = Some(if insn.class() == class::LDX {
                    vec![Item::Plain(NOSPEC), Item::Orig]
                } else {
                    vec![Item::Orig, Item::Plain(NOSPEC)]
                });
            }
            if let Some(items) = items {
                let n: usize = items.len();
                if self.patch_with(u, p, &items)? {
                    delta += n - 1;
                }
            }
        }
        Ok(())
    }
}
