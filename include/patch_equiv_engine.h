/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * patch_equiv_engine.h - the engine ABI of patch-equiv, version 1.
 *
 * An engine is any implementation of the BPF verifier's patching operations
 * (bpf_patch_insn_data, verifier_remove_insns, add_hidden_subprog,
 * adjust_jmp_off, plus in-place writes and reads) that patch-equiv can drive
 * and compare, operation by operation, with its model of the kernel's array
 * patcher. A shared object implements the ABI by exporting one function,
 * PE_ENGINE_ENTRY, that returns a table of operations.
 *
 * Plain C99 types only, so any compiler and any language can implement it.
 * docs/engine-abi.md is the full contract: the meaning of every field, the
 * errors, and the ownership and lifetime of every buffer.
 */
#ifndef PATCH_EQUIV_ENGINE_H
#define PATCH_EQUIV_ENGINE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version this header describes; an engine reports the one it implements. */
#define PE_ENGINE_ABI_VERSION 1u
/* The one symbol an engine library exports (type: pe_engine_entry_fn). */
#define PE_ENGINE_ENTRY "patch_equiv_engine_v1"

/* An insn-array entry whose instruction was removed (the kernel's INSN_DELETED). */
#define PE_INSN_DELETED 0xffffffffu

/*
 * struct bpf_insn as the kernel lays it out on a little-endian machine:
 * regs = dst_reg in the low nibble, src_reg in the high nibble.
 */
struct pe_insn {
	uint8_t code;
	uint8_t regs;
	int16_t off;
	int32_t imm;
};

/* The parts of struct bpf_insn_aux_data that patching moves. */
struct pe_aux {
	uint32_t orig_idx;
	uint32_t seen;		/* the pass number the slot was seen in; 0 = never */
	uint8_t zext_dst;	/* 0 or 1 */
	uint8_t pad[7];		/* zero */
	uint64_t token;		/* every other field: moves with the entry; 0 when fresh */
};

/* One struct bpf_subprog_info entry, reduced to what patching touches. */
struct pe_subprog {
	uint32_t start;
	uint32_t linfo_idx;
};

struct pe_line_info {
	uint32_t insn_off;
	uint32_t file_name_off;
	uint32_t line_off;
	uint32_t line_col;
};

struct pe_func_info {
	uint32_t insn_off;
	uint32_t type_id;
};

/*
 * A program under rewrite with every table patching keeps in step. Used for
 * input (create: the engine copies what it needs and keeps no pointer) and for
 * output (sizes fills the counts, snapshot fills the arrays the caller
 * allocated with those counts).
 */
struct pe_prog {
	uint32_t len;			/* instruction slots */
	uint32_t subprog_cnt;		/* + 1 entry in subprogs[]: the fake exit */
	uint32_t hidden_subprog_cnt;
	uint32_t nr_linfo;
	uint32_t has_func_info;		/* 0: no BTF func_info (func_info_cnt is then 0) */
	uint32_t func_info_cnt;
	uint32_t func_info_aux_cnt;	/* indexed by subprog number, never moved */
	uint32_t poke_cnt;
	uint32_t insn_array_cnt;	/* number of instruction-array maps */
	uint32_t insn_array_total;	/* sum of their lengths */
	struct pe_insn *insns;		/* [len] */
	struct pe_aux *aux;		/* [len] */
	struct pe_subprog *subprogs;	/* [subprog_cnt + 1] */
	struct pe_line_info *linfo;	/* [nr_linfo] */
	struct pe_func_info *func_info;	/* [func_info_cnt] */
	uint32_t *func_info_aux;	/* [func_info_aux_cnt] */
	uint32_t *pokes;		/* [poke_cnt]: each descriptor's insn_idx */
	uint32_t *insn_array_lens;	/* [insn_array_cnt] */
	uint32_t *insn_array_vals;	/* [insn_array_total]: xlated_off values, map after map */
};

/*
 * Results. 0 is success. Negative values are the kernel's errnos; positive
 * values are the tool's preconditions: what the kernel only assumes, refused
 * by every engine before anything changes. The a..d fields of struct
 * pe_error carry the details listed after each code.
 */
enum pe_result {
	PE_OK = 0,
	PE_ERANGE = -34,	/* a: the branch's insn index, b: orig_idx the kernel logs */
	PE_EFAULT = -14,	/* a second hidden subprog */
	PE_ENOMEM = -12,	/* the engine ran out of memory (the harness reports it) */
	PE_EINVAL = -22,	/* the ABI was misused (a bad pe_prog, too small a buffer) */
	PE_E_EMPTY_PATCH = 1,		/* a patch of length 0 */
	PE_E_OFF_OUT_OF_RANGE = 2,	/* a: off, b: len */
	PE_E_RANGE_OUT_OF_PROGRAM = 3,	/* a: off, b: cnt, c: len */
	PE_E_TARGET_OUT_OF_PROGRAM = 4,	/* a: insn, b: target (signed), c: new len */
	PE_E_PROBE_PAST_END = 5,	/* a: off (the last slot; new len > 32767, Q1) */
	PE_E_JMP_OFF_OUT_OF_RANGE = 6,	/* a: tgt, b: delta, c: len */
	PE_E_CUTS_SUBPROG = 7,		/* a: subprog, b: its start, c: off, d: cnt (Q13) */
};

struct pe_error {
	int32_t code;		/* an enum pe_result value */
	uint32_t reserved;	/* zero */
	int64_t a, b, c, d;
};

/* One engine instance: a program under rewrite. Opaque to the caller. */
struct pe_engine;

/*
 * The operations. Every function that takes a struct pe_error * accepts NULL
 * and otherwise fills it with the result (code 0 on success). Indices are
 * current indices, as the verifier's callers pass them (i + delta).
 * An instance is used by one thread at a time; instances are independent, so
 * different threads may use different instances at once (no global state).
 */
struct pe_engine_ops {
	uint32_t abi_version;	/* PE_ENGINE_ABI_VERSION */
	uint32_t size;		/* sizeof(struct pe_engine_ops) */
	const char *name;	/* a short human name, e.g. "bpf_patcher (kernel-style C list)" */

	/* A new instance over a copy of @prog (which the host has validated). NULL on failure. */
	struct pe_engine *(*create)(const struct pe_prog *prog, struct pe_error *err);
	void (*destroy)(struct pe_engine *e);

	/* bpf_patch_insn_data(env, off, insns, len). */
	int32_t (*patch)(struct pe_engine *e, uint32_t off, const struct pe_insn *insns,
			 uint32_t len, struct pe_error *err);
	/* verifier_remove_insns(env, off, cnt). */
	int32_t (*remove)(struct pe_engine *e, uint32_t off, uint32_t cnt, struct pe_error *err);
	/* An in-place write of one slot (aux untouched), as callers rewrite imm/code. */
	int32_t (*set)(struct pe_engine *e, uint32_t off, const struct pe_insn *insn,
		       struct pe_error *err);
	/* add_hidden_subprog(env, insns, len); insns[0] is the current last instruction. */
	int32_t (*add_hidden_subprog)(struct pe_engine *e, const struct pe_insn *insns,
				      uint32_t len, struct pe_error *err);
	/* adjust_jmp_off(prog, tgt, delta). */
	int32_t (*adjust_jmp_off)(struct pe_engine *e, uint32_t tgt, uint32_t delta,
				  struct pe_error *err);

	uint32_t (*len)(struct pe_engine *e);
	/* Slot @i with its current relative offsets; PE_E_OFF_OUT_OF_RANGE if i >= len. */
	int32_t (*insn)(struct pe_engine *e, uint32_t i, struct pe_insn *out);
	int32_t (*aux)(struct pe_engine *e, uint32_t i, struct pe_aux *out);

	/* Fill every count field of @out (pointers untouched). */
	int32_t (*sizes)(struct pe_engine *e, struct pe_prog *out);
	/*
	 * Linearize into the caller's arrays. Each count field of @out is the
	 * capacity of its array on entry (PE_EINVAL if too small) and the count
	 * written on return. The instance stays usable.
	 */
	int32_t (*snapshot)(struct pe_engine *e, struct pe_prog *out);

	/*
	 * Optional (may be NULL; absent from tables whose size ends before it):
	 * heap bytes the instance holds, for the benchmarks' bytes per insn.
	 */
	uint64_t (*memory_bytes)(struct pe_engine *e);
};

typedef const struct pe_engine_ops *(*pe_engine_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* PATCH_EQUIV_ENGINE_H */
