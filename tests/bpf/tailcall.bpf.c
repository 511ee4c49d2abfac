// SPDX-License-Identifier: GPL-2.0-only
/* Tail calls through a prog array: with a constant index (the verifier gives
 * these a poke descriptor) and with an index from packet data (no poke). */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
} jmp_table SEC(".maps");

__u64 fallthrough;

SEC("tc")
int classify(struct __sk_buff *skb)
{
	if (skb->protocol == 0x0008)
		bpf_tail_call(skb, &jmp_table, 1);
	else if (skb->protocol == 0xdd86)
		bpf_tail_call(skb, &jmp_table, 2);
	bpf_tail_call(skb, &jmp_table, 0);
	__sync_fetch_and_add(&fallthrough, 1);
	return TC_ACT_OK;
}

SEC("tc")
int dispatch(struct __sk_buff *skb)
{
	__u32 idx = skb->mark & 7;

	bpf_tail_call(skb, &jmp_table, idx);
	bpf_tail_call(skb, &jmp_table, 3);
	return TC_ACT_OK;
}

static __noinline int tail_from_subprog(struct __sk_buff *skb, __u32 k)
{
	bpf_tail_call(skb, &jmp_table, 4);
	return (int)k;
}

SEC("tc")
int subprog_tail(struct __sk_buff *skb)
{
	int r = tail_from_subprog(skb, skb->len);

	return r > 100 ? TC_ACT_SHOT : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
