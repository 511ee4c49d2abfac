// SPDX-License-Identifier: GPL-2.0-only
/* A loop bounded by may_goto (cond_break). Clang 14 has no may_goto
 * mnemonic, so the instruction is spelled as bytes with asm goto: code 0xe5
 * (BPF_JMP | BPF_JCOND), regs 0, off = the break label, imm 0. The offset is
 * written with .long (off and the low half of imm): the BPF assembler treats
 * a 2-byte data fixup as a branch fixup and would rescale it. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define cond_break_bytes                                                      \
	({                                                                    \
		__label__ l_break, l_continue;                                \
		asm volatile goto("1: .byte 0xe5, 0\n"                        \
				  ".long ((%l[l_break] - 1b - 8) / 8) & 0xffff\n" \
				  ".short 0\n" :::: l_break);                 \
		goto l_continue;                                              \
	l_break:                                                              \
		break;                                                        \
	l_continue:;                                                          \
	})

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} total SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_nanosleep")
int bounded(void *ctx)
{
	__u64 sum = 0, x = bpf_get_prandom_u32();
	__u32 key = 0, i;
	__u64 *t;

	for (i = 0; i < 100000; i++) {
		sum += x ^ i;
		x = x * 6364136223846793005ULL + 1;
		cond_break_bytes;
	}
	t = bpf_map_lookup_elem(&total, &key);
	if (t)
		*t += sum;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
