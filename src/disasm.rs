//! Verifier-log style disassembly, modelled on `print_bpf_insn` in the
//! kernel's `kernel/bpf/disasm.c` (without the leading `(code)` column).
//!
//! Conventions: memory offsets and jump offsets always carry a sign
//! (`(r10 -8)`, `goto pc+3`), ALU immediates are decimal, jump immediates are
//! hex of the 32-bit pattern. Whatever the kernel would print as `BUG_..`, a
//! `(null)` operator or otherwise meaningless text comes out as `(xx) invalid`.
//! Helper names are unknown here, so helpers print as `call bpf_func#<imm>`.
//! Nothing in this module panics, whatever the field values.

use crate::insn::*;

/// Placeholder text for the second slot of an `ld_imm64` pair.
pub const LD_IMM64_HI: &str = "(ld_imm64 hi)";

/// `BPF_ADDR_SPACE_CAST` / `BPF_ADDR_PERCPU` values of `off` on `mov64 reg`.
const ADDR_SPACE_CAST: i16 = 1;
const ADDR_PERCPU: i16 = -1;

/// Disassemble one slot. `next` is only consulted for `ld_imm64`, whose
/// 64-bit value takes its high half from `next.imm`; without `next` only the
/// low 32 bits are printed.
pub fn disasm(insn: &Insn, next: Option<&Insn>) -> String {
    let text = match insn.class() {
        class::ALU | class::ALU64 => alu(insn),
        class::LDX => ldx(insn),
        class::ST => st(insn),
        class::STX => stx(insn),
        class::LD => ld(insn, next),
        _ => jmp(insn),
    };
    text.unwrap_or_else(|| format!("({:02x}) invalid", insn.code))
}

/// Disassemble a whole program, one line per slot. The slot after an
/// `ld_imm64` is its high half and prints as [`LD_IMM64_HI`] (or, when its
/// reserved fields are not zero, as a `bad` note carrying the raw fields).
pub fn disasm_program(insns: &[Insn]) -> Vec<String> {
    let mut out = Vec::with_capacity(insns.len());
    let mut i = 0;
    while i < insns.len() {
        let insn = &insns[i];
        let next = insns.get(i + 1);
        out.push(disasm(insn, next));
        i += 1;
        if insn.is_ld_imm64() {
            if let Some(hi) = next {
                let clean = hi.code == 0 && hi.dst == 0 && hi.src == 0 && hi.off == 0;
                out.push(if clean { LD_IMM64_HI.to_string() } else { format!("(ld_imm64 hi: bad {hi:?})") });
                i += 1;
            }
        }
    }
    out
}

/// `r` for 64-bit operations, `w` for 32-bit ones.
fn reg_prefix(wide: bool) -> char {
    if wide {
        'r'
    } else {
        'w'
    }
}

fn size_name(insn: &Insn) -> &'static str {
    match insn.size() {
        field::W => "u32",
        field::H => "u16",
        field::B => "u8",
        _ => "u64",
    }
}

/// `(u32 *)(r1 +8)`: the typed address of a memory operand.
fn addr(ty: &str, base: u8, off: i16) -> String {
    format!("({ty} *)(r{base} {off:+})")
}

fn alu_op_str(aop: u8, signed: bool) -> Option<&'static str> {
    Some(match aop {
        op::DIV if signed => "s/=",
        op::MOD if signed => "s%=",
        op::ADD => "+=",
        op::SUB => "-=",
        op::MUL => "*=",
        op::DIV => "/=",
        op::OR => "|=",
        op::AND => "&=",
        op::LSH => "<<=",
        op::RSH => ">>=",
        op::MOD => "%=",
        op::XOR => "^=",
        op::MOV => "=",
        op::ARSH => "s>>=",
        _ => return None,
    })
}

fn alu(i: &Insn) -> Option<String> {
    let wide = i.class() == class::ALU64;
    let r = reg_prefix(wide);
    let (d, s) = (i.dst, i.src);
    match i.op() {
        // ALU64 END is the unconditional byte swap; ALU END picks by BPF_SRC.
        op::END if wide => Some(format!("r{d} = bswap{} r{d}", i.imm)),
        op::END => {
            let order = if i.is_src_x() { "be" } else { "le" };
            Some(format!("r{d} = {order}{} r{d}", i.imm))
        }
        op::NEG => Some(format!("{r}{d} = -{r}{d}")),
        op::MOV if wide && i.is_src_x() && i.off == ADDR_SPACE_CAST => {
            let imm = i.imm as u32;
            Some(format!("r{d} = addr_space_cast(r{s}, {}, {})", imm >> 16, imm & 0xffff))
        }
        op::MOV if wide && i.is_src_x() && i.off == ADDR_PERCPU => Some(format!("r{d} = &(void __percpu *)(r{s})")),
        aop => {
            let sym = alu_op_str(aop, i.off == 1)?;
            if i.is_src_x() {
                let cast = match (aop, i.off) {
                    (op::MOV, 8) => "(s8)",
                    (op::MOV, 16) => "(s16)",
                    (op::MOV, 32) => "(s32)",
                    _ => "",
                };
                Some(format!("{r}{d} {sym} {cast}{r}{s}"))
            } else {
                Some(format!("{r}{d} {sym} {}", i.imm))
            }
        }
    }
}

fn ldx(i: &Insn) -> Option<String> {
    let ty = match (i.mode(), i.size()) {
        (field::MEM, _) => size_name(i),
        (field::MEMSX, field::W) => "s32",
        (field::MEMSX, field::H) => "s16",
        (field::MEMSX, field::B) => "s8",
        _ => return None,
    };
    Some(format!("r{} = *{}", i.dst, addr(ty, i.src, i.off)))
}

fn st(i: &Insn) -> Option<String> {
    match i.mode() {
        field::MEM => Some(format!("*{} = {}", addr(size_name(i), i.dst, i.off), i.imm)),
        // BPF_NOSPEC: kernel-internal speculation barrier.
        0xc0 => Some("nospec".to_string()),
        _ => None,
    }
}

fn stx(i: &Insn) -> Option<String> {
    let place = addr(size_name(i), i.dst, i.off);
    let s = i.src;
    match i.mode() {
        field::MEM => return Some(format!("*{place} = r{s}")),
        field::ATOMIC => {}
        _ => return None,
    }
    let bits = if i.size() == field::DW { "64" } else { "" };
    let fetch_name = |aop: i32| match aop {
        0x00 => Some("add"),
        0x40 => Some("or"),
        0x50 => Some("and"),
        0xa0 => Some("xor"),
        _ => None,
    };
    match i.imm {
        atomic::XCHG => Some(format!("r{s} = atomic{bits}_xchg({place}, r{s})")),
        atomic::CMPXCHG => Some(format!("r0 = atomic{bits}_cmpxchg({place}, r0, r{s})")),
        atomic::LOAD_ACQ => Some(format!("r{} = load_acquire({})", i.dst, addr(size_name(i), s, i.off))),
        atomic::STORE_REL => Some(format!("store_release({place}, r{s})")),
        imm if imm & atomic::FETCH != 0 => {
            let name = fetch_name(imm & !atomic::FETCH)?;
            Some(format!("r{s} = atomic{bits}_fetch_{name}({place}, r{s})"))
        }
        imm => {
            fetch_name(imm)?;
            let sym = alu_op_str(imm as u8, false)?;
            Some(format!("lock *{place} {sym} r{s}"))
        }
    }
}

fn ld(i: &Insn, next: Option<&Insn>) -> Option<String> {
    match i.mode() {
        field::ABS => Some(format!("r0 = *({} *)skb[{}]", size_name(i), i.imm)),
        field::IND => Some(format!("r0 = *({} *)skb[r{} + {}]", size_name(i), i.src, i.imm)),
        field::IMM if i.size() == field::DW => {
            let d = i.dst;
            if i.src == pseudo::FUNC {
                return Some(format!("r{d} = func pc{:+} ll", i.imm));
            }
            let lo = u64::from(i.imm as u32);
            let value = match next {
                Some(hi) => lo | (u64::from(hi.imm as u32) << 32),
                None => lo,
            };
            Some(format!("r{d} = {value:#x} ll"))
        }
        // A stray second half of ld_imm64 (code 0x00).
        field::IMM if i.code == 0 => Some(format!("(00) ld_imm64 hi {:#x}", i.imm as u32)),
        _ => None,
    }
}

fn jmp_op_str(jop: u8) -> Option<&'static str> {
    Some(match jop {
        op::JEQ => "==",
        op::JGT => ">",
        op::JGE => ">=",
        op::JSET => "&",
        op::JNE => "!=",
        op::JSGT => "s>",
        op::JSGE => "s>=",
        op::JLT => "<",
        op::JLE => "<=",
        op::JSLT => "s<",
        op::JSLE => "s<=",
        _ => return None,
    })
}

fn jmp(i: &Insn) -> Option<String> {
    if i.op() == op::CALL {
        return Some(match i.src {
            pseudo::CALL => format!("call pc{:+}", i.imm),
            0 => format!("call bpf_func#{}", i.imm),
            pseudo::KFUNC_CALL => format!("call kernel-function#{}", i.imm),
            _ => format!("call unknown#{}", i.imm),
        });
    }
    match i.code {
        code::JA => return Some(format!("goto pc{:+}", i.off)),
        code::GOTOL => return Some(format!("gotol pc{:+}", i.imm)),
        code::GOTOX => return Some(format!("gotox r{}", i.dst)),
        code::EXIT => return Some("exit".to_string()),
        code::TAIL_CALL => return Some("tail_call".to_string()),
        code::MAY_GOTO if i.src == 0 => return Some(format!("may_goto pc{:+}", i.off)),
        _ => {}
    }
    let sym = jmp_op_str(i.op())?;
    let r = reg_prefix(i.class() == class::JMP);
    let rhs = if i.is_src_x() { format!("{r}{}", i.src) } else { format!("{:#x}", i.imm as u32) };
    Some(format!("if {r}{} {sym} {rhs} goto pc{:+}", i.dst, i.off))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::build::*;
    use crate::insn::class::*;
    use crate::insn::field::*;

    /// Each instruction disassembled alone (no `next`) must give its text.
    fn check(cases: &[(Insn, &str)]) {
        for (i, want) in cases {
            assert_eq!(disasm(i, None), *want, "{i:?}");
        }
    }

    #[test]
    fn alu_forms() {
        let mov = |off, imm| raw(ALU64 | op::MOV | X, 1, 2, off, imm);
        check(&[
            (mov64_reg(1, 2), "r1 = r2"),
            (alu32_imm(op::ADD, 0, 1), "w0 += 1"),
            (mov64_imm(3, -7), "r3 = -7"),
            (alu64_imm(op::NEG, 0, 0), "r0 = -r0"),
            (alu32_imm(op::NEG, 4, 0), "w4 = -w4"),
            (raw(ALU | op::ARSH | X, 1, 2, 0, 0), "w1 s>>= w2"),
            (zext_reg(5), "w5 = w5"),
            (raw(ALU64 | op::DIV | X, 1, 2, 1, 0), "r1 s/= r2"),
            (raw(ALU | op::MOD, 1, 0, 1, 3), "w1 s%= 3"),
            (raw(ALU64 | op::DIV, 1, 0, 0, 3), "r1 /= 3"),
            (mov(8, 0), "r1 = (s8)r2"),
            (raw(ALU | op::MOV | X, 1, 2, 16, 0), "w1 = (s16)w2"),
            (mov(32, 0), "r1 = (s32)r2"),
            (mov(1, 1), "r1 = addr_space_cast(r2, 0, 1)"),
            (mov(-1, 0), "r1 = &(void __percpu *)(r2)"),
            (raw(ALU | op::END | X, 1, 0, 0, 16), "r1 = be16 r1"),
            (raw(ALU | op::END, 1, 0, 0, 32), "r1 = le32 r1"),
            (raw(ALU64 | op::END, 1, 0, 0, 32), "r1 = bswap32 r1"),
        ]);
    }

    #[test]
    fn jumps_and_calls() {
        check(&[
            (jmp_imm(op::JGT, 1, 5, 3), "if r1 > 0x5 goto pc+3"),
            (raw(JMP32 | op::JSLT | X, 1, 2, -4, 0), "if w1 s< w2 goto pc-4"),
            (jmp32_imm(op::JLT, 1, -2, 0), "if w1 < 0xfffffffe goto pc+0"),
            (jmp_reg(op::JSET, 3, 4, 7), "if r3 & r4 goto pc+7"),
            (ja(2), "goto pc+2"),
            (ja(-2), "goto pc-2"),
            (gotol(70000), "gotol pc+70000"),
            (may_goto(2), "may_goto pc+2"),
            (call_rel(5), "call pc+5"),
            (call_rel(-3), "call pc-3"),
            (call_helper(12), "call bpf_func#12"),
            (call_kfunc(7), "call kernel-function#7"),
            (raw(code::CALL, 0, 9, 0, 1), "call unknown#1"),
            (exit(), "exit"),
            (raw(code::GOTOX, 1, 0, 0, 0), "gotox r1"),
            (raw(code::TAIL_CALL, 0, 0, 0, 0), "tail_call"),
        ]);
    }

    #[test]
    fn ld_imm64_forms() {
        let pair = |dst, src, v| {
            let [lo, hi] = ld_imm64(dst, src, v);
            disasm(&lo, Some(&hi))
        };
        assert_eq!(pair(1, 0, 0x1234), "r1 = 0x1234 ll");
        assert_eq!(pair(2, 0, 0x1_ffff_fffe), "r2 = 0x1fffffffe ll");
        assert_eq!(pair(1, pseudo::MAP_FD, 5), "r1 = 0x5 ll");
        assert_eq!(pair(1, pseudo::FUNC, 3), "r1 = func pc+3 ll");
        check(&[
            (ld_imm64(2, 0, 0x1_ffff_fffe)[0], "r2 = 0xfffffffe ll"),
            (ld_imm64(1, 0, 1)[1], "(00) ld_imm64 hi 0x0"),
            (raw(0, 0, 0, 0, -1), "(00) ld_imm64 hi 0xffffffff"),
        ]);
    }

    #[test]
    fn loads_and_stores() {
        check(&[
            (ldx_mem(W, 0, 1, 8), "r0 = *(u32 *)(r1 +8)"),
            (ldx_mem(B, 0, 1, 0), "r0 = *(u8 *)(r1 +0)"),
            (raw(LDX | B | MEMSX, 1, 2, -1, 0), "r1 = *(s8 *)(r2 -1)"),
            (stx_mem(DW, 10, 1, -8), "*(u64 *)(r10 -8) = r1"),
            (st_mem(W, 10, -4, 5), "*(u32 *)(r10 -4) = 5"),
            (st_mem(H, 10, -2, -1), "*(u16 *)(r10 -2) = -1"),
            (raw(LD | ABS | W, 0, 0, 0, 5), "r0 = *(u32 *)skb[5]"),
            (raw(LD | IND | H, 0, 3, 0, 4), "r0 = *(u16 *)skb[r3 + 4]"),
            (raw(ST | 0xc0, 0, 0, 0, 0), "nospec"),
        ]);
    }

    #[test]
    fn atomics() {
        let a = |size: u8, imm: i32| raw(STX | size | ATOMIC, 1, 2, 0, imm);
        check(&[
            (a(DW, 0x00), "lock *(u64 *)(r1 +0) += r2"),
            (a(W, 0x40), "lock *(u32 *)(r1 +0) |= r2"),
            (a(DW, 0x50), "lock *(u64 *)(r1 +0) &= r2"),
            (a(DW, 0xa0), "lock *(u64 *)(r1 +0) ^= r2"),
            (a(DW, 0x01), "r2 = atomic64_fetch_add((u64 *)(r1 +0), r2)"),
            (a(W, 0x51), "r2 = atomic_fetch_and((u32 *)(r1 +0), r2)"),
            (a(DW, 0xe1), "r2 = atomic64_xchg((u64 *)(r1 +0), r2)"),
            (a(DW, 0xf1), "r0 = atomic64_cmpxchg((u64 *)(r1 +0), r0, r2)"),
            (a(W, 0xf1), "r0 = atomic_cmpxchg((u32 *)(r1 +0), r0, r2)"),
            (a(DW, 0x100), "r1 = load_acquire((u64 *)(r2 +0))"),
            (a(B, 0x110), "store_release((u8 *)(r1 +0), r2)"),
            (a(DW, 0x10), "(db) invalid"),
            (a(DW, 0x11), "(db) invalid"),
            (a(DW, 0x10000), "(db) invalid"),
        ]);
    }

    #[test]
    fn invalid_codes() {
        check(&[
            (raw(0xe7, 1, 0, 0, 0), "(e7) invalid"), // ALU64 op 0xe0
            (raw(0xff, 1, 2, 3, 4), "(ff) invalid"),
            (raw(0x96, 0, 0, 0, 0), "(96) invalid"), // JMP32|EXIT
            (raw(0x0e, 1, 0, 0, 0), "(0e) invalid"), // JMP32|JA|X
            (raw(0xe5, 0, 1, 0, 0), "(e5) invalid"), // JCOND, src != may_goto
            (raw(0x08, 0, 0, 0, 0), "(08) invalid"), // LD|IMM|H
            (raw(0x39, 1, 2, 0, 0), "(39) invalid"), // LDX|PROBE_MEM|DW
            (raw(0x99, 1, 2, 0, 0), "(99) invalid"), // LDX|MEMSX|DW
        ]);
    }

    #[test]
    fn program_pairs_ld_imm64() {
        let [lo, hi] = ld_imm64(1, 0, 0x1_0000_0002);
        let bad_hi = Insn { dst: 3, ..hi };
        let out = disasm_program(&[mov64_imm(0, 0), lo, hi, lo, bad_hi, exit(), lo]);
        let (full, bad) = ("r1 = 0x100000002 ll", format!("(ld_imm64 hi: bad {bad_hi:?})"));
        assert_eq!(out[..4], ["r0 = 0", full, LD_IMM64_HI, full]);
        assert_eq!(out[4..], [&bad, "exit", "r1 = 0x2 ll"]);
        assert!(disasm_program(&[]).is_empty());
    }

    #[test]
    fn every_code_and_operand_combo_disassembles() {
        // Under miri a slice of each range keeps the run short.
        let cut = if cfg!(miri) { 2 } else { usize::MAX };
        let regs = &[0u8, 15, 1, 10, 11, 255][..cut.min(6)];
        let offs = &[i16::MIN, i16::MAX, -1, 0, 1, 8, 16, 32][..cut.min(8)];
        let imms = &[i32::MIN, 64, -1, 0, 1, 8, 16, 32, i32::MAX][..cut.min(9)];
        let atomic_imms = [0x51, 0xe1, 0xf1, 0x100, 0x110];
        let nexts = [None, Some(raw(0, 0, 0, 0, -1))];
        for code in (0..=255u8).step_by(if cfg!(miri) { 15 } else { 1 }) {
            for (&r, &off) in regs.iter().flat_map(|r| offs.iter().map(move |o| (r, o))) {
                for &imm in imms.iter().chain(&atomic_imms) {
                    for next in &nexts {
                        let i = raw(code, r, 15 - (r & 15), off, imm);
                        let s = disasm(&i, next.as_ref());
                        assert!(!s.is_empty() && !s.contains('\n'), "{i:?} -> {s:?}");
                        assert!(!s.contains("null"), "{i:?} -> {s:?}");
                    }
                }
            }
            assert_eq!(disasm_program(&[raw(code, 1, 2, 3, 4); 3]).len(), 3);
        }
    }
}
