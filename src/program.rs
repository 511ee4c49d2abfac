//! A BPF program as the verifier sees it during its rewrite passes: the
//! instructions plus every index-carrying table the kernel keeps in step.

use crate::insn::{BranchField, Insn};
use std::fmt;

/// `INSN_DELETED`: an insn-array entry whose instruction was removed.
pub const INSN_DELETED: u32 = u32::MAX;
/// `BPF_COMPLEXITY_LIMIT_INSNS`: the privileged load-time length limit.
pub const MAX_INSNS: usize = 1_000_000;
/// `BPF_MAX_SUBPROGS`.
pub const MAX_SUBPROGS: usize = 256;

/// The parts of `struct bpf_insn_aux_data` that patching moves.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Hash)]
pub struct Aux {
    pub orig_idx: u32,
    /// The pass number the slot was seen in (0 = never).
    pub seen: u32,
    pub zext_dst: bool,
    /// Opaque identity of every other aux payload: moves with the entry, 0 for
    /// inserted slots.
    pub token: u64,
}

/// One `struct bpf_subprog_info` entry, reduced to what patching touches.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Hash)]
pub struct Subprog {
    pub start: u32,
    pub linfo_idx: u32,
}

/// One `struct bpf_line_info` record.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Hash)]
pub struct LineInfo {
    pub insn_off: u32,
    pub file_name_off: u32,
    pub line_off: u32,
    pub line_col: u32,
}

/// One `struct bpf_func_info` record.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Hash)]
pub struct FuncInfo {
    pub insn_off: u32,
    pub type_id: u32,
}

/// Instructions plus metadata, in the kernel's current index space.
#[derive(Clone, PartialEq, Eq, Debug, Default, Hash)]
pub struct Program {
    pub insns: Vec<Insn>,
    /// One entry per instruction.
    pub aux: Vec<Aux>,
    /// `subprog_cnt` entries followed by the fake exit entry (`start == len`).
    pub subprogs: Vec<Subprog>,
    pub hidden_subprog_cnt: u32,
    pub linfo: Vec<LineInfo>,
    /// `None`: the program has no BTF func_info.
    pub func_info: Option<Vec<FuncInfo>>,
    /// `func_info_aux` tokens, indexed by subprog number; never moved (Q12).
    pub func_info_aux: Vec<u32>,
    /// Poke descriptors' `insn_idx`.
    pub pokes: Vec<u32>,
    /// One list of `xlated_off` per instruction-array map.
    pub insn_arrays: Vec<Vec<u32>>,
}

/// Every table of a program, borrowed: how a patcher that keeps its state
/// as tables (the array model) shows it without a copy (`Patcher::tables`),
/// and what `diff` compares.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Tables<'a> {
    pub insns: &'a [Insn],
    pub aux: &'a [Aux],
    /// `subprog_cnt` entries followed by the fake exit entry.
    pub subprogs: &'a [Subprog],
    pub hidden_subprog_cnt: u32,
    pub linfo: &'a [LineInfo],
    pub func_info: Option<&'a [FuncInfo]>,
    pub func_info_aux: &'a [u32],
    pub pokes: &'a [u32],
    pub insn_arrays: &'a [Vec<u32>],
}

impl Tables<'_> {
    /// An owned copy.
    pub fn to_program(&self) -> Program {
        Program {
            insns: self.insns.to_vec(),
            aux: self.aux.to_vec(),
            subprogs: self.subprogs.to_vec(),
            hidden_subprog_cnt: self.hidden_subprog_cnt,
            linfo: self.linfo.to_vec(),
            func_info: self.func_info.map(<[FuncInfo]>::to_vec),
            func_info_aux: self.func_info_aux.to_vec(),
            pokes: self.pokes.to_vec(),
            insn_arrays: self.insn_arrays.to_vec(),
        }
    }
}

/// The load-time rule a program breaks (semantics doc §7).
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Rule {
    Length,
    TooManySubprogs,
    AuxCount,
    UnknownOpcode,
    LdImm64Truncated,
    LdImm64SecondHalf,
    RegisterOutOfRange,
    TargetOutOfProgram,
    TargetInLdImm64Half,
    SubprogTable,
    FakeExit,
    SubprogTerminator,
    JumpOutOfSubprog,
    LineInfoOrder,
    LineInfoOnEmptySlot,
    LineInfoMissing,
    LineInfoIdx,
    FuncInfoCount,
    InsnArrayEntry,
    PokeOutOfRange,
}

/// A broken rule with the instruction (or record) index it concerns.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Invalid {
    pub rule: Rule,
    pub at: Option<usize>,
    pub detail: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some(i) => write!(f, "invalid program: {:?} at {}: {}", self.rule, i, self.detail),
            None => write!(f, "invalid program: {:?}: {}", self.rule, self.detail),
        }
    }
}

impl std::error::Error for Invalid {}

fn bad(rule: Rule, at: Option<usize>, detail: impl Into<String>) -> Invalid {
    Invalid { rule, at, detail: detail.into() }
}

impl Program {
    /// A program with fresh aux (`orig_idx = i`, `seen = 1`, token `i + 1`),
    /// subprogs derived from its calls and no other metadata.
    pub fn from_insns(insns: Vec<Insn>) -> Program {
        let aux = insns
            .iter()
            .enumerate()
            .map(|(i, insn)| Aux { orig_idx: i as u32, seen: 1, zext_dst: insn.has_def32(), token: i as u64 + 1 })
            .collect();
        let mut starts = subprog_starts(&insns);
        starts.push(insns.len() as u32);
        let subprogs = starts.into_iter().map(|start| Subprog { start, linfo_idx: 0 }).collect();
        Program { insns, aux, subprogs, ..Program::default() }
    }

    pub fn len(&self) -> usize {
        self.insns.len()
    }

    /// Every table, borrowed.
    pub fn tables(&self) -> Tables<'_> {
        Tables {
            insns: &self.insns,
            aux: &self.aux,
            subprogs: &self.subprogs,
            hidden_subprog_cnt: self.hidden_subprog_cnt,
            linfo: &self.linfo,
            func_info: self.func_info.as_deref(),
            func_info_aux: &self.func_info_aux,
            pokes: &self.pokes,
            insn_arrays: &self.insn_arrays,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }

    /// `subprog_cnt` (the fake exit entry excluded).
    pub fn subprog_cnt(&self) -> usize {
        self.subprogs.len().saturating_sub(1)
    }

    /// True for slots that are the second half of an `ld_imm64` pair.
    pub fn second_halves(insns: &[Insn]) -> Vec<bool> {
        let mut half = vec![false; insns.len()];
        let mut i = 0;
        while i < insns.len() {
            if insns[i].is_ld_imm64() && i + 1 < insns.len() {
                half[i + 1] = true;
                i += 2;
            } else {
                i += 1;
            }
        }
        half
    }

    /// The load-time layout rules of semantics doc §7 that patching must keep.
    pub fn validate(&self) -> Result<(), Invalid> {
        let len = self.insns.len();
        if len == 0 || len > MAX_INSNS {
            return Err(bad(Rule::Length, None, format!("{len} insns, must be 1..={MAX_INSNS}")));
        }
        if self.aux.len() != len {
            return Err(bad(Rule::AuxCount, None, format!("{} aux for {len} insns", self.aux.len())));
        }
        let half = self.validate_encoding()?;
        self.validate_targets(&half)?;
        self.validate_subprogs(&half)?;
        self.validate_linfo()?;
        self.validate_tables()
    }

    fn validate_encoding(&self) -> Result<Vec<bool>, Invalid> {
        let insns = &self.insns;
        let half = Self::second_halves(insns);
        for (i, insn) in insns.iter().enumerate() {
            if insn.dst > 15 || insn.src > 15 {
                return Err(bad(Rule::RegisterOutOfRange, Some(i), "register above 15"));
            }
            if half[i] {
                if insn.code != 0 || insn.dst != 0 || insn.src != 0 || insn.off != 0 {
                    return Err(bad(
                        Rule::LdImm64SecondHalf,
                        Some(i),
                        "second half must have code, dst, src and off 0",
                    ));
                }
                continue;
            }
            if insn.is_ld_imm64() {
                if i + 1 == insns.len() {
                    return Err(bad(Rule::LdImm64Truncated, Some(i), "ld_imm64 in the last slot"));
                }
                if insn.src > 6 {
                    return Err(bad(Rule::UnknownOpcode, Some(i), format!("ld_imm64 src_reg {}", insn.src)));
                }
            } else if !opcode_in_insntable(insn) {
                return Err(bad(Rule::UnknownOpcode, Some(i), format!("code {:#04x}", insn.code)));
            }
        }
        Ok(half)
    }

    fn validate_targets(&self, half: &[bool]) -> Result<(), Invalid> {
        let len = self.insns.len() as i64;
        for (i, insn) in self.insns.iter().enumerate() {
            if half[i] {
                continue;
            }
            if let Some(t) = insn.target(i) {
                if t < 0 || t >= len {
                    return Err(bad(Rule::TargetOutOfProgram, Some(i), format!("target {t} outside [0, {len})")));
                }
                if half[t as usize] {
                    return Err(bad(
                        Rule::TargetInLdImm64Half,
                        Some(i),
                        format!("target {t} is an ld_imm64 second half"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn validate_subprogs(&self, half: &[bool]) -> Result<(), Invalid> {
        let len = self.insns.len();
        let cnt = self.subprog_cnt();
        if self.subprogs.is_empty() {
            return Err(bad(Rule::FakeExit, None, "subprog table has no fake exit entry"));
        }
        if cnt > MAX_SUBPROGS + self.hidden_subprog_cnt as usize || self.hidden_subprog_cnt > 1 {
            return Err(bad(Rule::TooManySubprogs, None, format!("{cnt} subprogs")));
        }
        if self.subprogs[cnt].start as usize != len {
            return Err(bad(
                Rule::FakeExit,
                Some(cnt),
                format!("fake exit start {} != len {len}", self.subprogs[cnt].start),
            ));
        }
        // Starts are 0, strictly increasing, and include every call and pseudo
        // func target (the kernel vectors also carry starts nothing calls).
        if self.subprogs[0].start != 0 {
            return Err(bad(Rule::SubprogTable, Some(0), "subprog 0 must start at 0"));
        }
        for target in subprog_starts(&self.insns) {
            if !self.subprogs[..cnt].iter().any(|s| s.start == target) {
                return Err(bad(
                    Rule::SubprogTable,
                    Some(target as usize),
                    format!("call or pseudo func target {target} is not a subprog start"),
                ));
            }
        }
        for k in 0..cnt {
            let (s, e) = (self.subprogs[k].start as usize, self.subprogs[k + 1].start as usize);
            if s >= e {
                return Err(bad(Rule::SubprogTable, Some(k), format!("subprog {k} is empty or out of order")));
            }
            if half[s] {
                return Err(bad(Rule::TargetInLdImm64Half, Some(s), format!("subprog {k} starts inside an ld_imm64")));
            }
            if !self.insns[e - 1].is_subprog_terminator() {
                return Err(bad(
                    Rule::SubprogTerminator,
                    Some(e - 1),
                    format!("subprog {k} ends in code {:#04x}", self.insns[e - 1].code),
                ));
            }
            for (i, (insn, &in_pair)) in self.insns.iter().zip(half).enumerate().take(e).skip(s) {
                if in_pair || insn.is_call() || insn.is_exit() || !insn.is_jmp_class() {
                    continue;
                }
                let t = i as i64 + insn.rel(jump_field(insn)) + 1;
                if t < s as i64 || t >= e as i64 {
                    return Err(bad(
                        Rule::JumpOutOfSubprog,
                        Some(i),
                        format!("target {t} outside subprog {k} [{s}, {e})"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn validate_linfo(&self) -> Result<(), Invalid> {
        if self.linfo.is_empty() {
            return Ok(());
        }
        let len = self.insns.len();
        for (r, rec) in self.linfo.iter().enumerate() {
            let o = rec.insn_off as usize;
            if o >= len || (r > 0 && rec.insn_off <= self.linfo[r - 1].insn_off) {
                return Err(bad(Rule::LineInfoOrder, Some(r), format!("record {r} at insn {o}")));
            }
            if self.insns[o].code == 0 {
                return Err(bad(Rule::LineInfoOnEmptySlot, Some(o), format!("record {r} on a code-0 slot")));
            }
        }
        let visible = self.subprog_cnt() - self.hidden_subprog_cnt as usize;
        for k in 0..visible {
            let start = self.subprogs[k].start;
            let Ok(r) = self.linfo.binary_search_by_key(&start, |l| l.insn_off) else {
                return Err(bad(
                    Rule::LineInfoMissing,
                    Some(start as usize),
                    format!("missing bpf_line_info for func#{k}"),
                ));
            };
            if self.subprogs[k].linfo_idx as usize != r {
                return Err(bad(
                    Rule::LineInfoIdx,
                    Some(k),
                    format!("subprog {k} linfo_idx {} != record {r}", self.subprogs[k].linfo_idx),
                ));
            }
        }
        Ok(())
    }

    fn validate_tables(&self) -> Result<(), Invalid> {
        let visible = self.subprog_cnt() - self.hidden_subprog_cnt as usize;
        if let Some(fi) = &self.func_info {
            if fi.len() != visible {
                return Err(bad(
                    Rule::FuncInfoCount,
                    None,
                    format!("{} func_info records for {visible} subprogs", fi.len()),
                ));
            }
        }
        // Pokes may lie past the end after a removal (removal leaves them), but
        // never past the kernel's length limit.
        if let Some(k) = self.pokes.iter().position(|&p| p as usize >= MAX_INSNS) {
            return Err(bad(Rule::PokeOutOfRange, Some(k), format!("poke {k} at {}", self.pokes[k])));
        }
        for (m, map) in self.insn_arrays.iter().enumerate() {
            for (e, &x) in map.iter().enumerate() {
                if x != INSN_DELETED && x as usize >= self.insns.len() {
                    return Err(bad(Rule::InsnArrayEntry, Some(e), format!("insn array {m} entry {e} = {x}")));
                }
            }
        }
        Ok(())
    }
}

/// The field `check_subprogs` reads for the target of a non-call jump.
fn jump_field(insn: &Insn) -> BranchField {
    if insn.is_gotol() {
        BranchField::Imm32
    } else {
        BranchField::Off16
    }
}

/// Subprog starts implied by the code: 0 plus every pseudo call and pseudo
/// func target, sorted and unique (`add_subprog_and_kfunc`).
pub fn subprog_starts(insns: &[Insn]) -> Vec<u32> {
    let mut starts = vec![0u32];
    // Slot by slot, stepping over ld_imm64 second halves as `second_halves`
    // marks them.
    let mut i = 0;
    while i < insns.len() {
        let insn = &insns[i];
        if insn.is_pseudo_call() || insn.is_pseudo_func() {
            let t = i as i64 + insn.imm as i64 + 1;
            if t >= 0 && (t as usize) < insns.len() {
                starts.push(t as u32);
            }
        }
        i += if insn.is_ld_imm64() && i + 1 < insns.len() { 2 } else { 1 };
    }
    starts.sort_unstable();
    starts.dedup();
    starts
}

/// `bpf_opcode_in_insntable` for every class but the `ld_imm64` pair, which the
/// caller checks as a pair.
pub fn opcode_in_insntable(insn: &Insn) -> bool {
    use crate::insn::{class, field, op};
    let c = insn.code;
    match insn.class() {
        class::ALU | class::ALU64 => {
            let o = insn.op();
            if o == op::END {
                return true; // to_le/to_be, and bswap (the vectors use ALU64|END|X too)
            }
            o <= op::END && !(o == op::NEG && insn.is_src_x())
        }
        class::JMP => {
            let o = insn.op();
            match o {
                op::JA => true, // JA|K and gotox JA|X
                op::CALL | op::EXIT | op::JCOND | op::TAIL_CALL => !insn.is_src_x(),
                _ => o <= op::JSLE,
            }
        }
        class::JMP32 => {
            let o = insn.op();
            match o {
                op::JA => !insn.is_src_x(),
                op::CALL | op::EXIT | op::JCOND | op::TAIL_CALL => false,
                _ => o <= op::JSLE,
            }
        }
        class::LD => {
            let m = insn.mode();
            (m == field::ABS || m == field::IND) && insn.size() != field::DW
        }
        class::LDX => {
            let m = insn.mode();
            m == field::MEM || (m == field::MEMSX && insn.size() != field::DW)
        }
        // Kernel-internal forms that appear after rewrites are accepted too:
        // BPF_ST|BPF_NOSPEC (0xc2) and JMP|TAIL_CALL (0xf5).
        class::ST => insn.mode() == field::MEM || c == 0xc2,
        class::STX => {
            let m = insn.mode();
            m == field::MEM || (m == field::ATOMIC) || c == 0
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::build::*;

    /// `subprog_starts` steps over second halves as `second_halves` marks
    /// them: the same starts as filtering by the marks, on random slots
    /// where pseudo calls and funcs also sit in second halves.
    #[test]
    fn subprog_starts_skip_exactly_the_second_halves() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let f = ld_imm64(1, crate::insn::pseudo::FUNC, 0)[0];
        for _ in 0..if cfg!(miri) { 40 } else { 2000 } {
            let n = rng.gen_range(1..24);
            let insns: Vec<Insn> = (0..n)
                .map(|_| match rng.gen_range(0..4) {
                    0 => call_rel(rng.gen_range(-4..8)),
                    1 => Insn { imm: rng.gen_range(-4..8), ..f },
                    2 => ld_imm64(2, 0, 7)[0],
                    _ => mov64_imm(0, 0),
                })
                .collect();
            let half = Program::second_halves(&insns);
            let mut want = vec![0u32];
            for (i, x) in insns.iter().enumerate() {
                let t = i as i64 + x.imm as i64 + 1;
                if !half[i] && (x.is_pseudo_call() || x.is_pseudo_func()) && t >= 0 && (t as usize) < n {
                    want.push(t as u32);
                }
            }
            want.sort_unstable();
            want.dedup();
            assert_eq!(subprog_starts(&insns), want, "{insns:?}");
        }
    }

    fn two_subprogs() -> Program {
        // 0: call pc+2 -> 3; 1: r0 = 0; 2: exit; 3: r0 = 1; 4: exit
        let mut p = Program::from_insns(vec![call_rel(1), mov64_imm(0, 0), exit(), mov64_imm(0, 1), exit()]);
        p.insns[0] = call_rel(2);
        p.subprogs = vec![
            Subprog { start: 0, linfo_idx: 0 },
            Subprog { start: 3, linfo_idx: 1 },
            Subprog { start: 5, linfo_idx: 0 },
        ];
        p.linfo = vec![
            LineInfo { insn_off: 0, line_off: 1, ..Default::default() },
            LineInfo { insn_off: 3, line_off: 2, ..Default::default() },
        ];
        p
    }

    #[test]
    fn valid_program_passes() {
        two_subprogs().validate().unwrap();
    }

    #[test]
    fn each_rule_is_named() {
        let mut p = two_subprogs();
        p.insns[2] = mov64_imm(0, 0);
        assert_eq!(p.validate().unwrap_err().rule, Rule::SubprogTerminator);

        let mut p = two_subprogs();
        p.insns[1] = ja(2);
        let e = p.validate().unwrap_err();
        assert_eq!((e.rule, e.at), (Rule::JumpOutOfSubprog, Some(1)));

        let mut p = two_subprogs();
        p.linfo[1].insn_off = 4;
        assert_eq!(p.validate().unwrap_err().rule, Rule::LineInfoMissing);

        let mut p = two_subprogs();
        p.subprogs[1].linfo_idx = 0;
        assert_eq!(p.validate().unwrap_err().rule, Rule::LineInfoIdx);

        let mut p = two_subprogs();
        p.insns[0] = call_rel(9);
        assert_eq!(p.validate().unwrap_err().rule, Rule::TargetOutOfProgram);

        let mut p = two_subprogs();
        p.subprogs[2].start = 4;
        assert_eq!(p.validate().unwrap_err().rule, Rule::FakeExit);

        let mut p = Program::from_insns(vec![ld_imm64(1, 0, 5)[0], ld_imm64(1, 0, 5)[1], ja(-2), exit()]);
        assert_eq!(p.validate().unwrap_err().rule, Rule::TargetInLdImm64Half);
        p.insns[2] = ja(-3);
        p.validate().unwrap();
        p.insns[1].code = 0x07;
        assert_eq!(p.validate().unwrap_err().rule, Rule::LdImm64SecondHalf);
    }
}
