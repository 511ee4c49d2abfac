// SPDX-License-Identifier: GPL-2.0-only
/*
 * bpf_patcher.c - a list of patchable instructions for the verifier's
 * rewrite passes.
 *
 * The verifier rewrites a program thousands of times through
 * bpf_patch_insn_data() (one slot becomes len) and verifier_remove_insns().
 * Each call memmoves the instruction and aux arrays and scans every branch,
 * line-info record, subprog start, poke descriptor and insn-array entry:
 * O(prog->len) per call, O(len * patches) per program. This patcher gives the
 * same results, operation by operation, for O(log len) per call, and writes
 * the program back once (bpf_patcher_linearize()).
 *
 * Design (after Alexei Starovoitov's and Edward Cree's 2019 proposal: a
 * patched slot points at a block of new instructions, one linearization walk
 * computes every slot's new index; and Jiong Wang's list of patchable
 * instructions):
 *
 *  - Every slot is a node in an arena, addressed by a u32 id. A patch reuses
 *    the patched node as the first patchlet slot and allocates the others, so
 *    everything that pointed at @off keeps pointing there, as the kernel's
 *    "> off moves" rules say; only the aux entry moves to the last slot.
 *  - Branch targets, subprog starts, line-info records, poke descriptors and
 *    insn-array entries refer to nodes, not indices, so nothing is shifted.
 *    A branch's relative field is recomputed from its target when the slot is
 *    read and when the program is linearized. A special end node stands for
 *    index prog->len (the fake exit, branches to the end).
 *  - The program order is kept by an order-statistic index: a B+ tree whose
 *    leaves hold node ids and whose inner nodes count the slots (and line-info
 *    records) below each child. Index -> node and node -> index are
 *    O(log len). A cursor remembers the last leaf, so the verifier's forward
 *    walks (i + delta) find their slot in O(1) amortized; looking up a
 *    branch's target does not move it.
 *  - -ERANGE must be found at the patch that overflows, before anything
 *    changes, as the kernel's probe pass does. A 16-bit branch's slack (room
 *    left in its field) only shrinks when slots are inserted inside its span.
 *    Nodes are grouped in zones (each subprog of the input; inserted nodes join
 *    the patched node's zone), so a branch whose source and target share a
 *    zone only grows with insertions into that zone. Such branches sit in the
 *    zone's min-heap keyed by slack + insertions into the zone so far, the
 *    others in a global heap keyed by slack + all insertions. A patch of delta
 *    only has to look at entries whose key, less the counter, is below delta.
 *  - Removal rebinds the branches that pointed into the range to the slot now
 *    at the same index (which may be past the end: dead code, Q7), lets the
 *    last removed line-info record inherit the first surviving slot, and marks
 *    insn-array entries deleted, exactly as the kernel's adjusters do.
 *
 * The quirk names (Q1 ... Q15) are those of patch-equiv's
 * docs/kernel-patching-semantics.md; the kernel functions each piece must
 * match are named where it happens.
 */
#include "bpf_patcher.h"

#define BPF_PATCHER_NONE U32_MAX
/* Items per index leaf and children per inner node. */
#define PIDX_MAX 64
/* Fill of leaves built in bulk and of the halves of a split. */
#define PIDX_HALF (PIDX_MAX / 2)

/* Which field bpf_adj_branches() treats as the relative target. */
enum bpf_branch_field {
	BPF_BRANCH_NONE,
	BPF_BRANCH_OFF,		/* s16 off */
	BPF_BRANCH_IMM,		/* s32 imm: gotol, pseudo call, pseudo func */
};

/* One instruction slot: 40 bytes, the fields every slot needs. */
struct bpf_pnode {
	struct bpf_insn insn;	/* the branch field is recomputed from @target when read */
	u32 aux;		/* its entry in p->aux */
	u32 target;		/* the node it lands on, p->end past the last slot, or NONE */
	u32 in_head;		/* first branch landing on this node */
	u32 in_next;		/* siblings in the incoming list of @target */
	u32 in_prev;
	u32 leaf;		/* index leaf holding the node; NONE once removed */
	u32 extra;		/* its bpf_pextra, or NONE */
	u16 zone;		/* range-watch zone (a subprog of the input) */
	u16 ver;		/* bumped whenever @target changes: stale watch entries */
};

/* What few slots carry: kept aside so that every node stays small. */
struct bpf_pextra {
	u32 linfo;		/* line-info record starting here, or NONE */
	u32 ia_head;		/* first insn-array entry pointing here, or NONE */
	u32 past;		/* with p->end as target: slots beyond the end (Q7) */
};

struct bpf_pidx_leaf {
	u32 cnt;
	u32 parent;		/* inner node, or NONE for the root */
	u32 slot;		/* position among the parent's children */
	u32 prev;		/* leaves in program order */
	u32 next;
	u32 item[PIDX_MAX];
};

struct bpf_pidx_inner {
	u32 cnt;
	u32 parent;
	u32 slot;
	bool leaf_children;
	u32 child[PIDX_MAX];
	u32 count[PIDX_MAX];	/* slots below each child */
	u32 marks[PIDX_MAX];	/* line-info records below each child */
};

/* A 16-bit branch watched for -ERANGE: key = slack lower bound + counter. */
struct bpf_pwatch {
	s64 key;
	u32 src;
	u32 ver;
};

struct bpf_pwatch_heap {
	struct bpf_pwatch *e;
	u32 nr;
	u32 cap;
	s64 grown;		/* slots inserted into the zone (global heap: unused) */
};

/* A subprog entry: the start node and the numeric linfo_idx. */
struct bpf_psubprog {
	u32 start;
	u32 linfo_idx;
};

/*
 * A poke descriptor: a node, or (node == NONE) an index at or past the end,
 * kept as index - p->inserted: patches move it, removals do not.
 */
struct bpf_ppoke {
	u32 node;
	s64 past;
};

struct bpf_patcher {
	struct bpf_verifier_env *env;
	struct bpf_pnode *nodes;
	u32 nr_nodes;
	u32 cap_nodes;
	u32 end;		/* the node standing for index len */
	u32 len;
	s64 inserted;		/* slots inserted by all patches so far */
	/*
	 * Aux entries: env->insn_aux_data, taken over as an arena (entries of
	 * inserted slots are appended; nodes say which entry is theirs), put
	 * back in program order by bpf_patcher_linearize().
	 */
	struct bpf_insn_aux_data *aux;
	u32 nr_aux;
	u32 cap_aux;
	/* The arena before the last linearization, kept to be the next one's output. */
	struct bpf_insn_aux_data *spare_aux;
	u32 cap_spare_aux;

	/* the order-statistic index */
	struct bpf_pidx_leaf *leaves;
	u32 nr_leaves, cap_leaves, free_leaf;
	struct bpf_pidx_inner *inners;
	u32 nr_inners, cap_inners, free_inner;
	u32 root;
	bool root_is_leaf;
	u32 first_leaf;
	u32 cur_leaf;		/* the cursor: last leaf found, or NONE */
	u32 cur_start;		/* index of its first item */

	/* metadata bound to nodes */
	struct bpf_psubprog subprog[BPF_MAX_SUBPROGS + 2];
	u32 subprog_cnt;
	u32 hidden_subprog_cnt;
	struct bpf_line_info *linfo_rec;	/* every record, by the node's linfo */
	u32 nr_linfo_rec;
	u32 nr_linfo;				/* records still in the program */
	struct bpf_ppoke *pokes;
	u32 nr_pokes;
	u32 *ia_node;		/* per insn-array entry: its node, or NONE once deleted */
	u32 *ia_next;		/* next entry on the same node */
	u32 nr_ia;
	struct bpf_pextra *extra;
	u32 nr_extra;
	u32 cap_extra;

	/* the range watch */
	struct bpf_pwatch_heap *zones;
	u32 nr_zones;
	struct bpf_pwatch_heap global;

	/* details of the last -ERANGE */
	u32 err_insn;
	u32 err_orig_idx;

	/* scratch for removal and linearization */
	u32 *scratch;
	u32 cap_scratch;
};

/* ---- instructions ------------------------------------------------------- */

/*
 * The predicate of bpf_adj_branches(): pseudo funcs first, then JMP/JMP32
 * but EXIT, calls only if pseudo.
 */
static enum bpf_branch_field insn_branch_field(const struct bpf_insn *insn)
{
	u8 class = BPF_CLASS(insn->code);

	/* Most slots are neither jumps nor ld_imm64: one test rejects them. */
	if (likely((u8)(class - BPF_JMP) > BPF_JMP32 - BPF_JMP)) {
		if (insn->code == (BPF_LD | BPF_IMM | BPF_DW) && insn->src_reg == BPF_PSEUDO_FUNC)
			return BPF_BRANCH_IMM;
		return BPF_BRANCH_NONE;
	}
	if (BPF_OP(insn->code) == BPF_EXIT)
		return BPF_BRANCH_NONE;
	if (BPF_OP(insn->code) == BPF_CALL)
		return insn->src_reg == BPF_PSEUDO_CALL ? BPF_BRANCH_IMM : BPF_BRANCH_NONE;
	return insn->code == (BPF_JMP32 | BPF_JA) ? BPF_BRANCH_IMM : BPF_BRANCH_OFF;
}

/* The predicate of adjust_jmp_off(): JMP/JMP32 but CALL and EXIT; gotol uses imm. */
static enum bpf_branch_field insn_jmp_off_field(const struct bpf_insn *insn)
{
	u8 class = BPF_CLASS(insn->code);

	if (class != BPF_JMP && class != BPF_JMP32)
		return BPF_BRANCH_NONE;
	if (BPF_OP(insn->code) == BPF_CALL || BPF_OP(insn->code) == BPF_EXIT)
		return BPF_BRANCH_NONE;
	return insn->code == (BPF_JMP32 | BPF_JA) ? BPF_BRANCH_IMM : BPF_BRANCH_OFF;
}

static s64 insn_rel(const struct bpf_insn *insn, enum bpf_branch_field f)
{
	return f == BPF_BRANCH_IMM ? insn->imm : insn->off;
}

static void insn_set_rel(struct bpf_insn *insn, enum bpf_branch_field f, s64 v)
{
	if (f == BPF_BRANCH_IMM)
		insn->imm = (s32)v;
	else
		insn->off = (s16)v;
}

static bool rel_fits(enum bpf_branch_field f, s64 v)
{
	if (f == BPF_BRANCH_IMM)
		return v >= S32_MIN && v <= S32_MAX;
	return v >= S16_MIN && v <= S16_MAX;
}

/* Room left in a 16-bit field for the branch to grow away from zero. */
static s64 slack16(s64 x)
{
	return x >= 0 ? S16_MAX - x : S16_MAX + 1 + x;
}

/**
 * bpf_insn_branch_target - where a slot's branch lands, as bpf_adj_branches() sees it
 * @insn: the instruction
 * @pc: its index
 * @target: set to @pc + the relative field + 1 when @insn carries a branch
 *
 * Return: whether @insn carries a branch (jump, pseudo call or pseudo func).
 */
bool bpf_insn_branch_target(const struct bpf_insn *insn, u32 pc, s64 *target)
{
	enum bpf_branch_field f = insn_branch_field(insn);

	if (f == BPF_BRANCH_NONE)
		return false;
	*target = (s64)pc + insn_rel(insn, f) + 1;
	return true;
}

/* ---- the rare per-node fields ------------------------------------------- */

static u32 node_linfo(const struct bpf_patcher *p, u32 id)
{
	u32 e = p->nodes[id].extra;

	return e == BPF_PATCHER_NONE ? BPF_PATCHER_NONE : p->extra[e].linfo;
}

static u32 node_ia_head(const struct bpf_patcher *p, u32 id)
{
	u32 e = p->nodes[id].extra;

	return e == BPF_PATCHER_NONE ? BPF_PATCHER_NONE : p->extra[e].ia_head;
}

static u32 node_past(const struct bpf_patcher *p, u32 id)
{
	u32 e = p->nodes[id].extra;

	return e == BPF_PATCHER_NONE ? 0 : p->extra[e].past;
}

/* Node @id's extra fields, made on first use in room the caller reserved. */
static struct bpf_pextra *node_extra(struct bpf_patcher *p, u32 id)
{
	struct bpf_pnode *n = &p->nodes[id];

	if (n->extra == BPF_PATCHER_NONE) {
		if (WARN_ON_ONCE(p->nr_extra >= p->cap_extra))
			return NULL;
		n->extra = p->nr_extra++;
		p->extra[n->extra].linfo = BPF_PATCHER_NONE;
		p->extra[n->extra].ia_head = BPF_PATCHER_NONE;
		p->extra[n->extra].past = 0;
	}
	return &p->extra[n->extra];
}

/* ---- allocation ---------------------------------------------------------- */

/* Make room for @n more elements of @size in *@arr of capacity *@cap holding @nr. */
static int grow_array(void **arr, u32 *cap, u32 nr, u32 n, size_t size)
{
	u64 want = (u64)nr + n;
	u64 c = *cap ? *cap : 16;
	void *a;

	if (want <= *cap)
		return 0;
	if (want > U32_MAX)
		return -ENOMEM;
	while (c < want)
		c *= 2;
	c = min_t(u64, c, U32_MAX);
	a = kvrealloc(*arr, c * size, GFP_KERNEL);
	if (!a)
		return -ENOMEM;
	*arr = a;
	*cap = (u32)c;
	return 0;
}

#define GROW(arr, cap, nr, n) grow_array((void **)&(arr), &(cap), (nr), (n), sizeof(*(arr)))

/*
 * Reserve everything inserting @new_nodes slots can allocate, so that the
 * operation cannot fail half-way: nodes, index leaves and inner nodes (each
 * insertion of up to PIDX_HALF items splits at most one node per level),
 * and one watch entry per new branch in the zone heap and the global heap.
 */
static int bpf_patcher_reserve(struct bpf_patcher *p, u32 new_nodes, u32 zone)
{
	u32 batches = new_nodes / PIDX_HALF + 2;
	u32 levels = 2;
	u32 n;
	int err;

	/* Room is grown in doubling steps: most calls find it there already. */
	if (likely((u64)p->nr_nodes + new_nodes <= p->cap_nodes &&
		   (u64)p->nr_aux + new_nodes + 1 <= p->cap_aux &&
		   (u64)p->nr_leaves + batches <= p->cap_leaves &&
		   (u64)p->nr_inners + 8 * batches <= p->cap_inners &&
		   (u64)p->zones[zone].nr + new_nodes + 1 <= p->zones[zone].cap &&
		   (u64)p->global.nr + new_nodes + 1 <= p->global.cap))
		return 0;
	for (n = p->len; n > PIDX_HALF; n /= PIDX_HALF)
		levels++;
	levels = max(levels, 8u);
	err = GROW(p->nodes, p->cap_nodes, p->nr_nodes, new_nodes);
	if (!err)
		err = GROW(p->aux, p->cap_aux, p->nr_aux, new_nodes + 1);
	p->env->insn_aux_data = p->aux;
	if (!err)
		err = GROW(p->leaves, p->cap_leaves, p->nr_leaves, batches);
	if (!err)
		err = GROW(p->inners, p->cap_inners, p->nr_inners, batches * levels);
	if (!err)
		err = GROW(p->zones[zone].e, p->zones[zone].cap, p->zones[zone].nr, new_nodes + 1);
	if (!err)
		err = GROW(p->global.e, p->global.cap, p->global.nr, new_nodes + 1);
	return err;
}

/* ---- the order-statistic index ------------------------------------------ */

static u32 pidx_leaf_alloc(struct bpf_patcher *p)
{
	u32 l = p->free_leaf;

	if (l != BPF_PATCHER_NONE) {
		p->free_leaf = p->leaves[l].next;
		return l;
	}
	return p->nr_leaves++;
}

static u32 pidx_inner_alloc(struct bpf_patcher *p)
{
	u32 n = p->free_inner;

	if (n != BPF_PATCHER_NONE) {
		p->free_inner = p->inners[n].parent;
		return n;
	}
	return p->nr_inners++;
}

static void pidx_set_parent(struct bpf_patcher *p, u32 n, bool is_leaf, u32 parent, u32 slot)
{
	if (is_leaf) {
		p->leaves[n].parent = parent;
		p->leaves[n].slot = slot;
	} else {
		p->inners[n].parent = parent;
		p->inners[n].slot = slot;
	}
}

static u32 pidx_parent(const struct bpf_patcher *p, u32 n, bool is_leaf)
{
	return is_leaf ? p->leaves[n].parent : p->inners[n].parent;
}

static u32 pidx_slot(const struct bpf_patcher *p, u32 n, bool is_leaf)
{
	return is_leaf ? p->leaves[n].slot : p->inners[n].slot;
}

static u32 pidx_leaf_marks(const struct bpf_patcher *p, const struct bpf_pidx_leaf *leaf,
			   u32 from, u32 to)
{
	u32 m = 0, i;

	for (i = from; i < to; i++)
		m += node_linfo(p, leaf->item[i]) != BPF_PATCHER_NONE;
	return m;
}

/* Slots and line-info records below index node @n. */
static void pidx_totals(const struct bpf_patcher *p, u32 n, bool is_leaf, u32 *count, u32 *marks)
{
	const struct bpf_pidx_inner *in;
	u32 i;

	if (is_leaf) {
		*count = p->leaves[n].cnt;
		*marks = pidx_leaf_marks(p, &p->leaves[n], 0, p->leaves[n].cnt);
		return;
	}
	in = &p->inners[n];
	*count = 0;
	*marks = 0;
	for (i = 0; i < in->cnt; i++) {
		*count += in->count[i];
		*marks += in->marks[i];
	}
}

/* Add @dc slots and @dm records to the counts on the path above leaf @l. */
static void pidx_path_add(struct bpf_patcher *p, u32 l, s32 dc, s32 dm)
{
	u32 parent = p->leaves[l].parent;
	u32 slot = p->leaves[l].slot;

	while (parent != BPF_PATCHER_NONE) {
		struct bpf_pidx_inner *in = &p->inners[parent];

		in->count[slot] += dc;
		in->marks[slot] += dm;
		slot = in->slot;
		parent = in->parent;
	}
}

static void pidx_split_inner(struct bpf_patcher *p, u32 n);

/*
 * Insert @sib right after @n (both leaves or both inner nodes) in @n's
 * parent, growing a new root if @n was the root; @n's own count may have
 * changed (it gave items to @sib), so both are recounted.
 */
static void pidx_add_sibling(struct bpf_patcher *p, u32 n, bool is_leaf, u32 sib)
{
	u32 parent = pidx_parent(p, n, is_leaf);
	struct bpf_pidx_inner *in;
	u32 slot, i;

	if (parent == BPF_PATCHER_NONE) {
		parent = pidx_inner_alloc(p);
		in = &p->inners[parent];
		in->cnt = 1;
		in->parent = BPF_PATCHER_NONE;
		in->slot = 0;
		in->leaf_children = is_leaf;
		in->child[0] = n;
		pidx_set_parent(p, n, is_leaf, parent, 0);
		p->root = parent;
		p->root_is_leaf = false;
	}
	in = &p->inners[parent];
	slot = pidx_slot(p, n, is_leaf);
	pidx_totals(p, n, is_leaf, &in->count[slot], &in->marks[slot]);
	for (i = in->cnt; i > slot + 1; i--) {
		in->child[i] = in->child[i - 1];
		in->count[i] = in->count[i - 1];
		in->marks[i] = in->marks[i - 1];
		pidx_set_parent(p, in->child[i], is_leaf, parent, i);
	}
	in->child[slot + 1] = sib;
	pidx_totals(p, sib, is_leaf, &in->count[slot + 1], &in->marks[slot + 1]);
	pidx_set_parent(p, sib, is_leaf, parent, slot + 1);
	in->cnt++;
	if (in->cnt == PIDX_MAX)
		pidx_split_inner(p, parent);
}

/* Move the upper half of a full inner node into a new sibling. */
static void pidx_split_inner(struct bpf_patcher *p, u32 n)
{
	u32 sib = pidx_inner_alloc(p);
	struct bpf_pidx_inner *in = &p->inners[n];
	struct bpf_pidx_inner *s = &p->inners[sib];
	u32 keep = in->cnt / 2, i;

	s->cnt = in->cnt - keep;
	s->leaf_children = in->leaf_children;
	s->parent = in->parent;
	s->slot = in->slot;
	for (i = 0; i < s->cnt; i++) {
		s->child[i] = in->child[keep + i];
		s->count[i] = in->count[keep + i];
		s->marks[i] = in->marks[keep + i];
		pidx_set_parent(p, s->child[i], s->leaf_children, sib, i);
	}
	in->cnt = keep;
	pidx_add_sibling(p, n, false, sib);
}

/* The leaf holding index @pos (< len) and the index of its first item. */
static u32 pidx_descend(const struct bpf_patcher *p, u32 pos, u32 *start, u32 *marks)
{
	u32 n = p->root, rest = pos, m = 0;
	bool is_leaf = p->root_is_leaf;

	while (!is_leaf) {
		const struct bpf_pidx_inner *in = &p->inners[n];
		u32 c = 0;

		while (c + 1 < in->cnt && rest >= in->count[c]) {
			rest -= in->count[c];
			m += in->marks[c];
			c++;
		}
		is_leaf = in->leaf_children;
		n = in->child[c];
	}
	*start = pos - rest;
	if (marks)
		*marks = m;
	return n;
}

/* The leaf holding index @pos (< len), through the cursor. */
static u32 pidx_locate(struct bpf_patcher *p, u32 pos, u32 *start)
{
	u32 l = p->cur_leaf;

	if (l != BPF_PATCHER_NONE && pos >= p->cur_start) {
		u32 s = p->cur_start;
		int tries;

		/* The verifier walks forward: the cursor's leaf or the next two. */
		for (tries = 0; tries < 3 && l != BPF_PATCHER_NONE; tries++) {
			if (pos < s + p->leaves[l].cnt) {
				p->cur_leaf = l;
				p->cur_start = s;
				*start = s;
				return l;
			}
			s += p->leaves[l].cnt;
			l = p->leaves[l].next;
		}
	}
	l = pidx_descend(p, pos, start, NULL);
	p->cur_leaf = l;
	p->cur_start = *start;
	return l;
}

/* The node at index @pos; the end node for @pos == len. */
static u32 node_at(struct bpf_patcher *p, u32 pos)
{
	u32 start, l;

	if (pos >= p->len)
		return p->end;
	l = pidx_locate(p, pos, &start);
	return p->leaves[l].item[pos - start];
}

static u32 pidx_leaf_find(const struct bpf_pidx_leaf *leaf, u32 id)
{
	u32 i;

	for (i = 0; i < leaf->cnt; i++)
		if (leaf->item[i] == id)
			return i;
	WARN_ON_ONCE(1);
	return 0;
}

/* The index of node @id (which is in the program); len for the end node. */
static u32 pos_of(const struct bpf_patcher *p, u32 id)
{
	const struct bpf_pidx_leaf *leaf;
	u32 l, pos, parent, slot, i;

	if (id == p->end)
		return p->len;
	l = p->nodes[id].leaf;
	leaf = &p->leaves[l];
	pos = pidx_leaf_find(leaf, id);
	if (l == p->cur_leaf)
		return p->cur_start + pos;
	parent = leaf->parent;
	slot = leaf->slot;
	while (parent != BPF_PATCHER_NONE) {
		const struct bpf_pidx_inner *in = &p->inners[parent];

		for (i = 0; i < slot; i++)
			pos += in->count[i];
		slot = in->slot;
		parent = in->parent;
	}
	return pos;
}

/* Line-info records at indices below @pos. */
static u32 pidx_marks_before(const struct bpf_patcher *p, u32 pos)
{
	u32 start, m, l;

	if (pos >= p->len)
		return p->nr_linfo;
	l = pidx_descend(p, pos, &start, &m);
	return m + pidx_leaf_marks(p, &p->leaves[l], 0, pos - start);
}

/* Count node @id's line-info record (@d = 1) or stop counting it (-1). */
static void pidx_mark(struct bpf_patcher *p, u32 id, s32 d)
{
	pidx_path_add(p, p->nodes[id].leaf, 0, d);
}

/*
 * Insert @k (<= PIDX_HALF) unmarked nodes right after node @x, which sits at
 * index @pos: with the cursor on its leaf, no search is needed.
 */
static void pidx_insert_after(struct bpf_patcher *p, u32 x, u32 pos, const u32 *ids, u32 k)
{
	u32 l = p->nodes[x].leaf;
	struct bpf_pidx_leaf *leaf = &p->leaves[l];
	u32 at;

	if (l == p->cur_leaf && pos - p->cur_start < leaf->cnt &&
	    leaf->item[pos - p->cur_start] == x)
		at = pos - p->cur_start + 1;
	else
		at = pidx_leaf_find(leaf, x) + 1;
	u32 total = leaf->cnt + k;
	u32 buf[PIDX_MAX + PIDX_HALF];
	u32 i, sib;

	if (p->cur_leaf != l)
		p->cur_leaf = BPF_PATCHER_NONE;
	pidx_path_add(p, l, k, 0);
	if (total <= PIDX_MAX) {
		memmove(&leaf->item[at + k], &leaf->item[at], (leaf->cnt - at) * sizeof(u32));
		memcpy(&leaf->item[at], ids, k * sizeof(u32));
		leaf->cnt = total;
		for (i = 0; i < k; i++)
			p->nodes[ids[i]].leaf = l;
		return;
	}
	/* Split: @l keeps the first half; its first index does not move. */
	memcpy(buf, leaf->item, at * sizeof(u32));
	memcpy(buf + at, ids, k * sizeof(u32));
	memcpy(buf + at + k, leaf->item + at, (leaf->cnt - at) * sizeof(u32));
	sib = pidx_leaf_alloc(p);
	leaf = &p->leaves[l];
	leaf->cnt = total / 2;
	memcpy(leaf->item, buf, leaf->cnt * sizeof(u32));
	p->leaves[sib].cnt = total - leaf->cnt;
	memcpy(p->leaves[sib].item, buf + leaf->cnt, p->leaves[sib].cnt * sizeof(u32));
	for (i = 0; i < leaf->cnt; i++)
		p->nodes[leaf->item[i]].leaf = l;
	for (i = 0; i < p->leaves[sib].cnt; i++)
		p->nodes[p->leaves[sib].item[i]].leaf = sib;
	p->leaves[sib].prev = l;
	p->leaves[sib].next = leaf->next;
	if (leaf->next != BPF_PATCHER_NONE)
		p->leaves[leaf->next].prev = sib;
	leaf->next = sib;
	p->leaves[sib].parent = BPF_PATCHER_NONE;
	pidx_add_sibling(p, l, true, sib);
}

/* Unlink an empty index node from its parent (and empty ancestors), then free it. */
static void pidx_detach(struct bpf_patcher *p, u32 n, bool is_leaf)
{
	u32 parent = pidx_parent(p, n, is_leaf);
	u32 slot = pidx_slot(p, n, is_leaf);
	struct bpf_pidx_inner *in;
	u32 i;

	if (is_leaf) {
		struct bpf_pidx_leaf *leaf = &p->leaves[n];

		if (leaf->prev != BPF_PATCHER_NONE)
			p->leaves[leaf->prev].next = leaf->next;
		else
			p->first_leaf = leaf->next;
		if (leaf->next != BPF_PATCHER_NONE)
			p->leaves[leaf->next].prev = leaf->prev;
		leaf->next = p->free_leaf;
		p->free_leaf = n;
	} else {
		p->inners[n].parent = p->free_inner;
		p->free_inner = n;
	}
	if (WARN_ON_ONCE(parent == BPF_PATCHER_NONE))
		return;
	in = &p->inners[parent];
	for (i = slot; i + 1 < in->cnt; i++) {
		in->child[i] = in->child[i + 1];
		in->count[i] = in->count[i + 1];
		in->marks[i] = in->marks[i + 1];
		pidx_set_parent(p, in->child[i], in->leaf_children, parent, i);
	}
	in->cnt--;
	if (in->cnt == 0)
		pidx_detach(p, parent, false);
}

/* A root with one child hands the role to it. */
static void pidx_shrink_root(struct bpf_patcher *p)
{
	while (!p->root_is_leaf && p->inners[p->root].cnt == 1) {
		u32 old = p->root;

		p->root = p->inners[old].child[0];
		p->root_is_leaf = p->inners[old].leaf_children;
		pidx_set_parent(p, p->root, p->root_is_leaf, BPF_PATCHER_NONE, 0);
		p->inners[old].parent = p->free_inner;
		p->free_inner = old;
	}
}

/* Take indices [@pos, @pos + @cnt) out of the index (never all of them). */
static void pidx_remove(struct bpf_patcher *p, u32 pos, u32 cnt)
{
	p->cur_leaf = BPF_PATCHER_NONE;
	while (cnt) {
		u32 start, l = pidx_descend(p, pos, &start, NULL);
		struct bpf_pidx_leaf *leaf = &p->leaves[l];
		u32 at = pos - start;
		u32 r = min(cnt, leaf->cnt - at);
		u32 m = pidx_leaf_marks(p, leaf, at, at + r);

		memmove(&leaf->item[at], &leaf->item[at + r], (leaf->cnt - at - r) * sizeof(u32));
		leaf->cnt -= r;
		pidx_path_add(p, l, -(s32)r, -(s32)m);
		if (!leaf->cnt)
			pidx_detach(p, l, true);
		cnt -= r;
	}
	pidx_shrink_root(p);
}

/* Build the index over nodes 0 .. n-1 in order, leaves half full. */
static int pidx_build(struct bpf_patcher *p, u32 n)
{
	u32 nl = n / PIDX_HALF + 1, l, i, level_n, level_start;
	bool leaf_level = true;
	int err;

	err = GROW(p->leaves, p->cap_leaves, 0, nl);
	if (!err)
		err = GROW(p->inners, p->cap_inners, 0, nl);
	if (err)
		return err;
	for (l = 0; l * PIDX_HALF < n || l == 0; l++) {
		struct bpf_pidx_leaf *leaf = &p->leaves[l];

		leaf->cnt = min_t(u32, PIDX_HALF, n - l * PIDX_HALF);
		leaf->parent = BPF_PATCHER_NONE;
		leaf->slot = 0;
		leaf->prev = l ? l - 1 : BPF_PATCHER_NONE;
		leaf->next = BPF_PATCHER_NONE;
		if (l)
			p->leaves[l - 1].next = l;
		for (i = 0; i < leaf->cnt; i++) {
			leaf->item[i] = l * PIDX_HALF + i;
			p->nodes[l * PIDX_HALF + i].leaf = l;
		}
	}
	p->nr_leaves = l;
	p->first_leaf = 0;
	/* Inner levels, PIDX_HALF children each, until one node is left. */
	level_n = l;
	level_start = 0;
	while (level_n > 1) {
		u32 first = p->nr_inners, c;

		for (c = 0; c < level_n; c += PIDX_HALF) {
			u32 in_id = p->nr_inners++;
			struct bpf_pidx_inner *in = &p->inners[in_id];

			in->cnt = min_t(u32, PIDX_HALF, level_n - c);
			in->parent = BPF_PATCHER_NONE;
			in->slot = 0;
			in->leaf_children = leaf_level;
			for (i = 0; i < in->cnt; i++) {
				u32 ch = level_start + c + i;

				in->child[i] = ch;
				pidx_totals(p, ch, leaf_level, &in->count[i], &in->marks[i]);
				pidx_set_parent(p, ch, leaf_level, in_id, i);
			}
		}
		level_start = first;
		level_n = p->nr_inners - first;
		leaf_level = false;
	}
	p->root = level_start;
	p->root_is_leaf = leaf_level;
	p->cur_leaf = BPF_PATCHER_NONE;
	return 0;
}

/* ---- branches ------------------------------------------------------------ */

/* Point the branch of @src at @tgt (NONE: no branch), keeping incoming lists. */
static void bind(struct bpf_patcher *p, u32 src, u32 tgt)
{
	struct bpf_pnode *s = &p->nodes[src];

	if (s->target != BPF_PATCHER_NONE) {
		if (s->in_prev == BPF_PATCHER_NONE)
			p->nodes[s->target].in_head = s->in_next;
		else
			p->nodes[s->in_prev].in_next = s->in_next;
		if (s->in_next != BPF_PATCHER_NONE)
			p->nodes[s->in_next].in_prev = s->in_prev;
	}
	s->target = tgt;
	if (s->extra != BPF_PATCHER_NONE)
		p->extra[s->extra].past = 0;
	s->ver++;
	s->in_next = BPF_PATCHER_NONE;
	s->in_prev = BPF_PATCHER_NONE;
	if (tgt != BPF_PATCHER_NONE) {
		s->in_next = p->nodes[tgt].in_head;
		if (s->in_next != BPF_PATCHER_NONE)
			p->nodes[s->in_next].in_prev = src;
		p->nodes[tgt].in_head = src;
	}
}

/*
 * The node at index @pos, leaving the cursor where it is: a branch target is
 * a random lookup, and moving the cursor there would cost the verifier's
 * forward walk a descent at its next step.
 */
static u32 node_at_aside(const struct bpf_patcher *p, u32 pos)
{
	u32 start, l = p->cur_leaf;

	if (pos >= p->len)
		return p->end;
	if (l != BPF_PATCHER_NONE && pos >= p->cur_start && pos - p->cur_start < p->leaves[l].cnt)
		return p->leaves[l].item[pos - p->cur_start];
	l = pidx_descend(p, pos, &start, NULL);
	return p->leaves[l].item[pos - start];
}

/* Point the branch of @src at index @t, which may lie past the end. */
static void bind_index(struct bpf_patcher *p, u32 src, u64 t)
{
	if (t <= p->len) {
		bind(p, src, node_at_aside(p, (u32)t));
	} else {
		struct bpf_pextra *x;

		bind(p, src, p->end);
		x = node_extra(p, src);
		if (x)
			x->past = (u32)(t - p->len);
	}
}

static u64 target_pos(const struct bpf_patcher *p, u32 src)
{
	const struct bpf_pnode *n = &p->nodes[src];

	return (u64)pos_of(p, n->target) + node_past(p, src);
}

/* The relative value of @src's branch when it sits at index @at. */
static s64 rel_at(const struct bpf_patcher *p, u32 src, u32 at)
{
	return (s64)target_pos(p, src) - at - 1;
}

/* ---- the range watch (-ERANGE) ------------------------------------------- */

static bool watch_less(const struct bpf_pwatch *a, const struct bpf_pwatch *b)
{
	if (a->key != b->key)
		return a->key < b->key;
	if (a->src != b->src)
		return a->src < b->src;
	return a->ver < b->ver;
}

static void heap_sift_up(struct bpf_pwatch *e, u32 i)
{
	while (i && watch_less(&e[i], &e[(i - 1) / 2])) {
		swap(e[i], e[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
}

static void heap_sift_down(struct bpf_pwatch *e, u32 nr, u32 i)
{
	for (;;) {
		u32 l = 2 * i + 1, m = i;

		if (l < nr && watch_less(&e[l], &e[m]))
			m = l;
		if (l + 1 < nr && watch_less(&e[l + 1], &e[m]))
			m = l + 1;
		if (m == i)
			return;
		swap(e[i], e[m]);
		i = m;
	}
}

/* Push into a heap whose capacity was reserved. */
static void heap_push(struct bpf_pwatch_heap *h, s64 key, u32 src, u32 ver)
{
	if (WARN_ON_ONCE(h->nr >= h->cap))
		return;
	h->e[h->nr].key = key;
	h->e[h->nr].src = src;
	h->e[h->nr].ver = ver;
	heap_sift_up(h->e, h->nr++);
}

/* Watch the 16-bit branch of @src, whose current value is @x. */
static void watch_branch(struct bpf_patcher *p, u32 src, s64 x)
{
	struct bpf_pnode *n = &p->nodes[src];
	struct bpf_pwatch_heap *z = &p->zones[n->zone];

	if (n->target == BPF_PATCHER_NONE || insn_branch_field(&n->insn) != BPF_BRANCH_OFF)
		return;
	if (n->target != p->end && p->nodes[n->target].zone == n->zone)
		heap_push(z, slack16(x) + z->grown, src, n->ver);
	else
		heap_push(&p->global, slack16(x) + p->inserted, src, n->ver);
}

/*
 * The entries of one heap whose bound says a patch of @delta at @off might
 * overflow them: each is checked exactly (does it cross @off, is its slack
 * below @delta?) and re-keyed with its exact slack; stale ones are dropped.
 * Returns the lowest failing index, or NONE.
 */
static u32 probe_heap(struct bpf_patcher *p, struct bpf_pwatch_heap *h, s64 grown, u32 off,
		      s64 delta)
{
	u32 failing = BPF_PATCHER_NONE;
	u32 top = h->nr, i, kept;

	/* Popped entries are parked in the slots the heap frees at its end. */
	while (h->nr && h->e[0].key - grown < delta) {
		struct bpf_pwatch w = h->e[0];
		const struct bpf_pnode *n = &p->nodes[w.src];

		h->e[0] = h->e[--h->nr];
		heap_sift_down(h->e, h->nr, 0);
		if (n->leaf == BPF_PATCHER_NONE || n->ver != w.ver ||
		    n->target == BPF_PATCHER_NONE) {
			w.src = BPF_PATCHER_NONE;
		} else {
			u32 s = pos_of(p, w.src);
			u64 t = target_pos(p, w.src);
			s64 x = (s64)t - s - 1;
			bool crosses = (s < off && t > off) || (s > off && t <= off);

			if (crosses && slack16(x) < delta && s < failing)
				failing = s;
			w.key = slack16(x) + grown;
		}
		h->e[h->nr] = w;
	}
	kept = h->nr;
	for (i = h->nr; i < top; i++) {
		if (h->e[i].src == BPF_PATCHER_NONE)
			continue;
		h->e[kept] = h->e[i];
		heap_sift_up(h->e, kept++);
	}
	h->nr = kept;
	return failing;
}

/*
 * The probe pass of bpf_patch_insn_single() for a patch of @delta at @off
 * (node @x): the lowest index of a 16-bit branch across @off without room
 * for @delta more, or NONE.
 */
static u32 probe(struct bpf_patcher *p, u32 x, u32 off, s64 delta)
{
	struct bpf_pwatch_heap *z = &p->zones[p->nodes[x].zone];
	u32 a = BPF_PATCHER_NONE, b = BPF_PATCHER_NONE;

	/* Usually no branch is anywhere near its limit: two comparisons. */
	if (z->nr && z->e[0].key - z->grown < delta)
		a = probe_heap(p, z, z->grown, off, delta);
	if (p->global.nr && p->global.e[0].key - p->inserted < delta)
		b = probe_heap(p, &p->global, p->inserted, off, delta);

#if BPF_PATCHER_PLANT == 2
	/* Planted fault: branches across the patch from behind it are not probed. */
	if (a != BPF_PATCHER_NONE && a > off)
		a = BPF_PATCHER_NONE;
	if (b != BPF_PATCHER_NONE && b > off)
		b = BPF_PATCHER_NONE;
#endif
	return min(a, b);
}

/* Give node @x the instruction @insn placed at index @at. */
static void set_insn(struct bpf_patcher *p, u32 x, u32 at, const struct bpf_insn *insn)
{
	enum bpf_branch_field f = insn_branch_field(insn);

	p->nodes[x].insn = *insn;
	if (f == BPF_BRANCH_NONE) {
		bind(p, x, BPF_PATCHER_NONE);
		return;
	}
	bind_index(p, x, (u64)((s64)at + insn_rel(insn, f) + 1));
	watch_branch(p, x, insn_rel(insn, f));
}

/* ---- patching ------------------------------------------------------------ */

static void node_init(struct bpf_pnode *n, const struct bpf_insn *insn, u32 aux)
{
	n->insn = *insn;
	n->target = BPF_PATCHER_NONE;
	n->in_head = BPF_PATCHER_NONE;
	n->in_next = BPF_PATCHER_NONE;
	n->in_prev = BPF_PATCHER_NONE;
	n->leaf = BPF_PATCHER_NONE;
	n->extra = BPF_PATCHER_NONE;
	n->zone = 0;
	n->ver = 0;
	n->aux = aux;
}

/* A fresh aux entry for an inserted slot (adjust_insn_aux_data()), in reserved room. */
static u32 fresh_aux(struct bpf_patcher *p, u32 seen, const struct bpf_insn *insn)
{
	struct bpf_insn_aux_data *a = &p->aux[p->nr_aux];

	memset(a, 0, sizeof(*a));
	a->seen = seen;
	a->zext_dst = insn_has_def32(insn);
	return p->nr_aux++;
}

/**
 * bpf_patcher_patch - replace one slot by several, as bpf_patch_insn_data()
 * @p: the patcher
 * @off: current index of the slot to replace (< bpf_patcher_len())
 * @patch: the new instructions; branches in them are relative to the new layout
 * @len: number of new instructions (>= 1)
 *
 * Everything that pointed at @off (branches, line info, subprog starts, poke
 * descriptors, insn-array entries) now points at the first new slot; the aux
 * entry of @off moves to the last one (Q2) with zext_dst of the last new
 * instruction (Q3); the other new slots get fresh aux entries. @len == 1 only
 * rewrites the slot and its zext_dst (Q4). A 16-bit branch across @off that
 * would overflow once the program is longer than S16_MAX fails the whole
 * patch with -ERANGE before anything changes (bpf_adj_branches()' probe).
 *
 * Return: 0, -ERANGE (bpf_patcher_erange_insn() tells which branch) or -ENOMEM.
 */
int bpf_patcher_patch(struct bpf_patcher *p, u32 off, const struct bpf_insn *patch, u32 len)
{
	u32 delta = len - 1, x, j, zone, ids[PIDX_HALF];
	u32 orig;
	int err;

	x = node_at(p, off);
	if (len == 1) {
		err = bpf_patcher_reserve(p, 0, p->nodes[x].zone);
		if (err)
			return err;
		set_insn(p, x, off, &patch[0]);
		p->aux[p->nodes[x].aux].zext_dst = insn_has_def32(&patch[0]);
		return 0;
	}
	if ((u64)p->len + delta > S16_MAX) {
		u32 bad = probe(p, x, off, delta);

		if (bad != BPF_PATCHER_NONE) {
			p->err_insn = bad;
			p->err_orig_idx = p->aux[p->nodes[x].aux].orig_idx;
			return -ERANGE;
		}
	}
	zone = p->nodes[x].zone;
	err = bpf_patcher_reserve(p, delta, zone);
	if (err)
		return err;
	x = node_at(p, off);

	orig = p->nodes[x].aux;
	p->aux[orig].zext_dst = insn_has_def32(&patch[delta]);
	p->nodes[x].aux = fresh_aux(p, p->aux[orig].seen, &patch[0]);
#if BPF_PATCHER_PLANT == 3
	/* Planted fault: the original aux entry stays on the first slot. */
	swap(p->nodes[x].aux, orig);
#endif
	for (j = 1; j <= delta; j += PIDX_HALF) {
		u32 k = min_t(u32, PIDX_HALF, delta + 1 - j), i;
		u32 after = j == 1 ? x : ids[PIDX_HALF - 1];

		for (i = 0; i < k; i++) {
			u32 aux = j + i == delta ? orig :
				  fresh_aux(p, p->aux[orig].seen, &patch[j + i]);

			ids[i] = p->nr_nodes++;
			node_init(&p->nodes[ids[i]], &patch[j + i], aux);
			p->nodes[ids[i]].zone = zone;
		}
		pidx_insert_after(p, after, off + j - 1, ids, k);
		p->len += k;
	}
	p->inserted += delta;
	p->zones[zone].grown += delta;
	/* Patchlet branches are relative to the new layout: resolve them now. */
	set_insn(p, x, off, &patch[0]);
	for (j = 1; j <= delta; j++)
		set_insn(p, delta <= PIDX_HALF ? ids[j - 1] : node_at(p, off + j), off + j,
			 &patch[j]);
	return 0;
}

/**
 * bpf_patcher_set - rewrite one slot in place (aux untouched)
 * @p: the patcher
 * @off: current index (< bpf_patcher_len())
 * @insn: the new instruction; a branch's target must lie in [0, len]
 *
 * What the verifier's callers do when they change a slot's code or imm
 * without a patch (opt_hard_wire_dead_code_branches(), helper imm fix-ups).
 *
 * Return: 0 or -ENOMEM (nothing changed).
 */
int bpf_patcher_set(struct bpf_patcher *p, u32 off, const struct bpf_insn *insn)
{
	u32 x = node_at(p, off);
	int err = bpf_patcher_reserve(p, 0, p->nodes[x].zone);

	if (err)
		return err;
	set_insn(p, x, off, insn);
	return 0;
}

/*
 * adjust_subprog_starts_after_remove(): subprogs wholly inside the range go
 * (with their func_info; func_info_aux stays, Q12), a subprog whose head
 * went keeps starting at @off, the others (fake exit included) move down.
 * @starts holds every start (fake exit included) before the removal.
 */
static void subprogs_after_remove(struct bpf_patcher *p, u32 *starts, u32 off, u32 cnt)
{
	struct bpf_prog_aux *paux = p->env->prog->aux;
	u32 sc = p->subprog_cnt, end = off + cnt, first, past, k;

	for (first = 0; first < sc && starts[first] < off; first++)
		;
	for (past = first; past < sc && starts[past] < end; past++)
		;
	if (starts[past] != end)
		past--;		/* may wrap: then nothing is dropped */
	if (past != U32_MAX && past > first) {
		u32 gone = past - first;

		memmove(&p->subprog[first], &p->subprog[past],
			(sc + 1 - past) * sizeof(p->subprog[0]));
		memmove(&starts[first], &starts[past], (sc + 1 - past) * sizeof(starts[0]));
		p->subprog_cnt -= gone;
		if (paux->func_info) {
			u32 n = paux->func_info_cnt, a = min(first, n), b = min(past, n);

			memmove(&paux->func_info[a], &paux->func_info[b],
				(n - b) * sizeof(paux->func_info[0]));
			paux->func_info_cnt -= b - a;
		}
	}
	for (k = 0; k <= p->subprog_cnt; k++) {
		u32 s = starts[k];

		s = s < off ? s : (s < end ? off : s - cnt);
		p->subprog[k].start = node_at(p, s);
	}
}

/*
 * bpf_adj_linfo_after_remove(): the records of the range go, but the last
 * one moves to the first surviving slot unless the range was the tail or
 * that slot has its own; linfo_idx follows (strictly above l_off, Q14).
 */
static void linfo_after_remove(struct bpf_patcher *p, u32 off, u32 l_off, u32 l_cnt, u32 last)
{
	u32 k;

	if (!p->nr_linfo_rec)
		return;
	if (p->len != off && l_cnt) {
		u32 first = node_at(p, off);

		if (node_linfo(p, first) == BPF_PATCHER_NONE) {
			node_extra(p, first)->linfo = last;
			pidx_mark(p, first, 1);
			p->nr_linfo++;
			l_cnt--;
		}
	}
	for (k = 0; k <= p->subprog_cnt; k++) {
		u32 li = p->subprog[k].linfo_idx;

		if (li > l_off)
			p->subprog[k].linfo_idx = li >= l_off + l_cnt ? li - l_cnt : l_off;
	}
}

/**
 * bpf_patcher_remove - remove slots, as verifier_remove_insns()
 * @p: the patcher
 * @off: current index of the first slot to remove
 * @cnt: number of slots (the range lies inside the program, and leaves a slot)
 *
 * Branches into the range keep their index (landing on the slot now there,
 * or past the end: Q7), line info inherits the last removed record (Q8),
 * insn-array entries in the range become INSN_DELETED, subprogs inside it
 * go; poke descriptors keep their index. A subprog must not start strictly
 * inside the range and go on past it (Q13: the kernel's result is then
 * meaningless; the caller refuses such ranges).
 *
 * Return: 0 or -ENOMEM (nothing changed).
 */
int bpf_patcher_remove(struct bpf_patcher *p, u32 off, u32 cnt)
{
	u32 sc = p->subprog_cnt, nrb = 0, l_off, l_cnt = 0, last = BPF_PATCHER_NONE;
	u32 *starts, *removed, *rb_src, *rb_to, *poke_idx, i, k, src;
	u64 need = (u64)(sc + 1) + 3ull * cnt + p->nr_pokes + 1;
	int err;

	/* Rebinds: every branch from outside the range into it. */
	for (k = 0; k < cnt; k++)
		for (src = p->nodes[node_at(p, off + k)].in_head; src != BPF_PATCHER_NONE;
		     src = p->nodes[src].in_next)
			nrb++;
	need += 2ull * nrb;
	if (need > U32_MAX)
		return -ENOMEM;
	err = GROW(p->scratch, p->cap_scratch, 0, (u32)need);
	if (!err)
		err = GROW(p->extra, p->cap_extra, p->nr_extra, nrb + 1);
	if (!err)
		err = GROW(p->global.e, p->global.cap, p->global.nr, nrb + 1);
	for (i = 0; !err && i < p->nr_zones; i++)
		if (nrb)
			err = GROW(p->zones[i].e, p->zones[i].cap, p->zones[i].nr, nrb);
	if (err)
		return err;
	starts = p->scratch;
	removed = starts + sc + 1;
	rb_src = removed + cnt;
	rb_to = rb_src + nrb;
	poke_idx = rb_to + nrb;	/* as u32 pairs: index - inserted may be negative */

	for (k = 0; k <= sc; k++)
		starts[k] = pos_of(p, p->subprog[k].start);
	for (k = 0; k < cnt; k++)
		removed[k] = node_at(p, off + k);
	nrb = 0;
	for (k = 0; k < cnt; k++) {
		for (src = p->nodes[removed[k]].in_head; src != BPF_PATCHER_NONE;
		     src = p->nodes[src].in_next) {
			u32 s = pos_of(p, src);

			if (s < off || s >= off + cnt) {
				rb_src[nrb] = src;
				rb_to[nrb++] = off + k;
			}
		}
	}
	l_off = pidx_marks_before(p, off);
	for (k = 0; k < p->nr_pokes; k++) {
		struct bpf_ppoke *pk = &p->pokes[k];

		/* Removal leaves poke descriptors at their index. */
		if (pk->node != BPF_PATCHER_NONE)
			poke_idx[k] = pos_of(p, pk->node);
		else
			poke_idx[k] = (u32)(pk->past + p->inserted);
	}

	pidx_remove(p, off, cnt);
	p->len -= cnt;
	for (k = 0; k < cnt; k++) {
		struct bpf_pnode *n = &p->nodes[removed[k]];
		u32 e;

		bind(p, removed[k], BPF_PATCHER_NONE);
		n = &p->nodes[removed[k]];
		n->leaf = BPF_PATCHER_NONE;
		if (node_linfo(p, removed[k]) != BPF_PATCHER_NONE) {
			if (last == BPF_PATCHER_NONE || BPF_PATCHER_PLANT != 1)
				/* (planted fault 1 keeps the first) */
				last = node_linfo(p, removed[k]);
			l_cnt++;
			p->extra[n->extra].linfo = BPF_PATCHER_NONE;
		}
		for (e = node_ia_head(p, removed[k]); e != BPF_PATCHER_NONE; e = p->ia_next[e])
			p->ia_node[e] = BPF_PATCHER_NONE;
	}
	p->nr_linfo -= l_cnt;
	for (k = 0; k < nrb; k++) {
		u32 at;

		bind_index(p, rb_src[k], rb_to[k]);
		at = pos_of(p, rb_src[k]);
		watch_branch(p, rb_src[k], rel_at(p, rb_src[k], at));
	}
	subprogs_after_remove(p, starts, off, cnt);
	linfo_after_remove(p, off, l_off, l_cnt, last);
	for (k = 0; k < p->nr_pokes; k++) {
		u32 idx = poke_idx[k];

		if (idx < p->len) {
			p->pokes[k].node = node_at(p, idx);
		} else {
			p->pokes[k].node = BPF_PATCHER_NONE;
			p->pokes[k].past = (s64)idx - p->inserted;
		}
	}
	return 0;
}

/**
 * bpf_patcher_add_hidden_subprog - append a subprog, as add_hidden_subprog()
 * @p: the patcher
 * @patch: the current last instruction followed by the new subprog's
 * @len: number of instructions in @patch (>= 2)
 *
 * Patches the last slot, then the new subprog takes the fake exit's table
 * entry (keeping its linfo_idx) and the fake exit moves to the next entry,
 * whose linfo_idx is whatever was left there (Q15).
 *
 * Return: 0, -EFAULT if a hidden subprog exists, -ERANGE or -ENOMEM.
 */
int bpf_patcher_add_hidden_subprog(struct bpf_patcher *p, const struct bpf_insn *patch, u32 len)
{
	u32 cnt = p->subprog_cnt;
	int err;

	if (p->hidden_subprog_cnt)
		return -EFAULT;
	err = bpf_patcher_patch(p, p->len - 1, patch, len);
	if (err)
		return err;
	p->subprog[cnt + 1].start = p->subprog[cnt].start;
	p->subprog[cnt].start = node_at(p, p->len - len + 1);
	p->subprog_cnt++;
	p->hidden_subprog_cnt++;
	return 0;
}

struct bpf_pjump {
	u32 pos;
	u32 src;
};

static int cmp_pjump(const void *a, const void *b)
{
	const struct bpf_pjump *x = a, *y = b;

	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/**
 * bpf_patcher_adjust_jmp_off - re-point jumps past prepended code, as adjust_jmp_off()
 * @p: the patcher
 * @tgt: index of the first prepended slot
 * @delta: number of prepended slots (tgt + delta <= len)
 *
 * Plain jumps (not calls, not pseudo funcs) from outside [@tgt, @tgt + @delta)
 * that target @tgt now target @tgt + @delta. Line info, subprog starts,
 * insn arrays and pokes stay (Q11). Jumps are rewritten in index order and
 * the first overflow stops the walk, keeping the earlier rewrites.
 *
 * Return: 0, -ERANGE (bpf_patcher_erange_insn() tells which jump) or -ENOMEM.
 */
int bpf_patcher_adjust_jmp_off(struct bpf_patcher *p, u32 tgt, u32 delta)
{
	u32 t = node_at(p, tgt), n = 0, k, src, new_t;
	struct bpf_pjump *jumps;
	int err;

#if BPF_PATCHER_PLANT == 4
	/* Planted fault (a crash): the incoming list is walked without its end check. */
	if (p->nodes[t].in_head == BPF_PATCHER_NONE)
		n = p->nodes[p->nodes[t].in_head].insn.imm;
#endif
	for (src = p->nodes[t].in_head; src != BPF_PATCHER_NONE; src = p->nodes[src].in_next)
		n++;
	err = GROW(p->scratch, p->cap_scratch, 0, 2 * n + 2);
	if (!err)
		err = GROW(p->global.e, p->global.cap, p->global.nr, n + 1);
	for (k = 0; !err && k < p->nr_zones; k++)
		if (n)
			err = GROW(p->zones[k].e, p->zones[k].cap, p->zones[k].nr, n);
	if (err)
		return err;
	jumps = (struct bpf_pjump *)p->scratch;
	n = 0;
	for (src = p->nodes[t].in_head; src != BPF_PATCHER_NONE; src = p->nodes[src].in_next) {
		u32 s;

		if (insn_jmp_off_field(&p->nodes[src].insn) == BPF_BRANCH_NONE)
			continue;
		s = pos_of(p, src);
		if (s >= tgt && s < (u64)tgt + delta)
			continue;
		jumps[n].pos = s;
		jumps[n++].src = src;
	}
	sort(jumps, n, sizeof(*jumps), cmp_pjump, NULL);
	new_t = node_at(p, tgt + delta);
	for (k = 0; k < n; k++) {
		u32 s = jumps[k].pos;
		enum bpf_branch_field f = insn_jmp_off_field(&p->nodes[jumps[k].src].insn);
		s64 nx = (s64)tgt - s - 1 + delta;

		if (!rel_fits(f, nx)) {
			p->err_insn = s;
			p->err_orig_idx = p->aux[p->nodes[jumps[k].src].aux].orig_idx;
			return -ERANGE;
		}
		bind(p, jumps[k].src, new_t);
		watch_branch(p, jumps[k].src, nx);
	}
	return 0;
}

/* ---- reads --------------------------------------------------------------- */

/**
 * bpf_patcher_len - the current number of instruction slots
 * @p: the patcher
 *
 * Return: the length the program has after every operation so far.
 */
u32 bpf_patcher_len(const struct bpf_patcher *p)
{
	return p->len;
}

/**
 * bpf_patcher_insn - read one slot with its current relative offsets
 * @p: the patcher
 * @i: current index (< bpf_patcher_len())
 * @insn: where to write the instruction
 *
 * O(1) amortized for the verifier's forward walks; a branch costs one
 * node -> index lookup (O(log len)) for its target.
 */
void bpf_patcher_insn(struct bpf_patcher *p, u32 i, struct bpf_insn *insn)
{
	u32 x = node_at(p, i);
	const struct bpf_pnode *n = &p->nodes[x];
	enum bpf_branch_field f = insn_branch_field(&n->insn);

	*insn = n->insn;
	if (f != BPF_BRANCH_NONE && n->target != BPF_PATCHER_NONE)
		insn_set_rel(insn, f, rel_at(p, x, i));
}

/**
 * bpf_patcher_aux - the aux entry of one slot
 * @p: the patcher
 * @i: current index (< bpf_patcher_len())
 *
 * Return: the entry; valid until the next operation on @p.
 */
const struct bpf_insn_aux_data *bpf_patcher_aux(struct bpf_patcher *p, u32 i)
{
	return &p->aux[p->nodes[node_at(p, i)].aux];
}

/**
 * bpf_patcher_subprog_cnt - env->subprog_cnt as the operations so far left it
 * @p: the patcher
 *
 * Return: the number of subprogs, the hidden one included, the fake exit not.
 */
u32 bpf_patcher_subprog_cnt(const struct bpf_patcher *p)
{
	return p->subprog_cnt;
}

/**
 * bpf_patcher_hidden_subprog_cnt - env->hidden_subprog_cnt
 * @p: the patcher
 *
 * Return: 0 or 1.
 */
u32 bpf_patcher_hidden_subprog_cnt(const struct bpf_patcher *p)
{
	return p->hidden_subprog_cnt;
}

/**
 * bpf_patcher_subprog_start - the current start of subprog @k
 * @p: the patcher
 * @k: subprog number, up to bpf_patcher_subprog_cnt() (the fake exit)
 *
 * Return: the index subprog_info[@k].start has now.
 */
u32 bpf_patcher_subprog_start(struct bpf_patcher *p, u32 k)
{
	return pos_of(p, p->subprog[k].start);
}

/**
 * bpf_patcher_nr_linfo - the number of line-info records left
 * @p: the patcher
 *
 * Return: what prog->aux->nr_linfo will be after bpf_patcher_linearize().
 */
u32 bpf_patcher_nr_linfo(const struct bpf_patcher *p)
{
	return p->nr_linfo;
}

/**
 * bpf_patcher_memory - heap bytes the patcher holds
 * @p: the patcher
 *
 * Return: the capacity of every array it allocated, the aux arena included.
 */
u64 bpf_patcher_memory(const struct bpf_patcher *p)
{
	u64 b = sizeof(*p);
	u32 k;

	b += (u64)p->cap_nodes * sizeof(*p->nodes) + (u64)p->cap_aux * sizeof(*p->aux);
	b += (u64)p->cap_spare_aux * sizeof(*p->aux);
	b += (u64)p->cap_leaves * sizeof(*p->leaves) + (u64)p->cap_inners * sizeof(*p->inners);
	b += (u64)p->nr_linfo_rec * sizeof(*p->linfo_rec) + (u64)p->nr_pokes * sizeof(*p->pokes);
	b += 2ull * p->nr_ia * sizeof(u32) + (u64)p->cap_extra * sizeof(*p->extra);
	b += (u64)p->cap_scratch * sizeof(u32) + (u64)p->global.cap * sizeof(*p->global.e);
	for (k = 0; k < p->nr_zones; k++)
		b += sizeof(p->zones[k]) + (u64)p->zones[k].cap * sizeof(*p->zones[k].e);
	return b;
}

/**
 * bpf_patcher_erange_insn - which branch made the last operation fail with -ERANGE
 * @p: the patcher
 * @insn: the branch's index (the kernel's probe stops at the lowest one)
 * @orig_idx: what the verifier logs ("insn %d cannot be patched due to 16-bit range")
 */
void bpf_patcher_erange_insn(const struct bpf_patcher *p, u32 *insn, u32 *orig_idx)
{
	*insn = p->err_insn;
	*orig_idx = p->err_orig_idx;
}

/* ---- create, linearize, free --------------------------------------------- */

/**
 * bpf_patcher_create - build the list from the verifier's state
 * @env: the program (prog->insnsi, insn_aux_data, subprog_info with the fake
 *	 exit, line info, func_info, poke descriptors, insn-array maps), as the
 *	 load-time checks left it: every branch inside the program
 *
 * The patcher keeps @env and owns the index-carrying state until
 * bpf_patcher_linearize() writes it back. It takes env->insn_aux_data over
 * as the arena of aux entries (entries of inserted slots are appended, so
 * env->insn_aux_data may move, and is in program order only after
 * bpf_patcher_linearize(); read entries with bpf_patcher_aux() meanwhile).
 * func_info is compacted in place by removals, as verifier_remove_insns() does.
 *
 * Return: the patcher, or NULL when out of memory.
 */
struct bpf_patcher *bpf_patcher_create(struct bpf_verifier_env *env)
{
	struct bpf_prog *prog = env->prog;
	struct bpf_prog_aux *paux = prog->aux;
	u32 len = prog->len, i, k, m, e, nz;
	struct bpf_patcher *p;

	p = kvzalloc(sizeof(*p), GFP_KERNEL);
	if (!p)
		return NULL;
	p->env = env;
	p->len = len;
	p->free_leaf = BPF_PATCHER_NONE;
	p->free_inner = BPF_PATCHER_NONE;
	p->subprog_cnt = env->subprog_cnt;
	p->hidden_subprog_cnt = env->hidden_subprog_cnt;
	nz = max(env->subprog_cnt, 1u);
	p->nr_zones = nz;
	p->zones = kvcalloc(nz, sizeof(*p->zones), GFP_KERNEL);
	if (!p->zones || GROW(p->nodes, p->cap_nodes, 0, len + 1))
		goto fail;
	for (i = 0; i < len; i++)
		node_init(&p->nodes[i], &prog->insnsi[i], i);
	p->end = len;
	node_init(&p->nodes[len], &(struct bpf_insn){}, BPF_PATCHER_NONE);
	p->aux = env->insn_aux_data;
	p->nr_aux = len;
	p->cap_aux = len;
	p->nr_nodes = len + 1;
	if (pidx_build(p, len))
		goto fail;
	/* Zones: one per subprog of the input. */
	for (k = 0; k < env->subprog_cnt; k++) {
		u32 end = min(env->subprog_info[k + 1].start, len);

		for (i = env->subprog_info[k].start; i < end; i++)
			p->nodes[i].zone = k;
	}

	for (i = 0; i < len; i++) {
		const struct bpf_insn *insn = &prog->insnsi[i];
		enum bpf_branch_field f = insn_branch_field(insn);
		struct bpf_pwatch_heap *h;
		s64 t;

		if (f == BPF_BRANCH_NONE)
			continue;
		t = (s64)i + insn_rel(insn, f) + 1;
		if (t < 0)
			goto fail;	/* load-time checks keep branches inside */
		if (t < len) {
			bind(p, i, t);
		} else {
			if (GROW(p->extra, p->cap_extra, p->nr_extra, 1))
				goto fail;
			bind(p, i, p->end);
			node_extra(p, i)->past = t - len;
		}
		if (f != BPF_BRANCH_OFF)
			continue;
		h = &p->global;
		if (t < len && p->nodes[t].zone == p->nodes[i].zone)
			h = &p->zones[p->nodes[i].zone];
		if (GROW(h->e, h->cap, h->nr, 1))
			goto fail;
		h->e[h->nr].key = slack16(insn_rel(insn, f));
		h->e[h->nr].src = i;
		h->e[h->nr].ver = p->nodes[i].ver;
		h->nr++;
	}
	for (k = 0; k < nz; k++)
		for (i = p->zones[k].nr / 2; i-- > 0;)
			heap_sift_down(p->zones[k].e, p->zones[k].nr, i);
	for (i = p->global.nr / 2; i-- > 0;)
		heap_sift_down(p->global.e, p->global.nr, i);

	p->nr_linfo_rec = paux->nr_linfo;
	p->nr_linfo = paux->nr_linfo;
	p->linfo_rec = kvmalloc_array(max(paux->nr_linfo, 1u), sizeof(*p->linfo_rec), GFP_KERNEL);
	if (!p->linfo_rec || GROW(p->extra, p->cap_extra, p->nr_extra, paux->nr_linfo))
		goto fail;
	for (i = 0; i < paux->nr_linfo; i++) {
		u32 at = paux->linfo[i].insn_off;

		p->linfo_rec[i] = paux->linfo[i];
		if (at >= len)
			goto fail;
		node_extra(p, at)->linfo = i;
		pidx_mark(p, at, 1);
	}
	for (k = 0; k < BPF_MAX_SUBPROGS + 2; k++) {
		p->subprog[k].start = p->end;
		p->subprog[k].linfo_idx = 0;
	}
	for (k = 0; k <= env->subprog_cnt; k++) {
		p->subprog[k].start = min(env->subprog_info[k].start, len);
		p->subprog[k].linfo_idx = env->subprog_info[k].linfo_idx;
	}

	p->nr_pokes = paux->size_poke_tab;
	p->pokes = kvcalloc(max(p->nr_pokes, 1u), sizeof(*p->pokes), GFP_KERNEL);
	if (!p->pokes)
		goto fail;
	for (k = 0; k < p->nr_pokes; k++) {
		u32 idx = paux->poke_tab[k].insn_idx;

		p->pokes[k].node = idx < len ? idx : BPF_PATCHER_NONE;
		p->pokes[k].past = idx;
	}

	for (m = 0; m < env->insn_array_map_cnt; m++)
		p->nr_ia += env->insn_array_maps[m]->max_entries;
	p->ia_node = kvmalloc_array(max(p->nr_ia, 1u), sizeof(u32), GFP_KERNEL);
	p->ia_next = kvmalloc_array(max(p->nr_ia, 1u), sizeof(u32), GFP_KERNEL);
	if (!p->ia_node || !p->ia_next || GROW(p->extra, p->cap_extra, p->nr_extra, p->nr_ia))
		goto fail;
	e = 0;
	for (m = 0; m < env->insn_array_map_cnt; m++) {
		const struct bpf_insn_array *map = env->insn_array_maps[m];

		for (i = 0; i < map->max_entries; i++, e++) {
			u32 x = map->values[i].xlated_off;

			if (x == INSN_DELETED || x >= len) {
				p->ia_node[e] = BPF_PATCHER_NONE;
				p->ia_next[e] = BPF_PATCHER_NONE;
				continue;
			}
			p->ia_node[e] = x;
			p->ia_next[e] = node_ia_head(p, x);
			node_extra(p, x)->ia_head = e;
		}
	}
	return p;
fail:
	bpf_patcher_free(p);
	return NULL;
}

/**
 * bpf_patcher_linearize - write the program and every table back into env
 * @p: the patcher
 *
 * One walk over the list assigns each slot its index; a second writes
 * prog->insnsi (branch fields resolved), insn_aux_data and line info, then
 * subprog starts, poke descriptors and insn-array entries are looked up.
 * env->prog and env->insn_aux_data are reallocated to the new length (the
 * caller re-reads them). @p stays usable: the verifier may go on patching.
 *
 * Return: 0 or -ENOMEM (env unchanged).
 */
int bpf_patcher_linearize(struct bpf_patcher *p)
{
	struct bpf_verifier_env *env = p->env;
	struct bpf_insn_aux_data *aux;
	struct bpf_prog_aux *paux;
	struct bpf_prog *prog;
	u32 len = p->len, i, l, k, m, e, nl;
	u32 *pos;
	int err;

	err = GROW(p->scratch, p->cap_scratch, 0, p->nr_nodes);
	if (err)
		return err;
	if (p->spare_aux && p->cap_spare_aux >= len) {
		aux = p->spare_aux;
	} else {
		aux = kvmalloc_array(max(len, 1u), sizeof(*aux), GFP_KERNEL_ACCOUNT);
		if (!aux)
			return -ENOMEM;
		kvfree(p->spare_aux);
		p->spare_aux = NULL;
		p->cap_spare_aux = 0;
	}
	prog = bpf_prog_realloc(env->prog, bpf_prog_size(len), GFP_KERNEL);
	if (!prog) {
		if (aux != p->spare_aux)
			kvfree(aux);
		return -ENOMEM;
	}
	env->prog = prog;
	prog->len = len;
	paux = prog->aux;
	pos = p->scratch;

	i = 0;
	for (l = p->first_leaf; l != BPF_PATCHER_NONE; l = p->leaves[l].next)
		for (k = 0; k < p->leaves[l].cnt; k++)
			pos[p->leaves[l].item[k]] = i++;
	pos[p->end] = len;
	i = 0;
	nl = 0;
	for (l = p->first_leaf; l != BPF_PATCHER_NONE; l = p->leaves[l].next) {
		for (k = 0; k < p->leaves[l].cnt; k++, i++) {
			u32 id = p->leaves[l].item[k];
			struct bpf_pnode *n = &p->nodes[id];
			enum bpf_branch_field f = insn_branch_field(&n->insn);

			prog->insnsi[i] = n->insn;
			if (f != BPF_BRANCH_NONE && n->target != BPF_PATCHER_NONE)
				insn_set_rel(&prog->insnsi[i], f,
					     (s64)pos[n->target] + node_past(p, id) - i - 1);
			aux[i] = p->aux[n->aux];
			n->aux = i;
			if (node_linfo(p, id) != BPF_PATCHER_NONE) {
				paux->linfo[nl] = p->linfo_rec[node_linfo(p, id)];
				paux->linfo[nl++].insn_off = i;
			}
		}
	}
	paux->nr_linfo = nl;
	/*
	 * The arena is now in program order: it becomes env's array again; the
	 * old one is kept for the next linearization (the harness takes many).
	 */
	if (aux == p->spare_aux) {
		p->spare_aux = p->aux;
		swap(p->cap_aux, p->cap_spare_aux);
	} else {
		p->spare_aux = p->aux;
		p->cap_spare_aux = p->cap_aux;
		p->cap_aux = max(len, 1u);
	}
	p->aux = aux;
	p->nr_aux = len;
	env->insn_aux_data = aux;
	for (k = 0; k <= p->subprog_cnt; k++) {
		env->subprog_info[k].start = pos[p->subprog[k].start];
		env->subprog_info[k].linfo_idx = p->subprog[k].linfo_idx;
	}
	env->subprog_cnt = p->subprog_cnt;
	env->hidden_subprog_cnt = p->hidden_subprog_cnt;
	for (k = 0; k < p->nr_pokes; k++) {
		const struct bpf_ppoke *pk = &p->pokes[k];

		paux->poke_tab[k].insn_idx = pk->node != BPF_PATCHER_NONE ?
					     pos[pk->node] : (u32)(pk->past + p->inserted);
	}
	e = 0;
	for (m = 0; m < env->insn_array_map_cnt; m++) {
		struct bpf_insn_array *map = env->insn_array_maps[m];

		for (i = 0; i < map->max_entries; i++, e++) {
			u32 x = p->ia_node[e];

			map->values[i].xlated_off = x == BPF_PATCHER_NONE ? INSN_DELETED : pos[x];
		}
	}
	return 0;
}

static void heap_free(struct bpf_pwatch_heap *h)
{
	kvfree(h->e);
}

/**
 * bpf_patcher_free - release the patcher (env is left as it is)
 * @p: the patcher, or NULL
 */
void bpf_patcher_free(struct bpf_patcher *p)
{
	u32 k;

	if (!p)
		return;
	if (p->zones)
		for (k = 0; k < p->nr_zones; k++)
			heap_free(&p->zones[k]);
	heap_free(&p->global);
	kvfree(p->zones);
	kvfree(p->nodes);
	kvfree(p->leaves);
	kvfree(p->inners);
	kvfree(p->linfo_rec);
	kvfree(p->pokes);
	kvfree(p->ia_node);
	kvfree(p->ia_next);
	kvfree(p->scratch);
	kvfree(p->extra);
	kvfree(p->spare_aux);
	kvfree(p);
}
