// SPDX-License-Identifier: GPL-2.0-only
/*
 * w2.c - the list patcher alone, through its kernel-style API (no harness,
 * no engine ABI): W2 of patch-equiv's benchmarks, one 1->2 patch per
 * instruction (the 2019 measurement), on a program shaped like
 * bench::workload_program (subprogs of n/200 slots, 12% conditional jumps
 * inside the subprog, a pseudo call per subprog, line info every 100 slots).
 *
 *   make -C c bench && c/build/w2 1000000
 */
#include "bpf_patcher.h"
#include <time.h>

static u64 rng_state = 0x9e3779b97f4a7c15ull;

static u32 rnd(u32 n)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (u32)((rng_state >> 33) % n);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/*
 * The floor every implementation pays for its memory: the time to touch
 * @bytes of fresh pages (mapped as the shim maps big blocks), one write per
 * page. On a VM that clears pages slowly this is much of the total.
 */
static double first_touch(u64 bytes)
{
	char *m = kvmalloc_array(1, bytes, GFP_KERNEL);
	double t0, t;
	u64 i;

	if (!m)
		return 0;
	t0 = now();
	for (i = 0; i < bytes; i += 4096)
		m[i] = 1;
	t = now() - t0;
	kvfree(m);
	return t;
}

static struct bpf_insn mk(u8 code, u8 dst, u8 src, s16 off, s32 imm)
{
	struct bpf_insn insn = {
		.code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm
	};

	return insn;
}

static struct bpf_verifier_env *make_env(u32 n)
{
	struct bpf_verifier_env *env = calloc(1, sizeof(*env));
	u32 sub = n / 200 > 2000 ? n / 200 : 2000, k, i, nl = 0, nsub = 0;
	struct bpf_insn *in;

	env->prog = kvzalloc(bpf_prog_size(n), GFP_KERNEL);
	env->prog->len = n;
	env->prog->aux = calloc(1, sizeof(*env->prog->aux));
	env->insn_aux_data = kvcalloc(n, sizeof(*env->insn_aux_data), GFP_KERNEL);
	env->prog->aux->linfo = kvcalloc(n / 100 + 256, sizeof(struct bpf_line_info), GFP_KERNEL);
	in = env->prog->insnsi;
	for (k = 0; k * sub < n && n - k * sub >= 2; k++) {
		u32 s = k * sub, e = (k + 1) * sub < n ? (k + 1) * sub : n;

		if (n - e < 2)
			e = n;
		for (i = s; i < e - 1; i++) {
			u32 r = rnd(100);

			if (r < 12) {
				u32 t = s + rnd(e - s);

				in[i] = mk(BPF_JMP | 0x50, rnd(10), 0, (s16)(t - i - 1), 0);
			} else if (r < 30) {
				in[i] = mk(BPF_ALU, rnd(10), 0, 0, rnd(100));
			} else {
				in[i] = mk(BPF_ALU64 | 0xb0, rnd(10), 0, 0, rnd(100));
			}
			env->insn_aux_data[i] = (struct bpf_insn_aux_data){
				.orig_idx = i, .seen = 1, .token = i + 1,
				.zext_dst = insn_has_def32(&in[i]),
			};
		}
		in[e - 1] = (struct bpf_insn){ .code = BPF_JMP | BPF_EXIT };
		env->insn_aux_data[e - 1] =
			(struct bpf_insn_aux_data){ .orig_idx = e - 1, .seen = 1, .token = e };
		env->subprog_info[k] = (struct bpf_subprog_info){ .start = s, .linfo_idx = nl };
		for (i = s; i < e; i += 100)
			env->prog->aux->linfo[nl++] =
				(struct bpf_line_info){ .insn_off = i, .line_off = i };
		nsub = k + 1;
		if (e == n)
			break;
	}
	for (k = 0; k + 1 < nsub; k++) {
		u32 s = env->subprog_info[k].start, t = env->subprog_info[k + 1].start;

		in[s] = (struct bpf_insn){ .code = BPF_JMP | BPF_CALL, .src_reg = BPF_PSEUDO_CALL,
					   .imm = (s32)(t - s - 1) };
	}
	env->subprog_cnt = nsub;
	env->subprog_info[nsub].start = n;
	env->prog->aux->nr_linfo = nl;
	return env;
}

static int run(u32 n)
{
	struct bpf_verifier_env *env = make_env(n);
	double t0, t1, t2, t3;
	struct bpf_patcher *p;
	u64 held;
	u32 i;

	t0 = now();
	p = bpf_patcher_create(env);
	if (!p)
		return 1;
	t1 = now();
	for (i = 0; i + 1 < n; i++) {
		struct bpf_insn patch[2];

		bpf_patcher_insn(p, 2 * i, &patch[0]);
		/* the zext shape: mov32 rX, rX with imm 1 after the slot */
		patch[1] = mk(BPF_ALU | 0xb0 | 0x08, patch[0].dst_reg, patch[0].dst_reg, 0, 1);
		if (bpf_patcher_patch(p, 2 * i, patch, 2))
			return 2;
	}
	t2 = now();
	if (bpf_patcher_linearize(p))
		return 3;
	t3 = now();
	held = bpf_patcher_memory(p) + bpf_prog_size(env->prog->len);
	bpf_patcher_free(p);
	printf("W2 %u: create %.1f ms, %u patches %.1f ms (%.0f ns each), linearize %.1f ms, "
	       "total %.1f ms; len %u; first touch of the %.0f MB it holds: %.1f ms here\n",
	       n, (t1 - t0) * 1e3, n - 1, (t2 - t1) * 1e3, (t2 - t1) * 1e9 / (n - 1),
	       (t3 - t2) * 1e3, (t3 - t0) * 1e3, env->prog->len, held / 1048576.0,
	       first_touch(held) * 1e3);
	kvfree(env->prog->aux->linfo);
	free(env->prog->aux);
	kvfree(env->prog);
	kvfree(env->insn_aux_data);
	free(env);
	return 0;
}

int main(int argc, char **argv)
{
	u32 n = argc > 1 ? (u32)atoi(argv[1]) : 1000000;
	int rounds = argc > 2 ? atoi(argv[2]) : 1, r, err = 0;

	rng_state = 0x9e3779b97f4a7c15ull;
	for (r = 0; r < rounds && !err; r++) {
		rng_state = 0x9e3779b97f4a7c15ull;
		err = run(n);
	}
	return err;
}
