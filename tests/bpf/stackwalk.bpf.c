// SPDX-License-Identifier: GPL-2.0-only
/* A stack walker whose per-frame work is two non-inlined subprogs: the loop
 * is unrolled, the calls are not, so the program holds hundreds of pseudo
 * calls into two subprogs (the shape of the unrolled stack walkers in the
 * kernel vectors' real-public-030 file). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifndef FRAMES
#define FRAMES 400
#endif

struct frame {
	__u64 ip;
	__u64 next;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, __u32);
} ips SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32[FRAMES]);
} trace SEC(".maps");

static __noinline int read_frame(__u64 at, struct frame *f)
{
	if (!at)
		return -1;
	if (bpf_probe_read_user(f, sizeof(*f), (void *)at))
		return -1;
	return f->ip ? 0 : -1;
}

static __noinline __u32 ip_id(__u64 ip)
{
	__u32 *id = bpf_map_lookup_elem(&ips, &ip);
	__u32 fresh = (__u32)(ip >> 4) & 0xffff;

	if (id)
		return *id;
	bpf_map_update_elem(&ips, &ip, &fresh, BPF_NOEXIST);
	return fresh;
}

SEC("perf_event")
int walk(void *ctx)
{
	__u32 zero = 0;
	__u32 *out = bpf_map_lookup_elem(&trace, &zero);
	struct frame f = {};
	__u64 at = bpf_get_current_pid_tgid();

	if (!out)
		return 0;
#pragma clang loop unroll(full)
	for (int i = 0; i < FRAMES; i++) {
		if (read_frame(at, &f))
			break;
		out[i] = ip_id(f.ip);
		at = f.next;
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
