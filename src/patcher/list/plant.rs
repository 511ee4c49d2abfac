//! Planted faults: the list patcher with one deliberate bug of a kind a real
//! implementation could have, to show the harness finds and names it.
//! Used by `--plant`, the harness self-tests and the mutation-testing docs;
//! never by the real checker.

use super::{ListPatcher, PokeRef, NIL};
use crate::insn::Insn;
use crate::patcher::{PatchError, Patcher};
use crate::program::{Aux, Program};

/// One planted bug.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fault {
    /// A line-info record at the patched slot moves to the second slot (`>=` for `>`).
    LinfoAtOffMoves,
    /// A subprog starting at the patched slot moves to the last patchlet slot.
    SubprogStartMoves,
    /// Pseudo-func `imm` not adjusted by patches it spans.
    PseudoFuncNotAdjusted,
    /// The original aux entry stays on the first patchlet slot.
    AuxAtFirstSlot,
    /// Poke descriptors after the patch keep their index.
    PokeNotMoved,
    /// Removal never lets the last removed line-info record inherit.
    NoLinfoInherit,
    /// Removal leaves insn-array entries on the next slot instead of deleting them.
    InsnArrayNotDeleted,
    /// Removal reads the first surviving slot without checking there is one:
    /// index out of bounds (a panic) when the removal takes the program tail.
    TailRemovalOutOfBounds,
    /// `add_hidden_subprog` aborts the process, as a C engine's failed
    /// allocation or `BUG_ON` would: a crash no `catch_unwind` can catch.
    AbortInHiddenSubprog,
}

impl Fault {
    pub const ALL: [Fault; 9] = [
        Fault::LinfoAtOffMoves,
        Fault::SubprogStartMoves,
        Fault::PseudoFuncNotAdjusted,
        Fault::AuxAtFirstSlot,
        Fault::PokeNotMoved,
        Fault::NoLinfoInherit,
        Fault::InsnArrayNotDeleted,
        Fault::TailRemovalOutOfBounds,
        Fault::AbortInHiddenSubprog,
    ];

    /// The name `--plant` takes.
    pub const fn name(self) -> &'static str {
        match self {
            Fault::LinfoAtOffMoves => "linfo-at-off-moves",
            Fault::SubprogStartMoves => "subprog-start-moves",
            Fault::PseudoFuncNotAdjusted => "pseudo-func-not-adjusted",
            Fault::AuxAtFirstSlot => "aux-at-first-slot",
            Fault::PokeNotMoved => "poke-not-moved",
            Fault::NoLinfoInherit => "no-linfo-inherit",
            Fault::InsnArrayNotDeleted => "insn-array-not-deleted",
            Fault::TailRemovalOutOfBounds => "tail-removal-out-of-bounds",
            Fault::AbortInHiddenSubprog => "abort-in-hidden-subprog",
        }
    }

    /// One line for `--help`.
    pub const fn help(self) -> &'static str {
        match self {
            Fault::LinfoAtOffMoves => "a line-info record at the patched slot moves to the second slot",
            Fault::SubprogStartMoves => "a subprog starting at the patched slot moves to the last patchlet slot",
            Fault::PseudoFuncNotAdjusted => "pseudo-func imm not adjusted by patches it spans",
            Fault::AuxAtFirstSlot => "the original aux entry stays on the first patchlet slot",
            Fault::PokeNotMoved => "poke descriptors after a patch keep their index",
            Fault::NoLinfoInherit => "removal never lets the last removed line-info record inherit",
            Fault::InsnArrayNotDeleted => "removal moves insn-array entries to the next slot instead of deleting them",
            Fault::TailRemovalOutOfBounds => "removal of the program tail panics (index out of bounds)",
            Fault::AbortInHiddenSubprog => "add_hidden_subprog aborts the process (an uncatchable crash)",
        }
    }

    /// The fault kills the process: the engine holding it must run in a
    /// child process (`Engine::can_crash`).
    pub fn crashes(self) -> bool {
        self == Fault::AbortInHiddenSubprog
    }

    /// The table a finding caused by this fault shows first (`panic` and
    /// `crash` for the faults that do not diverge but fail).
    pub fn table(self) -> &'static str {
        match self {
            Fault::LinfoAtOffMoves | Fault::NoLinfoInherit => "linfo",
            Fault::SubprogStartMoves => "subprogs",
            Fault::PseudoFuncNotAdjusted => "insns",
            Fault::AuxAtFirstSlot => "aux",
            Fault::PokeNotMoved => "pokes",
            Fault::InsnArrayNotDeleted => "insn_arrays",
            Fault::TailRemovalOutOfBounds => "panic",
            Fault::AbortInHiddenSubprog => "crash",
        }
    }
}

/// The list patcher with one fault planted.
#[derive(Clone, Debug)]
pub struct Planted {
    inner: ListPatcher,
    fault: Fault,
}

impl Planted {
    /// The list patcher over `prog` (valid) with `fault`.
    pub fn with_fault(prog: Program, fault: Fault) -> Planted {
        Planted { inner: ListPatcher::from_valid(prog), fault }
    }

    fn after_patch(&mut self, off: usize, n: usize) {
        if n < 2 {
            return;
        }
        let lp = &mut self.inner;
        let x = lp.node_at(off);
        let last = lp.node_at(off + n - 1);
        match self.fault {
            Fault::LinfoAtOffMoves => {
                let y = lp.node_at(off + 1);
                if lp.nodes[x as usize].linfo != NIL && lp.nodes[y as usize].linfo == NIL {
                    lp.nodes[y as usize].linfo = lp.nodes[x as usize].linfo;
                    lp.nodes[x as usize].linfo = NIL;
                    lp.seq.set_mark(x, false);
                    lp.seq.set_mark(y, true);
                }
            }
            Fault::SubprogStartMoves => {
                let cnt = lp.subprog_cnt;
                for s in &mut lp.subprogs[..cnt] {
                    if s.start == x {
                        s.start = last;
                    }
                }
            }
            Fault::PseudoFuncNotAdjusted => {
                for (i, id) in lp.seq.to_vec().into_iter().enumerate() {
                    if i < off && lp.nodes[id as usize].insn.is_pseudo_func() && lp.nodes[id as usize].target != NIL {
                        let t = lp.target_pos(id);
                        if t >= off + n {
                            lp.bind_index(id, t - (n - 1));
                        }
                    }
                }
            }
            Fault::AuxAtFirstSlot => {
                let a = lp.nodes[x as usize].aux;
                lp.nodes[x as usize].aux = lp.nodes[last as usize].aux;
                lp.nodes[last as usize].aux = a;
            }
            Fault::PokeNotMoved => {
                let len = lp.seq.len();
                for k in 0..lp.pokes.len() {
                    if let PokeRef::Node(p) = lp.pokes[k] {
                        let i = lp.pos(p);
                        if i >= off + n && i - (n - 1) < len {
                            lp.pokes[k] = PokeRef::Node(lp.node_at(i - (n - 1)));
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// `Patcher::from_valid` cannot carry the fault: build with `Planted::with_fault`.
impl Patcher for Planted {
    fn from_valid(prog: Program) -> Self {
        Planted::with_fault(prog, Fault::AuxAtFirstSlot)
    }

    fn patch(&mut self, off: usize, insns: &[Insn]) -> Result<(), PatchError> {
        self.inner.patch(off, insns)?;
        self.after_patch(off, insns.len());
        Ok(())
    }

    fn remove(&mut self, off: usize, cnt: usize) -> Result<(), PatchError> {
        let lp = &self.inner;
        let survivor = off + cnt < lp.seq.len();
        let had_linfo = survivor && lp.nodes[lp.node_at(off + cnt) as usize].linfo != NIL;
        let mut entries = Vec::new();
        if self.fault == Fault::InsnArrayNotDeleted && survivor {
            for i in off..off + cnt {
                let mut e = lp.nodes[lp.node_at(i) as usize].ia_head;
                while e != NIL {
                    entries.push(e);
                    e = lp.ia_entries[e as usize].next;
                }
            }
        }
        self.inner.remove(off, cnt)?;
        let lp = &mut self.inner;
        match self.fault {
            Fault::NoLinfoInherit if survivor && !had_linfo => {
                let y = lp.node_at(off);
                if lp.nodes[y as usize].linfo != NIL {
                    lp.nodes[y as usize].linfo = NIL;
                    lp.seq.set_mark(y, false);
                }
            }
            Fault::InsnArrayNotDeleted if survivor => {
                let y = lp.node_at(off);
                for e in entries {
                    lp.ia_entries[e as usize].node = y;
                }
            }
            Fault::TailRemovalOutOfBounds => {
                // The first survivor, read without checking that one is left.
                let order = lp.seq.to_vec();
                let first_survivor = order[off];
                std::hint::black_box(first_survivor);
            }
            _ => {}
        }
        Ok(())
    }

    fn set(&mut self, off: usize, insn: Insn) -> Result<(), PatchError> {
        self.inner.set(off, insn)
    }

    fn add_hidden_subprog(&mut self, insns: &[Insn]) -> Result<(), PatchError> {
        if self.fault == Fault::AbortInHiddenSubprog {
            std::process::abort();
        }
        let off = self.inner.len().saturating_sub(1);
        self.inner.add_hidden_subprog(insns)?;
        self.after_patch(off, insns.len());
        Ok(())
    }

    fn adjust_jmp_off(&mut self, tgt: usize, delta: u32) -> Result<(), PatchError> {
        self.inner.adjust_jmp_off(tgt, delta)
    }

    fn len(&self) -> usize {
        self.inner.len()
    }

    fn insn(&self, i: usize) -> Option<Insn> {
        self.inner.insn(i)
    }

    fn aux(&self, i: usize) -> Option<Aux> {
        self.inner.aux(i)
    }

    fn into_program(self) -> Program {
        self.inner.into_program()
    }

    fn snapshot(&self) -> Program {
        self.inner.snapshot()
    }

    fn finish(self: Box<Self>) -> Program {
        self.inner.into_program()
    }
}
