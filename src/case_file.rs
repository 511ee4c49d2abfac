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
use crate::input::InputError;
use crate::insn::Insn;
use crate::op::Op;
use crate::program::{Aux, FuncInfo, LineInfo, Program, Subprog, INSN_DELETED, MAX_INSNS, MAX_SUBPROGS};
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

/// A comment for instruction `k` (e.g. its source line), printed above it.
pub type Annotate<'a> = &'a dyn Fn(usize) -> Option<String>;

fn insn_lines(out: &mut String, insns: &[Insn], aux: Option<&[Aux]>, indent: &str, note: Annotate) {
    for (k, i) in insns.iter().enumerate() {
        if let Some(n) = note(k) {
            let _ = writeln!(out, "{indent}; {}", n.replace(['\n', '\r'], " "));
        }
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

fn program_text(out: &mut String, p: &Program, note: Annotate) {
    let _ = writeln!(out, "program");
    let _ = writeln!(out, "insns {}", p.insns.len());
    insn_lines(out, &p.insns, Some(&p.aux), "  ", note);
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
    // A table's values on one line; an empty table has no value line.
    let values = |out: &mut String, key: &str, v: &[u32]| {
        let _ = writeln!(out, "{key} {}", v.len());
        if !v.is_empty() {
            let _ = writeln!(out, "  {}", join(v));
        }
    };
    values(out, "func_info_aux", &p.func_info_aux);
    values(out, "pokes", &p.pokes);
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
    to_text_annotated(case, &|_| None)
}

/// The whole case as text, with a comment line above each instruction of the
/// input program that `note` has one for (comments do not change the case).
pub fn to_text_annotated(case: &Case, note: Annotate) -> String {
    let mut out = format!("{MAGIC} {VERSION}\n");
    // One line that reads back as the same name: whitespace runs (newlines
    // included) become one space, and `;` would start a comment.
    let name = case.name.split_whitespace().collect::<Vec<_>>().join(" ").replace(';', ",");
    if !name.is_empty() {
        let _ = writeln!(out, "name {name}");
    }
    // Each note on its own line, read back the same way as the name.
    for note in &case.notes {
        let _ = writeln!(out, "note {}", note.split_whitespace().collect::<Vec<_>>().join(" ").replace(';', ","));
    }
    if case.ignore_tokens {
        let _ = writeln!(out, "ignore_tokens");
    }
    program_text(&mut out, &case.prog, note);
    let _ = writeln!(out, "ops {}", case.ops.len());
    for op in &case.ops {
        let _ = writeln!(out, "  {}", op_line(op));
        if let Op::Patch { insns, .. } | Op::HiddenSubprog { insns } = op {
            insn_lines(&mut out, insns, None, "    ", &|_| None);
        }
    }
    match &case.expect {
        None => out += "expect none\n",
        Some(Expect::Fail { op, errno }) => {
            let _ = writeln!(out, "expect fail {op} {errno}");
        }
        Some(Expect::Ok(p)) => {
            out += "expect ok\n";
            program_text(&mut out, p, &|_| None);
        }
    }
    out
}

/// Line-oriented reader with the position for errors. Lines are taken and
/// split one at a time, so its memory follows what is parsed, not the number
/// of lines in the file.
struct Reader<'a> {
    file: &'a str,
    rest: std::iter::Enumerate<std::str::Lines<'a>>,
    /// The significant line most recently taken: its number and text. Errors
    /// name this line.
    last: Option<(usize, &'a str)>,
    /// Set by `back`: `next` returns `last` again.
    pushed_back: bool,
}

/// A line without its comment and surrounding blanks; `None` when nothing is left.
fn significant(line: &str) -> Option<&str> {
    let l = line.split(';').next().unwrap_or("").trim();
    (!l.is_empty() && !l.starts_with('#')).then_some(l)
}

/// A line's tokens for a message, shortened to a readable length.
fn shown(t: &[&str]) -> String {
    let s = t.join(" ");
    if s.chars().count() <= 60 {
        s
    } else {
        format!("{}…", s.chars().take(60).collect::<String>())
    }
}

fn is_number(tok: Option<&&str>) -> bool {
    tok.is_some_and(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
}

impl<'a> Reader<'a> {
    fn new(file: &'a str, text: &'a str) -> Self {
        Reader { file, rest: text.lines().enumerate(), last: None, pushed_back: false }
    }

    /// An error at the line most recently taken (or pushed back).
    fn err(&self, msg: impl Into<String>) -> InputError {
        InputError { file: self.file.into(), line: self.last.map_or(0, |l| l.0), msg: msg.into() }
    }

    fn next(&mut self, what: &str) -> Result<Vec<&'a str>, InputError> {
        if self.pushed_back {
            self.pushed_back = false;
        } else {
            let found = self.rest.by_ref().find_map(|(n, l)| significant(l).map(|s| (n + 1, s)));
            match found {
                Some(l) => self.last = Some(l),
                None => return Err(self.err(format!("unexpected end of file, expected {what}"))),
            }
        }
        Ok(self.last.map_or_else(Vec::new, |l| l.1.split_whitespace().collect()))
    }

    /// Return the line just taken to the input.
    fn back(&mut self) {
        debug_assert!(self.last.is_some() && !self.pushed_back);
        self.pushed_back = true;
    }

    /// The next line's tokens without taking it.
    fn peek(&mut self) -> Option<Vec<&'a str>> {
        let t = self.next("").ok()?;
        self.back();
        Some(t)
    }

    /// The next line, which must start with `key`; its other tokens.
    fn keyed(&mut self, key: &str) -> Result<Vec<&'a str>, InputError> {
        let t = self.next(&format!("\"{key}\""))?;
        if t.first() != Some(&key) {
            return Err(self.err(format!("expected \"{key}\", found \"{}\"", shown(&t))));
        }
        Ok(t[1..].to_vec())
    }

    fn num<T: std::str::FromStr>(&self, tok: Option<&&str>, what: &str) -> Result<T, InputError> {
        let t = tok.ok_or_else(|| self.err(format!("missing {what}")))?;
        t.parse::<T>().map_err(|_| {
            let ty = std::any::type_name::<T>();
            self.err(format!("{what}: \"{}\" is not a valid {ty}", shown(&[t])))
        })
    }

    /// A declared count, refused when over `max` before anything is allocated.
    fn count(&self, tok: Option<&&str>, what: &str, max: usize) -> Result<usize, InputError> {
        let t = tok.ok_or_else(|| self.err(format!("missing {what} count")))?;
        if !is_number(Some(t)) {
            return Err(self.err(format!("{what}: count \"{}\" is not a non-negative integer", shown(&[t]))));
        }
        match t.parse::<u64>() {
            Ok(n) if n <= max as u64 => Ok(n as usize),
            _ => Err(self.err(format!("{what} {t} exceeds the limit {max}"))),
        }
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
        tok.parse::<u32>().map_err(|_| self.err(format!("{what}: \"{}\" is not a u32 (or \"deleted\")", shown(&[tok]))))
    }

    fn hex_byte(&self, tok: &str, what: &str) -> Result<u8, InputError> {
        if tok.len() != 2 {
            return Err(self.err(format!("{what}: \"{}\" is not a hex byte (two hex digits)", shown(&[tok]))));
        }
        u8::from_str_radix(tok, 16)
            .map_err(|_| self.err(format!("{what}: \"{}\" is not a hex byte (two hex digits)", shown(&[tok]))))
    }

    /// Instruction `k` of a block of `n` (`what`): `k  b0 .. b7`, with
    /// `aux orig_idx seen zext token` when `with_aux`.
    fn insn_line(&mut self, k: usize, n: usize, what: &str, with_aux: bool) -> Result<(Insn, Option<Aux>), InputError> {
        let t = self.next(&format!("instruction {k} of the {n} declared by {what}"))?;
        if !is_number(t.first()) {
            return Err(self.err(format!("{what}: declared {n} instructions, found {k} (then \"{}\")", shown(&t))));
        }
        if t.len() < 9 {
            return Err(self.err(format!("{what}: instruction {k}: expected an index and 8 hex bytes")));
        }
        let idx: usize = self.num(t.first(), "instruction index")?;
        if idx != k {
            return Err(self.err(format!("{what}: instruction index {idx}, expected {k}")));
        }
        let mut b = [0u8; 8];
        for (j, tok) in t[1..9].iter().enumerate() {
            b[j] = self.hex_byte(tok, &format!("{what}: instruction {k} byte {j}"))?;
        }
        let insn = Insn::decode(b);
        let aux = if with_aux {
            if t.get(9) != Some(&"aux") || t.len() != 14 {
                return Err(self.err(format!("{what}: instruction {k}: expected \"aux orig_idx seen zext token\"")));
            }
            let z: u8 = self.num(t.get(12), "zext_dst")?;
            if z > 1 {
                return Err(self.err(format!("{what}: instruction {k}: zext_dst must be 0 or 1")));
            }
            Some(Aux {
                orig_idx: self.num(t.get(10), "orig_idx")?,
                seen: self.num(t.get(11), "seen")?,
                zext_dst: z == 1,
                token: self.num(t.get(13), "token")?,
            })
        } else {
            if t.len() != 9 {
                return Err(self.err(format!("{what}: instruction {k}: unexpected \"{}\"", shown(&t[9..]))));
            }
            None
        };
        Ok((insn, aux))
    }

    fn values_line(&mut self, n: usize, what: &str) -> Result<Vec<u32>, InputError> {
        let t = if n == 0 {
            // An empty table may omit its (empty) value line.
            match self.peek() {
                Some(t) if t.iter().all(|x| x.parse::<u32>().is_ok() || *x == "deleted") => self.next(what)?,
                _ => Vec::new(),
            }
        } else {
            self.next(&format!("the {n} values of {what}"))?
        };
        if t.len() != n {
            return Err(self.err(format!("{what}: declared {n} values, found {}", t.len())));
        }
        t.iter().map(|x| self.value(x, what)).collect()
    }

    /// A program block; `input`: the program a case starts from (not an expected state).
    fn program(&mut self, what: &str, input: bool) -> Result<Program, InputError> {
        self.keyed("program")?;
        let n = self.keyed_count("insns", "insns", MAX_INSNS)?;
        let mut insns = Vec::with_capacity(n.min(4096));
        let mut aux = Vec::with_capacity(n.min(4096));
        for k in 0..n {
            let (i, a) = self.insn_line(k, n, &format!("{what} insns"), true)?;
            insns.push(i);
            aux.push(a.unwrap_or_default());
        }
        let t = self.keyed("subprogs")?;
        let cnt = self.count(t.first(), "subprogs", MAX_SUBPROGS + 1)?;
        if t.get(1) != Some(&"hidden") || t.len() != 3 {
            return Err(self.err("expected \"subprogs N hidden H\""));
        }
        let hidden: u32 = self.num(t.get(2), "hidden")?;
        let mut subprogs = Vec::with_capacity(cnt + 1);
        for k in 0..=cnt {
            let t = self.next("a subprog line \"start linfo_idx\"")?;
            if !is_number(t.first()) {
                return Err(self.err(format!(
                    "subprogs: declared {cnt} subprogs, so {} lines \"start linfo_idx\" (the last is the fake exit), found {k} (then \"{}\")",
                    cnt + 1,
                    shown(&t)
                )));
            }
            if t.len() != 2 {
                return Err(self.err(format!("subprog {k}: expected \"start linfo_idx\"")));
            }
            subprogs
                .push(Subprog { start: self.num(t.first(), "start")?, linfo_idx: self.num(t.get(1), "linfo_idx")? });
        }
        let nl = self.keyed_count("linfo", "linfo", MAX_TABLE)?;
        let mut linfo = Vec::with_capacity(nl.min(4096));
        for r in 0..nl {
            let t = self.next("a line-info record")?;
            if !is_number(t.first()) {
                return Err(self.err(format!("linfo: declared {nl} records, found {r} (then \"{}\")", shown(&t))));
            }
            if t.len() != 4 {
                return Err(self.err(format!("line-info record {r}: expected 4 numbers")));
            }
            linfo.push(LineInfo {
                insn_off: self.num(t.first(), "insn_off")?,
                file_name_off: self.num(t.get(1), "file_name_off")?,
                line_off: self.num(t.get(2), "line_off")?,
                line_col: self.num(t.get(3), "line_col")?,
            });
        }
        let t = self.keyed("func_info")?;
        let func_info = if t.first() == Some(&"none") && t.len() == 1 {
            None
        } else {
            let nf = self.count(t.first(), "func_info", MAX_SUBPROGS + 1)?;
            let mut v = Vec::with_capacity(nf);
            for r in 0..nf {
                let t = self.next("a func_info record")?;
                if !is_number(t.first()) {
                    return Err(
                        self.err(format!("func_info: declared {nf} records, found {r} (then \"{}\")", shown(&t)))
                    );
                }
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
        if input {
            crate::input::check_input_pokes(&pokes).map_err(|m| self.err(m))?;
        }
        let nm = self.keyed_count("insn_arrays", "insn_arrays", 4096)?;
        let mut insn_arrays = Vec::with_capacity(nm);
        for m in 0..nm {
            let t = self.next("an insn-array line")?;
            if !is_number(t.first()) {
                return Err(self.err(format!("insn_arrays: declared {nm} maps, found {m} (then \"{}\")", shown(&t))));
            }
            let n = self.count(t.first(), &format!("insn_arrays[{m}] entries"), MAX_TABLE)?;
            if t.len() != n + 1 {
                return Err(self.err(format!("insn_arrays[{m}]: declared {n} entries, found {}", t.len() - 1)));
            }
            insn_arrays.push(t[1..].iter().map(|x| self.value(x, "insn-array entry")).collect::<Result<_, _>>()?);
        }
        let t = self.keyed("end")?;
        if !t.is_empty() {
            return Err(self.err(format!("expected \"end\", found \"end {}\"", shown(&t))));
        }
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

    fn insn_block(&mut self, n: usize, what: &str) -> Result<Vec<Insn>, InputError> {
        let mut v = Vec::with_capacity(n.min(4096));
        for k in 0..n {
            v.push(self.insn_line(k, n, what, false)?.0);
        }
        Ok(v)
    }

    /// Op `k` of the `n` declared.
    fn op(&mut self, k: usize, n: usize) -> Result<Op, InputError> {
        let t = self.next(&format!("op {k} of the {n} declared"))?;
        let args = |m: usize| -> Result<(), InputError> {
            if t.len() != m + 1 {
                Err(self.err(format!("op {k}: \"{}\" takes {m} arguments, found \"{}\"", t[0], shown(&t))))
            } else {
                Ok(())
            }
        };
        Ok(match t[0] {
            "patch" => {
                args(2)?;
                let off = self.num(t.get(1), "patch off")?;
                let len = self.count(t.get(2), "patch length", MAX_INSNS)?;
                Op::Patch { off, insns: self.insn_block(len, &format!("op {k} (patch {off} {len})"))? }
            }
            "remove" => {
                args(2)?;
                Op::Remove { off: self.num(t.get(1), "remove off")?, cnt: self.num(t.get(2), "remove cnt")? }
            }
            "set" => {
                if t.len() != 10 {
                    return Err(self.err(format!("op {k}: \"set\" takes an offset and 8 hex bytes")));
                }
                let mut b = [0u8; 8];
                for (j, tok) in t[2..10].iter().enumerate() {
                    b[j] = self.hex_byte(tok, &format!("op {k} (set) byte {j}"))?;
                }
                Op::Set { off: self.num(t.get(1), "set off")?, insn: Insn::decode(b) }
            }
            "hidden" => {
                args(1)?;
                let len = self.count(t.get(1), "hidden length", MAX_INSNS)?;
                Op::HiddenSubprog { insns: self.insn_block(len, &format!("op {k} (hidden {len})"))? }
            }
            "adjust_jmp_off" => {
                args(2)?;
                Op::AdjustJmpOff { tgt: self.num(t.get(1), "tgt")?, delta: self.num(t.get(2), "delta")? }
            }
            "read" => {
                args(1)?;
                Op::Read { idx: self.num(t.get(1), "read idx")? }
            }
            "expect" => return Err(self.err(format!("ops: declared {n} ops, found {k}"))),
            other => {
                return Err(self.err(format!(
                    "op {k}: unknown op \"{}\" (known: patch, remove, set, hidden, adjust_jmp_off, read)",
                    shown(&[other])
                )));
            }
        })
    }
}

/// Parse a case file.
pub fn parse(file: &str, text: &str) -> Result<Case, InputError> {
    let mut r = Reader::new(file, text);
    let head = r.next("the header")?;
    if head.first() != Some(&MAGIC) {
        return Err(r.err(format!("not a case file: expected \"{MAGIC} {VERSION}\", found \"{}\"", shown(&head))));
    }
    let v: u32 = r.num(head.get(1), "version")?;
    if v != VERSION || head.len() != 2 {
        return Err(
            r.err(format!("unsupported case file version {} (this tool reads version {VERSION})", shown(&head[1..])))
        );
    }
    let mut name = String::new();
    let mut notes = Vec::new();
    let mut ignore_tokens = false;
    loop {
        let t = r.next("program")?;
        match t[0] {
            "name" => name = t[1..].join(" "),
            "note" => notes.push(t[1..].join(" ")),
            "ignore_tokens" => ignore_tokens = true,
            _ => {
                r.back();
                break;
            }
        }
    }
    let prog = r.program("program", true)?;
    let n = r.keyed_count("ops", "ops", MAX_OPS)?;
    let mut ops = Vec::with_capacity(n.min(4096));
    for k in 0..n {
        ops.push(r.op(k, n)?);
    }
    let t = r.next("\"expect\"")?;
    if t[0] != "expect" {
        let msg = if matches!(t[0], "patch" | "remove" | "set" | "hidden" | "adjust_jmp_off" | "read") {
            format!("ops: declared {n} ops, found more (\"{}\")", shown(&t))
        } else {
            format!("expected \"expect\", found \"{}\"", shown(&t))
        };
        return Err(r.err(msg));
    }
    let expect = match (t.get(1), t.len()) {
        (Some(&"none"), 2) => None,
        (Some(&"fail"), 4) => {
            let op: usize = r.num(t.get(2), "failed op")?;
            let errno: i32 = r.num(t.get(3), "errno")?;
            crate::input::check_fail(op, errno, ops.len()).map_err(|m| r.err(m))?;
            Some(Expect::Fail { op, errno })
        }
        (Some(&"ok"), 2) => Some(Expect::Ok(r.program("expect ok", false)?)),
        _ => return Err(r.err("expected \"expect none\", \"expect ok\" or \"expect fail OP ERRNO\"")),
    };
    if let Some(t) = r.peek() {
        r.next("")?;
        return Err(r.err(format!("trailing content after the expectation: \"{}\"", shown(&t))));
    }
    if name.is_empty() {
        name = std::path::Path::new(file).file_stem().and_then(|s| s.to_str()).unwrap_or("").to_string();
    }
    Ok(Case { name, notes, prog, ops, expect, ignore_tokens })
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
            notes: Vec::new(),
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
        // The line named is the offending one, not the one after it.
        let e = parse("x.case", "patch-equiv-case 1\n\nprogram\ninsns 2\n  0  zz 00 00 00 00 00 00 00\nmore\n")
            .unwrap_err();
        assert_eq!(e.line, 5, "{e}");
        assert!(e.msg.contains("\"zz\" is not a hex byte"), "{e}");
    }

    #[test]
    fn names_are_written_on_one_line() {
        let mut p = Program::from_insns(vec![crate::insn::build::exit()]);
        p.linfo.clear();
        let case =
            Case { name: "a\nb; c".into(), prog: p, ops: vec![], expect: None, ignore_tokens: false, notes: vec![] };
        assert_eq!(parse("x.case", &to_text(&case)).unwrap().name, "a b, c");
    }

    #[test]
    fn notes_survive_a_round_trip() {
        let p = Program::from_insns(vec![crate::insn::build::exit()]);
        let notes = vec!["found by seed 3".to_string(), "second line, kept".to_string()];
        let case =
            Case { name: "n".into(), notes: notes.clone(), prog: p, ops: vec![], expect: None, ignore_tokens: false };
        let text = to_text(&case);
        assert!(text.contains("note found by seed 3\n"), "{text}");
        assert_eq!(parse("x.case", &text).unwrap().notes, notes);
    }
}
