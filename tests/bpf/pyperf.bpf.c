// SPDX-License-Identifier: GPL-2.0-only
/* A pyperf-like stack walker: follow an interpreter's frame list from user
 * memory, FRAMES frames deep with the loop fully unrolled (the upstream
 * pyperf180 selftest does 180), read each frame's code object, file name,
 * function name and line, intern the symbol in a hash map and record its id.
 * The unrolled body is what makes real programs ~10k instructions long. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifndef FRAMES
#define FRAMES 96
#endif

struct frame_layout {
	__u32 back;		/* offset of f_back in a frame */
	__u32 code;		/* offset of f_code */
	__u32 lasti;		/* offset of f_lasti */
	__u32 filename;		/* offset of co_filename in a code object */
	__u32 name;		/* offset of co_name */
	__u32 firstline;	/* offset of co_firstlineno */
	__u32 str_data;		/* offset of the characters in a string object */
};

struct symbol {
	char file[32];
	char func[32];
	__u32 line;
};

struct sample {
	__u32 pid;
	__u32 depth;
	__u32 truncated;
	__u32 ids[FRAMES];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct frame_layout);
} layouts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct symbol);
	__type(value, __u32);
} symbols SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct sample);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct symbol);
} scratch_sym SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(int));
	__uint(value_size, sizeof(int));
} events SEC(".maps");

__u32 next_symbol_id;

static __always_inline int read_symbol(const struct frame_layout *l, void *frame, struct symbol *sym)
{
	void *code = 0, *str = 0;

	if (bpf_probe_read_user(&code, sizeof(code), frame + l->code) || !code)
		return -1;
	bpf_probe_read_user(&str, sizeof(str), code + l->filename);
	bpf_probe_read_user_str(sym->file, sizeof(sym->file), str + l->str_data);
	bpf_probe_read_user(&str, sizeof(str), code + l->name);
	bpf_probe_read_user_str(sym->func, sizeof(sym->func), str + l->str_data);
	bpf_probe_read_user(&sym->line, sizeof(sym->line), code + l->firstline);
	return 0;
}

static __always_inline __u32 intern(struct symbol *sym)
{
	__u32 *id = bpf_map_lookup_elem(&symbols, sym);
	__u32 fresh;

	if (id)
		return *id;
	fresh = __sync_fetch_and_add(&next_symbol_id, 1);
	bpf_map_update_elem(&symbols, sym, &fresh, BPF_NOEXIST);
	id = bpf_map_lookup_elem(&symbols, sym);
	return id ? *id : 0xffffffff;
}

SEC("raw_tracepoint/kfree_skb")
int pyperf(void *ctx)
{
	__u32 zero = 0, one = 1;
	struct frame_layout *l = bpf_map_lookup_elem(&layouts, &zero);
	struct sample *s = bpf_map_lookup_elem(&scratch, &zero);
	struct symbol *sym = bpf_map_lookup_elem(&scratch_sym, &zero);
	void *frame = 0;
	__u64 task;

	if (!l || !s || !sym)
		return 0;
	s->pid = bpf_get_current_pid_tgid() >> 32;
	s->depth = 0;
	s->truncated = 0;
	task = bpf_get_current_task();
	if (bpf_probe_read_kernel(&frame, sizeof(frame), (void *)(task + 64)) || !frame)
		return 0;
#pragma clang loop unroll(full)
	for (int i = 0; i < FRAMES; i++) {
		__builtin_memset(sym, 0, sizeof(*sym));
		if (read_symbol(l, frame, sym))
			break;
		s->ids[i] = intern(sym);
		s->depth = i + 1;
		if (bpf_probe_read_user(&frame, sizeof(frame), frame + l->back) || !frame)
			break;
	}
	if (frame)
		s->truncated = 1;
	bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, s, sizeof(*s));
	(void)one;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
