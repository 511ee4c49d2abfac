//! Reader for the kernel-vector JSON Lines files (`.jsonl`, `.jsonl.gz`);
//! schema in `tests/data/kernel-vectors/README.md`.

use crate::case::{Case, Expect};
use crate::insn::Insn;
use crate::op::Op;
use crate::program::{Aux, FuncInfo, LineInfo, Program, Subprog};
use serde::Deserialize;
use serde_json::Value;
use std::io::Read;
use std::path::Path;

/// A malformed input: which file, which line, what is wrong.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct InputError {
    pub file: String,
    pub line: usize,
    pub msg: String,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.file, self.line, self.msg)
        } else {
            write!(f, "{}: {}", self.file, self.msg)
        }
    }
}

impl std::error::Error for InputError {}

/// Cap on decompressed input, so a small gzip bomb cannot exhaust memory.
pub const MAX_INPUT_BYTES: u64 = 1 << 30;

/// Read a whole file as UTF-8, gunzipping `.gz` files.
pub fn read_text(path: &Path) -> Result<String, InputError> {
    let file = path.display().to_string();
    let err = |msg: String| InputError { file: file.clone(), line: 0, msg };
    let raw = std::fs::read(path).map_err(|e| err(format!("cannot read: {e}")))?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .take(MAX_INPUT_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| err(format!("bad gzip data: {e}")))?;
        if out.len() as u64 > MAX_INPUT_BYTES {
            return Err(err(format!("decompresses to more than {MAX_INPUT_BYTES} bytes")));
        }
        out
    } else {
        raw
    };
    String::from_utf8(bytes).map_err(|e| err(format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to())))
}

/// Parse every line of a vector file.
pub fn parse_vectors(file: &str, text: &str) -> Result<Vec<Case>, InputError> {
    let mut cases = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let err = |msg: String| InputError { file: file.into(), line: n + 1, msg };
        let raw: RawCase = serde_json::from_str(line).map_err(|e| err(format!("{e}")))?;
        cases.push(raw.into_case().map_err(err)?);
    }
    Ok(cases)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    name: String,
    prog: RawProg,
    ops: Vec<Value>,
    expect: RawExpect,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProg {
    insns: Vec<[i64; 5]>,
    aux: Vec<(i64, i64, bool)>,
    subprogs: Vec<[i64; 2]>,
    linfo: Vec<[i64; 4]>,
    func_info: Option<Vec<[i64; 2]>>,
    pokes: Vec<i64>,
    insn_arrays: Vec<Vec<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    ok: bool,
    prog: Option<RawProg>,
    failed_op: Option<i64>,
    errno: Option<i64>,
}

fn int<T: TryFrom<i64>>(v: i64, what: &str) -> Result<T, String> {
    T::try_from(v).map_err(|_| format!("{what} = {v} is out of range"))
}

/// An instruction from `[code, dst, src, off, imm]`, each field range-checked.
pub fn insn_from(a: &[i64; 5]) -> Result<Insn, String> {
    let reg = |v: i64, what: &str| -> Result<u8, String> {
        if (0..16).contains(&v) {
            Ok(v as u8)
        } else {
            Err(format!("{what} = {v} is not a register (0..=15)"))
        }
    };
    Ok(Insn {
        code: int(a[0], "code")?,
        dst: reg(a[1], "dst_reg")?,
        src: reg(a[2], "src_reg")?,
        off: int(a[3], "off")?,
        imm: int(a[4], "imm")?,
    })
}

fn insns_from(v: &[[i64; 5]], what: &str) -> Result<Vec<Insn>, String> {
    v.iter().enumerate().map(|(i, a)| insn_from(a).map_err(|e| format!("{what}[{i}]: {e}"))).collect()
}

fn u32s(v: &[i64], what: &str) -> Result<Vec<u32>, String> {
    v.iter().enumerate().map(|(i, &x)| int(x, &format!("{what}[{i}]"))).collect()
}

impl RawProg {
    fn into_program(self) -> Result<Program, String> {
        let insns = insns_from(&self.insns, "insns")?;
        let aux = self
            .aux
            .iter()
            .enumerate()
            .map(|(i, &(o, s, z))| {
                Ok(Aux {
                    orig_idx: int(o, &format!("aux[{i}].orig_idx"))?,
                    seen: int(s, &format!("aux[{i}].seen"))?,
                    zext_dst: z,
                    token: 0,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let subprogs = self
            .subprogs
            .iter()
            .enumerate()
            .map(|(i, s)| {
                Ok(Subprog {
                    start: int(s[0], &format!("subprogs[{i}].start"))?,
                    linfo_idx: int(s[1], &format!("subprogs[{i}].linfo_idx"))?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let linfo = self
            .linfo
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let f = |k: usize, n: &str| int::<u32>(l[k], &format!("linfo[{i}].{n}"));
                Ok(LineInfo {
                    insn_off: f(0, "insn_off")?,
                    file_name_off: f(1, "file_name_off")?,
                    line_off: f(2, "line_off")?,
                    line_col: f(3, "line_col")?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let func_info = match self.func_info {
            None => None,
            Some(v) => Some(
                v.iter()
                    .enumerate()
                    .map(|(i, f)| {
                        Ok(FuncInfo {
                            insn_off: int(f[0], &format!("func_info[{i}].insn_off"))?,
                            type_id: int(f[1], &format!("func_info[{i}].type_id"))?,
                        })
                    })
                    .collect::<Result<Vec<_>, String>>()?,
            ),
        };
        let insn_arrays = self
            .insn_arrays
            .iter()
            .enumerate()
            .map(|(m, v)| u32s(v, &format!("insn_arrays[{m}]")))
            .collect::<Result<Vec<_>, String>>()?;
        if subprogs.is_empty() {
            return Err("subprogs: the fake exit entry is missing".into());
        }
        Ok(Program {
            insns,
            aux,
            subprogs,
            hidden_subprog_cnt: 0,
            linfo,
            func_info,
            func_info_aux: Vec::new(),
            pokes: u32s(&self.pokes, "pokes")?,
            insn_arrays,
        })
    }
}

fn usize_field(o: &Value, k: &str, what: &str) -> Result<usize, String> {
    let v = o.get(k).ok_or_else(|| format!("{what}: missing \"{k}\""))?;
    v.as_u64()
        .and_then(|x| usize::try_from(x).ok())
        .ok_or_else(|| format!("{what}: \"{k}\" = {v} is not a non-negative integer"))
}

fn insn_list(o: &Value, k: &str, what: &str) -> Result<Vec<Insn>, String> {
    let v = o.get(k).ok_or_else(|| format!("{what}: missing \"{k}\""))?;
    let raw: Vec<[i64; 5]> = serde_json::from_value(v.clone()).map_err(|e| format!("{what}.{k}: {e}"))?;
    insns_from(&raw, &format!("{what}.{k}"))
}

/// One op object of the schema.
pub fn op_from(v: &Value, k: usize) -> Result<Op, String> {
    let what = format!("ops[{k}]");
    let kind = v.get("op").and_then(Value::as_str).ok_or_else(|| format!("{what}: missing \"op\""))?;
    Ok(match kind {
        "patch" => Op::Patch { off: usize_field(v, "off", &what)?, insns: insn_list(v, "insns", &what)? },
        "remove" => Op::Remove { off: usize_field(v, "off", &what)?, cnt: usize_field(v, "cnt", &what)? },
        "set" => {
            let raw: [i64; 5] = serde_json::from_value(v.get("insn").cloned().unwrap_or(Value::Null))
                .map_err(|e| format!("{what}.insn: {e}"))?;
            Op::Set {
                off: usize_field(v, "off", &what)?,
                insn: insn_from(&raw).map_err(|e| format!("{what}.insn: {e}"))?,
            }
        }
        "hidden_subprog" => Op::HiddenSubprog { insns: insn_list(v, "insns", &what)? },
        "adjust_jmp_off" => {
            let delta = usize_field(v, "delta", &what)?;
            Op::AdjustJmpOff { tgt: usize_field(v, "tgt", &what)?, delta: int(delta as i64, &format!("{what}.delta"))? }
        }
        "read" => Op::Read { idx: usize_field(v, "idx", &what)? },
        other => return Err(format!("{what}: unknown op \"{other}\"")),
    })
}

impl RawCase {
    fn into_case(self) -> Result<Case, String> {
        let mut prog = self.prog.into_program()?;
        for (i, a) in prog.aux.iter_mut().enumerate() {
            a.token = i as u64 + 1;
        }
        let ops = self.ops.iter().enumerate().map(|(k, v)| op_from(v, k)).collect::<Result<Vec<_>, _>>()?;
        let expect = match (self.expect.ok, self.expect.prog, self.expect.failed_op, self.expect.errno) {
            (true, Some(p), None, None) => {
                let mut p = p.into_program()?;
                // The schema has no hidden_subprog_cnt: it is 1 once an add succeeded.
                p.hidden_subprog_cnt = ops.iter().any(|o| matches!(o, Op::HiddenSubprog { .. })) as u32;
                Expect::Ok(p)
            }
            (false, None, Some(op), Some(errno)) => {
                Expect::Fail { op: int(op, "expect.failed_op")?, errno: int(errno, "expect.errno")? }
            }
            _ => return Err("expect: need {ok: true, prog} or {ok: false, failed_op, errno}".into()),
        };
        Ok(Case { name: self.name, prog, ops, expect: Some(expect), ignore_tokens: true })
    }
}
