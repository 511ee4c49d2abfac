/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * bpf_patcher.h - a list of patchable instructions for the verifier's rewrite
 * passes: bpf_patch_insn_data() and verifier_remove_insns() without the
 * O(prog->len) memmove and branch scan per call, and with the same results.
 */
#ifndef _BPF_PATCHER_H
#define _BPF_PATCHER_H

#include "bpf_patcher_shim.h"

struct bpf_patcher;

struct bpf_patcher *bpf_patcher_create(struct bpf_verifier_env *env);
void bpf_patcher_free(struct bpf_patcher *p);

int bpf_patcher_patch(struct bpf_patcher *p, u32 off, const struct bpf_insn *patch, u32 len);
int bpf_patcher_remove(struct bpf_patcher *p, u32 off, u32 cnt);
int bpf_patcher_set(struct bpf_patcher *p, u32 off, const struct bpf_insn *insn);
int bpf_patcher_add_hidden_subprog(struct bpf_patcher *p, const struct bpf_insn *patch, u32 len);
int bpf_patcher_adjust_jmp_off(struct bpf_patcher *p, u32 tgt, u32 delta);

u32 bpf_patcher_len(const struct bpf_patcher *p);
void bpf_patcher_insn(struct bpf_patcher *p, u32 i, struct bpf_insn *insn);
const struct bpf_insn_aux_data *bpf_patcher_aux(struct bpf_patcher *p, u32 i);
u32 bpf_patcher_subprog_cnt(const struct bpf_patcher *p);
u32 bpf_patcher_hidden_subprog_cnt(const struct bpf_patcher *p);
u32 bpf_patcher_subprog_start(struct bpf_patcher *p, u32 k);
u32 bpf_patcher_nr_linfo(const struct bpf_patcher *p);
u64 bpf_patcher_memory(const struct bpf_patcher *p);
void bpf_patcher_erange_insn(const struct bpf_patcher *p, u32 *insn, u32 *orig_idx);

int bpf_patcher_linearize(struct bpf_patcher *p);

bool bpf_insn_branch_target(const struct bpf_insn *insn, u32 pc, s64 *target);

#endif /* _BPF_PATCHER_H */
