// SPDX-License-Identifier: GPL-2.0-only
/* An XDP and a TC packet parser: Ethernet, up to two VLAN tags, IPv4 (with
 * options) or IPv6 (with extension headers), then TCP or UDP; per-protocol
 * counters in maps. Every packet access is bounds-checked against data_end,
 * as the verifier demands, so the code is long runs of loads and compares. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct vlan_hdr {
	__be16 tci;
	__be16 proto;
};

struct flow {
	__u32 saddr[4];
	__u32 daddr[4];
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 vlans;
	__u8 v6;
	__u8 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} proto_count SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct flow);
	__type(value, __u64);
} flows SEC(".maps");

/* Ports dropped by policy (read-only data: .rodata). */
const volatile __u16 blocked_port = 23;
/* Packets seen (global data: .bss). */
__u64 seen_packets;

static __always_inline int parse_eth(void *data, void *end, struct flow *f, __u16 *proto, __u32 *off)
{
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return -1;
	*proto = eth->h_proto;
	*off = sizeof(*eth);
#pragma unroll
	for (int i = 0; i < 2; i++) {
		struct vlan_hdr *vh = data + *off;

		if (*proto != bpf_htons(ETH_P_8021Q) && *proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vh + 1) > end)
			return -1;
		*proto = vh->proto;
		*off += sizeof(*vh);
		f->vlans++;
	}
	return 0;
}

static __always_inline int parse_ports(void *data, void *end, __u32 off, struct flow *f)
{
	if (f->proto == IPPROTO_TCP) {
		struct tcphdr *th = data + off;

		if ((void *)(th + 1) > end)
			return -1;
		f->sport = bpf_ntohs(th->source);
		f->dport = bpf_ntohs(th->dest);
		if (th->syn && !th->ack)
			f->pad = 1;
	} else if (f->proto == IPPROTO_UDP) {
		struct udphdr *uh = data + off;

		if ((void *)(uh + 1) > end)
			return -1;
		f->sport = bpf_ntohs(uh->source);
		f->dport = bpf_ntohs(uh->dest);
	}
	return 0;
}

static __always_inline int parse_ipv6(void *data, void *end, __u32 *off, struct flow *f)
{
	struct ipv6hdr *ip6 = data + *off;
	__u8 next;

	if ((void *)(ip6 + 1) > end)
		return -1;
	__builtin_memcpy(f->saddr, &ip6->saddr, 16);
	__builtin_memcpy(f->daddr, &ip6->daddr, 16);
	next = ip6->nexthdr;
	*off += sizeof(*ip6);
	f->v6 = 1;
#pragma unroll
	for (int i = 0; i < 4; i++) {
		__u8 *ext = data + *off;

		if (next != IPPROTO_HOPOPTS && next != IPPROTO_ROUTING && next != IPPROTO_DSTOPTS)
			break;
		if ((void *)(ext + 2) > end)
			return -1;
		next = ext[0];
		*off += ((__u32)ext[1] + 1) * 8;
	}
	f->proto = next;
	return 0;
}

static __always_inline int parse_ipv4(void *data, void *end, __u32 *off, struct flow *f)
{
	struct iphdr *ip = data + *off;
	__u32 ihl;

	if ((void *)(ip + 1) > end)
		return -1;
	ihl = ip->ihl * 4u;
	if (ihl < sizeof(*ip))
		return -1;
	if (ip->frag_off & bpf_htons(0x3fff))
		return 1;
	f->saddr[0] = ip->saddr;
	f->daddr[0] = ip->daddr;
	f->proto = ip->protocol;
	*off += ihl;
	return 0;
}

static __always_inline int parse(void *data, void *end, struct flow *f)
{
	__u16 proto;
	__u32 off;
	int r;

	if (parse_eth(data, end, f, &proto, &off))
		return -1;
	if (proto == bpf_htons(ETH_P_IP))
		r = parse_ipv4(data, end, &off, f);
	else if (proto == bpf_htons(ETH_P_IPV6))
		r = parse_ipv6(data, end, &off, f);
	else
		return 1;
	if (r)
		return r;
	if (off > 512)
		return -1;
	return parse_ports(data, end, off, f);
}

static __always_inline void count(struct flow *f, __u32 len)
{
	__u32 key = f->proto;
	__u64 *n = bpf_map_lookup_elem(&proto_count, &key);
	__u64 one = 1, *bytes;

	if (n)
		*n += 1;
	bytes = bpf_map_lookup_elem(&flows, f);
	if (bytes)
		__sync_fetch_and_add(bytes, len);
	else
		bpf_map_update_elem(&flows, f, &one, BPF_NOEXIST);
	__sync_fetch_and_add(&seen_packets, 1);
}

SEC("xdp")
int xdp_parse(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct flow f = {};
	int r = parse(data, end, &f);

	if (r < 0)
		return XDP_DROP;
	if (r > 0)
		return XDP_PASS;
	if (f.dport == blocked_port)
		return XDP_DROP;
	count(&f, (__u32)(end - data));
	return XDP_PASS;
}

SEC("tc")
int tc_parse(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct flow f = {};
	int r = parse(data, end, &f);

	if (r < 0)
		return TC_ACT_SHOT;
	if (r == 0 && f.dport == blocked_port)
		return TC_ACT_SHOT;
	if (r == 0) {
		count(&f, skb->len);
		skb->mark = f.proto | ((__u32)f.vlans << 8);
	}
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
