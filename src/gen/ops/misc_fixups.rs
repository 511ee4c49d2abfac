//! `do_misc_fixups`: div/mod guards, may_goto, helper and kfunc inlining,
//! tail-call guards, helper `imm` rewrites (`patch_call_imm`).

use super::{OpGen, AX};
use crate::gen::features::Feature;
use crate::gen::patchlet::{Item, To};
use crate::insn::build::*;
use crate::insn::{class, code, field, op, Insn};
use crate::op::Op;
use arbitrary::{Result, Unstructured};

impl OpGen<'_> {
    /// `do_misc_fixups`: div/mod guards, may_goto, helper and kfunc inlining,
    /// tail-call guards, helper `imm` rewrites.
    pub(super) fn do_misc_fixups(&mut self, u: &mut Unstructured) -> Result<()> {
        let cnt = self.len();
        let mut delta = 0usize;
        for i in 0..cnt {
            if self.done(u) {
                break;
            }
            let p = i + delta;
            let insn = self.insn(p);
            let items: Option<Vec<Item>> = if matches!(insn.class(), class::ALU | class::ALU64)
                && insn.is_src_x()
                && matches!(insn.op(), op::DIV | op::MOD)
            {
                Some(div_guard(insn))
            } else if insn.is_may_goto() {
                let t = (p as i64 + insn.off as i64 + 1) as usize;
                Some(if u.ratio(1, 3)? {
                    vec![
                        Item::Plain(ldx_mem(field::DW, AX, 10, -16)),
                        Item::Branch(jmp_imm(op::JNE, AX, 0, 0), To::Slot(6)),
                        Item::Plain(mov64_imm(1, 0)),
                        Item::Plain(call_helper(5)),
                        Item::Branch(jmp_imm(op::JEQ, 0, 0, 0), To::Old(t)),
                        Item::Plain(mov64_imm(AX, 1)),
                        Item::Plain(stx_mem(field::DW, 10, AX, -16)),
                    ]
                } else {
                    vec![
                        Item::Plain(ldx_mem(field::DW, AX, 10, -8)),
                        Item::Branch(jmp_imm(op::JEQ, AX, 0, 0), To::Old(t)),
                        Item::Plain(alu64_imm(op::SUB, AX, 1)),
                        Item::Plain(stx_mem(field::DW, 10, AX, -8)),
                    ]
                })
            } else if insn.code == code::TAIL_CALL && u.ratio(1, 2)? {
                Some(vec![
                    Item::Branch(jmp_imm(op::JGE, 3, 8, 0), To::End),
                    Item::Plain(alu32_imm(op::AND, 3, 7)),
                    Item::Orig,
                ])
            } else if insn.is_helper_call() {
                match u.int_in_range(0..=5)? {
                    0 => Some(vec![
                        Item::LdImm64(ld_imm64(0, 0, 0xffff_8000_1234_0000)),
                        Item::Plain(ldx_mem(field::DW, 0, 0, 0)),
                    ]),
                    1 => Some(get_func_arg_items()),
                    2 => Some(vec![Item::Plain(mov64_imm(5, 0x400)), Item::Orig]),
                    3 => Some(vec![Item::LdImm64(ld_imm64(3, 0, 0xffff_8000_0000_1000)), Item::Orig]),
                    _ => {
                        // patch_call_imm: the helper's imm becomes an address delta.
                        self.features.add(Feature::Set);
                        self.emit(Op::Set { off: p, insn: Insn { imm: insn.imm.wrapping_mul(97) | 1, ..insn } });
                        None
                    }
                }
            } else if insn.is_kfunc_call() {
                match u.int_in_range(0..=2)? {
                    0 => Some(vec![
                        Item::Plain(mov64_imm(1, 16)),
                        Item::LdImm64(ld_imm64(2, 0, 0xffff_8000_0000_2000)),
                        Item::Orig,
                    ]),
                    1 => Some(vec![Item::LdImm64(ld_imm64(2, 0, 0xffff_8000_0000_3000)), Item::Orig]),
                    _ => Some(vec![Item::Plain(mov64_reg(0, 1))]),
                }
            } else {
                None
            };
            if let Some(items) = items {
                let n: usize = items.iter().map(|i| if matches!(i, Item::LdImm64(_)) { 2 } else { 1 }).sum();
                if self.patch_with(u, p, &items)? {
                    delta += n - 1;
                    // timer_set_callback / storage get: `goto patch_call_imm`
                    // rewrites the call at the end of its own patchlet.
                    if matches!(items.last(), Some(Item::Orig))
                        && self.insn(p + n - 1).is_helper_call()
                        && u.ratio(1, 2)?
                    {
                        let last = self.insn(p + n - 1);
                        self.emit(Op::Set { off: p + n - 1, insn: Insn { imm: last.imm ^ 0x5a5a, ..last } });
                    }
                }
            }
        }
        Ok(())
    }
}

/// The div/mod-by-register guards of `do_misc_fixups`.
fn div_guard(insn: Insn) -> Vec<Item> {
    let is64 = insn.class() == class::ALU64;
    let cls = if is64 { class::JMP } else { class::JMP32 };
    let src = insn.src;
    let dst = insn.dst;
    let jeq0 = raw(cls | op::JEQ | field::K, src, 0, 0, 0);
    let jne0 = raw(cls | op::JNE | field::K, src, 0, 0, 0);
    let zero = raw(insn.class() | op::XOR | field::X, dst, dst, 0, 0);
    match (insn.op() == op::DIV, insn.off == 1, is64) {
        // unsigned div: JNE src,0 → orig; dst = 0; JA → end; orig
        (true, false, _) => {
            vec![Item::Branch(jne0, To::Slot(3)), Item::Plain(zero), Item::Branch(ja(0), To::End), Item::Orig]
        }
        // unsigned mod 64: JEQ src,0 → end; orig
        (false, false, true) => vec![Item::Branch(jeq0, To::End), Item::Orig],
        // unsigned mod 32: JEQ → 3; orig; JA → end; mov32 dst, dst
        (false, false, false) => vec![
            Item::Branch(jeq0, To::Slot(3)),
            Item::Orig,
            Item::Branch(ja(0), To::End),
            Item::Plain(raw(class::ALU | op::MOV | field::X, dst, dst, 0, 0)),
        ],
        // signed div: 8 slots, orig last
        (true, true, _) => vec![
            Item::Plain(raw(class::ALU64 | op::MOV | field::X, AX, src, 0, 0)),
            Item::Plain(alu64_imm(op::ADD, AX, 1)),
            Item::Branch(raw(cls | op::JGT | field::K, AX, 0, 0, 1), To::Slot(7)),
            Item::Branch(raw(cls | op::JEQ | field::K, AX, 0, 0, 0), To::Slot(5)),
            Item::Plain(raw(insn.class() | op::NEG, dst, 0, 0, 0)),
            Item::Plain(mov32_imm(dst, 0)),
            Item::Branch(ja(0), To::End),
            Item::Orig,
        ],
        // signed mod: 7 slots, orig at 6
        (false, true, _) => vec![
            Item::Plain(raw(class::ALU64 | op::MOV | field::X, AX, src, 0, 0)),
            Item::Plain(alu64_imm(op::ADD, AX, 1)),
            Item::Branch(raw(cls | op::JGT | field::K, AX, 0, 0, 1), To::Slot(6)),
            Item::Branch(raw(cls | op::JEQ | field::K, AX, 0, 0, 0), To::End),
            Item::Plain(mov32_imm(dst, 0)),
            Item::Branch(ja(0), To::End),
            Item::Orig,
        ],
    }
}

/// `get_func_arg` (10 slots): bounds check to the last slot, `JA` to the end.
fn get_func_arg_items() -> Vec<Item> {
    vec![
        Item::Plain(ldx_mem(field::DW, 0, 1, -8)),
        Item::Plain(alu64_imm(op::AND, 0, 0xff)),
        Item::Branch(jmp_reg(op::JGE, 2, 0, 0), To::Slot(9)),
        Item::Plain(alu64_imm(op::LSH, 2, 3)),
        Item::Plain(raw(class::ALU64 | op::ADD | field::X, 2, 1, 0, 0)),
        Item::Plain(ldx_mem(field::DW, 0, 2, 0)),
        Item::Plain(stx_mem(field::DW, 3, 0, 0)),
        Item::Plain(mov64_imm(0, 0)),
        Item::Branch(ja(0), To::End),
        Item::Plain(mov64_imm(0, -22)),
    ]
}
