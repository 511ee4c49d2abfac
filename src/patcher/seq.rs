//! An order-statistic sequence of `u32` ids: a counted B+ tree whose leaves
//! hold ids and whose inner nodes hold per-child counts. Position → id,
//! id → position, insert and remove are O(B · log_B N); sequential reads hit a
//! cached leaf. Each id may carry a mark, counted per subtree, so "marks before
//! position p" is O(B · log_B N) too (the list patcher marks line-info slots).

use std::cell::Cell;

const NIL: u32 = u32::MAX;
/// Most ids per leaf and children per inner node.
const MAX: usize = 64;
/// Fill of leaves and inner nodes built in bulk or split.
const HALF: usize = MAX / 2;

#[derive(Clone, Debug, Default)]
struct Leaf {
    items: Vec<u32>,
    parent: u32,
}

#[derive(Clone, Debug, Default)]
struct Inner {
    children: Vec<u32>,
    counts: Vec<u32>,
    marks: Vec<u32>,
    parent: u32,
}

/// The sequence. Ids are small integers chosen by the caller (arena indices).
#[derive(Clone, Debug)]
pub struct Seq {
    leaves: Vec<Leaf>,
    inners: Vec<Inner>,
    free_leaves: Vec<u32>,
    free_inners: Vec<u32>,
    root: u32,
    /// 0: the root is a leaf; otherwise the number of inner levels.
    height: u32,
    len: usize,
    leaf_of: Vec<u32>,
    marked: Vec<bool>,
    /// (leaf, position of its first item, epoch) of the last lookup.
    cache: Cell<(u32, usize, u64)>,
    epoch: u64,
}

impl Seq {
    /// A sequence holding `ids` in order; ids must be `< id_capacity`.
    pub fn from_ids(ids: &[u32], id_capacity: usize) -> Seq {
        let mut s = Seq {
            leaves: Vec::new(),
            inners: Vec::new(),
            free_leaves: Vec::new(),
            free_inners: Vec::new(),
            root: 0,
            height: 0,
            len: ids.len(),
            leaf_of: vec![NIL; id_capacity],
            marked: vec![false; id_capacity],
            cache: Cell::new((NIL, 0, u64::MAX)),
            epoch: 0,
        };
        let mut level: Vec<(u32, u32)> = Vec::new(); // (node, count)
        for chunk in ids.chunks(HALF.max(1)) {
            let l = s.leaves.len() as u32;
            for &id in chunk {
                s.leaf_of[id as usize] = l;
            }
            s.leaves.push(Leaf { items: chunk.to_vec(), parent: NIL });
            level.push((l, chunk.len() as u32));
        }
        if level.is_empty() {
            s.leaves.push(Leaf { items: Vec::new(), parent: NIL });
            return s;
        }
        let mut leaf_level = true;
        while level.len() > 1 {
            let mut next = Vec::new();
            for chunk in level.chunks(HALF) {
                let n = s.inners.len() as u32;
                for &(c, _) in chunk {
                    s.set_parent(c, leaf_level, n);
                }
                s.inners.push(Inner {
                    children: chunk.iter().map(|x| x.0).collect(),
                    counts: chunk.iter().map(|x| x.1).collect(),
                    marks: vec![0; chunk.len()],
                    parent: NIL,
                });
                next.push((n, chunk.iter().map(|x| x.1).sum()));
            }
            level = next;
            leaf_level = false;
            s.height += 1;
        }
        s.root = level[0].0;
        s
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Make room for ids below `cap`.
    pub fn reserve_ids(&mut self, cap: usize) {
        if self.leaf_of.len() < cap {
            self.leaf_of.resize(cap, NIL);
            self.marked.resize(cap, false);
        }
    }

    fn set_parent(&mut self, node: u32, is_leaf: bool, parent: u32) {
        if is_leaf {
            self.leaves[node as usize].parent = parent;
        } else {
            self.inners[node as usize].parent = parent;
        }
    }

    /// Walk from the root to the leaf holding position `pos` (the last leaf
    /// for `pos == len`): the leaf, the position of its first item, and the
    /// marks of every item before that leaf.
    fn descend(&self, pos: usize) -> (u32, usize, usize) {
        let mut node = self.root;
        let mut rest = pos;
        let mut marks = 0usize;
        for _ in 0..self.height {
            let inner = &self.inners[node as usize];
            let last = inner.children.len() - 1;
            let mut c = 0;
            while c < last && rest >= inner.counts[c] as usize {
                rest -= inner.counts[c] as usize;
                marks += inner.marks[c] as usize;
                c += 1;
            }
            node = inner.children[c];
        }
        (node, pos - rest, marks)
    }

    /// The leaf holding position `pos` and the position of its first item,
    /// through the cache of the last lookup.
    fn locate(&self, pos: usize) -> (u32, usize) {
        let (cl, cs, ce) = self.cache.get();
        if ce == self.epoch && pos >= cs && pos < cs + self.leaves[cl as usize].items.len() {
            return (cl, cs);
        }
        let (node, start, _) = self.descend(pos);
        self.cache.set((node, start, self.epoch));
        (node, start)
    }

    /// The id at position `pos`.
    pub fn get(&self, pos: usize) -> Option<u32> {
        if pos >= self.len {
            return None;
        }
        let (l, start) = self.locate(pos);
        Some(self.leaves[l as usize].items[pos - start])
    }

    /// The position of `id` (which must be in the sequence).
    pub fn rank(&self, id: u32) -> usize {
        let leaf = self.leaf_of[id as usize];
        let l = &self.leaves[leaf as usize];
        let mut pos = l.items.iter().position(|&x| x == id).expect("id in its leaf");
        let mut child = leaf;
        let mut parent = l.parent;
        while parent != NIL {
            let inner = &self.inners[parent as usize];
            let idx = inner.children.iter().position(|&c| c == child).expect("child in parent");
            pos += inner.counts[..idx].iter().map(|&c| c as usize).sum::<usize>();
            child = parent;
            parent = inner.parent;
        }
        pos
    }

    /// Number of marked ids at positions `< pos`.
    pub fn marks_before(&self, pos: usize) -> usize {
        let pos = pos.min(self.len);
        let (leaf, start, marks) = self.descend(pos);
        let items = &self.leaves[leaf as usize].items;
        marks + items[..(pos - start).min(items.len())].iter().filter(|&&x| self.marked[x as usize]).count()
    }

    /// Mark or unmark an id in the sequence.
    pub fn set_mark(&mut self, id: u32, on: bool) {
        if self.marked[id as usize] == on {
            return;
        }
        self.marked[id as usize] = on;
        let d: i64 = if on { 1 } else { -1 };
        // A leaf's own marks are counted from `marked` when read; only the
        // inner nodes above it keep counts.
        let leaf = self.leaf_of[id as usize];
        self.adjust_path(leaf, 0, d);
    }

    /// Add `dc` to the counts and `dm` to the marks on the path above `leaf`.
    fn adjust_path(&mut self, leaf: u32, dc: i64, dm: i64) {
        let mut child = leaf;
        let mut parent = self.leaves[leaf as usize].parent;
        while parent != NIL {
            let inner = &mut self.inners[parent as usize];
            let idx = inner.children.iter().position(|&c| c == child).expect("child in parent");
            inner.counts[idx] = (inner.counts[idx] as i64 + dc) as u32;
            inner.marks[idx] = (inner.marks[idx] as i64 + dm) as u32;
            child = parent;
            parent = inner.parent;
        }
    }

    /// Insert `ids` (unmarked or marked as set before) at position `pos`.
    pub fn insert(&mut self, pos: usize, ids: &[u32]) {
        assert!(pos <= self.len, "insert at {pos} past len {}", self.len);
        if ids.is_empty() {
            return;
        }
        let (leaf, start) = if pos == self.len && self.len > 0 { self.locate(pos - 1) } else { self.locate(pos) };
        self.epoch += 1;
        let at = pos - start;
        let dm = ids.iter().filter(|&&x| self.marked[x as usize]).count() as i64;
        for &id in ids {
            self.leaf_of[id as usize] = leaf;
        }
        let l = &mut self.leaves[leaf as usize];
        l.items.splice(at..at, ids.iter().copied());
        self.len += ids.len();
        self.adjust_path(leaf, ids.len() as i64, dm);
        if self.leaves[leaf as usize].items.len() > MAX {
            self.split_leaf(leaf);
        } else {
            // The verifier reads right after what it patched: keep the leaf cached.
            self.cache.set((leaf, start, self.epoch));
        }
    }

    /// Split an overfull leaf into leaves of about `HALF` items.
    fn split_leaf(&mut self, leaf: u32) {
        let items = std::mem::take(&mut self.leaves[leaf as usize].items);
        let chunks: Vec<Vec<u32>> = items.chunks(HALF).map(|c| c.to_vec()).collect();
        let mut new_nodes = Vec::new();
        for (k, chunk) in chunks.into_iter().enumerate() {
            let marks = chunk.iter().filter(|&&x| self.marked[x as usize]).count() as u32;
            let id = if k == 0 {
                leaf
            } else {
                let id = self.alloc_leaf();
                for &x in &chunk {
                    self.leaf_of[x as usize] = id;
                }
                id
            };
            let count = chunk.len() as u32;
            let l = &mut self.leaves[id as usize];
            l.items = chunk;
            new_nodes.push((id, count, marks));
        }
        self.replace_child(leaf, true, new_nodes);
    }

    /// Replace `child` in its parent by `parts` (the first of which is `child`
    /// itself), growing a new root or splitting the parent as needed.
    fn replace_child(&mut self, child: u32, is_leaf: bool, parts: Vec<(u32, u32, u32)>) {
        let parent = if is_leaf { self.leaves[child as usize].parent } else { self.inners[child as usize].parent };
        let parent = if parent == NIL {
            let r = self.alloc_inner();
            let total_c = parts.iter().map(|p| p.1).sum();
            let total_m = parts.iter().map(|p| p.2).sum();
            self.inners[r as usize] =
                Inner { children: vec![child], counts: vec![total_c], marks: vec![total_m], parent: NIL };
            self.set_parent(child, is_leaf, r);
            self.root = r;
            self.height += 1;
            r
        } else {
            parent
        };
        for &(n, _, _) in &parts[1..] {
            self.set_parent(n, is_leaf, parent);
        }
        let inner = &mut self.inners[parent as usize];
        let idx = inner.children.iter().position(|&c| c == child).expect("child in parent");
        inner.counts[idx] = parts[0].1;
        inner.marks[idx] = parts[0].2;
        inner.children.splice(idx + 1..idx + 1, parts[1..].iter().map(|p| p.0));
        inner.counts.splice(idx + 1..idx + 1, parts[1..].iter().map(|p| p.1));
        inner.marks.splice(idx + 1..idx + 1, parts[1..].iter().map(|p| p.2));
        if inner.children.len() > MAX {
            self.split_inner(parent);
        }
    }

    fn split_inner(&mut self, node: u32) {
        let is_leaf_level = self.children_are_leaves(node);
        let inner = std::mem::take(&mut self.inners[node as usize]);
        let mut parts = Vec::new();
        let n = inner.children.len();
        let mut k = 0;
        while k < n {
            let e = (k + HALF).min(n);
            let id = if k == 0 { node } else { self.alloc_inner() };
            let children = inner.children[k..e].to_vec();
            let counts = inner.counts[k..e].to_vec();
            let marks = inner.marks[k..e].to_vec();
            let (c, m) = (counts.iter().sum(), marks.iter().sum());
            if k > 0 {
                for &ch in &children {
                    self.set_parent(ch, is_leaf_level, id);
                }
            }
            self.inners[id as usize] = Inner { children, counts, marks, parent: inner.parent };
            parts.push((id, c, m));
            k = e;
        }
        self.replace_child(node, false, parts);
    }

    /// Whether the children of inner `node` are leaves (its depth is `height`).
    fn children_are_leaves(&self, node: u32) -> bool {
        let mut depth = 1;
        let mut p = self.inners[node as usize].parent;
        while p != NIL {
            depth += 1;
            p = self.inners[p as usize].parent;
        }
        depth == self.height
    }

    fn alloc_leaf(&mut self) -> u32 {
        match self.free_leaves.pop() {
            Some(l) => l,
            None => {
                self.leaves.push(Leaf::default());
                (self.leaves.len() - 1) as u32
            }
        }
    }

    fn alloc_inner(&mut self) -> u32 {
        match self.free_inners.pop() {
            Some(n) => n,
            None => {
                self.inners.push(Inner::default());
                (self.inners.len() - 1) as u32
            }
        }
    }

    /// Remove positions `[pos, pos + cnt)` and return their ids in order.
    pub fn remove(&mut self, pos: usize, cnt: usize) -> Vec<u32> {
        assert!(pos + cnt <= self.len, "remove past the end");
        let mut out = Vec::with_capacity(cnt);
        let mut left = cnt;
        while left > 0 {
            let (leaf, start) = self.locate(pos);
            let at = pos - start;
            let l = &mut self.leaves[leaf as usize];
            let take = left.min(l.items.len() - at);
            let removed: Vec<u32> = l.items.drain(at..at + take).collect();
            let dm = removed.iter().filter(|&&x| self.marked[x as usize]).count();
            let empty = self.leaves[leaf as usize].items.is_empty();
            for &x in &removed {
                self.leaf_of[x as usize] = NIL;
                self.marked[x as usize] = false;
            }
            self.len -= take;
            left -= take;
            out.extend(removed);
            self.adjust_path(leaf, -(take as i64), -(dm as i64));
            self.epoch += 1;
            if empty {
                self.detach(leaf, true);
            }
        }
        out
    }

    /// Unlink an empty node from its parent, and empty parents in turn.
    fn detach(&mut self, node: u32, is_leaf: bool) {
        let parent = if is_leaf { self.leaves[node as usize].parent } else { self.inners[node as usize].parent };
        if parent == NIL {
            return; // an empty root stays
        }
        if is_leaf {
            self.free_leaves.push(node);
        } else {
            self.free_inners.push(node);
        }
        let inner = &mut self.inners[parent as usize];
        let idx = inner.children.iter().position(|&c| c == node).expect("child in parent");
        inner.children.remove(idx);
        inner.counts.remove(idx);
        inner.marks.remove(idx);
        if inner.children.is_empty() {
            self.detach(parent, false);
        } else if parent == self.root {
            self.shrink_root();
        }
    }

    /// Replace a root with a single child by that child, level by level (a
    /// child may itself have been left with one child while not the root).
    fn shrink_root(&mut self) {
        while self.height > 0 && self.inners[self.root as usize].children.len() == 1 {
            let only = self.inners[self.root as usize].children[0];
            self.free_inners.push(self.root);
            self.root = only;
            self.height -= 1;
            self.set_parent(only, self.height == 0, NIL);
        }
    }

    /// All ids in order.
    pub fn to_vec(&self) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.len);
        self.collect(self.root, self.height, &mut out);
        out
    }

    fn collect(&self, node: u32, height: u32, out: &mut Vec<u32>) {
        if height == 0 {
            out.extend_from_slice(&self.leaves[node as usize].items);
        } else {
            for &c in &self.inners[node as usize].children {
                self.collect(c, height - 1, out);
            }
        }
    }

    /// Approximate heap bytes held, for the memory figures of the benchmarks.
    pub fn heap_bytes(&self) -> usize {
        self.leaves.iter().map(|l| l.items.capacity() * 4 + std::mem::size_of::<Leaf>()).sum::<usize>()
            + self.inners.iter().map(|i| i.children.capacity() * 12 + std::mem::size_of::<Inner>()).sum::<usize>()
            + self.leaf_of.capacity() * 4
            + self.marked.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Random inserts, removals, marks and lookups against a plain Vec.
    #[test]
    fn matches_a_vec_model() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let rounds = if cfg!(miri) { 200 } else { 20_000 };
        let mut model: Vec<u32> = (0..100).collect();
        let mut marked = vec![false; 100];
        let mut next = 100u32;
        let mut s = Seq::from_ids(&model, 100);
        for round in 0..rounds {
            match rng.gen_range(0..10) {
                0..=3 => {
                    let pos = rng.gen_range(0..=model.len());
                    let k = rng.gen_range(1..if round % 50 == 0 { 300 } else { 8 });
                    let ids: Vec<u32> = (next..next + k).collect();
                    next += k;
                    s.reserve_ids(next as usize);
                    marked.resize(next as usize, false);
                    s.insert(pos, &ids);
                    model.splice(pos..pos, ids);
                }
                4 if model.len() > 10 => {
                    let pos = rng.gen_range(0..model.len());
                    let cnt = rng.gen_range(1..=(model.len() - pos).min(90));
                    let got = s.remove(pos, cnt);
                    let want: Vec<u32> = model.drain(pos..pos + cnt).collect();
                    for &x in &want {
                        marked[x as usize] = false;
                    }
                    assert_eq!(got, want);
                }
                5 if !model.is_empty() => {
                    let id = model[rng.gen_range(0..model.len())];
                    let on = rng.gen_bool(0.5);
                    marked[id as usize] = on;
                    s.set_mark(id, on);
                }
                _ if !model.is_empty() => {
                    let pos = rng.gen_range(0..model.len());
                    assert_eq!(s.get(pos), Some(model[pos]));
                    assert_eq!(s.rank(model[pos]), pos);
                    let want = model[..pos].iter().filter(|&&x| marked[x as usize]).count();
                    assert_eq!(s.marks_before(pos), want);
                }
                _ => {}
            }
            assert_eq!(s.len(), model.len());
        }
        assert_eq!(s.to_vec(), model);
    }

    /// Bulk inserts until the root splits with inner children (height 3),
    /// then removals until the tree shrinks back to a leaf, against a Vec:
    /// every split and detach path at every level, as a million-patch
    /// program takes them.
    #[test]
    #[cfg_attr(miri, ignore)]
    fn grows_and_shrinks_through_three_levels() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut model: Vec<u32> = (0..40).collect();
        let mut s = Seq::from_ids(&model, 40);
        let mut next = 40u32;
        let check = |s: &Seq, model: &[u32], rng: &mut rand_chacha::ChaCha8Rng| {
            assert_eq!(s.len(), model.len());
            for _ in 0..20 {
                if model.is_empty() {
                    break;
                }
                let pos = rng.gen_range(0..model.len());
                assert_eq!(s.get(pos), Some(model[pos]));
                assert_eq!(s.rank(model[pos]), pos);
            }
        };
        let mut max_height = 0;
        while s.height < 3 || model.len() < 120_000 {
            let pos = rng.gen_range(0..=model.len());
            let k = rng.gen_range(1..=400);
            let ids: Vec<u32> = (next..next + k).collect();
            next += k;
            s.reserve_ids(next as usize);
            s.insert(pos, &ids);
            model.splice(pos..pos, ids);
            max_height = max_height.max(s.height);
            check(&s, &model, &mut rng);
        }
        assert_eq!(s.to_vec(), model);
        while model.len() > 1 {
            let pos = rng.gen_range(0..model.len());
            let cnt = rng.gen_range(1..=(model.len() - pos).min(2_000));
            assert_eq!(s.remove(pos, cnt), model.drain(pos..pos + cnt).collect::<Vec<_>>());
            check(&s, &model, &mut rng);
        }
        assert_eq!(s.to_vec(), model);
        assert!(max_height >= 3 && s.height == 0, "heights: max {max_height}, end {}", s.height);
    }
}
