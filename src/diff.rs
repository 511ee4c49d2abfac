//! Table-by-table comparison of two programs: the first entry that differs,
//! named so a person can find it (equivalence contract, semantics doc §9).

use crate::insn::Insn;
use crate::program::{Aux, FuncInfo, LineInfo, Program, Subprog, Tables, INSN_DELETED};
use std::fmt;

/// The first difference between two programs.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Diff {
    /// `insns`, `aux`, `subprogs`, `hidden_subprog_cnt`, `linfo`, `func_info`,
    /// `func_info_aux`, `pokes`, `insn_arrays[m]`.
    pub table: String,
    /// Entry index inside the table (`None`: the table's length or presence).
    pub entry: Option<usize>,
    pub left: String,
    pub right: String,
}

impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.entry {
            Some(e) => write!(f, "{}[{}]: expected {}, got {}", self.table, e, self.left, self.right),
            None => write!(f, "{}: expected {}, got {}", self.table, self.left, self.right),
        }
    }
}

/// A table entry in words, as a kernel developer reads it (never Rust `Debug`).
pub trait Words {
    fn words(&self) -> String;
}

impl Words for Insn {
    fn words(&self) -> String {
        let b = self.encode();
        let hex: Vec<String> = b.iter().map(|x| format!("{x:02x}")).collect();
        format!("{} ({})", crate::disasm::disasm(self, None), hex.join(" "))
    }
}

impl Words for Aux {
    fn words(&self) -> String {
        format!("orig_idx {} seen {} zext_dst {} token {}", self.orig_idx, self.seen, self.zext_dst as u8, self.token)
    }
}

impl Words for Subprog {
    fn words(&self) -> String {
        format!("start {} linfo_idx {}", self.start, self.linfo_idx)
    }
}

impl Words for LineInfo {
    fn words(&self) -> String {
        format!(
            "insn_off {} file_name_off {} line_off {} line_col {}",
            self.insn_off, self.file_name_off, self.line_off, self.line_col
        )
    }
}

impl Words for FuncInfo {
    fn words(&self) -> String {
        format!("insn_off {} type_id {}", self.insn_off, self.type_id)
    }
}

/// Counts, poke indices and insn-array values (`deleted` for INSN_DELETED).
impl Words for u32 {
    fn words(&self) -> String {
        if *self == INSN_DELETED {
            "deleted".to_string()
        } else {
            self.to_string()
        }
    }
}

/// A list of entries in words, comma-separated.
pub fn list_words<T: Words>(v: &[T]) -> String {
    if v.is_empty() {
        return "(none)".to_string();
    }
    v.iter().map(Words::words).collect::<Vec<_>>().join(", ")
}

fn table<T: PartialEq + Words>(name: &str, a: &[T], b: &[T]) -> Option<Diff> {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if x != y {
            return Some(Diff { table: name.into(), entry: Some(i), left: x.words(), right: y.words() });
        }
    }
    (a.len() != b.len()).then(|| Diff {
        table: name.into(),
        entry: None,
        left: format!("{} entries", a.len()),
        right: format!("{} entries", b.len()),
    })
}

/// First difference, table by table in the contract's order. With
/// `ignore_tokens`, aux tokens and `func_info_aux` are not compared (the kernel
/// vectors do not carry them).
pub fn first_difference(a: &Program, b: &Program, ignore_tokens: bool) -> Option<Diff> {
    first_difference_in(a.tables(), b.tables(), ignore_tokens)
}

/// `first_difference` of borrowed tables.
pub fn first_difference_in(a: Tables, b: Tables, ignore_tokens: bool) -> Option<Diff> {
    if !ignore_tokens && a == b {
        return None;
    }
    let strip = |p: &Tables| -> Vec<_> {
        p.aux.iter().map(|x| if ignore_tokens { crate::program::Aux { token: 0, ..*x } } else { *x }).collect()
    };
    table("insns", a.insns, b.insns)
        .or_else(|| table("aux", &strip(&a), &strip(&b)))
        .or_else(|| table("subprogs", a.subprogs, b.subprogs))
        .or_else(|| table("hidden_subprog_cnt", &[a.hidden_subprog_cnt], &[b.hidden_subprog_cnt]))
        .or_else(|| table("linfo", a.linfo, b.linfo))
        .or_else(|| match (a.func_info, b.func_info) {
            (Some(x), Some(y)) => table("func_info", x, y),
            (None, None) => None,
            (x, y) => Some(Diff {
                table: "func_info".into(),
                entry: None,
                left: (if x.is_some() { "present" } else { "absent" }).to_string(),
                right: (if y.is_some() { "present" } else { "absent" }).to_string(),
            }),
        })
        .or_else(|| if ignore_tokens { None } else { table("func_info_aux", a.func_info_aux, b.func_info_aux) })
        .or_else(|| table("pokes", a.pokes, b.pokes))
        .or_else(|| {
            let (x, y) = (a.insn_arrays, b.insn_arrays);
            if x.len() != y.len() {
                return Some(Diff {
                    table: "insn_arrays".into(),
                    entry: None,
                    left: format!("{} maps", x.len()),
                    right: format!("{} maps", y.len()),
                });
            }
            x.iter().zip(y).enumerate().find_map(|(m, (p, q))| table(&format!("insn_arrays[{m}]"), p, q))
        })
}
