//! Operation sequences shaped like the verifier's rewrite passes, in the
//! kernel's order (bpf_loop inlining, dead-code elimination, ctx conversion,
//! misc fixups, hidden subprog, may_goto stack init, nospec runs, zext), with
//! the callers' `i + delta` current-index convention, plus patches, removals
//! and in-place writes at adversarial positions and reads in between.
//!
//! This file holds the core every pass uses (the shadow, the op budget,
//! checkpoints, feature notes, position queries) and the pass order
//! (`generate`); each pass lives in the file named after its kernel function.
//!
//! The passes' loops stop when the op budget (`Config::max_ops`) or the input
//! is used up (`done`), and no pass starts on a spent input.
//!
//! A shadow `ArrayPatcher` follows the sequence so every choice is made on the
//! current program. Invariant: the program passes `Program::validate()` after
//! every op whose checkpoint flag is set — all ops except removals inside
//! `opt_remove_dead_code`, where (as in the kernel) dead code that is not yet
//! removed may point anywhere.

// One file per pass, named after the kernel function it imitates.
mod bpf_loop;
mod convert_ctx;
mod dead_code;
mod hard_wire;
mod hidden;
mod large;
mod misc_fixups;
mod nops;
mod nospec;
mod random;
mod random_remove;
mod stack_init;
mod zext;

use super::config::Config;
use super::features::{Feature, Features};
use super::patchlet::{materialize, Item};
use super::Watch;
use crate::insn::build::*;
use crate::insn::{class, Insn};
use crate::op::Op;
use crate::patcher::{ArrayPatcher, Patcher};
use crate::program::INSN_DELETED;
use arbitrary::{Result, Unstructured};

/// `BPF_REG_AX`, the verifier's scratch register.
const AX: u8 = 11;
/// `BPF_ST | BPF_NOSPEC`.
const NOSPEC: Insn = raw(class::ST | 0xc0, 0, 0, 0, 0);

/// Builds the op list.
pub struct OpGen<'a> {
    cfg: &'a Config,
    /// Shown every op as the shadow applies it.
    watch: Option<&'a mut dyn Watch>,
    shadow: ArrayPatcher,
    pub ops: Vec<Op>,
    pub checkpoints: Vec<bool>,
    pub features: Features,
    /// Index of the first slot after the last removal (the slot before it is
    /// an adversarial patch position).
    removed_at: Option<usize>,
    transient: bool,
}
impl<'a> OpGen<'a> {
    pub fn new(cfg: &'a Config, shadow: ArrayPatcher, watch: Option<&'a mut dyn Watch>) -> Self {
        OpGen {
            cfg,
            watch,
            shadow,
            ops: Vec::new(),
            checkpoints: Vec::new(),
            features: Features::default(),
            removed_at: None,
            transient: false,
        }
    }

    /// Stop adding ops: the op budget is used up, or the input is. A spent
    /// `Unstructured` answers every draw with its default (every weighted
    /// pass on, a second hidden subprog, a nospec run from slot 0), so, as
    /// wasm-smith does, the generator stops there instead.
    fn done(&self, u: &Unstructured) -> bool {
        self.ops.len() >= self.cfg.max_ops || u.is_empty()
    }

    fn len(&self) -> usize {
        self.shadow.len()
    }

    fn insn(&self, i: usize) -> Insn {
        self.shadow.view().insns[i]
    }

    /// Apply `op` to the shadow and record it; whether it succeeded.
    fn emit(&mut self, op: Op) -> bool {
        let before_sub = self.shadow.view().subprogs.len();
        let before_deleted = count_deleted(&self.shadow);
        if let Op::Remove { off, cnt } = op {
            if !self.features.has(Feature::RemoveJumpIntoRange) && self.jumps_into(off, off + cnt) {
                self.features.add(Feature::RemoveJumpIntoRange);
            }
        }
        let res = op.apply(&mut self.shadow);
        if let Some(w) = self.watch.as_deref_mut() {
            w.op(self.ops.len(), &op, &self.shadow, &res);
        }
        match &res {
            Err(crate::patcher::PatchError::Range { .. }) => self.features.add(Feature::Erange),
            Err(crate::patcher::PatchError::Fault) => self.features.add(Feature::Efault),
            Err(_) => self.features.add(Feature::PreconditionError),
            Ok(_) => {}
        }
        if res.is_ok() {
            if let Op::Remove { off, .. } = op {
                let v = self.shadow.view();
                if v.subprogs.len() < before_sub {
                    self.features.add(Feature::RemoveWholeSubprog);
                }
                if off == v.insns.len() {
                    self.features.add(Feature::RemoveTail);
                }
                if count_deleted(&self.shadow) > before_deleted {
                    self.features.add(Feature::InsnArrayDeleted);
                }
                self.removed_at = Some(off);
            }
        }
        self.ops.push(op);
        self.checkpoints.push(!self.transient);
        res.is_ok()
    }

    /// Every op was given (the watch sees the final state).
    pub fn end(&mut self) {
        if let Some(w) = self.watch.as_deref_mut() {
            w.end(&self.shadow);
        }
    }

    /// Sometimes read a slot near `at` (and the length) between ops.
    fn maybe_read(&mut self, u: &mut Unstructured, at: usize) -> Result<()> {
        if self.cfg.weights.read > 0 && !u.is_empty() && u.int_in_range(0..=20)? < self.cfg.weights.read {
            let idx = match u.int_in_range(0..=3)? {
                0 => at,
                1 => at + 1,
                2 => at.saturating_sub(1),
                _ => u.int_in_range(0..=self.len())?,
            };
            self.features.add(Feature::Read);
            let op = Op::Read { idx };
            if let Some(w) = self.watch.as_deref_mut() {
                let read = op.apply(&mut self.shadow);
                w.op(self.ops.len(), &op, &self.shadow, &read);
            }
            self.ops.push(op);
            self.checkpoints.push(!self.transient);
        }
        Ok(())
    }

    /// Patch at `p` with a template; `false` if it did not fit or failed.
    fn patch_with(&mut self, u: &mut Unstructured, p: usize, items: &[Item]) -> Result<bool> {
        let orig = self.insn(p);
        let Some((insns, shape)) = materialize(items, p, orig) else {
            return Ok(false);
        };
        self.note_position(p);
        if insns.len() == 1 {
            self.features.add(Feature::PatchLen1);
        }
        if shape.ld_imm64 {
            self.features.add(Feature::LdImm64InPatchlet);
        }
        if shape.jump_out {
            self.features.add(Feature::JumpOutOfPatchlet);
        }
        if shape.call_out {
            self.features.add(Feature::CallOutOfPatchlet);
        }
        if shape.jump_to_end {
            self.features.add(Feature::JumpToPatchletEnd);
        }
        if shape.internal_jump {
            self.features.add(Feature::InternalJump);
        }
        let n = insns.len();
        let ok = self.emit(Op::Patch { off: p, insns });
        self.maybe_read(u, p + n - 1)?;
        Ok(ok)
    }

    /// Record which adversarial positions a patch at `p` hits (a feature
    /// already noted for the case is not looked for again).
    fn note_position(&mut self, p: usize) {
        let v = self.shadow.view();
        let have = self.features;
        let new = |f: Feature| !have.has(f);
        if p == 0 {
            self.features.add(Feature::PatchAtSlot0);
        }
        if new(Feature::PatchAtSubprogStart) && v.subprogs.iter().any(|s| s.start as usize == p) {
            self.features.add(Feature::PatchAtSubprogStart);
        }
        if new(Feature::PatchAtLineInfo) && v.linfo.iter().any(|l| l.insn_off as usize == p) {
            self.features.add(Feature::PatchAtLineInfo);
        }
        if new(Feature::PatchAtPoke) && v.pokes.iter().any(|&x| x as usize == p) {
            self.features.add(Feature::PatchAtPoke);
        }
        if v.aux[p].token == 0 {
            self.features.add(Feature::PatchOfInsertedSlot);
        }
        if self.removed_at.is_some_and(|r| r == p + 1) {
            self.features.add(Feature::PatchBeforeRemoved);
        }
        if new(Feature::PatchAtJumpTarget) && v.targets().any(|(_, t)| t == p as i64) {
            self.features.add(Feature::PatchAtJumpTarget);
        }
    }

    /// Whether a branch, call or pseudo func outside `[a, b)` targets a slot
    /// strictly inside it: removing the range leaves it the same index (Q7).
    fn jumps_into(&self, a: usize, b: usize) -> bool {
        let v = self.shadow.view();
        v.targets().any(|(i, t)| (i < a || i >= b) && t > a as i64 && t < b as i64)
    }

    /// Subprog `[start, end)` holding slot `i`, and whether `i` is its last slot.
    fn subprog_of(&self, i: usize) -> (usize, usize) {
        let subs = self.shadow.view().subprogs;
        let k = subs.partition_point(|s| s.start as usize <= i) - 1;
        (subs[k].start as usize, subs[k + 1].start as usize)
    }

    fn is_last_of_subprog(&self, i: usize) -> bool {
        self.subprog_of(i).1 == i + 1
    }

    fn second_half(&self, i: usize) -> bool {
        i > 0 && self.insn(i - 1).is_ld_imm64()
    }

    /// Whether slot `i` was seen by the verifier (dead code is removed later).
    fn live(&self, i: usize) -> bool {
        self.shadow.view().aux.get(i).is_some_and(|a| a.seen != 0)
    }

    /// A legal branch target in the subprog of `p` (old index), not a second
    /// half, and live when `p` is: live code never points into dead code.
    fn target_in_subprog(&self, u: &mut Unstructured, p: usize) -> Result<Option<usize>> {
        let (s, e) = self.subprog_of(p);
        for _ in 0..4 {
            let mut t = u.int_in_range(s..=e - 1)?;
            if self.second_half(t) {
                t -= 1;
            }
            if self.live(t) || !self.live(p) {
                return Ok(Some(t));
            }
        }
        Ok(None)
    }

    /// A subprog start a call from `p` may target (live when `p` is).
    fn callee_for(&self, u: &mut Unstructured, p: usize) -> Result<Option<usize>> {
        let subs = self.shadow.view().subprogs;
        let ok: Vec<usize> = subs[..subs.len() - 1]
            .iter()
            .map(|s| s.start as usize)
            .filter(|&c| self.live(c) || !self.live(p))
            .collect();
        Ok(if ok.is_empty() { None } else { Some(*u.choose(&ok)?) })
    }

    /// Run everything.
    pub fn generate(&mut self, u: &mut Unstructured, large: bool) -> Result<()> {
        if large {
            self.features.add(Feature::LargeProgram);
            return self.large_ops(u);
        }
        let w = self.cfg.weights.clone();
        // A pass runs when its weight says so; never on a spent input.
        let on = |u: &mut Unstructured, weight: u8| -> Result<bool> {
            Ok(weight > 0 && !u.is_empty() && u.int_in_range(0..=10)? < weight)
        };
        self.extras(u)?;
        if on(u, w.bpf_loop)? {
            self.optimize_bpf_loop(u)?;
        }
        if on(u, w.dead_code)? {
            self.opt_hard_wire_dead_code_branches();
            self.opt_remove_dead_code();
            self.opt_remove_nops(u)?;
        }
        self.extras(u)?;
        if on(u, w.ctx)? {
            self.convert_ctx_accesses(u)?;
        }
        self.extras(u)?;
        if on(u, w.misc)? {
            self.do_misc_fixups(u)?;
        }
        if on(u, w.hidden)? {
            self.add_hidden_subprog(u)?;
        }
        if on(u, w.stack_init)? {
            self.stack_init(u)?;
        }
        if on(u, w.nospec)? {
            self.nospec_run(u)?;
        }
        self.extras(u)?;
        if on(u, w.zext)? {
            self.opt_subreg_zext_lo32_rnd_hi32(u)?;
        }
        self.extras(u)
    }
}

fn count_deleted(p: &ArrayPatcher) -> usize {
    p.view().insn_arrays.iter().flatten().filter(|&&x| x == INSN_DELETED).count()
}
