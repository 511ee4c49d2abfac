//! Operation sequences shaped like the verifier's rewrite passes, in the
//! kernel's order (bpf_loop inlining, dead-code elimination, ctx conversion,
//! misc fixups, hidden subprog, may_goto stack init, nospec runs, zext), with
//! the callers' `i + delta` current-index convention, plus patches, removals
//! and in-place writes at adversarial positions and reads in between.
//!
//! A shadow `ArrayPatcher` follows the sequence so every choice is made on the
//! current program. Invariant: the program passes `Program::validate()` after
//! every op whose checkpoint flag is set — all ops except removals inside
//! `opt_remove_dead_code`, where (as in the kernel) dead code that is not yet
//! removed may point anywhere.

use super::config::Config;
use super::features::{Feature, Features};
use super::patchlet::{materialize, Item, To};
use super::program::{plain, reg};
use crate::insn::build::*;
use crate::insn::{class, code, field, op, Insn};
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
    pub fn new(cfg: &'a Config, shadow: ArrayPatcher) -> Self {
        OpGen {
            cfg,
            shadow,
            ops: Vec::new(),
            checkpoints: Vec::new(),
            features: Features::default(),
            removed_at: None,
            transient: false,
        }
    }

    fn full(&self) -> bool {
        self.ops.len() >= self.cfg.max_ops
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
        let res = op.apply(&mut self.shadow);
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

    /// Sometimes read a slot near `at` (and the length) between ops.
    fn maybe_read(&mut self, u: &mut Unstructured, at: usize) -> Result<()> {
        if self.cfg.weights.read > 0 && u.int_in_range(0..=20)? < self.cfg.weights.read {
            let idx = match u.int_in_range(0..=3)? {
                0 => at,
                1 => at + 1,
                2 => at.saturating_sub(1),
                _ => u.int_in_range(0..=self.len())?,
            };
            self.features.add(Feature::Read);
            self.ops.push(Op::Read { idx });
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

    /// Record which adversarial positions a patch at `p` hits.
    fn note_position(&mut self, p: usize) {
        let v = self.shadow.view();
        if p == 0 {
            self.features.add(Feature::PatchAtSlot0);
        }
        if v.subprogs.iter().any(|s| s.start as usize == p) {
            self.features.add(Feature::PatchAtSubprogStart);
        }
        if v.linfo.iter().any(|l| l.insn_off as usize == p) {
            self.features.add(Feature::PatchAtLineInfo);
        }
        if v.pokes.iter().any(|&x| x as usize == p) {
            self.features.add(Feature::PatchAtPoke);
        }
        if v.aux[p].token == 0 {
            self.features.add(Feature::PatchOfInsertedSlot);
        }
        if self.removed_at.is_some_and(|r| r == p + 1) {
            self.features.add(Feature::PatchBeforeRemoved);
        }
        if v.insns.iter().enumerate().any(|(i, x)| x.target(i) == Some(p as i64)) {
            self.features.add(Feature::PatchAtJumpTarget);
        }
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
        let on =
            |u: &mut Unstructured, weight: u8| -> Result<bool> { Ok(weight > 0 && u.int_in_range(0..=10)? < weight) };
        self.extras(u)?;
        if on(u, w.bpf_loop)? {
            self.bpf_loop_pass(u)?;
        }
        if on(u, w.dead_code)? {
            self.dead_code_passes(u)?;
        }
        self.extras(u)?;
        if on(u, w.ctx)? {
            self.ctx_pass(u)?;
        }
        self.extras(u)?;
        if on(u, w.misc)? {
            self.misc_pass(u)?;
        }
        if on(u, w.hidden)? {
            self.hidden(u)?;
        }
        if on(u, w.stack_init)? {
            self.stack_init(u)?;
        }
        if on(u, w.nospec)? {
            self.nospec_pass(u)?;
        }
        self.extras(u)?;
        if on(u, w.zext)? {
            self.zext_pass(u)?;
        }
        self.extras(u)
    }

    /// A few random patches, removals and sets at adversarial positions.
    fn extras(&mut self, u: &mut Unstructured) -> Result<()> {
        let w = &self.cfg.weights;
        let total = w.random_patch as u32 + w.random_remove as u32 + w.set as u32;
        if total == 0 {
            return Ok(());
        }
        let n = u.int_in_range(0..=3)?;
        for _ in 0..n {
            if self.full() {
                break;
            }
            let r = u.int_in_range(0..=total - 1)?;
            let w = &self.cfg.weights;
            if u.ratio(1, 40)? {
                self.invalid_op(u)?;
            } else if r < w.random_patch as u32 {
                self.random_patch(u)?;
            } else if r < (w.random_patch + w.random_remove) as u32 {
                self.random_remove(u)?;
            } else {
                self.random_set(u)?;
            }
        }
        Ok(())
    }

    /// An adversarial position: slot 0, a subprog start, a jump target, a
    /// line-info record, a poke, an inserted slot, the slot before a removal,
    /// a subprog's last slot, or anywhere.
    fn adversarial_position(&self, u: &mut Unstructured) -> Result<usize> {
        let v = self.shadow.view();
        let len = v.insns.len();
        let pick = |u: &mut Unstructured, c: &[usize]| -> Result<Option<usize>> {
            Ok(if c.is_empty() { None } else { Some(*u.choose(c)?) })
        };
        let cand: Option<usize> = match u.int_in_range(0..=8)? {
            0 => Some(0),
            1 => pick(u, &v.subprogs[..v.subprogs.len() - 1].iter().map(|s| s.start as usize).collect::<Vec<_>>())?,
            2 => pick(
                u,
                &v.insns
                    .iter()
                    .enumerate()
                    .filter_map(|(i, x)| x.target(i))
                    .map(|t| t as usize)
                    .filter(|&t| t < len)
                    .collect::<Vec<_>>(),
            )?,
            3 => pick(u, &v.linfo.iter().map(|l| l.insn_off as usize).collect::<Vec<_>>())?,
            4 => pick(u, &v.pokes.iter().map(|&x| x as usize).filter(|&x| x < len).collect::<Vec<_>>())?,
            5 => pick(u, &(0..len).filter(|&i| v.aux[i].token == 0).collect::<Vec<_>>())?,
            6 => self.removed_at.map(|r| r.saturating_sub(1)),
            7 => pick(u, &v.subprogs[1..].iter().map(|s| s.start as usize - 1).collect::<Vec<_>>())?,
            _ => pick(
                u,
                &v.insn_arrays
                    .iter()
                    .flatten()
                    .filter(|&&x| x != INSN_DELETED)
                    .map(|&x| x as usize)
                    .collect::<Vec<_>>(),
            )?,
        };
        let p = match cand {
            Some(p) if p < len => p,
            _ => u.int_in_range(0..=len - 1)?,
        };
        Ok(p)
    }

    /// A patch of random shape at an adversarial position.
    fn random_patch(&mut self, u: &mut Unstructured) -> Result<()> {
        let p = self.adversarial_position(u)?;
        let insn = self.insn(p);
        if self.second_half(p) || insn.is_ld_imm64() || insn.is_gotox() || insn.code == code::TAIL_CALL {
            return Ok(());
        }
        // The original must stay last where control does not fall through
        // (the subprog's terminator, an exit or jump, or live code before dead).
        let last = self.is_last_of_subprog(p)
            || insn.is_exit()
            || insn.is_ja()
            || insn.is_gotol()
            || (self.live(p) && !self.live(p + 1));
        let end_ok = !self.is_last_of_subprog(p) && (self.live(p + 1) || !self.live(p));
        let n_items = u.int_in_range(0..=6)?;
        let mut items = Vec::new();
        for _ in 0..n_items {
            let item = match u.int_in_range(0..=9)? {
                0..=3 => Item::Plain(plain(u)?),
                4 if end_ok => Item::Branch(raw(class::JMP | op::JA, 0, 0, 0, 0), To::End),
                5 => Item::Branch(cond_insn(u)?, To::Slot(u.int_in_range(0..=n_items)?)),
                6 => match self.target_in_subprog(u, p)? {
                    Some(t) => Item::Branch(cond_insn(u)?, To::Old(t)),
                    None => continue,
                },
                7 => Item::LdImm64(ld_imm64(reg(u)?, 0, u.arbitrary()?)),
                8 => match self.callee_for(u, p)? {
                    Some(c) => Item::Branch(call_rel(0), To::Old(c)),
                    None => continue,
                },
                _ => match self.target_in_subprog(u, p)? {
                    Some(t) => Item::Branch(gotol(0), To::Old(t)),
                    None => continue,
                },
            };
            items.push(item);
        }
        // Slot(k) must name a slot inside the patchlet.
        let n_slots: usize = items.iter().map(|i| if matches!(i, Item::LdImm64(_)) { 2 } else { 1 }).sum::<usize>() + 1;
        let orig_at = u.int_in_range(0..=items.len())?;
        let keep_orig = last || u.ratio(2, 3)?;
        if keep_orig {
            items.insert(if last { items.len() } else { orig_at }, Item::Orig);
        } else if items.is_empty() {
            items.push(Item::Plain(plain(u)?));
        }
        let starts: Vec<usize> = {
            let mut k = 0;
            items
                .iter()
                .map(|i| {
                    let s = k;
                    k += if matches!(i, Item::LdImm64(_)) { 2 } else { 1 };
                    s
                })
                .collect()
        };
        let n_total: usize = items.iter().map(|i| if matches!(i, Item::LdImm64(_)) { 2 } else { 1 }).sum();
        for it in items.iter_mut() {
            if let Item::Branch(_, To::Slot(j)) = it {
                // Land on an item start, never on a second half.
                let j2 = (*j).min(n_slots.saturating_sub(1)).min(n_total - 1);
                *j = *starts.iter().rev().find(|&&s| s <= j2).unwrap_or(&0);
            }
        }
        // The last slot of a subprog must stay exit/ja/gotol; a conditional
        // jump or call must not be last.
        if last && !matches!(items.last(), Some(Item::Orig)) {
            return Ok(());
        }
        self.patch_with(u, p, &items)?;
        Ok(())
    }

    /// A removal that keeps the program valid: a body range inside one
    /// subprog (possibly its head), or a whole subprog nothing else references.
    fn random_remove(&mut self, u: &mut Unstructured) -> Result<()> {
        let len = self.len();
        let subs: Vec<usize> = self.shadow.view().subprogs.iter().map(|s| s.start as usize).collect();
        let hidden = self.shadow.view().hidden_subprog_cnt as usize;
        let n_sub = subs.len() - 1;
        let k = u.int_in_range(0..=n_sub - 1)?;
        let (s, e) = (subs[k], subs[k + 1]);
        if hidden > 0 && k + 1 == n_sub {
            return Ok(());
        }
        let branches: Vec<(usize, usize)> = {
            let v = self.shadow.view();
            v.insns.iter().enumerate().filter_map(|(i, x)| x.target(i).map(|t| (i, t as usize))).collect()
        };
        if k > 0 && u.ratio(1, 3)? {
            // Whole subprog: only if nothing outside points into it.
            if branches.iter().any(|&(i, t)| (i < s || i >= e) && t >= s && t < e) || e - s >= len {
                return Ok(());
            }
            self.emit(Op::Remove { off: s, cnt: e - s });
            return self.maybe_read(u, s);
        }
        if e - s < 2 {
            return Ok(());
        }
        let a = if u.ratio(1, 3)? { s } else { u.int_in_range(s..=e - 2)? };
        let b = u.int_in_range(a + 1..=(e - 1).min(a + 8))?;
        if self.second_half(a)
            || self.second_half(b)
            || ((self.live(a) || self.live(a.saturating_sub(1))) && !self.live(b))
        {
            return Ok(());
        }
        if branches.iter().any(|&(i, t)| (i < a || i >= b) && t > a && t < b) {
            return Ok(());
        }
        if a == s {
            self.features.add(Feature::RemoveSubprogHead);
        }
        let inherit = {
            let v = self.shadow.view();
            v.linfo.iter().any(|l| (l.insn_off as usize) >= a && (l.insn_off as usize) < b)
                && !v.linfo.iter().any(|l| l.insn_off as usize == b)
        };
        if self.emit(Op::Remove { off: a, cnt: b - a }) && inherit {
            self.features.add(Feature::LineInfoInherit);
        }
        self.maybe_read(u, a)
    }

    /// An op the kernel only assumes valid: both patchers must refuse it with
    /// the same error and leave the state alone.
    fn invalid_op(&mut self, u: &mut Unstructured) -> Result<()> {
        let len = self.len();
        let op = match u.int_in_range(0..=6)? {
            0 => Op::Patch { off: len + u.int_in_range(0..=3)?, insns: vec![exit()] },
            1 => Op::Patch { off: u.int_in_range(0..=len - 1)?, insns: vec![] },
            2 => Op::Remove { off: u.int_in_range(0..=len - 1)?, cnt: len + 1 },
            3 => Op::Remove { off: u.int_in_range(0..=len - 1)?, cnt: 0 },
            4 => Op::Patch { off: 0, insns: vec![ja(i16::MAX), exit()] },
            5 => Op::AdjustJmpOff { tgt: len, delta: 1 },
            _ => Op::Set { off: len, insn: exit() },
        };
        self.emit(op);
        Ok(())
    }

    /// An in-place rewrite that keeps the program valid.
    fn random_set(&mut self, u: &mut Unstructured) -> Result<()> {
        let len = self.len();
        let p = u.int_in_range(0..=len - 1)?;
        let insn = self.insn(p);
        if self.second_half(p) {
            return Ok(());
        }
        let new = if insn.is_helper_call() {
            Insn { imm: u.int_in_range(1..=1_000_000)?, ..insn }
        } else if insn.is_cond_jump()
            && insn.class() == class::JMP
            && insn.op() != op::JCOND
            && insn.op() != op::TAIL_CALL
        {
            // Flip to the JMP32 class: same target, same field.
            Insn { code: insn.code ^ class::JMP ^ class::JMP32, ..insn }
        } else if insn.is_pseudo_call() {
            let Some(c) = self.callee_for(u, p)? else {
                return Ok(());
            };
            Insn { imm: (c as i64 - p as i64 - 1) as i32, ..insn }
        } else if insn.class() == class::ALU64 || insn.class() == class::ALU {
            Insn { imm: u.int_in_range(-100..=100)?, ..insn }
        } else {
            return Ok(());
        };
        self.features.add(Feature::Set);
        self.emit(Op::Set { off: p, insn: new });
        self.maybe_read(u, p)
    }

    /// `optimize_bpf_loop`: some helper calls become the 19-slot inline loop
    /// whose slot 12 calls the callback subprog (a pseudo call out).
    fn bpf_loop_pass(&mut self, u: &mut Unstructured) -> Result<()> {
        let cnt = self.len();
        let mut delta = 0usize;
        for i in 0..cnt {
            if self.full() {
                break;
            }
            let p = i + delta;
            if !self.insn(p).is_helper_call() || !u.ratio(1, 2)? {
                continue;
            }
            let subs: Vec<usize> = self.shadow.view().subprogs.iter().map(|s| s.start as usize).collect();
            let (s, _) = self.subprog_of(p);
            let Some(&cb) = subs[..subs.len() - 1].iter().find(|&&c| c > s && self.live(c)) else {
                continue;
            };
            let items = bpf_loop_items(cb);
            if self.patch_with(u, p, &items)? {
                delta += 18;
            }
        }
        Ok(())
    }

    /// `opt_hard_wire_dead_code_branches`, `opt_remove_dead_code`,
    /// `opt_remove_nops`, exactly as the kernel loops.
    fn dead_code_passes(&mut self, u: &mut Unstructured) -> Result<()> {
        for i in 0..self.len() {
            let insn = self.insn(i);
            if !insn.is_cond_jump() {
                continue;
            }
            let aux = self.shadow.view().aux;
            let t = (i as i64 + insn.off as i64 + 1) as usize;
            let new = if aux.get(i + 1).is_some_and(|a| a.seen == 0) {
                ja(insn.off)
            } else if aux.get(t).is_some_and(|a| a.seen == 0) {
                ja(0)
            } else {
                continue;
            };
            self.features.add(Feature::HardWire);
            self.emit(Op::Set { off: i, insn: new });
        }
        self.transient = true;
        let mut i = 0;
        while i < self.len() {
            let aux = self.shadow.view().aux;
            let j = aux[i..].iter().take_while(|a| a.seen == 0).count();
            if j > 0 {
                self.features.add(Feature::DeadRunRemoval);
                let inherit = {
                    let v = self.shadow.view();
                    v.linfo.iter().any(|l| (l.insn_off as usize) >= i && (l.insn_off as usize) < i + j)
                        && i + j < v.insns.len()
                        && !v.linfo.iter().any(|l| l.insn_off as usize == i + j)
                };
                if self.emit(Op::Remove { off: i, cnt: j }) && inherit {
                    self.features.add(Feature::LineInfoInherit);
                }
            }
            i += 1;
        }
        self.transient = false;
        if let Some(c) = self.checkpoints.last_mut() {
            *c = true;
        }
        let ja0 = ja(0);
        let mg0 = may_goto(0);
        let mut i: isize = 0;
        while (i as usize) < self.len() {
            let insn = self.insn(i as usize);
            let is_mg0 = insn == mg0;
            if insn != ja0 && !is_mg0 {
                i += 1;
                continue;
            }
            self.features.add(Feature::NopRemoval);
            if self.shadow.view().subprogs.iter().any(|s| s.start as usize == i as usize) {
                self.features.add(Feature::RemoveSubprogHead);
            }
            if !self.emit(Op::Remove { off: i as usize, cnt: 1 }) {
                break;
            }
            self.maybe_read(u, i as usize)?;
            i -= if is_mg0 && i > 0 { 2 } else { 1 };
            i += 1;
        }
        Ok(())
    }

    /// `convert_ctx_accesses`: epilogue setup and prologue at 0 (+
    /// `adjust_jmp_off`), then ctx rewrites, nospec, and epilogues at exits.
    fn ctx_pass(&mut self, u: &mut Unstructured) -> Result<()> {
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
            if self.full() {
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

    /// `do_misc_fixups`: div/mod guards, may_goto, helper and kfunc inlining,
    /// tail-call guards, helper `imm` rewrites.
    fn misc_pass(&mut self, u: &mut Unstructured) -> Result<()> {
        let cnt = self.len();
        let mut delta = 0usize;
        for i in 0..cnt {
            if self.full() {
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

    /// `add_hidden_subprog` with `[last, r0 = r1, exit]`; rarely twice.
    fn hidden(&mut self, u: &mut Unstructured) -> Result<()> {
        let times = if u.ratio(1, 6)? { 2 } else { 1 };
        for _ in 0..times {
            let last = self.insn(self.len() - 1);
            self.features.add(Feature::HiddenSubprog);
            self.emit(Op::HiddenSubprog { insns: vec![last, mov64_reg(0, 1), exit()] });
            self.maybe_read(u, self.len() - 1)?;
        }
        Ok(())
    }

    /// may_goto stack init at subprog starts, then `adjust_jmp_off`.
    fn stack_init(&mut self, u: &mut Unstructured) -> Result<()> {
        let n_sub = self.shadow.view().subprogs.len() - 1;
        for k in 0..n_sub {
            if self.full() || !u.ratio(1, 2)? {
                continue;
            }
            let start = self.shadow.view().subprogs[k].start as usize;
            let timed = u.ratio(1, 3)?;
            let mut items = vec![Item::Plain(st_mem(field::DW, 10, -8, 8_388_608))];
            if timed {
                items.push(Item::Plain(st_mem(field::DW, 10, -16, 0)));
            }
            items.push(Item::Orig);
            let n = items.len();
            if self.patch_with(u, start, &items)? {
                self.features.add(Feature::AdjustJmpOff);
                self.emit(Op::AdjustJmpOff { tgt: start, delta: (n - 1) as u32 });
            }
        }
        Ok(())
    }

    /// `opt_subreg_zext_lo32_rnd_hi32`: `[orig, zext]` after every slot whose
    /// aux asks for it (not kfunc calls).
    fn zext_pass(&mut self, u: &mut Unstructured) -> Result<()> {
        let cnt = self.len();
        let mut delta = 0usize;
        for i in 0..cnt {
            if self.full() {
                break;
            }
            let p = i + delta;
            let insn = self.insn(p);
            if !self.shadow.view().aux[p].zext_dst || insn.is_kfunc_call() {
                continue;
            }
            let Some(r) = insn.def_regno() else { continue };
            if self.patch_with(u, p, &[Item::Orig, Item::Plain(zext_reg(r))])? {
                delta += 1;
            }
        }
        Ok(())
    }

    /// Speculation hardening of a run of consecutive slots (`i + delta`):
    /// `[mov ax, limit; nospec; orig]` before every slot but `ld_imm64` pairs.
    /// Long runs grow the list patcher's tree past a level, which split paths
    /// short programs never reach.
    fn nospec_pass(&mut self, u: &mut Unstructured) -> Result<()> {
        let len = self.len();
        let n = u.int_in_range(len / 2..=len)?;
        let start = u.int_in_range(0..=len - n)?;
        let mut delta = 0usize;
        for i in start..start + n {
            if self.full() {
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

    /// Programs over 32767 slots: patches inside the long branches' spans
    /// until one does not fit (`-ERANGE`), with reads in between.
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

    fn large_ops(&mut self, u: &mut Unstructured) -> Result<()> {
        // A prepend at the long forward jump's target, then adjust_jmp_off:
        // the jump gains `delta` there, which overflows when it had no slack.
        let long = {
            let v = self.shadow.view();
            v.insns.iter().enumerate().find_map(|(i, x)| {
                let t = x.target(i)?;
                (x.branch_field() == Some(crate::insn::BranchField::Off16) && t - i as i64 > 30_000)
                    .then_some(t as usize)
            })
        };
        if let (Some(t), true) = (long, u.ratio(1, 2)?) {
            self.patch_with(u, t, &[Item::Plain(mov64_imm(11, 0)), Item::Orig])?;
            self.features.add(Feature::AdjustJmpOff);
            self.emit(Op::AdjustJmpOff { tgt: t, delta: 1 });
        }
        // Patches, then (every other time) a long branch across subprogs, then
        // more patches, in its span on both sides of the subprog boundary.
        self.large_patches(u, None)?;
        if u.ratio(1, 2)? {
            let lo = self.cross_subprog_branch(u)?;
            self.large_patches(u, Some(lo))?;
        }
        Ok(())
    }
}

fn count_deleted(p: &ArrayPatcher) -> usize {
    p.view().insn_arrays.iter().flatten().filter(|&&x| x == INSN_DELETED).count()
}

fn cond_insn(u: &mut Unstructured) -> Result<Insn> {
    let o = *u.choose(&[op::JEQ, op::JNE, op::JGT, op::JSLE, op::JSET])?;
    Ok(if u.arbitrary()? {
        jmp_imm(o, reg(u)?, u.int_in_range(-8..=8)?, 0)
    } else {
        raw(class::JMP32 | o | field::X, reg(u)?, reg(u)?, 0, 0)
    })
}

/// The `inline_bpf_loop` patchlet (19 slots) calling subprog start `cb`.
fn bpf_loop_items(cb: usize) -> Vec<Item> {
    let p = |i: Insn| Item::Plain(i);
    vec![
        Item::Branch(jmp_imm(op::JLE, 1, 1 << 23, 0), To::Slot(3)),
        p(mov32_imm(0, -7)),
        Item::Branch(ja(0), To::End),
        p(stx_mem(field::DW, 10, 6, -24)),
        p(stx_mem(field::DW, 10, 7, -16)),
        p(stx_mem(field::DW, 10, 8, -8)),
        p(mov64_reg(6, 1)),
        p(mov64_imm(7, 0)),
        p(mov64_reg(8, 3)),
        Item::Branch(jmp_reg(op::JGE, 7, 6, 0), To::Slot(15)),
        p(mov64_reg(1, 7)),
        p(mov64_reg(2, 8)),
        Item::Branch(call_rel(0), To::Old(cb)),
        p(alu64_imm(op::ADD, 7, 1)),
        Item::Branch(jmp_imm(op::JEQ, 0, 0, 0), To::Slot(9)),
        p(mov64_reg(0, 7)),
        p(ldx_mem(field::DW, 6, 10, -24)),
        p(ldx_mem(field::DW, 7, 10, -16)),
        p(ldx_mem(field::DW, 8, 10, -8)),
    ]
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
