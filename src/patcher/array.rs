//! The oracle: the kernel's array patcher, function by function, with the
//! kernel's names (torvalds/linux c17ee635, kernel/bpf/verifier.c,
//! kernel/bpf/bpf_insn_array.c; kernel/bpf/core.c from bpf-next 0014d00a).
//! Every patch memmoves the arrays and adjusts every branch, as the kernel
//! does. The kernel's branch walks visit every slot and skip non-branches;
//! by default this model walks `branches` (the branch slots, ascending)
//! instead: the same slots in the same order, without the O(N) skip. The
//! benchmarks time the kernel's own walk (`Walk::EverySlot`), since their
//! array column stands for the kernel's cost; a test holds the two walks to
//! the same results.

use super::branch_slots::{Branch, BranchSlots};
use super::{pre, PatchError, Patcher};
use crate::insn::{BranchField, Insn, S16_MAX};
use crate::program::{Aux, FuncInfo, LineInfo, Program, Subprog, Tables, INSN_DELETED, MAX_SUBPROGS};

/// The kernel's state for one program under rewrite.
#[derive(Clone, Debug)]
pub struct ArrayPatcher {
    insns: Vec<Insn>,
    aux: Vec<Aux>,
    /// `env->subprog_info[BPF_MAX_SUBPROGS + 2]`: entries past `subprog_cnt + 1`
    /// keep stale copies, which `add_hidden_subprog` reads (Q15).
    subprog_info: Vec<Subprog>,
    subprog_cnt: usize,
    hidden_subprog_cnt: u32,
    linfo: Vec<LineInfo>,
    func_info: Option<Vec<FuncInfo>>,
    func_info_aux: Vec<u32>,
    pokes: Vec<u32>,
    insn_arrays: Vec<Vec<u32>>,
    /// The slots of `insns` with a branch field, updated at every write.
    branches: BranchSlots,
    /// How the branch passes find the branches.
    walk: Walk,
}

/// How `bpf_adj_branches` and `adjust_jmp_off` find the branch slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Walk {
    /// The branch index: only the slots with a branch field (the runner's).
    #[default]
    BranchIndex,
    /// Every slot, skipping non-branches, as the kernel's loops do (the
    /// benchmarks': the cost the list design removes).
    EverySlot,
}

/// `bpf_adj_branches`' arguments: the patched slot `pos`, and the end of the
/// patch in the old (`end_old`) and new (`end_new`) image.
#[derive(Clone, Copy)]
struct Span {
    pos: usize,
    end_old: usize,
    end_new: usize,
}

/// Which `bpf_adj_branches` pass: the probe on the old image, or the real one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    Probe,
    Real,
}

/// Read-only access to the current state (the generator steers by it).
#[derive(Clone, Copy, Debug)]
pub struct View<'a> {
    pub insns: &'a [Insn],
    pub aux: &'a [Aux],
    /// Live subprog entries, fake exit included.
    pub subprogs: &'a [Subprog],
    pub hidden_subprog_cnt: u32,
    pub linfo: &'a [LineInfo],
    pub pokes: &'a [u32],
    pub insn_arrays: &'a [Vec<u32>],
    /// The slots with a branch field (`Insn::branch_field`), ascending.
    pub branches: &'a [Branch],
}

impl<'a> View<'a> {
    /// Every branch slot with its target (`Insn::target`), ascending: what a
    /// scan of every slot would find, without visiting the others.
    pub fn targets(self) -> impl Iterator<Item = (usize, i64)> + 'a {
        let insns = self.insns;
        self.branches.iter().map(move |b| (b.slot as usize, b.slot as i64 + insns[b.slot as usize].rel(b.field) + 1))
    }
}

impl ArrayPatcher {
    /// The model of `prog` whose branch passes walk as `walk` says.
    pub fn with_walk(prog: Program, walk: Walk) -> Self {
        ArrayPatcher { walk, ..Self::from_valid(prog) }
    }

    /// Heap bytes of the instruction and aux arrays (the benchmarks' memory figure).
    pub fn heap_bytes(&self) -> usize {
        self.insns.capacity() * std::mem::size_of::<Insn>() + self.aux.capacity() * std::mem::size_of::<Aux>()
    }

    /// The current state, without copying.
    pub fn view(&self) -> View<'_> {
        View {
            insns: &self.insns,
            aux: &self.aux,
            subprogs: &self.subprog_info[..=self.subprog_cnt],
            hidden_subprog_cnt: self.hidden_subprog_cnt,
            linfo: &self.linfo,
            pokes: &self.pokes,
            insn_arrays: &self.insn_arrays,
            branches: self.branches.all(),
        }
    }

    /// `bpf_patch_insn_data`: realloc aux, patch, then the verifier-side adjusters.
    fn bpf_patch_insn_data(&mut self, off: usize, patch: &[Insn]) -> Result<(), PatchError> {
        self.bpf_patch_insn_single(off, patch)?;
        let len = patch.len();
        self.adjust_insn_aux_data(off, len);
        self.adjust_subprog_starts(off, len);
        self.adjust_insn_arrays(off, len);
        self.adjust_poke_descs(off, len);
        Ok(())
    }

    /// `bpf_patch_insn_single`: `len == 1` overwrites in place; otherwise probe
    /// (only when the new length exceeds S16_MAX), memmove, copy, adjust.
    fn bpf_patch_insn_single(&mut self, off: usize, patch: &[Insn]) -> Result<(), PatchError> {
        let len = patch.len();
        if len == 1 {
            self.insns[off] = patch[0];
            self.branches.rewrite(off, &patch[0]);
            return Ok(());
        }
        let insn_delta = len - 1;
        let insn_adj_cnt = self.insns.len() + insn_delta;
        if insn_adj_cnt as i64 > S16_MAX {
            if let Err(insn) = self.bpf_adj_branches(off, off + 1, off + len, Pass::Probe) {
                return Err(PatchError::Range { insn, orig_idx: self.aux[off].orig_idx });
            }
        }
        self.insns.splice(off..off + 1, patch.iter().copied());
        self.branches.splice(off, 1, patch);
        if let Err(insn) = self.bpf_adj_branches(off, off + 1, off + len, Pass::Real) {
            unreachable!("BUG_ON in bpf_patch_insn_single: branch at {insn} overflowed after the probe");
        }
        self.bpf_adj_linfo(off, insn_delta as u32);
        Ok(())
    }

    /// `bpf_adj_branches`: every pseudo func (imm), pseudo call (imm), gotol
    /// (imm) and other JMP/JMP32 but EXIT (off) gets `bpf_adj_delta_to_*`.
    /// The probe visits the old image with new indices for slots after `pos`.
    /// Returns the (old) index of the first branch that would overflow.
    fn bpf_adj_branches(&mut self, pos: usize, end_old: usize, end_new: usize, pass: Pass) -> Result<(), usize> {
        let n = self.insns.len();
        let at = Span { pos, end_old, end_new };
        match pass {
            // The probe: old slots before `pos` with their own index, then old
            // slots from `end_old` on with their new index; `pos` is skipped.
            Pass::Probe => {
                self.adj_slots(0..pos, 0, at, false)?;
                self.adj_slots(end_old..n, end_new as isize - end_old as isize, at, false)
            }
            Pass::Real => self.adj_slots(0..n, 0, at, true),
        }
    }

    /// The loop body of `bpf_adj_branches` over the branch slots in `slots`
    /// (the others it skips); `curr` is the slot plus `shift`. Writes only in
    /// the real pass (the offset fields: no slot stops being a branch).
    fn adj_slots(&mut self, slots: std::ops::Range<usize>, shift: isize, at: Span, write: bool) -> Result<(), usize> {
        if self.walk == Walk::EverySlot {
            for slot in slots {
                if let Some(field) = self.insns[slot].branch_field() {
                    self.adj_slot(slot, field, shift, at, write)?;
                }
            }
            return Ok(());
        }
        for k in self.branches.within(slots) {
            let Branch { slot, field } = self.branches.all()[k];
            self.adj_slot(slot as usize, field, shift, at, write)?;
        }
        Ok(())
    }

    /// One slot of `adj_slots`: `bpf_adj_delta_to_*` on its branch field.
    fn adj_slot(&mut self, slot: usize, field: BranchField, shift: isize, at: Span, write: bool) -> Result<(), usize> {
        let insn = &mut self.insns[slot];
        let curr = (slot as isize + shift) as usize;
        match bpf_adj_delta(insn.rel(field), field, curr, at) {
            Ok(Some(x)) if write => *insn = insn.with_rel(field, x),
            Ok(_) => {}
            Err(()) => return Err(slot),
        }
        Ok(())
    }

    /// `bpf_adj_linfo`: records with `insn_off > off` (strictly) move by `delta`.
    fn bpf_adj_linfo(&mut self, off: usize, delta: u32) {
        if self.linfo.is_empty() || delta == 0 {
            return;
        }
        let first = self.linfo.iter().position(|l| off < l.insn_off as usize).unwrap_or(self.linfo.len());
        for l in &mut self.linfo[first..] {
            l.insn_off += delta;
        }
    }

    /// `adjust_insn_aux_data`: `zext_dst` of `off` from the last patchlet slot,
    /// then the original entry moves to the last slot; fresh entries before it.
    fn adjust_insn_aux_data(&mut self, off: usize, cnt: usize) {
        let old_seen = self.aux[off].seen;
        self.aux[off].zext_dst = self.insns[off + cnt - 1].has_def32();
        if cnt == 1 {
            return;
        }
        let fresh: Vec<Aux> = (off..off + cnt - 1)
            .map(|i| Aux { seen: old_seen, zext_dst: self.insns[i].has_def32(), ..Aux::default() })
            .collect();
        self.aux.splice(off..off, fresh);
    }

    /// `adjust_subprog_starts`: starts `> off` move, fake exit included.
    fn adjust_subprog_starts(&mut self, off: usize, len: usize) {
        if len == 1 {
            return;
        }
        for s in &mut self.subprog_info[..=self.subprog_cnt] {
            if s.start as usize <= off {
                continue;
            }
            s.start = s.start.wrapping_add((len - 1) as u32);
        }
    }

    /// `adjust_insn_arrays` → `bpf_insn_array_adjust`: entries `> off` move.
    fn adjust_insn_arrays(&mut self, off: usize, len: usize) {
        if len <= 1 {
            return;
        }
        for x in self.insn_arrays.iter_mut().flatten() {
            if *x as usize <= off || *x == INSN_DELETED {
                continue;
            }
            *x += (len - 1) as u32;
        }
    }

    /// `adjust_poke_descs`: `insn_idx > off` moves (no len guard).
    fn adjust_poke_descs(&mut self, off: usize, len: usize) {
        for p in &mut self.pokes {
            if *p as usize <= off {
                continue;
            }
            *p += (len - 1) as u32;
        }
    }

    /// `verifier_remove_insns`: remove, then subprogs, line info, insn arrays,
    /// then compact aux.
    fn verifier_remove_insns(&mut self, off: usize, cnt: usize) -> Result<(), PatchError> {
        self.bpf_remove_insns(off, cnt)?;
        self.adjust_subprog_starts_after_remove(off, cnt);
        self.bpf_adj_linfo_after_remove(off, cnt);
        self.adjust_insn_arrays_after_remove(off, cnt);
        self.aux.drain(off..off + cnt);
        Ok(())
    }

    /// `bpf_remove_insns`: memmove, then the real branch pass with `delta = -cnt`.
    fn bpf_remove_insns(&mut self, off: usize, cnt: usize) -> Result<(), PatchError> {
        self.insns.drain(off..off + cnt);
        self.branches.splice(off, cnt, &[]);
        if let Err(insn) = self.bpf_adj_branches(off, off + cnt, off, Pass::Real) {
            // Unreachable: removal only moves offsets towards zero. The aux
            // array is not compacted yet, so its index is the old one.
            let old = if insn >= off { insn + cnt } else { insn };
            return Err(PatchError::Range { insn, orig_idx: self.aux[old].orig_idx });
        }
        Ok(())
    }

    /// `adjust_subprog_starts_after_remove`: drop wholly removed subprogs (and
    /// their func_info, not func_info_aux: Q12), keep a removed head at `off`,
    /// move later starts (fake exit included) down by `cnt`.
    fn adjust_subprog_starts_after_remove(&mut self, off: usize, cnt: usize) {
        let sc = self.subprog_cnt;
        let info = &mut self.subprog_info;
        let mut i = (0..sc).find(|&k| info[k].start as usize >= off).unwrap_or(sc);
        let mut j = (i..sc).find(|&k| info[k].start as usize >= off + cnt).unwrap_or(sc) as isize;
        if info[j as usize].start as usize != off + cnt {
            j -= 1;
        }
        if j > i as isize {
            let j = j as usize;
            info.copy_within(j..=sc, i);
            self.subprog_cnt -= j - i;
            if let Some(fi) = &mut self.func_info {
                let fcnt = fi.len();
                fi.copy_within(j.min(fcnt)..fcnt, i.min(fcnt));
                fi.truncate(fcnt - (j - i).min(fcnt));
            }
        } else if info[i].start as usize == off {
            i += 1;
        }
        for s in &mut self.subprog_info[i..=self.subprog_cnt] {
            s.start = s.start.wrapping_sub(cnt as u32);
        }
    }

    /// `bpf_adj_linfo_after_remove`: drop records in the range but let the last
    /// one inherit the first surviving slot; fix `linfo_idx` (strict `> l_off`).
    fn bpf_adj_linfo_after_remove(&mut self, off: usize, cnt: usize) {
        let nr = self.linfo.len();
        if nr == 0 {
            return;
        }
        let l_off = self.linfo.iter().position(|l| l.insn_off as usize >= off).unwrap_or(nr);
        let mut l_cnt = self.linfo[l_off..].iter().take_while(|l| (l.insn_off as usize) < off + cnt).count();
        let mut i = l_off + l_cnt;
        if self.insns.len() != off && l_cnt > 0 && (i == nr || self.linfo[i].insn_off as usize != off + cnt) {
            l_cnt -= 1;
            i -= 1;
            self.linfo[i].insn_off = (off + cnt) as u32;
        }
        if l_cnt > 0 {
            self.linfo.drain(l_off..i);
        }
        for l in &mut self.linfo[l_off..] {
            l.insn_off -= cnt as u32;
        }
        for s in &mut self.subprog_info[..=self.subprog_cnt] {
            if s.linfo_idx as usize > l_off {
                s.linfo_idx =
                    if s.linfo_idx as usize >= l_off + l_cnt { s.linfo_idx - l_cnt as u32 } else { l_off as u32 };
            }
        }
    }

    /// `adjust_insn_arrays_after_remove` → `bpf_insn_array_adjust_after_remove`:
    /// entries in the range become `INSN_DELETED`, later ones move down.
    fn adjust_insn_arrays_after_remove(&mut self, off: usize, cnt: usize) {
        for x in self.insn_arrays.iter_mut().flatten() {
            if (*x as usize) < off || *x == INSN_DELETED {
                continue;
            }
            if (*x as usize) < off + cnt {
                *x = INSN_DELETED;
            } else {
                *x -= cnt as u32;
            }
        }
    }

    /// `add_hidden_subprog`: append by patching the last slot, then the new
    /// entry takes the fake exit's place; slot `cnt + 1` keeps its stale
    /// `linfo_idx` and gets only the start.
    fn add_hidden_subprog_impl(&mut self, patch: &[Insn]) -> Result<(), PatchError> {
        if self.hidden_subprog_cnt > 0 {
            return Err(PatchError::Fault);
        }
        let off = self.insns.len() - 1;
        pre::patch(off, patch, self.insns.len())?;
        self.bpf_patch_insn_data(off, patch)?;
        let cnt = self.subprog_cnt;
        self.subprog_info[cnt + 1].start = self.subprog_info[cnt].start;
        self.subprog_info[cnt].start = (self.insns.len() - patch.len() + 1) as u32;
        self.subprog_cnt += 1;
        self.hidden_subprog_cnt += 1;
        Ok(())
    }

    /// `adjust_jmp_off`: plain jumps (not calls, not pseudo funcs) outside
    /// `[tgt, tgt + delta)` that target `tgt` move by `delta`; stops at the first
    /// overflow, keeping earlier rewrites.
    /// Slots without a branch field are skipped (they have no `jmp_off_field`).
    fn adjust_jmp_off_impl(&mut self, tgt: usize, delta: u32) -> Result<(), PatchError> {
        let every = self.walk == Walk::EverySlot;
        let n = if every { self.insns.len() } else { self.branches.all().len() };
        for k in 0..n {
            let i = if every { k } else { self.branches.all()[k].slot as usize };
            if tgt <= i && i < tgt + delta as usize {
                continue;
            }
            let insn = self.insns[i];
            let Some(field) = insn.jmp_off_field() else {
                continue;
            };
            let x = insn.rel(field);
            if i as i64 + 1 + x != tgt as i64 {
                continue;
            }
            let nx = x + delta as i64;
            if !field_fits(field, nx) {
                return Err(PatchError::Range { insn: i, orig_idx: self.aux[i].orig_idx });
            }
            self.insns[i] = insn.with_rel(field, nx);
        }
        Ok(())
    }
}

/// `bpf_adj_delta_to_imm` / `bpf_adj_delta_to_off` in s64: `Ok(Some(new))`
/// for a branch across the patch, `Err(())` when the new value leaves the
/// field (`-ERANGE`), `Ok(None)` for any other (the kernel writes its value
/// back unchanged, in range as it was read).
fn bpf_adj_delta(x: i64, field: BranchField, curr: usize, at: Span) -> Result<Option<i64>, ()> {
    let (curr, pos, end_old, end_new) = (curr as i64, at.pos as i64, at.end_old as i64, at.end_new as i64);
    let delta = end_new - end_old;
    let x = if curr < pos && curr + x + 1 >= end_old {
        x + delta
    } else if curr >= end_new && curr + x + 1 < end_new {
        x - delta
    } else {
        return Ok(None);
    };
    if field_fits(field, x) {
        Ok(Some(x))
    } else {
        Err(())
    }
}

/// The bounds of a branch field: s16 for `off`, s32 for `imm`.
pub(crate) fn field_fits(field: BranchField, x: i64) -> bool {
    match field {
        BranchField::Off16 => (i16::MIN as i64..=i16::MAX as i64).contains(&x),
        BranchField::Imm32 => (i32::MIN as i64..=i32::MAX as i64).contains(&x),
    }
}

impl Patcher for ArrayPatcher {
    fn from_valid(prog: Program) -> Self {
        let subprog_cnt = prog.subprog_cnt();
        let mut subprog_info = prog.subprogs;
        subprog_info.resize(MAX_SUBPROGS + 2, Subprog::default());
        ArrayPatcher {
            branches: BranchSlots::of(&prog.insns),
            insns: prog.insns,
            aux: prog.aux,
            subprog_info,
            subprog_cnt,
            hidden_subprog_cnt: prog.hidden_subprog_cnt,
            linfo: prog.linfo,
            func_info: prog.func_info,
            func_info_aux: prog.func_info_aux,
            pokes: prog.pokes,
            insn_arrays: prog.insn_arrays,
            walk: Walk::BranchIndex,
        }
    }

    fn patch(&mut self, off: usize, insns: &[Insn]) -> Result<(), PatchError> {
        pre::patch(off, insns, self.insns.len())?;
        self.bpf_patch_insn_data(off, insns)
    }

    fn remove(&mut self, off: usize, cnt: usize) -> Result<(), PatchError> {
        pre::remove(off, cnt, self.insns.len())?;
        let starts: Vec<usize> = self.subprog_info[..self.subprog_cnt].iter().map(|s| s.start as usize).collect();
        pre::remove_keeps_subprogs(&starts, self.insns.len(), off, cnt)?;
        self.verifier_remove_insns(off, cnt)
    }

    fn set(&mut self, off: usize, insn: Insn) -> Result<(), PatchError> {
        if off >= self.insns.len() {
            return Err(PatchError::OffOutOfRange { off, len: self.insns.len() });
        }
        pre::patchlet_targets(off, &[insn], self.insns.len())?;
        self.insns[off] = insn;
        self.branches.rewrite(off, &insn);
        Ok(())
    }

    fn add_hidden_subprog(&mut self, insns: &[Insn]) -> Result<(), PatchError> {
        self.add_hidden_subprog_impl(insns)
    }

    fn adjust_jmp_off(&mut self, tgt: usize, delta: u32) -> Result<(), PatchError> {
        pre::jmp_off(tgt, delta, self.insns.len())?;
        self.adjust_jmp_off_impl(tgt, delta)
    }

    fn len(&self) -> usize {
        self.insns.len()
    }

    fn insn(&self, i: usize) -> Option<Insn> {
        self.insns.get(i).copied()
    }

    fn aux(&self, i: usize) -> Option<Aux> {
        self.aux.get(i).copied()
    }

    fn snapshot(&self) -> Program {
        self.tables().expect("the array model keeps tables").to_program()
    }

    fn tables(&self) -> Option<Tables<'_>> {
        Some(Tables {
            insns: &self.insns,
            aux: &self.aux,
            subprogs: &self.subprog_info[..=self.subprog_cnt],
            hidden_subprog_cnt: self.hidden_subprog_cnt,
            linfo: &self.linfo,
            func_info: self.func_info.as_deref(),
            func_info_aux: &self.func_info_aux,
            pokes: &self.pokes,
            insn_arrays: &self.insn_arrays,
        })
    }

    fn finish(self: Box<Self>) -> Program {
        (*self).into_program()
    }

    fn memory_bytes(&self) -> Option<usize> {
        Some(self.heap_bytes())
    }

    fn into_program(self) -> Program {
        let mut subprogs = self.subprog_info;
        subprogs.truncate(self.subprog_cnt + 1);
        Program {
            insns: self.insns,
            aux: self.aux,
            subprogs,
            hidden_subprog_cnt: self.hidden_subprog_cnt,
            linfo: self.linfo,
            func_info: self.func_info,
            func_info_aux: self.func_info_aux,
            pokes: self.pokes,
            insn_arrays: self.insn_arrays,
        }
    }
}
