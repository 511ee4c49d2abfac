// SPDX-License-Identifier: GPL-2.0-only
/*
 * pe_engine.c - patch-equiv's engine ABI (include/patch_equiv_engine.h) over
 * the kernel-style list patcher (bpf_patcher.c).
 *
 * This file is harness glue, not part of the port: it builds a userspace
 * struct bpf_verifier_env from the ABI's pe_prog, refuses what the tool's
 * preconditions refuse (what the kernel only assumes, checked here before
 * the patcher sees it, exactly as the Rust patchers check it), and copies
 * the linearized env out into the caller's buffers. A kernel developer
 * bringing their own patcher can copy it and swap the bpf_patcher_* calls.
 */
#include "bpf_patcher.h"
#include "patch_equiv_engine.h"

#define PE_EXPORT __attribute__((visibility("default")))

struct pe_engine {
	struct bpf_verifier_env env;
	struct bpf_prog_aux paux;
	struct bpf_patcher *p;
	bool has_func_info;
};

static void pe_set_err(struct pe_error *err, int32_t code, int64_t a, int64_t b, int64_t c,
		       int64_t d)
{
	if (!err)
		return;
	err->code = code;
	err->reserved = 0;
	err->a = a;
	err->b = b;
	err->c = c;
	err->d = d;
}

static int32_t pe_ok(struct pe_error *err)
{
	pe_set_err(err, PE_OK, 0, 0, 0, 0);
	return PE_OK;
}

static int32_t pe_fail(struct pe_error *err, int32_t code, int64_t a, int64_t b, int64_t c,
		       int64_t d)
{
	pe_set_err(err, code, a, b, c, d);
	return code;
}

static struct bpf_insn pe_to_insn(const struct pe_insn *in)
{
	struct bpf_insn insn = {
		.code = in->code,
		.dst_reg = in->regs & 0xf,
		.src_reg = in->regs >> 4,
		.off = in->off,
		.imm = in->imm,
	};

	return insn;
}

static struct pe_insn pe_from_insn(const struct bpf_insn *insn)
{
	struct pe_insn out = {
		.code = insn->code,
		.regs = (uint8_t)(insn->dst_reg | (insn->src_reg << 4)),
		.off = insn->off,
		.imm = insn->imm,
	};

	return out;
}

static struct pe_aux pe_from_aux(const struct bpf_insn_aux_data *a)
{
	struct pe_aux out = {
		.orig_idx = a->orig_idx,
		.seen = a->seen,
		.zext_dst = a->zext_dst,
		.token = a->token,
	};

	return out;
}

/* Release everything pe_create() may have allocated. */
static void pe_destroy(struct pe_engine *e)
{
	uint32_t m;

	if (!e)
		return;
	bpf_patcher_free(e->p);
	for (m = 0; m < e->env.insn_array_map_cnt; m++) {
		if (e->env.insn_array_maps[m])
			kvfree(e->env.insn_array_maps[m]->values);
		kvfree(e->env.insn_array_maps[m]);
	}
	kvfree(e->env.insn_array_maps);
	kvfree(e->paux.linfo);
	kvfree(e->paux.func_info);
	kvfree(e->paux.func_info_aux);
	kvfree(e->paux.poke_tab);
	kvfree(e->env.insn_aux_data);
	kvfree(e->env.prog);
	kvfree(e);
}

/* The counts of a pe_prog hold together (the host validated the program itself). */
static bool pe_prog_shape_ok(const struct pe_prog *in)
{
	uint64_t total = 0;
	uint32_t m;

	if (!in->len || in->subprog_cnt > BPF_MAX_SUBPROGS + 1 || in->hidden_subprog_cnt > 1)
		return false;
	if (!in->insns || !in->aux || !in->subprogs)
		return false;
	if ((in->nr_linfo && !in->linfo) || (in->func_info_cnt && !in->func_info) ||
	    (in->func_info_aux_cnt && !in->func_info_aux) || (in->poke_cnt && !in->pokes) ||
	    (in->insn_array_cnt && !in->insn_array_lens) ||
	    (in->insn_array_total && !in->insn_array_vals))
		return false;
	if (!in->has_func_info && in->func_info_cnt)
		return false;
	for (m = 0; m < in->insn_array_cnt; m++)
		total += in->insn_array_lens[m];
	return total == in->insn_array_total;
}

static struct pe_engine *pe_create(const struct pe_prog *in, struct pe_error *err)
{
	struct pe_engine *e;
	uint32_t i, m, v;

	if (!in || !pe_prog_shape_ok(in)) {
		pe_fail(err, PE_EINVAL, 0, 0, 0, 0);
		return NULL;
	}
	e = kvzalloc(sizeof(*e), GFP_KERNEL);
	if (!e)
		goto nomem;
	e->env.prog = kvzalloc(bpf_prog_size(in->len), GFP_KERNEL);
	e->env.insn_aux_data = kvcalloc(in->len, sizeof(*e->env.insn_aux_data), GFP_KERNEL);
	e->paux.linfo = kvcalloc(max(in->nr_linfo, 1u), sizeof(*e->paux.linfo), GFP_KERNEL);
	e->paux.func_info = kvcalloc(max(in->func_info_cnt, 1u), sizeof(*e->paux.func_info),
				     GFP_KERNEL);
	e->paux.func_info_aux = kvcalloc(max(in->func_info_aux_cnt, 1u),
					 sizeof(*e->paux.func_info_aux), GFP_KERNEL);
	e->paux.poke_tab = kvcalloc(max(in->poke_cnt, 1u), sizeof(*e->paux.poke_tab), GFP_KERNEL);
	e->env.insn_array_maps = kvcalloc(max(in->insn_array_cnt, 1u),
					  sizeof(*e->env.insn_array_maps), GFP_KERNEL);
	if (!e->env.prog || !e->env.insn_aux_data || !e->paux.linfo || !e->paux.func_info ||
	    !e->paux.func_info_aux || !e->paux.poke_tab || !e->env.insn_array_maps)
		goto nomem;

	e->env.prog->len = in->len;
	e->env.prog->aux = &e->paux;
	for (i = 0; i < in->len; i++) {
		e->env.prog->insnsi[i] = pe_to_insn(&in->insns[i]);
		e->env.insn_aux_data[i].orig_idx = in->aux[i].orig_idx;
		e->env.insn_aux_data[i].seen = in->aux[i].seen;
		e->env.insn_aux_data[i].zext_dst = in->aux[i].zext_dst != 0;
		e->env.insn_aux_data[i].token = in->aux[i].token;
	}
	e->env.subprog_cnt = in->subprog_cnt;
	e->env.hidden_subprog_cnt = in->hidden_subprog_cnt;
	for (i = 0; i <= in->subprog_cnt; i++) {
		e->env.subprog_info[i].start = in->subprogs[i].start;
		e->env.subprog_info[i].linfo_idx = in->subprogs[i].linfo_idx;
	}
	e->paux.nr_linfo = in->nr_linfo;
	for (i = 0; i < in->nr_linfo; i++) {
		e->paux.linfo[i].insn_off = in->linfo[i].insn_off;
		e->paux.linfo[i].file_name_off = in->linfo[i].file_name_off;
		e->paux.linfo[i].line_off = in->linfo[i].line_off;
		e->paux.linfo[i].line_col = in->linfo[i].line_col;
	}
	e->has_func_info = in->has_func_info != 0;
	e->paux.func_info_cnt = in->func_info_cnt;
	for (i = 0; i < in->func_info_cnt; i++) {
		e->paux.func_info[i].insn_off = in->func_info[i].insn_off;
		e->paux.func_info[i].type_id = in->func_info[i].type_id;
	}
	if (!e->has_func_info) {
		kvfree(e->paux.func_info);
		e->paux.func_info = NULL;
	}
	e->paux.func_info_aux_cnt = in->func_info_aux_cnt;
	for (i = 0; i < in->func_info_aux_cnt; i++)
		e->paux.func_info_aux[i].token = in->func_info_aux[i];
	e->paux.size_poke_tab = in->poke_cnt;
	for (i = 0; i < in->poke_cnt; i++)
		e->paux.poke_tab[i].insn_idx = in->pokes[i];
	v = 0;
	for (m = 0; m < in->insn_array_cnt; m++) {
		struct bpf_insn_array *map = kvzalloc(sizeof(*map), GFP_KERNEL);

		e->env.insn_array_maps[m] = map;
		e->env.insn_array_map_cnt = m + 1;
		if (!map)
			goto nomem;
		map->max_entries = in->insn_array_lens[m];
		map->values = kvcalloc(max(map->max_entries, 1u), sizeof(*map->values), GFP_KERNEL);
		if (!map->values)
			goto nomem;
		for (i = 0; i < map->max_entries; i++, v++) {
			map->values[i].orig_off = in->insn_array_vals[v];
			map->values[i].xlated_off = in->insn_array_vals[v];
		}
	}
	e->p = bpf_patcher_create(&e->env);
	if (!e->p)
		goto nomem;
	pe_ok(err);
	return e;
nomem:
	pe_destroy(e);
	pe_fail(err, PE_ENOMEM, 0, 0, 0, 0);
	return NULL;
}

/* Every branch of @n slots placed at @off must land in [0, @new_len]. */
static int32_t pe_check_targets(uint32_t off, const struct pe_insn *insns, uint32_t n,
				uint64_t new_len, struct pe_error *err)
{
	uint32_t j;

	for (j = 0; j < n; j++) {
		struct bpf_insn insn = pe_to_insn(&insns[j]);
		s64 t;

		if (!bpf_insn_branch_target(&insn, off + j, &t))
			continue;
		if (t < 0 || (uint64_t)t > new_len)
			return pe_fail(err, PE_E_TARGET_OUT_OF_PROGRAM, (int64_t)off + j, t,
				       (int64_t)new_len, 0);
	}
	return PE_OK;
}

/* The tool's preconditions of a patch (patcher/mod.rs `pre::patch`). */
static int32_t pe_check_patch(uint32_t len, uint32_t off, const struct pe_insn *insns, uint32_t n,
			      struct pe_error *err)
{
	uint64_t new_len;

	if (!n)
		return pe_fail(err, PE_E_EMPTY_PATCH, 0, 0, 0, 0);
	if (off >= len)
		return pe_fail(err, PE_E_OFF_OUT_OF_RANGE, off, len, 0, 0);
	new_len = (uint64_t)len + n - 1;
	if (n > 1 && new_len > S16_MAX && off == len - 1)
		return pe_fail(err, PE_E_PROBE_PAST_END, off, 0, 0, 0);
	return pe_check_targets(off, insns, n, new_len, err);
}

/* Run a patch-shaped operation on @n instructions converted from the ABI. */
static int32_t pe_run_patch(struct pe_engine *e, uint32_t off, const struct pe_insn *insns,
			    uint32_t n, bool hidden, struct pe_error *err)
{
	struct bpf_insn stack[32], *buf = stack;
	uint32_t j, insn, orig_idx;
	int ret;

	if (n > 32) {
		buf = kvmalloc_array(n, sizeof(*buf), GFP_KERNEL);
		if (!buf)
			return pe_fail(err, PE_ENOMEM, 0, 0, 0, 0);
	}
	for (j = 0; j < n; j++)
		buf[j] = pe_to_insn(&insns[j]);
	if (hidden)
		ret = bpf_patcher_add_hidden_subprog(e->p, buf, n);
	else
		ret = bpf_patcher_patch(e->p, off, buf, n);
	if (buf != stack)
		kvfree(buf);
	if (ret == -ERANGE) {
		bpf_patcher_erange_insn(e->p, &insn, &orig_idx);
		return pe_fail(err, PE_ERANGE, insn, orig_idx, 0, 0);
	}
	if (ret)
		return pe_fail(err, ret == -EFAULT ? PE_EFAULT : PE_ENOMEM, 0, 0, 0, 0);
	return pe_ok(err);
}

static int32_t pe_patch(struct pe_engine *e, uint32_t off, const struct pe_insn *insns, uint32_t n,
			struct pe_error *err)
{
	int32_t ret = pe_check_patch(bpf_patcher_len(e->p), off, insns, n, err);

	if (ret)
		return ret;
	return pe_run_patch(e, off, insns, n, false, err);
}

static int32_t pe_remove(struct pe_engine *e, uint32_t off, uint32_t cnt, struct pe_error *err)
{
	uint32_t len = bpf_patcher_len(e->p), sc = bpf_patcher_subprog_cnt(e->p), k;
	uint64_t end = (uint64_t)off + cnt;

	/* Removing every slot is no verifier pass's doing: refused. */
	if (!cnt || off >= len || cnt > len - off || cnt == len)
		return pe_fail(err, PE_E_RANGE_OUT_OF_PROGRAM, off, cnt, len, 0);
	/* A subprog starting strictly inside the range and going on past it (Q13). */
	for (k = 0; k < sc; k++) {
		uint32_t s = bpf_patcher_subprog_start(e->p, k);
		uint32_t next = k + 1 < sc ? bpf_patcher_subprog_start(e->p, k + 1) : len;

		if (off < s && s < end && next > end)
			return pe_fail(err, PE_E_CUTS_SUBPROG, k, s, off, cnt);
	}
	if (bpf_patcher_remove(e->p, off, cnt))
		return pe_fail(err, PE_ENOMEM, 0, 0, 0, 0);
	return pe_ok(err);
}

static int32_t pe_set(struct pe_engine *e, uint32_t off, const struct pe_insn *insn,
		      struct pe_error *err)
{
	uint32_t len = bpf_patcher_len(e->p);
	struct bpf_insn in;
	int32_t ret;

	if (off >= len)
		return pe_fail(err, PE_E_OFF_OUT_OF_RANGE, off, len, 0, 0);
	ret = pe_check_targets(off, insn, 1, len, err);
	if (ret)
		return ret;
	in = pe_to_insn(insn);
	if (bpf_patcher_set(e->p, off, &in))
		return pe_fail(err, PE_ENOMEM, 0, 0, 0, 0);
	return pe_ok(err);
}

static int32_t pe_add_hidden_subprog(struct pe_engine *e, const struct pe_insn *insns, uint32_t n,
				     struct pe_error *err)
{
	uint32_t len = bpf_patcher_len(e->p);
	int32_t ret;

	/*
	 * A second hidden subprog: the patcher's own check answers (-EFAULT),
	 * before the tool's preconditions, in the kernel's order.
	 */
	if (bpf_patcher_hidden_subprog_cnt(e->p))
		return pe_run_patch(e, len - 1, insns, n, true, err);
	ret = pe_check_patch(len, len - 1, insns, n, err);
	if (ret)
		return ret;
	return pe_run_patch(e, len - 1, insns, n, true, err);
}

static int32_t pe_adjust_jmp_off(struct pe_engine *e, uint32_t tgt, uint32_t delta,
				 struct pe_error *err)
{
	uint32_t len = bpf_patcher_len(e->p), insn, orig_idx;
	int ret;

	if (tgt >= len || (uint64_t)tgt + delta > len)
		return pe_fail(err, PE_E_JMP_OFF_OUT_OF_RANGE, tgt, delta, len, 0);
	ret = bpf_patcher_adjust_jmp_off(e->p, tgt, delta);
	if (ret == -ERANGE) {
		bpf_patcher_erange_insn(e->p, &insn, &orig_idx);
		return pe_fail(err, PE_ERANGE, insn, orig_idx, 0, 0);
	}
	if (ret)
		return pe_fail(err, PE_ENOMEM, 0, 0, 0, 0);
	return pe_ok(err);
}

static uint32_t pe_len(struct pe_engine *e)
{
	return bpf_patcher_len(e->p);
}

static int32_t pe_insn(struct pe_engine *e, uint32_t i, struct pe_insn *out)
{
	struct bpf_insn insn;

	if (i >= bpf_patcher_len(e->p))
		return PE_E_OFF_OUT_OF_RANGE;
	bpf_patcher_insn(e->p, i, &insn);
	*out = pe_from_insn(&insn);
	return PE_OK;
}

static int32_t pe_aux(struct pe_engine *e, uint32_t i, struct pe_aux *out)
{
	if (i >= bpf_patcher_len(e->p))
		return PE_E_OFF_OUT_OF_RANGE;
	*out = pe_from_aux(bpf_patcher_aux(e->p, i));
	return PE_OK;
}

static int32_t pe_sizes(struct pe_engine *e, struct pe_prog *out)
{
	uint32_t m;

	out->len = bpf_patcher_len(e->p);
	out->subprog_cnt = bpf_patcher_subprog_cnt(e->p);
	out->hidden_subprog_cnt = bpf_patcher_hidden_subprog_cnt(e->p);
	out->nr_linfo = bpf_patcher_nr_linfo(e->p);
	out->has_func_info = e->has_func_info;
	out->func_info_cnt = e->has_func_info ? e->paux.func_info_cnt : 0;
	out->func_info_aux_cnt = e->paux.func_info_aux_cnt;
	out->poke_cnt = e->paux.size_poke_tab;
	out->insn_array_cnt = e->env.insn_array_map_cnt;
	out->insn_array_total = 0;
	for (m = 0; m < e->env.insn_array_map_cnt; m++)
		out->insn_array_total += e->env.insn_array_maps[m]->max_entries;
	return PE_OK;
}

static int32_t pe_snapshot(struct pe_engine *e, struct pe_prog *out)
{
	const struct bpf_prog *prog;
	struct pe_prog want;
	uint32_t i, m, v;

	pe_sizes(e, &want);
	if (out->len < want.len || out->subprog_cnt < want.subprog_cnt ||
	    out->nr_linfo < want.nr_linfo || out->func_info_cnt < want.func_info_cnt ||
	    out->func_info_aux_cnt < want.func_info_aux_cnt || out->poke_cnt < want.poke_cnt ||
	    out->insn_array_cnt < want.insn_array_cnt ||
	    out->insn_array_total < want.insn_array_total)
		return PE_EINVAL;
	if (bpf_patcher_linearize(e->p))
		return PE_ENOMEM;
	prog = e->env.prog;
	for (i = 0; i < want.len; i++) {
		out->insns[i] = pe_from_insn(&prog->insnsi[i]);
		out->aux[i] = pe_from_aux(&e->env.insn_aux_data[i]);
	}
	for (i = 0; i <= want.subprog_cnt; i++) {
		out->subprogs[i].start = e->env.subprog_info[i].start;
		out->subprogs[i].linfo_idx = e->env.subprog_info[i].linfo_idx;
	}
	for (i = 0; i < want.nr_linfo; i++) {
		out->linfo[i].insn_off = e->paux.linfo[i].insn_off;
		out->linfo[i].file_name_off = e->paux.linfo[i].file_name_off;
		out->linfo[i].line_off = e->paux.linfo[i].line_off;
		out->linfo[i].line_col = e->paux.linfo[i].line_col;
	}
	for (i = 0; i < want.func_info_cnt; i++) {
		out->func_info[i].insn_off = e->paux.func_info[i].insn_off;
		out->func_info[i].type_id = e->paux.func_info[i].type_id;
	}
	for (i = 0; i < want.func_info_aux_cnt; i++)
		out->func_info_aux[i] = e->paux.func_info_aux[i].token;
	for (i = 0; i < want.poke_cnt; i++)
		out->pokes[i] = e->paux.poke_tab[i].insn_idx;
	v = 0;
	for (m = 0; m < want.insn_array_cnt; m++) {
		const struct bpf_insn_array *map = e->env.insn_array_maps[m];

		out->insn_array_lens[m] = map->max_entries;
		for (i = 0; i < map->max_entries; i++)
			out->insn_array_vals[v++] = map->values[i].xlated_off;
	}
	*out = (struct pe_prog){
		.len = want.len,
		.subprog_cnt = want.subprog_cnt,
		.hidden_subprog_cnt = want.hidden_subprog_cnt,
		.nr_linfo = want.nr_linfo,
		.has_func_info = want.has_func_info,
		.func_info_cnt = want.func_info_cnt,
		.func_info_aux_cnt = want.func_info_aux_cnt,
		.poke_cnt = want.poke_cnt,
		.insn_array_cnt = want.insn_array_cnt,
		.insn_array_total = want.insn_array_total,
		.insns = out->insns,
		.aux = out->aux,
		.subprogs = out->subprogs,
		.linfo = out->linfo,
		.func_info = out->func_info,
		.func_info_aux = out->func_info_aux,
		.pokes = out->pokes,
		.insn_array_lens = out->insn_array_lens,
		.insn_array_vals = out->insn_array_vals,
	};
	return PE_OK;
}

/* The patcher's arrays plus the env this adapter keeps for it. */
static uint64_t pe_memory_bytes(struct pe_engine *e)
{
	return bpf_patcher_memory(e->p) + sizeof(*e) + bpf_prog_size(e->env.prog->len) +
	       (uint64_t)e->paux.nr_linfo * sizeof(*e->paux.linfo);
}

static const struct pe_engine_ops pe_ops = {
	.abi_version = PE_ENGINE_ABI_VERSION,
	.size = sizeof(struct pe_engine_ops),
#if BPF_PATCHER_PLANT
	.name = "bpf_patcher (kernel-style C list, planted fault)",
#else
	.name = "bpf_patcher (kernel-style C list)",
#endif
	.create = pe_create,
	.destroy = pe_destroy,
	.patch = pe_patch,
	.remove = pe_remove,
	.set = pe_set,
	.add_hidden_subprog = pe_add_hidden_subprog,
	.adjust_jmp_off = pe_adjust_jmp_off,
	.len = pe_len,
	.insn = pe_insn,
	.aux = pe_aux,
	.sizes = pe_sizes,
	.snapshot = pe_snapshot,
	.memory_bytes = pe_memory_bytes,
};

PE_EXPORT const struct pe_engine_ops *patch_equiv_engine_v1(void);

/* The ABI's entry point (PE_ENGINE_ENTRY). */
const struct pe_engine_ops *patch_equiv_engine_v1(void)
{
	return &pe_ops;
}
