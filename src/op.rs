//! One verifier operation on a program under rewrite, and how to apply it to
//! any `Patcher`.

use crate::insn::Insn;
use crate::patcher::{PatchError, Patcher};
use crate::program::Aux;

/// An operation, addressed by current index.
#[derive(Clone, PartialEq, Eq, Debug, Hash)]
pub enum Op {
    /// `bpf_patch_insn_data(env, off, insns, len)`.
    Patch { off: usize, insns: Vec<Insn> },
    /// `verifier_remove_insns(env, off, cnt)`.
    Remove { off: usize, cnt: usize },
    /// In-place write of one slot.
    Set { off: usize, insn: Insn },
    /// `add_hidden_subprog(env, insns, len)`.
    HiddenSubprog { insns: Vec<Insn> },
    /// `adjust_jmp_off(prog, tgt, delta)`.
    AdjustJmpOff { tgt: usize, delta: u32 },
    /// A read between operations: `insn(i)`, `aux(i)` and `len()`.
    Read { idx: usize },
}

/// What an operation observed: reads return the slot, everything else nothing.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Outcome {
    Done,
    Read { len: usize, insn: Option<Insn>, aux: Option<Aux> },
}

impl Op {
    /// Apply to a patcher; a failed op leaves the error.
    pub fn apply<P: Patcher + ?Sized>(&self, p: &mut P) -> Result<Outcome, PatchError> {
        match self {
            Op::Patch { off, insns } => p.patch(*off, insns).map(|_| Outcome::Done),
            Op::Remove { off, cnt } => p.remove(*off, *cnt).map(|_| Outcome::Done),
            Op::Set { off, insn } => p.set(*off, *insn).map(|_| Outcome::Done),
            Op::HiddenSubprog { insns } => p.add_hidden_subprog(insns).map(|_| Outcome::Done),
            Op::AdjustJmpOff { tgt, delta } => p.adjust_jmp_off(*tgt, *delta).map(|_| Outcome::Done),
            Op::Read { idx } => Ok(Outcome::Read { len: p.len(), insn: p.insn(*idx), aux: p.aux(*idx) }),
        }
    }

    /// Short name of the op kind, for statistics and shrinking.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Patch { insns, .. } if insns.len() == 1 => "patch1",
            Op::Patch { .. } => "patch",
            Op::Remove { .. } => "remove",
            Op::Set { .. } => "set",
            Op::HiddenSubprog { .. } => "hidden_subprog",
            Op::AdjustJmpOff { .. } => "adjust_jmp_off",
            Op::Read { .. } => "read",
        }
    }

    /// True for ops that change the program.
    pub fn is_write(&self) -> bool {
        !matches!(self, Op::Read { .. })
    }
}
