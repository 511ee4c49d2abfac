// SPDX-License-Identifier: GPL-2.0-only
/* bpf-to-bpf calls: static and global subprogs calling each other (some from
 * two places), and a bpf_loop callback, i.e. a BPF_PSEUDO_FUNC ld_imm64. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} hist SEC(".maps");

struct loop_ctx {
	__u64 acc;
	__u32 seed;
	__u32 steps;
};

static __noinline __u64 mix(__u64 x, __u32 k)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x + k;
}

static __noinline __u32 bucket(__u64 v)
{
	__u32 b = 0;

	while (v > 1 && b < 63) {
		v >>= 1;
		b++;
	}
	return b;
}

static __noinline void record(__u64 v)
{
	__u32 key = bucket(v);
	__u64 *slot = bpf_map_lookup_elem(&hist, &key);

	if (slot)
		__sync_fetch_and_add(slot, 1);
}

static int step(__u32 index, void *data)
{
	struct loop_ctx *c = data;

	c->acc = mix(c->acc, index + c->seed);
	c->steps++;
	if ((c->acc & 0xff) == 0)
		return 1; /* stop early */
	return 0;
}

/* A global function: verified on its own, called with a relocation. */
__noinline int summarize(__u64 acc, __u32 steps)
{
	if (!steps)
		return 0;
	record(acc / steps);
	return (int)(acc & 0x7fffffff);
}

SEC("tracepoint/syscalls/sys_enter_getpid")
int loop_calls(void *ctx)
{
	struct loop_ctx c = { .acc = bpf_get_prandom_u32(), .seed = 7 };
	long n;

	n = bpf_loop(100, step, &c, 0);
	if (n < 0)
		return 0;
	record(c.acc);
	return summarize(c.acc, c.steps);
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int nested_calls(void *ctx)
{
	__u64 v = bpf_ktime_get_ns();
	__u32 i;

	for (i = 0; i < 8; i++)
		v = mix(v, i);
	record(v);
	return summarize(v, i);
}

char LICENSE[] SEC("license") = "GPL";
