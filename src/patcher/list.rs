//! The fast patcher: instructions are nodes of an arena kept in program order
//! by an order-statistic sequence. Branch targets, subprog starts, line-info
//! records and insn-array entries refer to nodes, so a patch touches only the
//! patched node and its new neighbours; relative offsets are recomputed when a
//! slot is read and once at linearization.
//!
//! The kernel's boundary rules fall out of how references are rebound:
//! a patch reuses the patched node as the first patchlet slot (everything that
//! pointed at `off` stays there) and moves only its aux entry to the last slot;
//! a removal rebinds what pointed into the range to the slot now at the same
//! index, lets the last removed line-info record inherit the first survivor,
//! and marks insn-array entries deleted.

use super::seq::Seq;
use super::{pre, PatchError, Patcher};
use crate::insn::{BranchField, Insn, S16_MAX};
use crate::program::{Aux, FuncInfo, LineInfo, Program, Subprog, INSN_DELETED, MAX_SUBPROGS};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

pub mod plant;

const NIL: u32 = u32::MAX;

/// One instruction slot.
#[derive(Clone, Debug)]
struct Node {
    /// The bytes; for a branch the relative field is recomputed from `target`.
    insn: Insn,
    aux: Aux,
    /// Branch target node (`sentinel` = the end), or NIL.
    target: u32,
    /// With the sentinel as target: how far past the end (a removal can leave
    /// dead code pointing there, as the kernel's does; Q7).
    past: u32,
    /// Intrusive list of the nodes whose branch targets this one.
    in_head: u32,
    in_next: u32,
    in_prev: u32,
    /// Line-info record index into `linfo_recs`, or NIL.
    linfo: u32,
    /// Intrusive list of insn-array entries pointing here (`ia_entries`).
    ia_head: u32,
    /// Bumped whenever `target` changes, so stale range-watch entries are ignored.
    ref_ver: u32,
    /// The zone (a run of nodes that began as one subprog) the node lies in.
    zone: u32,
    alive: bool,
}

impl Node {
    fn new(insn: Insn, aux: Aux) -> Node {
        Node {
            insn,
            aux,
            target: NIL,
            past: 0,
            in_head: NIL,
            in_next: NIL,
            in_prev: NIL,
            linfo: NIL,
            ia_head: NIL,
            ref_ver: 0,
            zone: 0,
            alive: true,
        }
    }
}

/// A subprog table entry: the start node and the numeric `linfo_idx`.
#[derive(Clone, Copy, Debug, Default)]
struct SubprogRef {
    start: u32,
    linfo_idx: u32,
}

/// A poke descriptor: a node, or an index at or past the end, kept as
/// `index - inserted` because patches move it and removals do not.
#[derive(Clone, Copy, Debug)]
enum PokeRef {
    Node(u32),
    Past(i64),
}

#[derive(Clone, Copy, Debug)]
struct IaEntry {
    /// NIL once deleted.
    node: u32,
    next: u32,
}

/// The list patcher.
#[derive(Clone, Debug)]
pub struct ListPatcher {
    nodes: Vec<Node>,
    seq: Seq,
    /// The node standing for index `len` (fake exit start, branches to the end).
    sentinel: u32,
    subprogs: Vec<SubprogRef>,
    subprog_cnt: usize,
    hidden_subprog_cnt: u32,
    linfo_recs: Vec<LineInfo>,
    func_info: Option<Vec<FuncInfo>>,
    func_info_aux: Vec<u32>,
    pokes: Vec<PokeRef>,
    ia_lens: Vec<usize>,
    ia_entries: Vec<IaEntry>,
    /// Slots inserted by all patches so far.
    inserted: i64,
    /// The range watch for `-ERANGE` (see `Watch`).
    watch: Watch,
}

/// A min-heap of (slack lower bound + insertions counted so far, node,
/// ref_ver) over 16-bit branches.
type Heap = BinaryHeap<Reverse<(i64, u32, u32)>>;

/// The range watch: a branch's slack (room left in its s16 field) only
/// shrinks when slots are inserted inside its span. Nodes are grouped in
/// zones (contiguous runs that began as one subprog; inserted nodes join the
/// patched node's zone), so a branch whose source and target share a zone can
/// only be grown by insertions into that zone. Such branches sit in their
/// zone's heap keyed by `slack + inserted_into_zone`; all others in the global
/// heap keyed by `slack + inserted`. A patch of `delta` can only overflow
/// entries whose key minus the counter is below `delta`, and only those are
/// examined (then re-keyed with their exact slack).
#[derive(Clone, Debug, Default)]
struct Watch {
    zones: Vec<(Heap, i64)>,
    global: Heap,
}

/// How far a 16-bit relative value may still grow away from zero.
fn slack(x: i64) -> i64 {
    if x >= 0 {
        S16_MAX - x
    } else {
        S16_MAX + 1 + x
    }
}

impl ListPatcher {
    /// Index of a node; the sentinel is at `len`.
    fn pos(&self, node: u32) -> usize {
        if node == self.sentinel {
            self.seq.len()
        } else {
            self.seq.rank(node)
        }
    }

    /// The node at index `i` (`i == len` gives the sentinel).
    fn node_at(&self, i: usize) -> u32 {
        if i == self.seq.len() {
            self.sentinel
        } else {
            self.seq.get(i).expect("index inside the program")
        }
    }

    fn alloc(&mut self, insn: Insn, aux: Aux) -> u32 {
        self.nodes.push(Node::new(insn, aux));
        let id = (self.nodes.len() - 1) as u32;
        self.seq.reserve_ids(self.nodes.len());
        id
    }

    /// Point the branch of `src` at `tgt` (NIL: no branch), keeping the
    /// incoming lists and the range watch in step.
    fn bind(&mut self, src: u32, tgt: u32) {
        let old = self.nodes[src as usize].target;
        if old != NIL {
            let (next, prev) = (self.nodes[src as usize].in_next, self.nodes[src as usize].in_prev);
            if prev == NIL {
                self.nodes[old as usize].in_head = next;
            } else {
                self.nodes[prev as usize].in_next = next;
            }
            if next != NIL {
                self.nodes[next as usize].in_prev = prev;
            }
        }
        let n = &mut self.nodes[src as usize];
        n.target = tgt;
        n.past = 0;
        n.ref_ver = n.ref_ver.wrapping_add(1);
        n.in_next = NIL;
        n.in_prev = NIL;
        if tgt != NIL {
            let head = self.nodes[tgt as usize].in_head;
            self.nodes[src as usize].in_next = head;
            if head != NIL {
                self.nodes[head as usize].in_prev = src;
            }
            self.nodes[tgt as usize].in_head = src;
        }
    }

    /// Record a 16-bit branch of `src` whose current value is `x` in the watch.
    fn watch_branch(&mut self, src: u32, x: i64) {
        let n = &self.nodes[src as usize];
        if n.target == NIL || n.insn.branch_field() != Some(BranchField::Off16) {
            return;
        }
        let entry = (slack(x), src, n.ref_ver);
        let t = n.target;
        if t != self.sentinel && n.past == 0 && self.nodes[t as usize].zone == n.zone {
            let (heap, grown) = &mut self.watch.zones[n.zone as usize];
            heap.push(Reverse((entry.0 + *grown, entry.1, entry.2)));
        } else {
            self.watch.global.push(Reverse((entry.0 + self.inserted, entry.1, entry.2)));
        }
    }

    /// Give `src` the instruction `insn` placed at index `at`; its branch (if
    /// any) is resolved to the node now at its target index.
    fn set_insn(&mut self, src: u32, at: usize, insn: Insn) {
        self.nodes[src as usize].insn = insn;
        match insn.branch_field() {
            Some(f) => {
                let t = (at as i64 + insn.rel(f) + 1) as usize;
                let tgt = self.node_at(t);
                self.bind(src, tgt);
                self.watch_branch(src, insn.rel(f));
            }
            None => self.bind(src, NIL),
        }
    }

    /// Point the branch of `src` at index `t`, which may lie past the end.
    fn bind_index(&mut self, src: u32, t: usize) {
        let len = self.seq.len();
        if t <= len {
            let tgt = self.node_at(t);
            self.bind(src, tgt);
        } else {
            self.bind(src, self.sentinel);
            self.nodes[src as usize].past = (t - len) as u32;
        }
    }

    /// Current index of the branch target of `src`.
    fn target_pos(&self, src: u32) -> usize {
        let n = &self.nodes[src as usize];
        self.pos(n.target) + n.past as usize
    }

    /// Current relative value of the branch of `src` located at `at`.
    fn rel_at(&self, src: u32, at: usize) -> i64 {
        self.target_pos(src) as i64 - at as i64 - 1
    }

    /// The probe of `bpf_patch_insn_single` for a patch of `delta` at `off`
    /// (node `x`): the lowest-index 16-bit branch across `off` without room
    /// for `delta` more.
    fn probe(&mut self, x: u32, off: usize, delta: i64) -> Option<usize> {
        let z = self.nodes[x as usize].zone as usize;
        let (mut heap, grown) = std::mem::take(&mut self.watch.zones[z]);
        let mut failing = self.probe_heap(&mut heap, grown, off, delta);
        self.watch.zones[z] = (heap, grown);
        let mut global = std::mem::take(&mut self.watch.global);
        if let Some(g) = self.probe_heap(&mut global, self.inserted, off, delta) {
            failing = Some(failing.map_or(g, |f| f.min(g)));
        }
        self.watch.global = global;
        failing
    }

    /// Examine the entries of one heap whose lower bound is below `delta`.
    fn probe_heap(&self, heap: &mut Heap, grown: i64, off: usize, delta: i64) -> Option<usize> {
        let mut seen = Vec::new();
        let mut failing: Option<usize> = None;
        while let Some(&Reverse((key, src, ver))) = heap.peek() {
            if key - grown >= delta {
                break;
            }
            heap.pop();
            let n = &self.nodes[src as usize];
            if !n.alive || n.ref_ver != ver || n.target == NIL {
                continue;
            }
            let s = self.seq.rank(src);
            let t = self.target_pos(src);
            let x = t as i64 - s as i64 - 1;
            let crosses = (s < off && t > off) || (s > off && t <= off);
            if crosses && slack(x) < delta {
                failing = Some(failing.map_or(s, |f| f.min(s)));
            }
            seen.push(Reverse((slack(x) + grown, src, ver)));
        }
        heap.extend(seen);
        failing
    }

    fn patch_impl(&mut self, off: usize, patch: &[Insn]) -> Result<(), PatchError> {
        let len = self.seq.len();
        let x = self.node_at(off);
        if patch.len() == 1 {
            self.set_insn(x, off, patch[0]);
            self.nodes[x as usize].aux.zext_dst = patch[0].has_def32();
            return Ok(());
        }
        let delta = patch.len() - 1;
        if (len + delta) as i64 > S16_MAX {
            if let Some(insn) = self.probe(x, off, delta as i64) {
                return Err(PatchError::Range { insn, orig_idx: self.nodes[x as usize].aux.orig_idx });
            }
        }
        // The original aux entry goes to the last slot with zext_dst of the last
        // patchlet insn; the others are fresh with the original's `seen`.
        let mut orig = self.nodes[x as usize].aux;
        orig.zext_dst = patch[delta].has_def32();
        let fresh = |i: &Insn| Aux { seen: orig.seen, zext_dst: i.has_def32(), ..Aux::default() };
        self.nodes[x as usize].aux = fresh(&patch[0]);
        let mut ids = Vec::with_capacity(delta);
        let zone = self.nodes[x as usize].zone;
        for (j, insn) in patch.iter().enumerate().skip(1) {
            let aux = if j == delta { orig } else { fresh(insn) };
            let id = self.alloc(*insn, aux);
            self.nodes[id as usize].zone = zone;
            ids.push(id);
        }
        self.seq.insert(off + 1, &ids);
        self.inserted += delta as i64;
        self.watch.zones[zone as usize].1 += delta as i64;
        // Patchlet branches are relative to the new layout.
        self.set_insn(x, off, patch[0]);
        for (j, &id) in ids.iter().enumerate() {
            self.set_insn(id, off + 1 + j, patch[j + 1]);
        }
        Ok(())
    }

    /// Indices of the live subprog starts, fake exit included.
    fn subprog_positions(&self) -> Vec<usize> {
        self.subprogs[..=self.subprog_cnt].iter().map(|s| self.pos(s.start)).collect()
    }

    fn remove_impl(&mut self, off: usize, cnt: usize) -> Result<(), PatchError> {
        let len = self.seq.len();
        let starts = self.subprog_positions();
        pre::remove_keeps_subprogs(&starts[..self.subprog_cnt], len, off, cnt)?;
        let removed: Vec<u32> = (off..off + cnt).map(|i| self.seq.get(i).expect("in range")).collect();
        // Branches from outside into the range keep their index (Q7), which
        // may now lie past the end (dead code the pass removes next).
        let mut rebinds = Vec::new();
        for (k, &r) in removed.iter().enumerate() {
            let mut src = self.nodes[r as usize].in_head;
            while src != NIL {
                let s = self.seq.rank(src);
                if s < off || s >= off + cnt {
                    rebinds.push((src, off + k));
                }
                src = self.nodes[src as usize].in_next;
            }
        }
        let l_off = self.seq.marks_before(off);
        let poke_idx: Vec<i64> = self
            .pokes
            .iter()
            .map(|p| match *p {
                PokeRef::Node(n) => self.pos(n) as i64,
                PokeRef::Past(v) => v + self.inserted,
            })
            .collect();

        // Unlink the removed nodes.
        let mut dropped_recs = Vec::new();
        for &r in &removed {
            self.bind(r, NIL);
            let n = &mut self.nodes[r as usize];
            n.alive = false;
            if n.linfo != NIL {
                dropped_recs.push(n.linfo);
            }
            let mut e = n.ia_head;
            while e != NIL {
                self.ia_entries[e as usize].node = NIL;
                e = self.ia_entries[e as usize].next;
            }
        }
        self.seq.remove(off, cnt);
        for (src, t) in rebinds {
            self.bind_index(src, t);
            let at = self.seq.rank(src);
            let x = self.rel_at(src, at);
            self.watch_branch(src, x);
        }
        self.subprogs_after_remove(&starts, off, cnt);
        self.linfo_after_remove(off, l_off, &dropped_recs);
        for (p, idx) in self.pokes.iter_mut().zip(poke_idx) {
            *p = if (idx as usize) < self.seq.len() {
                PokeRef::Node(self.seq.get(idx as usize).expect("in range"))
            } else {
                PokeRef::Past(idx - self.inserted)
            };
        }
        Ok(())
    }

    /// Subprog table after a removal (`adjust_subprog_starts_after_remove`):
    /// entries whose subprogs lie wholly in the range go (with func_info); a
    /// subprog whose head went keeps starting at `off`; the rest keep their node.
    fn subprogs_after_remove(&mut self, starts: &[usize], off: usize, cnt: usize) {
        let sc = self.subprog_cnt;
        let end = off + cnt;
        // First entry at or after the range, and the entry that follows it.
        let first = starts[..sc].iter().position(|&s| s >= off).unwrap_or(sc);
        let mut past = starts[first..sc].iter().position(|&s| s >= end).map_or(sc, |p| p + first);
        if starts[past] != end {
            past = past.wrapping_sub(1);
        }
        let mut new_starts: Vec<usize> = starts.to_vec();
        if past != usize::MAX && past > first {
            let gone = past - first;
            self.subprogs.copy_within(past..=sc, first);
            new_starts.drain(first..past);
            self.subprog_cnt -= gone;
            if let Some(fi) = &mut self.func_info {
                let n = fi.len();
                fi.drain(first.min(n)..past.min(n));
            }
        }
        for (k, s) in new_starts.iter().enumerate() {
            let idx = if *s < off {
                *s
            } else if *s < end {
                off
            } else {
                s - cnt
            };
            self.subprogs[k].start = self.node_at(idx);
        }
    }

    /// Line info after a removal (`bpf_adj_linfo_after_remove`): the records of
    /// the range go, but the last one moves to the first surviving slot unless
    /// the range was the tail or that slot has its own; `linfo_idx` follows.
    fn linfo_after_remove(&mut self, off: usize, l_off: usize, dropped: &[u32]) {
        if self.linfo_recs.is_empty() {
            return;
        }
        let mut l_cnt = dropped.len();
        if self.seq.len() != off && l_cnt > 0 {
            let first = self.seq.get(off).expect("a surviving slot");
            if self.nodes[first as usize].linfo == NIL {
                self.nodes[first as usize].linfo = *dropped.last().expect("non-empty");
                self.seq.set_mark(first, true);
                l_cnt -= 1;
            }
        }
        for s in &mut self.subprogs[..=self.subprog_cnt] {
            let li = s.linfo_idx as usize;
            if li > l_off {
                s.linfo_idx = if li >= l_off + l_cnt { (li - l_cnt) as u32 } else { l_off as u32 };
            }
        }
    }

    fn hidden_subprog_impl(&mut self, patch: &[Insn]) -> Result<(), PatchError> {
        if self.hidden_subprog_cnt > 0 {
            return Err(PatchError::Fault);
        }
        let off = self.seq.len() - 1;
        pre::patch(off, patch, self.seq.len())?;
        // The appended slots join the last node's zone: zones only need to be
        // contiguous for the range watch to stay sound.
        self.patch_impl(off, patch)?;
        let cnt = self.subprog_cnt;
        self.subprogs[cnt + 1].start = self.subprogs[cnt].start;
        self.subprogs[cnt].start = self.node_at(self.seq.len() - patch.len() + 1);
        self.subprog_cnt += 1;
        self.hidden_subprog_cnt += 1;
        Ok(())
    }

    fn adjust_jmp_off_impl(&mut self, tgt: usize, delta: u32) -> Result<(), PatchError> {
        let t = self.node_at(tgt);
        let mut srcs = Vec::new();
        let mut src = self.nodes[t as usize].in_head;
        while src != NIL {
            if let Some(f) = self.nodes[src as usize].insn.jmp_off_field() {
                let s = self.seq.rank(src);
                if !(tgt <= s && s < tgt + delta as usize) {
                    srcs.push((s, src, f));
                }
            }
            src = self.nodes[src as usize].in_next;
        }
        srcs.sort_unstable_by_key(|e| e.0);
        let new_t = self.node_at(tgt + delta as usize);
        for (s, src, f) in srcs {
            let nx = self.rel_at(src, s) + delta as i64;
            if !super::array::field_fits(f, nx) {
                return Err(PatchError::Range { insn: s, orig_idx: self.nodes[src as usize].aux.orig_idx });
            }
            self.bind(src, new_t);
            self.watch_branch(src, nx);
        }
        Ok(())
    }

    /// Heap bytes per instruction of this representation (benchmarks).
    pub fn heap_bytes(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.seq.heap_bytes()
            + (self.watch.global.capacity() + self.watch.zones.iter().map(|z| z.0.capacity()).sum::<usize>())
                * std::mem::size_of::<Reverse<(i64, u32, u32)>>()
    }

    /// Build from a validated program.
    fn build(prog: Program) -> ListPatcher {
        let len = prog.insns.len();
        let mut nodes: Vec<Node> = Vec::with_capacity(len + 1);
        nodes.extend(prog.insns.iter().zip(&prog.aux).map(|(i, a)| Node::new(*i, *a)));
        nodes.push(Node::new(Insn::default(), Aux::default()));
        let sentinel = len as u32;
        let ids: Vec<u32> = (0..len as u32).collect();
        let seq = Seq::from_ids(&ids, nodes.len());
        let starts: Vec<u32> = prog.subprogs.iter().map(|s| s.start).collect();
        let mut lp = ListPatcher {
            nodes,
            seq,
            sentinel,
            subprogs: Vec::new(),
            subprog_cnt: prog.subprog_cnt(),
            hidden_subprog_cnt: prog.hidden_subprog_cnt,
            linfo_recs: prog.linfo.clone(),
            func_info: prog.func_info,
            func_info_aux: prog.func_info_aux,
            pokes: Vec::new(),
            ia_lens: prog.insn_arrays.iter().map(Vec::len).collect(),
            ia_entries: Vec::new(),
            inserted: 0,
            watch: Watch::default(),
        };
        // Zones: one per subprog of the input.
        let cnt = lp.subprog_cnt;
        for k in 0..cnt {
            let (s, e) = (starts[k] as usize, starts[k + 1] as usize);
            for n in &mut lp.nodes[s..e.min(len)] {
                n.zone = k as u32;
            }
        }
        let mut local: Vec<Vec<Reverse<(i64, u32, u32)>>> = vec![Vec::new(); cnt.max(1)];
        let mut global = Vec::new();
        for (i, insn) in prog.insns.iter().enumerate() {
            if let Some(f) = insn.branch_field() {
                let t = (i as i64 + insn.rel(f) + 1) as u32;
                lp.bind(i as u32, t);
                if f == BranchField::Off16 {
                    let e = Reverse((slack(insn.rel(f)), i as u32, lp.nodes[i].ref_ver));
                    let z = lp.nodes[i].zone;
                    if t != sentinel && lp.nodes[t as usize].zone == z {
                        local[z as usize].push(e);
                    } else {
                        global.push(e);
                    }
                }
            }
        }
        lp.watch.zones = local.into_iter().map(|v| (BinaryHeap::from(v), 0)).collect();
        lp.watch.global = BinaryHeap::from(global);
        for (r, rec) in prog.linfo.iter().enumerate() {
            lp.nodes[rec.insn_off as usize].linfo = r as u32;
            lp.seq.set_mark(rec.insn_off, true);
        }
        lp.subprogs = prog.subprogs.iter().map(|s| SubprogRef { start: s.start, linfo_idx: s.linfo_idx }).collect();
        lp.subprogs.resize(MAX_SUBPROGS + 2, SubprogRef { start: sentinel, linfo_idx: 0 });
        lp.pokes = prog
            .pokes
            .iter()
            .map(|&p| if (p as usize) < len { PokeRef::Node(p) } else { PokeRef::Past(p as i64) })
            .collect();
        for map in &prog.insn_arrays {
            for &x in map {
                let node = if x == INSN_DELETED { NIL } else { x };
                let e = lp.ia_entries.len() as u32;
                let next = if node == NIL { NIL } else { std::mem::replace(&mut lp.nodes[node as usize].ia_head, e) };
                lp.ia_entries.push(IaEntry { node, next });
            }
        }
        lp
    }
}

impl Patcher for ListPatcher {
    fn from_valid(prog: Program) -> Self {
        ListPatcher::build(prog)
    }

    fn patch(&mut self, off: usize, insns: &[Insn]) -> Result<(), PatchError> {
        pre::patch(off, insns, self.seq.len())?;
        self.patch_impl(off, insns)
    }

    fn remove(&mut self, off: usize, cnt: usize) -> Result<(), PatchError> {
        pre::remove(off, cnt, self.seq.len())?;
        self.remove_impl(off, cnt)
    }

    fn set(&mut self, off: usize, insn: Insn) -> Result<(), PatchError> {
        let len = self.seq.len();
        if off >= len {
            return Err(PatchError::OffOutOfRange { off, len });
        }
        pre::patchlet_targets(off, &[insn], len)?;
        let x = self.node_at(off);
        self.set_insn(x, off, insn);
        Ok(())
    }

    fn add_hidden_subprog(&mut self, insns: &[Insn]) -> Result<(), PatchError> {
        self.hidden_subprog_impl(insns)
    }

    fn adjust_jmp_off(&mut self, tgt: usize, delta: u32) -> Result<(), PatchError> {
        pre::jmp_off(tgt, delta, self.seq.len())?;
        self.adjust_jmp_off_impl(tgt, delta)
    }

    fn len(&self) -> usize {
        self.seq.len()
    }

    fn insn(&self, i: usize) -> Option<Insn> {
        let id = self.seq.get(i)?;
        let n = &self.nodes[id as usize];
        Some(match n.insn.branch_field() {
            Some(f) if n.target != NIL => n.insn.with_rel(f, self.rel_at(id, i)),
            _ => n.insn,
        })
    }

    fn aux(&self, i: usize) -> Option<Aux> {
        self.seq.get(i).map(|id| self.nodes[id as usize].aux)
    }

    fn into_program(self) -> Program {
        self.linearize()
    }

    fn snapshot(&self) -> Program {
        self.linearize()
    }

    fn memory_bytes(&self) -> Option<usize> {
        Some(self.heap_bytes())
    }
}

impl ListPatcher {
    /// Linearize: one walk assigns indices, then every reference is resolved.
    pub fn linearize(&self) -> Program {
        let order = self.seq.to_vec();
        let len = order.len();
        let mut pos = vec![u32::MAX; self.nodes.len()];
        for (i, &id) in order.iter().enumerate() {
            pos[id as usize] = i as u32;
        }
        pos[self.sentinel as usize] = len as u32;
        // Filled in place (no capacity check per slot).
        let mut insns = vec![Insn::default(); len];
        let mut aux = vec![Aux::default(); len];
        let mut linfo = Vec::with_capacity(self.linfo_recs.len());
        for (i, ((&id, insn), a)) in order.iter().zip(&mut insns).zip(&mut aux).enumerate() {
            let n = &self.nodes[id as usize];
            *insn = match n.insn.branch_field() {
                Some(f) if n.target != NIL => {
                    n.insn.with_rel(f, pos[n.target as usize] as i64 + n.past as i64 - i as i64 - 1)
                }
                _ => n.insn,
            };
            *a = n.aux;
            if n.linfo != NIL {
                linfo.push(LineInfo { insn_off: i as u32, ..self.linfo_recs[n.linfo as usize] });
            }
        }
        let subprogs = self.subprogs[..=self.subprog_cnt]
            .iter()
            .map(|s| Subprog { start: pos[s.start as usize], linfo_idx: s.linfo_idx })
            .collect();
        let pokes = self
            .pokes
            .iter()
            .map(|p| match *p {
                PokeRef::Node(n) => pos[n as usize],
                PokeRef::Past(v) => (v + self.inserted) as u32,
            })
            .collect();
        let mut insn_arrays = Vec::with_capacity(self.ia_lens.len());
        let mut e = 0;
        for &n in &self.ia_lens {
            insn_arrays.push(
                self.ia_entries[e..e + n]
                    .iter()
                    .map(|x| if x.node == NIL { INSN_DELETED } else { pos[x.node as usize] })
                    .collect(),
            );
            e += n;
        }
        Program {
            insns,
            aux,
            subprogs,
            hidden_subprog_cnt: self.hidden_subprog_cnt,
            linfo,
            func_info: self.func_info.clone(),
            func_info_aux: self.func_info_aux.clone(),
            pokes,
            insn_arrays,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::build::*;
    use crate::patcher::ArrayPatcher;
    use rand::{Rng, SeedableRng};

    /// A small program with every reference kind: jumps both ways, a pseudo
    /// call and a pseudo func, line info, a poke and an insn array.
    fn sample() -> Program {
        let f = ld_imm64(2, crate::insn::pseudo::FUNC, 0);
        let mut p = Program::from_insns(vec![
            call_rel(8),
            jmp_imm(crate::insn::op::JEQ, 1, 0, 3),
            Insn { imm: 6, ..f[0] },
            f[1],
            mov64_imm(0, 1),
            ja(-5),
            raw(crate::insn::code::TAIL_CALL, 0, 0, 0, 1),
            may_goto(-2),
            exit(),
            mov32_imm(0, 2),
            exit(),
        ]);
        p.subprogs = vec![
            Subprog { start: 0, linfo_idx: 0 },
            Subprog { start: 9, linfo_idx: 2 },
            Subprog { start: 11, linfo_idx: 0 },
        ];
        p.linfo = vec![
            LineInfo { insn_off: 0, line_off: 1, ..LineInfo::default() },
            LineInfo { insn_off: 4, line_off: 2, ..LineInfo::default() },
            LineInfo { insn_off: 9, line_off: 3, ..LineInfo::default() },
        ];
        p.pokes = vec![6];
        p.insn_arrays = vec![vec![1, 4, 9]];
        p
    }

    /// Random patches, removals, sets and reads, compared with the array
    /// patcher after every op (small enough for miri).
    #[test]
    fn random_ops_match_the_array_patcher() {
        let rounds = if cfg!(miri) { 3 } else { 200 };
        for seed in 0..rounds {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let mut a = ArrayPatcher::new(sample()).unwrap();
            let mut l = ListPatcher::new(sample()).unwrap();
            for _ in 0..if cfg!(miri) { 12 } else { 60 } {
                let len = a.len();
                let off = rng.gen_range(0..len);
                let (ra, rl) = match rng.gen_range(0..4) {
                    0 => {
                        let v = vec![mov64_imm(3, 3); rng.gen_range(1..4)];
                        (a.patch(off, &v), l.patch(off, &v))
                    }
                    1 if len > 4 => {
                        let cnt = rng.gen_range(1..=2.min(len - off));
                        (a.remove(off, cnt), l.remove(off, cnt))
                    }
                    2 => (a.set(off, alu64_imm(0, 1, 1)), l.set(off, alu64_imm(0, 1, 1))),
                    _ => (Ok(()), Ok(())),
                };
                assert_eq!(ra, rl);
                assert_eq!(a.snapshot(), l.snapshot());
                for i in 0..a.len() {
                    assert_eq!(a.insn(i), l.insn(i));
                    assert_eq!(a.aux(i), l.aux(i));
                }
            }
        }
    }

    #[test]
    fn patch_reuses_the_patched_node_and_moves_aux_to_the_last() {
        let mut l = ListPatcher::new(sample()).unwrap();
        let x = l.node_at(4);
        l.patch(4, &[mov64_imm(1, 1), mov64_imm(2, 2), mov64_imm(3, 3)]).unwrap();
        assert_eq!(l.node_at(4), x, "the first patchlet slot is the patched node");
        assert_eq!(l.aux(6).unwrap().token, 5, "the original aux entry is on the last slot");
        assert_eq!(l.aux(4).unwrap().token, 0);
        // `ja -5` at 5 targeted 1; now at 7 it still does: 1 - 7 - 1.
        assert_eq!(l.insn(7).unwrap().off, -7);
    }
}
