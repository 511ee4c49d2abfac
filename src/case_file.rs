//! The `.case` text format (version 1): the decoded case, one instruction per
//! line with its raw bytes and disassembly, every metadata table, the ops and
//! optionally the expected outcome. It survives generator changes because it
//! stores what the generator made, not the bytes it was made from.
//!
//! ```text
//! patch-equiv-case 1
//! name jump-to-patched-slot
//! note free text, any number of lines
//! program
//! insns 3
//!   0  05 00 01 00 00 00 00 00  aux 0 1 0 1  ; goto pc+1
//!   ...
//! subprogs 1 hidden 0        ; subprog_cnt, then cnt + 1 lines "start linfo_idx"
//! linfo 1                    ; then lines "insn_off file_name_off line_off line_col"
//! func_info none | func_info N (lines "insn_off type_id")
//! func_info_aux N            ; then N values on one line
//! pokes N                    ; then N values on one line
//! insn_arrays M              ; then M lines of entries ("deleted" = INSN_DELETED)
//! end
//! ops N
//!   patch OFF LEN            ; then LEN insn lines
//!   remove OFF CNT | set OFF <8 bytes> | hidden LEN (+ LEN lines)
//!   adjust_jmp_off TGT DELTA | read IDX
//! expect none | expect fail OP ERRNO | expect ok (then a program block)
//! ```
//! `;` starts a comment; blank lines and lines starting with `#` are ignored.

use crate::case::{Case, Expect};
use crate::disasm::disasm;
use crate::insn::Insn;
use crate::op::Op;
use crate::program::{Aux, FuncInfo, LineInfo, Program, Subprog, INSN_DELETED, MAX_INSNS, MAX_SUBPROGS};
use crate::vectors::InputError;
use std::fmt::Write;

pub const MAGIC: &str = "patch-equiv-case";
pub const VERSION: u32 = 1;
/// Most ops a case file may declare.
pub const MAX_OPS: usize = 1_000_000;
/// Most entries of any metadata table a case file may declare.
pub const MAX_TABLE: usize = 4 * MAX_INSNS;

fn bytes(i: &Insn) -> String {
    i.encode().iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

fn insn_lines(out: &mut String, insns: &[Insn], aux: Option<&[Aux]>, indent: &str) {
    for (k, i) in insns.iter().enumerate() {
        let next = insns.get(k + 1);
        let prev_ld = k > 0 && insns[k - 1].is_ld_imm64();
        let text = if prev_ld { "(ld_imm64 hi)".to_string() } else { disasm(i, next) };
        match aux.and_then(|a| a.get(k)) {
            Some(a) => {
                let _ = writeln!(
                    out,
                    "{indent}{k:>4}  {}  aux {} {} {} {}  ; {text}",
                    bytes(i),
                    a.orig_idx,
                    a.seen,
                    a.zext_dst as u8,
                    a.token
                );
            }
            None => {
                let _ = writeln!(out, "{indent}{k:>4}  {}  ; {text}", bytes(i));
            }
        }
    }
}

fn program_text(out: &mut String, p: &Program) {
    let _ = writeln!(out, "program");
    let _ = writeln!(out, "insns {}", p.insns.len());
    insn_lines(out, &p.insns, Some(&p.aux), "  ");
    let _ = writeln!(out, "subprogs {} hidden {}", p.subprog_cnt(), p.hidden_subprog_cnt);
    for (k, s) in p.subprogs.iter().enumerate() {
        let what = if k + 1 == p.subprogs.len() { "fake exit".to_string() } else { format!("subprog {k}") };
        let _ = writeln!(out, "  {} {}  ; {what}", s.start, s.linfo_idx);
    }
    let _ = writeln!(out, "linfo {}", p.linfo.len());
    for l in &p.linfo {
        let _ = writeln!(out, "  {} {} {} {}", l.insn_off, l.file_name_off, l.line_off, l.line_col);
    }
    match &p.func_info {
        None => {
            let _ = writeln!(out, "func_info none");
        }
        Some(fi) => {
            let _ = writeln!(out, "func_info {}", fi.len());
            for f in fi {
                let _ = writeln!(out, "  {} {}", f.insn_off, f.type_id);
            }
        }
    }
    let join = |v: &[u32]| {
        v.iter()
            .map(|x| if *x == INSN_DELETED { "deleted".into() } else { x.to_string() })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let _ = writeln!(out, "func_info_aux {}\n  {}", p.func_info_aux.len(), join(&p.func_info_aux));
    let _ = writeln!(out, "pokes {}\n  {}", p.pokes.len(), join(&p.pokes));
    let _ = writeln!(out, "insn_arrays {}", p.insn_arrays.len());
    for m in &p.insn_arrays {
        let _ = writeln!(out, "  {} {}", m.len(), join(m));
    }
    let _ = writeln!(out, "end");
}

/// One op as the header line of its block.
pub fn op_line(op: &Op) -> String {
    match op {
        Op::Patch { off, insns } => format!("patch {off} {}", insns.len()),
        Op::Remove { off, cnt } => format!("remove {off} {cnt}"),
        Op::Set { off, insn } => format!("set {off} {}  ; {}", bytes(insn), disasm(insn, None)),
        Op::HiddenSubprog { insns } => format!("hidden {}", insns.len()),
        Op::AdjustJmpOff { tgt, delta } => format!("adjust_jmp_off {tgt} {delta}"),
        Op::Read { idx } => format!("read {idx}"),
    }
}

/// The whole case as text.
pub fn to_text(case: &Case) -> String {
    let mut out = format!("{MAGIC} {VERSION}\n");
    if !case.name.is_empty() {
        let _ = writeln!(out, "name {}", case.name);
    }
    if case.ignore_tokens {
        let _ = writeln!(out, "ignore_tokens");
    }
    program_text(&mut out, &case.prog);
    let _ = writeln!(out, "ops {}", case.ops.len());
    for op in &case.ops {
        let _ = writeln!(out, "  {}", op_line(op));
        if let Op::Patch { insns, .. } | Op::HiddenSubprog { insns } = op {
            insn_lines(&mut out, insns, None, "    ");
        }
    }
    match &case.expect {
        None => out += "expect none\n",
        Some(Expect::Fail { op, errno }) => {
            let _ = writeln!(out, "expect fail {op} {errno}");
        }
        Some(Expect::Ok(p)) => {
            out += "expect ok\n";
            program_text(&mut out, p);
        }
    }
    out
}

/// Line-oriented reader with the position for errors.
struct Reader<'a> {
    file: &'a str,
    lines: Vec<(usize, Vec<&'a str>)>,
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(file: &'a str, text: &'a str) -> Self {
        let lines = text
            .lines()
            .enumerate()
            .filter_map(|(n, l)| {
                let l = l.split(';').next().unwrap_or("").trim();
                if l.is_empty() || l.starts_with('#') {
                    None
                } else {
                    Some((n + 1, l.split_whitespace().collect()))
                }
            })
            .collect();
        Reader { file, lines, at: 0 }
    }

    fn err(&self, msg: impl Into<String>) -> InputError {
        let line = self.lines.get(self.at.min(self.lines.len().saturating_sub(1))).map_or(0, |l| l.0);
        InputError { file: self.file.into(), line, msg: msg.into() }
    }

    fn next(&mut self, what: &str) -> Result<Vec<&'a str>, InputError> {
        match self.lines.get(self.at) {
            Some((_, t)) => {
                self.at += 1;
                Ok(t.clone())
            }
            None => {
                self.at = self.lines.len();
                Err(InputError {
                    file: self.file.into(),
                    line: self.lines.last().map_or(0, |l| l.0),
                    msg: format!("unexpected end of file, expected {what}"),
                })
            }
        }
    }

    fn back(&mut self) {
        self.at -= 1;
    }

    /// The next line, which must start with `key`; its other tokens.
    fn keyed(&mut self, key: &str) -> Result<Vec<&'a str>, InputError> {
        let t = self.next(key)?;
        if t.first() != Some(&key) {
            self.back();
            return Err(self.err(format!("expected \"{key}\", found \"{}\"", t.join(" "))));
        }
        Ok(t[1..].to_vec())
    }

    fn num<T: std::str::FromStr>(&self, tok: Option<&&str>, what: &str) -> Result<T, InputError> {
        let t = tok.ok_or_else(|| self.err(format!("missing {what}")))?;
        t.parse::<T>().map_err(|_| self.err(format!("{what}: \"{t}\" is not a valid number")))
    }

    /// A declared count, refused when over `max` before anything is allocated.
    fn count(&self, tok: Option<&&str>, what: &str, max: usize) -> Result<usize, InputError> {
        let n: u64 = self.num(tok, what)?;
        if n > max as u64 {
            return Err(self.err(format!("{what} {n} exceeds the limit {max}")));
        }
        Ok(n as usize)
    }

    /// `key N` with N checked against `max`.
    fn keyed_count(&mut self, key: &str, what: &str, max: usize) -> Result<usize, InputError> {
        let t = self.keyed(key)?;
        self.count(t.first(), what, max)
    }

    fn value(&self, tok: &str, what: &str) -> Result<u32, InputError> {
        if tok == "deleted" {
            return Ok(INSN_DELETED);
        }
        tok.parse::<u32>().map_err(|_| self.err(format!("{what}: \"{tok}\" is not a u32")))
    }

    /// `k  b0 .. b7` with optional `aux o s z t`.
    fn insn_line(&mut self, k: usize, with_aux: bool) -> Result<(Insn, Option<Aux>), InputError> {
        let t = self.next("an instruction line")?;
        if t.len() < 9 {
            self.back();
            return Err(self.err(format!("instruction {k}: expected an index and 8 hex bytes")));
        }
        let idx: usize = self.num(t.first(), "instruction index")?;
        if idx != k {
            self.back();
            return Err(self.err(format!("instruction index {idx}, expected {k}")));
        }
        let mut b = [0u8; 8];
        for (j, tok) in t[1..9].iter().enumerate() {
            b[j] = u8::from_str_radix(tok, 16)
                .map_err(|_| self.err(format!("instruction {k}: byte \"{tok}\" is not hex")))?;
        }
        let insn = Insn::decode(b);
        let aux = if with_aux {
            if t.get(9) != Some(&"aux") || t.len() != 14 {
                self.back();
                return Err(self.err(format!("instruction {k}: expected \"aux orig_idx seen zext token\"")));
            }
            let z: u8 = self.num(t.get(12), "zext_dst")?;
            if z > 1 {
                return Err(self.err(format!("instruction {k}: zext_dst must be 0 or 1")));
            }
            Some(Aux {
                orig_idx: self.num(t.get(10), "orig_idx")?,
                seen: self.num(t.get(11), "seen")?,
                zext_dst: z == 1,
                token: self.num(t.get(13), "token")?,
            })
        } else {
            if t.len() != 9 {
                self.back();
                return Err(self.err(format!("instruction {k}: unexpected \"{}\"", t[9..].join(" "))));
            }
            None
        };
        Ok((insn, aux))
    }

    fn values_line(&mut self, n: usize, what: &str) -> Result<Vec<u32>, InputError> {
        let t = if n == 0 {
            // An empty table may omit its (empty) value line.
            match self.lines.get(self.at) {
                Some((_, t)) if t.iter().all(|x| x.parse::<u32>().is_ok() || *x == "deleted") && !t.is_empty() => {
                    self.next(what)?
                }
                _ => Vec::new(),
            }
        } else {
            self.next(what)?
        };
        if t.len() != n {
            return Err(self.err(format!("{what}: declared {n} values, found {}", t.len())));
        }
        t.iter().map(|x| self.value(x, what)).collect()
    }

    fn program(&mut self) -> Result<Program, InputError> {
        self.keyed("program")?;
        let n = self.keyed_count("insns", "insns", MAX_INSNS)?;
        let mut insns = Vec::with_capacity(n);
        let mut aux = Vec::with_capacity(n);
        for k in 0..n {
            let (i, a) = self.insn_line(k, true)?;
            insns.push(i);
            aux.push(a.expect("with aux"));
        }
        let t = self.keyed("subprogs")?;
        let cnt = self.count(t.first(), "subprogs", MAX_SUBPROGS + 1)?;
        if t.get(1) != Some(&"hidden") {
            return Err(self.err("expected \"subprogs N hidden H\""));
        }
        let hidden: u32 = self.num(t.get(2), "hidden")?;
        let mut subprogs = Vec::with_capacity(cnt + 1);
        for k in 0..=cnt {
            let t = self.next("a subprog line")?;
            if t.len() != 2 {
                return Err(self.err(format!("subprog {k}: expected \"start linfo_idx\"")));
            }
            subprogs
                .push(Subprog { start: self.num(t.first(), "start")?, linfo_idx: self.num(t.get(1), "linfo_idx")? });
        }
        let nl = self.keyed_count("linfo", "linfo", MAX_TABLE)?;
        let mut linfo = Vec::with_capacity(nl);
        for _ in 0..nl {
            let t = self.next("a line-info record")?;
            if t.len() != 4 {
                return Err(self.err("line-info record: expected 4 numbers"));
            }
            linfo.push(LineInfo {
                insn_off: self.num(t.first(), "insn_off")?,
                file_name_off: self.num(t.get(1), "file_name_off")?,
                line_off: self.num(t.get(2), "line_off")?,
                line_col: self.num(t.get(3), "line_col")?,
            });
        }
        let t = self.keyed("func_info")?;
        let func_info = if t.first() == Some(&"none") {
            None
        } else {
            let nf = self.count(t.first(), "func_info", MAX_SUBPROGS + 1)?;
            let mut v = Vec::with_capacity(nf);
            for _ in 0..nf {
                let t = self.next("a func_info record")?;
                if t.len() != 2 {
                    return Err(self.err("func_info record: expected \"insn_off type_id\""));
                }
                v.push(FuncInfo {
                    insn_off: self.num(t.first(), "insn_off")?,
                    type_id: self.num(t.get(1), "type_id")?,
                });
            }
            Some(v)
        };
        let nfa = self.keyed_count("func_info_aux", "func_info_aux", MAX_SUBPROGS + 1)?;
        let func_info_aux = self.values_line(nfa, "func_info_aux")?;
        let np = self.keyed_count("pokes", "pokes", MAX_TABLE)?;
        let pokes = self.values_line(np, "pokes")?;
        let nm = self.keyed_count("insn_arrays", "insn_arrays", 4096)?;
        let mut insn_arrays = Vec::with_capacity(nm);
        for m in 0..nm {
            let t = self.next("an insn-array line")?;
            let n = self.count(t.first(), &format!("insn_arrays[{m}] entries"), MAX_TABLE)?;
            if t.len() != n + 1 {
                return Err(self.err(format!("insn_arrays[{m}]: declared {n} entries, found {}", t.len() - 1)));
            }
            insn_arrays.push(t[1..].iter().map(|x| self.value(x, "insn-array entry")).collect::<Result<_, _>>()?);
        }
        self.keyed("end")?;
        Ok(Program {
            insns,
            aux,
            subprogs,
            hidden_subprog_cnt: hidden,
            linfo,
            func_info,
            func_info_aux,
            pokes,
            insn_arrays,
        })
    }

    fn insn_block(&mut self, n: usize) -> Result<Vec<Insn>, InputError> {
        (0..n).map(|k| self.insn_line(k, false).map(|x| x.0)).collect()
    }

    fn op(&mut self) -> Result<Op, InputError> {
        let t = self.next("an op")?;
        let args = |n: usize| -> Result<(), InputError> {
            if t.len() != n + 1 {
                Err(self.err(format!("op \"{}\" takes {n} arguments", t[0])))
            } else {
                Ok(())
            }
        };
        Ok(match t[0] {
            "patch" => {
                args(2)?;
                let off = self.num(t.get(1), "patch off")?;
                let n = self.count(t.get(2), "patch length", MAX_INSNS)?;
                Op::Patch { off, insns: self.insn_block(n)? }
            }
            "remove" => {
                args(2)?;
                Op::Remove { off: self.num(t.get(1), "remove off")?, cnt: self.num(t.get(2), "remove cnt")? }
            }
            "set" => {
                if t.len() != 10 {
                    return Err(self.err("op \"set\" takes an offset and 8 hex bytes"));
                }
                let mut b = [0u8; 8];
                for (j, tok) in t[2..10].iter().enumerate() {
                    b[j] =
                        u8::from_str_radix(tok, 16).map_err(|_| self.err(format!("set: byte \"{tok}\" is not hex")))?;
                }
                Op::Set { off: self.num(t.get(1), "set off")?, insn: Insn::decode(b) }
            }
            "hidden" => {
                args(1)?;
                let n = self.count(t.get(1), "hidden length", MAX_INSNS)?;
                Op::HiddenSubprog { insns: self.insn_block(n)? }
            }
            "adjust_jmp_off" => {
                args(2)?;
                Op::AdjustJmpOff { tgt: self.num(t.get(1), "tgt")?, delta: self.num(t.get(2), "delta")? }
            }
            "read" => {
                args(1)?;
                Op::Read { idx: self.num(t.get(1), "read idx")? }
            }
            other => {
                self.back();
                return Err(self.err(format!("unknown op \"{other}\"")));
            }
        })
    }
}

/// Parse a case file.
pub fn parse(file: &str, text: &str) -> Result<Case, InputError> {
    let mut r = Reader::new(file, text);
    let head = r.next("the header")?;
    if head.first() != Some(&MAGIC) {
        r.back();
        return Err(r.err(format!("not a case file: expected \"{MAGIC} {VERSION}\"")));
    }
    let v: u32 = r.num(head.get(1), "version")?;
    if v != VERSION {
        return Err(r.err(format!("unsupported case file version {v} (this tool reads version {VERSION})")));
    }
    let mut name = String::new();
    let mut ignore_tokens = false;
    loop {
        let t = r.next("program")?;
        match t[0] {
            "name" => name = t[1..].join(" "),
            "note" => {}
            "ignore_tokens" => ignore_tokens = true,
            _ => {
                r.back();
                break;
            }
        }
    }
    let prog = r.program()?;
    let n = r.keyed_count("ops", "ops", MAX_OPS)?;
    let mut ops = Vec::with_capacity(n.min(4096));
    for _ in 0..n {
        ops.push(r.op()?);
    }
    let t = r.keyed("expect")?;
    let expect = match t.first() {
        Some(&"none") => None,
        Some(&"fail") => Some(Expect::Fail { op: r.num(t.get(1), "failed op")?, errno: r.num(t.get(2), "errno")? }),
        Some(&"ok") => Some(Expect::Ok(r.program()?)),
        _ => return Err(r.err("expected \"expect none\", \"expect ok\" or \"expect fail OP ERRNO\"")),
    };
    if r.at < r.lines.len() {
        return Err(r.err("trailing content after the expectation"));
    }
    if name.is_empty() {
        name = std::path::Path::new(file).file_stem().and_then(|s| s.to_str()).unwrap_or("").to_string();
    }
    Ok(Case { name, prog, ops, expect, ignore_tokens })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::build::*;

    #[test]
    fn roundtrip() {
        let mut p = Program::from_insns(vec![
            ja(1),
            ld_imm64(1, 0, 0x1_0000_0002)[0],
            ld_imm64(1, 0, 0x1_0000_0002)[1],
            exit(),
        ]);
        p.linfo = vec![LineInfo { insn_off: 0, file_name_off: 1, line_off: 2, line_col: 3 }];
        p.func_info = Some(vec![FuncInfo { insn_off: 0, type_id: 9 }]);
        p.pokes = vec![3];
        p.insn_arrays = vec![vec![0, INSN_DELETED], vec![]];
        let case = Case {
            name: "rt".into(),
            prog: p.clone(),
            ops: vec![
                Op::Patch { off: 0, insns: vec![ja(2), exit()] },
                Op::Remove { off: 1, cnt: 1 },
                Op::Set { off: 0, insn: ja(-1) },
                Op::Read { idx: 2 },
                Op::AdjustJmpOff { tgt: 0, delta: 1 },
                Op::HiddenSubprog { insns: vec![exit()] },
            ],
            expect: Some(Expect::Ok(p)),
            ignore_tokens: false,
        };
        let text = to_text(&case);
        assert_eq!(parse("x.case", &text).unwrap(), case);
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("x.case", "patch-equiv-case 2\n").unwrap_err();
        assert!(e.msg.contains("version 2"), "{e}");
        let e = parse("x.case", "patch-equiv-case 1\nprogram\ninsns 4000000000\n").unwrap_err();
        assert!(e.msg.contains("exceeds the limit"), "{e}");
        assert_eq!(e.line, 3);
    }
}
