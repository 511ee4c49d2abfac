//! Patchlets described by where their branches go (inside the patchlet, the
//! slot after it, an outside slot, a subprog), turned into instructions for
//! the post-patch layout the way the kernel's callers compute them.

use crate::insn::{BranchField, Insn};

/// Where a patchlet branch lands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum To {
    /// Patchlet slot `k`.
    Slot(usize),
    /// The first slot after the patchlet (`end_new`).
    End,
    /// A slot of the program before the patch (old index), e.g. may_goto's
    /// pre-biased target or a gotol back to an epilogue.
    Old(usize),
}

/// One patchlet item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item {
    /// The instruction being patched, its branch (if any) kept on its target.
    Orig,
    /// An instruction without a branch.
    Plain(Insn),
    /// A branch instruction (its relative field is filled in).
    Branch(Insn, To),
    /// Both halves of an `ld_imm64`.
    LdImm64([Insn; 2]),
}

/// What a materialized patchlet does, for the statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shape {
    pub ld_imm64: bool,
    pub jump_out: bool,
    pub jump_to_end: bool,
    pub call_out: bool,
    pub internal_jump: bool,
}

/// Old index of `to` seen from the new layout of a patch at `p` growing by `delta`.
fn new_index(t_old: usize, p: usize, delta: usize) -> usize {
    if t_old > p {
        t_old + delta
    } else {
        t_old
    }
}

/// Instructions for a patch at `p` over `orig`, or `None` if some relative
/// value would not fit its field.
pub fn materialize(items: &[Item], p: usize, orig: Insn) -> Option<(Vec<Insn>, Shape)> {
    let n: usize = items.iter().map(|i| if matches!(i, Item::LdImm64(_)) { 2 } else { 1 }).sum();
    let delta = n - 1;
    let mut slot_of = Vec::with_capacity(items.len());
    let mut k = 0;
    for it in items {
        slot_of.push(k);
        k += if matches!(it, Item::LdImm64(_)) { 2 } else { 1 };
    }
    let mut out = Vec::with_capacity(n);
    let mut shape = Shape::default();
    for (idx, it) in items.iter().enumerate() {
        let at = p + slot_of[idx];
        let place = |insn: Insn, t_new: usize| -> Option<Insn> {
            let f = insn.branch_field()?;
            let x = t_new as i64 - at as i64 - 1;
            let fits = match f {
                BranchField::Off16 => i16::try_from(x).is_ok(),
                BranchField::Imm32 => i32::try_from(x).is_ok(),
            };
            fits.then(|| insn.with_rel(f, x))
        };
        match *it {
            Item::Orig => match orig.target(p) {
                Some(t) => {
                    let t_new = new_index(t as usize, p, delta);
                    out.push(place(orig, t_new)?);
                    shape.jump_out = true;
                    shape.call_out |= orig.is_pseudo_call() || orig.is_pseudo_func();
                }
                None => out.push(orig),
            },
            Item::Plain(i) => out.push(i),
            Item::LdImm64(pair) => {
                shape.ld_imm64 = true;
                out.extend(pair);
            }
            Item::Branch(insn, to) => {
                let t_new = match to {
                    To::Slot(j) => {
                        shape.internal_jump = true;
                        p + j
                    }
                    To::End => {
                        shape.jump_to_end = true;
                        p + n
                    }
                    To::Old(t) => {
                        shape.jump_out = true;
                        shape.call_out |= insn.is_pseudo_call() || insn.is_pseudo_func();
                        new_index(t, p, delta)
                    }
                };
                out.push(place(insn, t_new)?);
            }
        }
    }
    Some((out, shape))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::build::*;
    use crate::insn::op;

    #[test]
    fn may_goto_expansion_matches_the_kernels_prebias() {
        // may_goto +5 at p = 10 targets 16; the kernel emits JEQ ax,0,off+2 in
        // slot 1 of a 4-slot patchlet: 11 + 7 + 1 = 19 = 16 + 3.
        let items = [
            Item::Plain(mov64_imm(11, 0)),
            Item::Branch(jmp_imm(op::JEQ, 11, 0, 0), To::Old(16)),
            Item::Plain(mov64_imm(11, 1)),
            Item::Plain(mov64_imm(11, 2)),
        ];
        let (out, shape) = materialize(&items, 10, may_goto(5)).unwrap();
        assert_eq!(out[1].off, 7);
        assert!(shape.jump_out);
        // Backward: may_goto -3 at 10 targets 8; the kernel uses off-1 = -4.
        let items = [Item::Plain(mov64_imm(11, 0)), Item::Branch(jmp_imm(op::JEQ, 11, 0, 0), To::Old(8))];
        assert_eq!(materialize(&items, 10, may_goto(-3)).unwrap().0[1].off, -4);
    }

    #[test]
    fn end_and_orig_targets() {
        // [JNE → 3, xor, JA → end, orig(ja +2 at 5 → 8)] at p = 5, delta 3.
        let items = [
            Item::Branch(jmp_reg(op::JNE, 1, 2, 0), To::Slot(3)),
            Item::Plain(mov64_imm(1, 0)),
            Item::Branch(ja(0), To::End),
            Item::Orig,
        ];
        let (out, _) = materialize(&items, 5, ja(2)).unwrap();
        assert_eq!(out[0].off, 2);
        assert_eq!(out[2].off, 1);
        assert_eq!(out[3].off, 2 + 3 - 3); // at 8, target 8 + 3 = 11: 11 - 8 - 1
    }
}
