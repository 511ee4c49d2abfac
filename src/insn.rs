//! The 8-byte `struct bpf_insn`, its opcode constants and the predicates the
//! kernel's patching code uses to decide what a slot is.

use std::fmt;

/// Instruction classes (`BPF_CLASS(code)`).
pub mod class {
    pub const LD: u8 = 0x00;
    pub const LDX: u8 = 0x01;
    pub const ST: u8 = 0x02;
    pub const STX: u8 = 0x03;
    pub const ALU: u8 = 0x04;
    pub const JMP: u8 = 0x05;
    pub const JMP32: u8 = 0x06;
    pub const ALU64: u8 = 0x07;
}

/// Jump and ALU operations (`BPF_OP(code)`).
pub mod op {
    pub const ADD: u8 = 0x00;
    pub const SUB: u8 = 0x10;
    pub const MUL: u8 = 0x20;
    pub const DIV: u8 = 0x30;
    pub const OR: u8 = 0x40;
    pub const AND: u8 = 0x50;
    pub const LSH: u8 = 0x60;
    pub const RSH: u8 = 0x70;
    pub const NEG: u8 = 0x80;
    pub const MOD: u8 = 0x90;
    pub const XOR: u8 = 0xa0;
    pub const MOV: u8 = 0xb0;
    pub const ARSH: u8 = 0xc0;
    pub const END: u8 = 0xd0;

    pub const JA: u8 = 0x00;
    pub const JEQ: u8 = 0x10;
    pub const JGT: u8 = 0x20;
    pub const JGE: u8 = 0x30;
    pub const JSET: u8 = 0x40;
    pub const JNE: u8 = 0x50;
    pub const JSGT: u8 = 0x60;
    pub const JSGE: u8 = 0x70;
    pub const CALL: u8 = 0x80;
    pub const EXIT: u8 = 0x90;
    pub const JLT: u8 = 0xa0;
    pub const JLE: u8 = 0xb0;
    pub const JSLT: u8 = 0xc0;
    pub const JSLE: u8 = 0xd0;
    pub const JCOND: u8 = 0xe0;
    /// Kernel-internal `BPF_TAIL_CALL` op (JMP class).
    pub const TAIL_CALL: u8 = 0xf0;
}

/// Source operand bit, sizes and modes.
pub mod field {
    pub const K: u8 = 0x00;
    pub const X: u8 = 0x08;
    pub const W: u8 = 0x00;
    pub const H: u8 = 0x08;
    pub const B: u8 = 0x10;
    pub const DW: u8 = 0x18;
    pub const IMM: u8 = 0x00;
    pub const ABS: u8 = 0x20;
    pub const IND: u8 = 0x40;
    pub const MEM: u8 = 0x60;
    pub const MEMSX: u8 = 0x80;
    pub const ATOMIC: u8 = 0xc0;
    pub const PROBE_MEM: u8 = 0x20;
    pub const PROBE_MEMSX: u8 = 0x40;
    pub const PROBE_MEM32: u8 = 0xa0;
    pub const PROBE_ATOMIC: u8 = 0xe0;
}

/// Atomic `imm` values.
pub mod atomic {
    pub const FETCH: i32 = 0x01;
    pub const XCHG: i32 = 0xe1;
    pub const CMPXCHG: i32 = 0xf1;
    pub const LOAD_ACQ: i32 = 0x100;
    pub const STORE_REL: i32 = 0x110;
}

/// `src_reg` pseudo values.
pub mod pseudo {
    pub const MAP_FD: u8 = 1;
    pub const MAP_VALUE: u8 = 2;
    pub const CALL: u8 = 1;
    pub const KFUNC_CALL: u8 = 2;
    pub const FUNC: u8 = 4;
}

/// Whole opcodes that the patching code singles out.
pub mod code {
    pub const LD_IMM64: u8 = 0x18;
    pub const JA: u8 = 0x05;
    pub const GOTOL: u8 = 0x06;
    pub const EXIT: u8 = 0x95;
    pub const CALL: u8 = 0x85;
    pub const MAY_GOTO: u8 = 0xe5;
    pub const GOTOX: u8 = 0x0d;
    pub const TAIL_CALL: u8 = 0xf5;
}

pub const S16_MAX: i64 = i16::MAX as i64;

/// Opcodes that can carry a branch field: JMP/JMP32 classes and `ld_imm64`.
static MAY_BRANCH: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let cls = (c & 7) as u8;
        t[c] = cls == class::JMP || cls == class::JMP32 || c as u8 == code::LD_IMM64;
        c += 1;
    }
    t
};

/// One `struct bpf_insn`: `code`, `dst_reg:4`, `src_reg:4`, `off`, `imm`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Insn {
    pub code: u8,
    /// Low nibble of byte 1 (only 0..=15 is representable on the wire).
    pub dst: u8,
    /// High nibble of byte 1.
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

/// Which field of an instruction `bpf_adj_branches` treats as relative and with
/// which bounds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BranchField {
    /// 16-bit `off`, bounds `[S16_MIN, S16_MAX]`.
    Off16,
    /// 32-bit `imm`, bounds `[S32_MIN, S32_MAX]` (gotol, pseudo call, pseudo func).
    Imm32,
}

impl Insn {
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn { code, dst, src, off, imm }
    }

    /// Raw little-endian encoding, as in memory on x86-64.
    pub fn encode(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = self.code;
        b[1] = (self.dst & 0xf) | (self.src << 4);
        b[2..4].copy_from_slice(&self.off.to_le_bytes());
        b[4..8].copy_from_slice(&self.imm.to_le_bytes());
        b
    }

    pub fn decode(b: [u8; 8]) -> Insn {
        Insn {
            code: b[0],
            dst: b[1] & 0xf,
            src: b[1] >> 4,
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    pub fn class(&self) -> u8 {
        self.code & 0x07
    }
    pub fn op(&self) -> u8 {
        self.code & 0xf0
    }
    pub fn size(&self) -> u8 {
        self.code & 0x18
    }
    pub fn mode(&self) -> u8 {
        self.code & 0xe0
    }
    pub fn is_src_x(&self) -> bool {
        self.code & 0x08 != 0
    }
    pub fn is_jmp_class(&self) -> bool {
        matches!(self.class(), class::JMP | class::JMP32)
    }
    pub fn is_exit(&self) -> bool {
        self.is_jmp_class() && self.op() == op::EXIT
    }
    pub fn is_call(&self) -> bool {
        self.is_jmp_class() && self.op() == op::CALL
    }
    /// `bpf_pseudo_call`: `BPF_JMP|BPF_CALL` with `src_reg == BPF_PSEUDO_CALL`.
    pub fn is_pseudo_call(&self) -> bool {
        self.code == code::CALL && self.src == pseudo::CALL
    }
    pub fn is_kfunc_call(&self) -> bool {
        self.code == code::CALL && self.src == pseudo::KFUNC_CALL
    }
    pub fn is_helper_call(&self) -> bool {
        self.code == code::CALL && self.src == 0
    }
    /// `bpf_pseudo_func`: `ld_imm64` with `src_reg == BPF_PSEUDO_FUNC`.
    pub fn is_pseudo_func(&self) -> bool {
        self.code == code::LD_IMM64 && self.src == pseudo::FUNC
    }
    /// First half of an `ld_imm64` pair.
    pub fn is_ld_imm64(&self) -> bool {
        self.code == code::LD_IMM64
    }
    pub fn is_gotol(&self) -> bool {
        self.code == code::GOTOL
    }
    pub fn is_ja(&self) -> bool {
        self.code == code::JA
    }
    pub fn is_may_goto(&self) -> bool {
        self.code == code::MAY_GOTO && self.src == 0
    }
    pub fn is_gotox(&self) -> bool {
        self.code == code::GOTOX
    }
    pub fn is_tail_call(&self) -> bool {
        self.code == code::TAIL_CALL || (self.is_helper_call() && self.imm == 12)
    }
    /// `insn_is_cond_jump`: JMP32 other than JA, JMP other than JA/EXIT/CALL.
    /// Includes may_goto (JCOND) and the kernel-internal TAIL_CALL op.
    pub fn is_cond_jump(&self) -> bool {
        match self.class() {
            class::JMP32 => self.op() != op::JA,
            class::JMP => !matches!(self.op(), op::JA | op::EXIT | op::CALL),
            _ => false,
        }
    }
    /// A slot that may legally end a subprog: exactly exit, ja or gotol.
    pub fn is_subprog_terminator(&self) -> bool {
        matches!(self.code, code::EXIT | code::JA | code::GOTOL)
    }

    /// The field `bpf_adj_branches` adjusts, if any: pseudo funcs first (before
    /// the class filter), then JMP/JMP32 except EXIT; CALL only when pseudo; the
    /// exact code 0x06 uses `imm`.
    pub fn branch_field(&self) -> Option<BranchField> {
        // One table lookup rejects most slots (hot in every branch pass).
        if !MAY_BRANCH[self.code as usize] {
            return None;
        }
        if self.is_pseudo_func() {
            return Some(BranchField::Imm32);
        }
        if !self.is_jmp_class() || self.op() == op::EXIT {
            return None;
        }
        if self.op() == op::CALL {
            return (self.src == pseudo::CALL).then_some(BranchField::Imm32);
        }
        Some(if self.code == code::GOTOL { BranchField::Imm32 } else { BranchField::Off16 })
    }

    /// The field `adjust_jmp_off` adjusts: JMP/JMP32 other than CALL and EXIT;
    /// 0x06 uses `imm`. Pseudo funcs are not jumps here.
    pub fn jmp_off_field(&self) -> Option<BranchField> {
        if !self.is_jmp_class() || matches!(self.op(), op::CALL | op::EXIT) {
            return None;
        }
        Some(if self.code == code::GOTOL { BranchField::Imm32 } else { BranchField::Off16 })
    }

    /// Read the relative value of `field`.
    pub fn rel(&self, field: BranchField) -> i64 {
        match field {
            BranchField::Off16 => self.off as i64,
            BranchField::Imm32 => self.imm as i64,
        }
    }

    /// The instruction with `field` replaced by `v` (caller checked the bounds).
    pub fn with_rel(mut self, field: BranchField, v: i64) -> Insn {
        match field {
            BranchField::Off16 => self.off = v as i16,
            BranchField::Imm32 => self.imm = v as i32,
        }
        self
    }

    /// Relative target of a branch-carrying slot at `pc`: `pc + rel + 1`.
    pub fn target(&self, pc: usize) -> Option<i64> {
        self.branch_field().map(|f| pc as i64 + self.rel(f) + 1)
    }

    /// `insn_def_regno`: the register this instruction defines, if any.
    pub fn def_regno(&self) -> Option<u8> {
        match self.class() {
            class::JMP | class::JMP32 | class::ST => None,
            class::STX => {
                if self.mode() == field::ATOMIC || self.mode() == field::PROBE_ATOMIC {
                    if self.imm == atomic::CMPXCHG {
                        Some(0)
                    } else if self.imm == atomic::LOAD_ACQ {
                        Some(self.dst)
                    } else if self.imm & atomic::FETCH != 0 {
                        Some(self.src)
                    } else {
                        None
                    }
                } else {
                    None
                }
            }
            _ => Some(self.dst),
        }
    }

    /// `insn_has_def32`: defines a register and `is_reg64(.., DST_OP)` is false.
    /// Depends on the 8 bytes only (semantics doc §3.2).
    pub fn has_def32(&self) -> bool {
        if self.def_regno().is_none() {
            return false;
        }
        let reg64 = match self.class() {
            class::ALU64 => !(self.op() == op::END && (self.imm == 16 || self.imm == 32)),
            class::ALU => self.op() == op::END && self.imm == 64,
            class::LDX => self.size() == field::DW || self.mode() == field::MEMSX,
            class::STX => self.size() == field::DW,
            class::LD => self.mode() == field::IMM,
            _ => true,
        };
        !reg64
    }
}

impl fmt::Debug for Insn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Insn({:#04x}, {}, {}, {}, {})", self.code, self.dst, self.src, self.off, self.imm)
    }
}

/// Constructors spelled like the kernel's `BPF_*` macros.
pub mod build {
    use super::*;

    pub const fn raw(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn::new(code, dst, src, off, imm)
    }
    pub const fn exit() -> Insn {
        raw(code::EXIT, 0, 0, 0, 0)
    }
    pub const fn ja(off: i16) -> Insn {
        raw(code::JA, 0, 0, off, 0)
    }
    pub const fn gotol(imm: i32) -> Insn {
        raw(code::GOTOL, 0, 0, 0, imm)
    }
    pub const fn may_goto(off: i16) -> Insn {
        raw(code::MAY_GOTO, 0, 0, off, 0)
    }
    pub const fn jmp_imm(jop: u8, dst: u8, imm: i32, off: i16) -> Insn {
        raw(class::JMP | jop | field::K, dst, 0, off, imm)
    }
    pub const fn jmp_reg(jop: u8, dst: u8, src: u8, off: i16) -> Insn {
        raw(class::JMP | jop | field::X, dst, src, off, 0)
    }
    pub const fn jmp32_imm(jop: u8, dst: u8, imm: i32, off: i16) -> Insn {
        raw(class::JMP32 | jop | field::K, dst, 0, off, imm)
    }
    pub const fn call_helper(id: i32) -> Insn {
        raw(code::CALL, 0, 0, 0, id)
    }
    pub const fn call_rel(imm: i32) -> Insn {
        raw(code::CALL, 0, pseudo::CALL, 0, imm)
    }
    pub const fn call_kfunc(id: i32) -> Insn {
        raw(code::CALL, 0, pseudo::KFUNC_CALL, 0, id)
    }
    pub const fn mov64_imm(dst: u8, imm: i32) -> Insn {
        raw(class::ALU64 | op::MOV | field::K, dst, 0, 0, imm)
    }
    pub const fn mov64_reg(dst: u8, src: u8) -> Insn {
        raw(class::ALU64 | op::MOV | field::X, dst, src, 0, 0)
    }
    pub const fn mov32_imm(dst: u8, imm: i32) -> Insn {
        raw(class::ALU | op::MOV | field::K, dst, 0, 0, imm)
    }
    pub const fn alu64_imm(aop: u8, dst: u8, imm: i32) -> Insn {
        raw(class::ALU64 | aop | field::K, dst, 0, 0, imm)
    }
    pub const fn alu32_imm(aop: u8, dst: u8, imm: i32) -> Insn {
        raw(class::ALU | aop | field::K, dst, 0, 0, imm)
    }
    /// `BPF_ZEXT_REG`: `mov32 rX, rX` with `imm = 1`.
    pub const fn zext_reg(dst: u8) -> Insn {
        raw(class::ALU | op::MOV | field::X, dst, dst, 0, 1)
    }
    pub const fn ldx_mem(size: u8, dst: u8, src: u8, off: i16) -> Insn {
        raw(class::LDX | size | field::MEM, dst, src, off, 0)
    }
    pub const fn stx_mem(size: u8, dst: u8, src: u8, off: i16) -> Insn {
        raw(class::STX | size | field::MEM, dst, src, off, 0)
    }
    pub const fn st_mem(size: u8, dst: u8, off: i16, imm: i32) -> Insn {
        raw(class::ST | size | field::MEM, dst, 0, off, imm)
    }
    /// Both halves of `ld_imm64 dst, imm64` with the given pseudo `src`.
    pub const fn ld_imm64(dst: u8, src: u8, imm: u64) -> [Insn; 2] {
        [raw(code::LD_IMM64, dst, src, 0, imm as u32 as i32), raw(0, 0, 0, 0, (imm >> 32) as u32 as i32)]
    }
}

#[cfg(test)]
mod tests {
    use super::build::*;
    use super::*;

    #[test]
    fn encode_decode_roundtrip_and_nibbles() {
        let i = Insn::new(0xbf, 3, 10, -2, 0x1234_5678);
        let b = i.encode();
        assert_eq!(b, [0xbf, 0xa3, 0xfe, 0xff, 0x78, 0x56, 0x34, 0x12]);
        assert_eq!(Insn::decode(b), i);
    }

    #[test]
    fn branch_field_special_cases() {
        assert_eq!(gotol(5).branch_field(), Some(BranchField::Imm32));
        assert_eq!(ja(5).branch_field(), Some(BranchField::Off16));
        assert_eq!(may_goto(1).branch_field(), Some(BranchField::Off16));
        assert_eq!(call_rel(3).branch_field(), Some(BranchField::Imm32));
        assert_eq!(call_helper(3).branch_field(), None);
        assert_eq!(call_kfunc(3).branch_field(), None);
        assert_eq!(exit().branch_field(), None);
        assert_eq!(ld_imm64(1, pseudo::FUNC, 4)[0].branch_field(), Some(BranchField::Imm32));
        assert_eq!(ld_imm64(1, 0, 4)[0].branch_field(), None);
        // JMP32|EXIT is skipped like JMP|EXIT; JMP32|CALL with src 1 takes imm.
        assert_eq!(raw(0x96, 0, 0, 0, 0).branch_field(), None);
        assert_eq!(raw(0x86, 0, 1, 0, 7).branch_field(), Some(BranchField::Imm32));
        // adjust_jmp_off skips every call and pseudo funcs.
        assert_eq!(call_rel(3).jmp_off_field(), None);
        assert_eq!(ld_imm64(1, pseudo::FUNC, 4)[0].jmp_off_field(), None);
        assert_eq!(gotol(1).jmp_off_field(), Some(BranchField::Imm32));
    }

    #[test]
    fn has_def32_table() {
        assert!(mov32_imm(1, 0).has_def32());
        assert!(!mov64_imm(1, 0).has_def32());
        assert!(raw(class::ALU64 | op::END, 1, 0, 0, 16).has_def32());
        assert!(!raw(class::ALU64 | op::END, 1, 0, 0, 64).has_def32());
        assert!(!raw(class::ALU | op::END, 1, 0, 0, 64).has_def32());
        assert!(raw(class::ALU | op::END, 1, 0, 0, 32).has_def32());
        assert!(ldx_mem(field::W, 1, 2, 0).has_def32());
        assert!(!ldx_mem(field::DW, 1, 2, 0).has_def32());
        assert!(!raw(class::LDX | field::W | field::MEMSX, 1, 2, 0, 0).has_def32());
        assert!(raw(class::LDX | field::W | field::PROBE_MEMSX, 1, 2, 0, 0).has_def32());
        let cmpxchg = raw(class::STX | field::W | field::ATOMIC, 1, 2, 0, atomic::CMPXCHG);
        assert!(cmpxchg.has_def32());
        let add = raw(class::STX | field::W | field::ATOMIC, 1, 2, 0, 0);
        assert!(!add.has_def32());
        let fetch_dw = raw(class::STX | field::DW | field::ATOMIC, 1, 2, 0, atomic::XCHG);
        assert!(!fetch_dw.has_def32());
        assert!(!ld_imm64(1, 0, 0)[0].has_def32());
        assert!(!ld_imm64(1, 0, 0)[1].has_def32());
        assert!(raw(class::LD | field::ABS | field::W, 0, 0, 0, 4).has_def32());
        assert!(!st_mem(field::W, 1, 0, 0).has_def32());
        assert!(!ja(0).has_def32());
    }
}
