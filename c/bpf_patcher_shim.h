/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * bpf_patcher_shim.h - the userspace stand-ins for everything bpf_patcher.c
 * takes from the kernel.
 *
 * Porting bpf_patcher.c into kernel/bpf/ is deleting this file: each block
 * below names the kernel header (or function) it stands for, and the reduced
 * structures keep the kernel's field names, so the patcher compiles against
 * the real ones unchanged. The reduced structs hold only what patching reads
 * or writes; "token" stands for every other field of an aux entry.
 */
#ifndef _BPF_PATCHER_SHIM_H
#define _BPF_PATCHER_SHIM_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* mremap() */
#endif

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* <linux/types.h> */
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;
typedef u8 __u8;
typedef s16 __s16;
typedef s32 __s32;
typedef unsigned int gfp_t;

/* <linux/limits.h> */
#define S16_MAX ((s16)0x7fff)
#define S16_MIN ((s16)(-S16_MAX - 1))
#define S32_MAX ((s32)0x7fffffff)
#define S32_MIN ((s32)(-S32_MAX - 1))
#define U32_MAX ((u32)~0U)

/* <linux/compiler.h>, <linux/minmax.h> */
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define min(a, b) ((a) < (b) ? (a) : (b))
#define max(a, b) ((a) > (b) ? (a) : (b))
#define min_t(t, a, b) ((t)(a) < (t)(b) ? (t)(a) : (t)(b))
#define swap(a, b) do { __typeof__(a) __t = (a); (a) = (b); (b) = __t; } while (0)

/* <asm-generic/bug.h>: report once, never stop (the harness compares results). */
#define WARN_ON_ONCE(cond) ({						\
	static bool __warned;						\
	int __ret = !!(cond);						\
	if (unlikely(__ret) && !__warned) {				\
		__warned = true;					\
		fprintf(stderr, "WARNING: %s:%d: %s\n", __FILE__,	\
			__LINE__, #cond);				\
	}								\
	__ret;								\
})

/*
 * <linux/slab.h>, <linux/vmalloc.h>, <linux/overflow.h>. Every block carries
 * a small header with its size, so that big blocks (the node arena, the
 * index) can live in their own mappings with transparent huge pages, as
 * vmalloc can give the kernel: a million-slot program then costs a few
 * hundred page faults instead of a hundred thousand.
 */
#include <sys/mman.h>

#define GFP_KERNEL 0u
#define GFP_KERNEL_ACCOUNT 0u
#define __GFP_ZERO 1u
#define SHIM_HDR 16u
#define SHIM_BIG ((size_t)1 << 21)

static inline size_t *shim_hdr(const void *p)
{
	return (size_t *)((char *)p - SHIM_HDR);
}

static inline void *shim_map(size_t bytes)
{
	void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		return NULL;
	madvise(m, bytes, MADV_HUGEPAGE);
	return m;
}

static inline void *kvmalloc_array(size_t n, size_t size, gfp_t flags)
{
	size_t bytes;
	size_t *h;

	if (size && n > (SIZE_MAX - SHIM_HDR) / size)
		return NULL;
	bytes = n * size + SHIM_HDR;
	if (bytes >= SHIM_BIG)
		h = shim_map(bytes);	/* zero-filled */
	else
		h = (flags & __GFP_ZERO) ? calloc(1, bytes) : malloc(bytes);
	if (!h)
		return NULL;
	h[0] = bytes;
	return (char *)h + SHIM_HDR;
}

static inline void *kvcalloc(size_t n, size_t size, gfp_t flags)
{
	return kvmalloc_array(n, size, flags | __GFP_ZERO);
}

static inline void *kvzalloc(size_t size, gfp_t flags)
{
	return kvmalloc_array(1, size, flags | __GFP_ZERO);
}

static inline void kvfree(const void *p)
{
	size_t *h;

	if (!p)
		return;
	h = shim_hdr(p);
	if (h[0] >= SHIM_BIG)
		munmap(h, h[0]);
	else
		free(h);
}

/* kvrealloc(); the new tail is not cleared (callers initialise what they use). */
static inline void *kvrealloc(void *p, size_t size, gfp_t flags)
{
	size_t bytes = size + SHIM_HDR, old;
	size_t *h;
	void *q;

	if (!p)
		return kvmalloc_array(1, size, flags);
	if (size > SIZE_MAX - SHIM_HDR)
		return NULL;
	h = shim_hdr(p);
	old = h[0];
	if (old >= SHIM_BIG && bytes >= SHIM_BIG) {
		h = mremap(h, old, bytes, MREMAP_MAYMOVE);
		if (h == MAP_FAILED)
			return NULL;
		madvise(h, bytes, MADV_HUGEPAGE);
	} else if (old < SHIM_BIG && bytes < SHIM_BIG) {
		h = realloc(h, bytes);
		if (!h)
			return NULL;
	} else {
		q = kvmalloc_array(1, size, flags);
		if (!q)
			return NULL;
		memcpy(q, p, min(old, bytes) - SHIM_HDR);
		kvfree(p);
		return q;
	}
	h[0] = bytes;
	return (char *)h + SHIM_HDR;
}

/* lib/sort.c */
static inline void sort(void *base, size_t num, size_t size,
			int (*cmp)(const void *, const void *), void *swap_fn)
{
	(void)swap_fn;
	qsort(base, num, size, cmp);
}

/* <uapi/linux/bpf.h> */
struct bpf_insn {
	__u8 code;
	__u8 dst_reg:4;
	__u8 src_reg:4;
	__s16 off;
	__s32 imm;
};

#define BPF_CLASS(code) ((code) & 0x07)
#define BPF_LD 0x00
#define BPF_LDX 0x01
#define BPF_ST 0x02
#define BPF_STX 0x03
#define BPF_ALU 0x04
#define BPF_JMP 0x05
#define BPF_JMP32 0x06
#define BPF_ALU64 0x07
#define BPF_SIZE(code) ((code) & 0x18)
#define BPF_DW 0x18
#define BPF_MODE(code) ((code) & 0xe0)
#define BPF_IMM 0x00
#define BPF_MEMSX 0x80
#define BPF_ATOMIC 0xc0
#define BPF_OP(code) ((code) & 0xf0)
#define BPF_JA 0x00
#define BPF_CALL 0x80
#define BPF_EXIT 0x90
#define BPF_END 0xd0
#define BPF_FETCH 0x01
#define BPF_CMPXCHG (0xf0 | BPF_FETCH)
#define BPF_LOAD_ACQ 0x100
#define BPF_PSEUDO_CALL 1
#define BPF_PSEUDO_FUNC 4
#define BPF_MAX_SUBPROGS 256

/* <linux/filter.h> */
#define BPF_PROBE_ATOMIC 0xe0

/* <linux/bpf.h>: the insn-array map's values (bpf_insn_array.c) */
#define INSN_DELETED ((u32)-1)

struct bpf_insn_array_value {
	u32 orig_off;
	u32 xlated_off;
	u32 jitted_off;
};

struct bpf_insn_array {
	u32 max_entries;
	struct bpf_insn_array_value *values;
};

struct bpf_line_info {
	u32 insn_off;
	u32 file_name_off;
	u32 line_off;
	u32 line_col;
};

struct bpf_func_info {
	u32 insn_off;
	u32 type_id;
};

struct bpf_func_info_aux {
	u32 token;	/* linkage, unreliable, called, verified */
};

struct bpf_jit_poke_descriptor {
	u32 insn_idx;
};

struct bpf_prog_aux {
	struct bpf_line_info *linfo;
	u32 nr_linfo;
	struct bpf_func_info *func_info;
	u32 func_info_cnt;
	struct bpf_func_info_aux *func_info_aux;
	u32 func_info_aux_cnt;	/* the kernel sizes it func_info_cnt */
	struct bpf_jit_poke_descriptor *poke_tab;
	u32 size_poke_tab;
};

struct bpf_prog {
	u32 len;
	struct bpf_prog_aux *aux;
	struct bpf_insn insnsi[];
};

/* <linux/bpf_verifier.h> */
struct bpf_insn_aux_data {
	u32 orig_idx;
	u32 seen;
	bool zext_dst;
	u64 token;	/* stands for every other field: moves with the entry */
};

struct bpf_subprog_info {
	u32 start;
	u32 linfo_idx;
};

struct bpf_verifier_env {
	struct bpf_prog *prog;
	struct bpf_insn_aux_data *insn_aux_data;
	struct bpf_subprog_info subprog_info[BPF_MAX_SUBPROGS + 2];
	u32 subprog_cnt;
	u32 hidden_subprog_cnt;
	struct bpf_insn_array **insn_array_maps;
	u32 insn_array_map_cnt;
};

/* kernel/bpf/core.c: bpf_prog_size(), bpf_prog_realloc() (never moves aux) */
static inline size_t bpf_prog_size(u32 len)
{
	return sizeof(struct bpf_prog) + (size_t)len * sizeof(struct bpf_insn);
}

static inline struct bpf_prog *bpf_prog_realloc(struct bpf_prog *fp_old, size_t size, gfp_t flags)
{
	return kvrealloc(fp_old, size, flags);
}

/*
 * kernel/bpf/verifier.c: insn_has_def32(), which the verifier already has
 * (written here from its decision table: the instruction defines a register
 * and does not define all 64 bits of it).
 */
static inline bool insn_has_def32(const struct bpf_insn *insn)
{
	u8 class = BPF_CLASS(insn->code);

	switch (class) {
	case BPF_JMP:
	case BPF_JMP32:
	case BPF_ST:
		return false;
	case BPF_STX:
		if (BPF_MODE(insn->code) != BPF_ATOMIC && BPF_MODE(insn->code) != BPF_PROBE_ATOMIC)
			return false;
		if (insn->imm != BPF_CMPXCHG && insn->imm != BPF_LOAD_ACQ &&
		    !(insn->imm & BPF_FETCH))
			return false;
		return BPF_SIZE(insn->code) != BPF_DW;
	case BPF_ALU64:
		return BPF_OP(insn->code) == BPF_END && (insn->imm == 16 || insn->imm == 32);
	case BPF_ALU:
		return !(BPF_OP(insn->code) == BPF_END && insn->imm == 64);
	case BPF_LDX:
		return BPF_SIZE(insn->code) != BPF_DW && BPF_MODE(insn->code) != BPF_MEMSX;
	default: /* BPF_LD */
		return BPF_MODE(insn->code) != BPF_IMM;
	}
}

/*
 * A compile-time switch for the harness's self-test: a non-zero value builds
 * the patcher with one deliberate bug (see the BPF_PATCHER_PLANT blocks in
 * bpf_patcher.c and docs/engine-abi.md). Zero, as here, is the real patcher.
 */
#ifndef BPF_PATCHER_PLANT
#define BPF_PATCHER_PLANT 0
#endif

#endif /* _BPF_PATCHER_SHIM_H */
