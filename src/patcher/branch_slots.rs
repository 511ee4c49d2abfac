//! The slots of a program that carry a branch field (`Insn::branch_field`),
//! ascending. The kernel's branch walks (`bpf_adj_branches`,
//! `adjust_jmp_off`) visit every slot and skip those without one; visiting
//! only these, in the same order, is the same walk without the O(N) skip.
//! The array model keeps it in step with its instructions at every write.

use crate::insn::{BranchField, Insn};
use std::ops::Range;

/// A slot with a branch field, and which field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Branch {
    pub slot: u32,
    pub field: BranchField,
}

/// The branch slots, ascending.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BranchSlots(Vec<Branch>);

impl BranchSlots {
    /// The branch slots of `insns`.
    pub fn of(insns: &[Insn]) -> BranchSlots {
        let mut b = BranchSlots::default();
        b.splice(0, 0, insns);
        b
    }

    /// Every branch slot, ascending.
    pub fn all(&self) -> &[Branch] {
        &self.0
    }

    /// Positions in `all()` of the branch slots inside `slots`.
    pub fn within(&self, slots: Range<usize>) -> Range<usize> {
        let lo = self.0.partition_point(|b| (b.slot as usize) < slots.start);
        let hi = lo + self.0[lo..].partition_point(|b| (b.slot as usize) < slots.end);
        lo..hi
    }

    /// Slot `i` was overwritten in place with `insn`.
    pub fn rewrite(&mut self, i: usize, insn: &Insn) {
        self.splice(i, 1, std::slice::from_ref(insn));
    }

    /// The slots `[off, off + removed)` were replaced by `inserted` (a patch:
    /// one slot by the patchlet; a removal: `cnt` slots by none); later slots
    /// moved by `inserted.len() - removed`.
    pub fn splice(&mut self, off: usize, removed: usize, inserted: &[Insn]) {
        let gone = self.within(off..off + removed);
        let moved = (inserted.len() as u32).wrapping_sub(removed as u32);
        if moved != 0 {
            for b in &mut self.0[gone.end..] {
                b.slot = b.slot.wrapping_add(moved);
            }
        }
        let new = inserted.iter().enumerate();
        self.0.splice(
            gone,
            new.filter_map(|(j, x)| x.branch_field().map(|field| Branch { slot: (off + j) as u32, field })),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::build::*;
    use crate::insn::op;
    use rand::{Rng, SeedableRng};

    fn pick(rng: &mut impl Rng) -> Insn {
        match rng.gen_range(0..5) {
            0 => ja(rng.gen_range(-3..3)),
            1 => call_rel(rng.gen_range(-3..3)),
            2 => call_helper(5),
            3 => jmp_imm(op::JEQ, 1, 0, 2),
            _ => mov64_imm(1, 2),
        }
    }

    /// Random overwrites, patches and removals: the index always equals the
    /// one recomputed from the instructions.
    #[test]
    fn follows_every_write() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for _ in 0..if cfg!(miri) { 10 } else { 200 } {
            let mut insns: Vec<Insn> = (0..rng.gen_range(1..40)).map(|_| pick(&mut rng)).collect();
            let mut idx = BranchSlots::of(&insns);
            for _ in 0..30 {
                let off = rng.gen_range(0..insns.len());
                match rng.gen_range(0..3) {
                    0 => {
                        insns[off] = pick(&mut rng);
                        idx.rewrite(off, &insns[off]);
                    }
                    1 => {
                        let patch: Vec<Insn> = (0..rng.gen_range(1..5)).map(|_| pick(&mut rng)).collect();
                        insns.splice(off..off + 1, patch.iter().copied());
                        idx.splice(off, 1, &patch);
                    }
                    _ if insns.len() > 1 => {
                        let cnt = rng.gen_range(1..=(insns.len() - off).min(insns.len() - 1));
                        insns.drain(off..off + cnt);
                        idx.splice(off, cnt, &[]);
                    }
                    _ => {}
                }
                assert_eq!(idx, BranchSlots::of(&insns));
            }
        }
    }

    /// `adjust_jmp_off` walks the index too: every slot it may adjust has a
    /// branch field, whatever its bytes.
    #[test]
    fn jmp_off_slots_are_branch_slots() {
        for code in 0..=255u8 {
            for src in 0..16u8 {
                let x = Insn { code, src, ..Insn::default() };
                if x.jmp_off_field().is_some() {
                    assert_eq!(x.branch_field(), x.jmp_off_field(), "code {code:#x} src {src}");
                }
            }
        }
    }

    #[test]
    fn within_bounds() {
        let insns = vec![ja(0), mov64_imm(0, 0), ja(0), ja(0), exit()];
        let idx = BranchSlots::of(&insns);
        let slots: Vec<u32> = idx.all().iter().map(|b| b.slot).collect();
        assert_eq!(slots, [0, 2, 3]);
        assert!(idx.all().iter().all(|b| b.field == BranchField::Off16));
        assert_eq!(idx.within(0..5), 0..3);
        assert_eq!(idx.within(1..3), 1..2);
        assert_eq!(idx.within(3..3), 2..2);
        assert_eq!(idx.within(4..5), 3..3);
    }
}
