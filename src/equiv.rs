//! The equivalence checker: one case through both patchers, op by op, every
//! result and read compared, the whole state compared after every write, and
//! on divergence a report a kernel developer can act on.

use crate::case::Case;
use crate::diff::{first_difference, Diff};
use crate::disasm::disasm_program;
use crate::op::{Op, Outcome};
use crate::patcher::{ArrayPatcher, ListPatcher, PatchError, Patcher};
use crate::program::Program;
use std::fmt;

/// Where and how the two patchers disagreed.
#[derive(Clone, Debug)]
pub struct Report {
    pub case: Case,
    /// The op after which they differed (`None`: when loading the program).
    pub op: Option<usize>,
    /// `result`, `read`, or the first differing table.
    pub table: String,
    /// What each side gave, in words.
    pub array: String,
    pub list: String,
    /// Full state of both sides at that point (when both could be taken).
    pub states: Option<(Program, Program)>,
    pub diff: Option<Diff>,
    /// The command that reproduces it (filled in by the caller that knows).
    pub reproduce: Option<String>,
}

impl Report {
    /// A short signature for "the same divergence": op kind and table.
    pub fn signature(&self) -> (String, String) {
        let kind = self.op.and_then(|k| self.case.ops.get(k)).map_or("load".to_string(), |o| o.kind().to_string());
        (kind, self.table.split('[').next().unwrap_or("").to_string())
    }
}

/// The result of checking one case.
#[derive(Clone, Debug)]
pub struct Checked {
    pub divergence: Option<Box<Report>>,
    /// Ops that failed (on both sides, with the same error).
    pub errors: Vec<(usize, PatchError)>,
}

impl Checked {
    pub fn divergence(self) -> Option<Report> {
        self.divergence.map(|b| *b)
    }
}

/// Run `case` through both patchers and compare everything.
pub fn run_case(case: &Case) -> Checked {
    run_with::<ArrayPatcher, ListPatcher>(case)
}

/// The whole state is compared every `SPARSE_EVERY` writes and after the last
/// one (reads around each op are always compared). A divergence is then re-run
/// with whole-state comparison after every op, so the report names the first op.
pub const SPARSE_EVERY: usize = 8;

/// Compare with the cadence above; the report always comes from a run with
/// whole-state comparison after every op.
pub fn run_with<A: Patcher, B: Patcher>(case: &Case) -> Checked {
    let fast = compare::<A, B>(case, false);
    if fast.divergence.is_some() {
        return compare::<A, B>(case, true);
    }
    fast
}

/// Whole-state comparison after every op (the equivalence contract verbatim).
pub fn run_thorough<A: Patcher, B: Patcher>(case: &Case) -> Checked {
    compare::<A, B>(case, true)
}

fn compare<A: Patcher, B: Patcher>(case: &Case, every_op: bool) -> Checked {
    let mut errors = Vec::new();
    let report = |op: Option<usize>,
                  table: &str,
                  a: String,
                  b: String,
                  states: Option<(Program, Program)>,
                  diff: Option<Diff>| Checked {
        divergence: Some(Box::new(Report {
            case: case.clone(),
            op,
            table: table.into(),
            array: a,
            list: b,
            states,
            diff,
            reproduce: None,
        })),
        errors: Vec::new(),
    };
    // Both patchers load through the one shared `Program::validate` (the
    // trait's `new`), so an invalid program is refused identically; check once.
    if let Err(e) = case.prog.validate() {
        return Checked { divergence: None, errors: vec![(0, PatchError::InvalidProgram(e))] };
    }
    let (mut a, mut b) = (A::from_valid(case.prog.clone()), B::from_valid(case.prog.clone()));
    let mut writes = 0usize;
    let last_write = case.ops.iter().rposition(Op::is_write);
    for (k, op) in case.ops.iter().enumerate() {
        let ra = op.apply(&mut a);
        let rb = op.apply(&mut b);
        if ra != rb {
            let table = if matches!(op, Op::Read { .. }) { "read" } else { "result" };
            let states = Some((a.snapshot(), b.snapshot()));
            return report(Some(k), table, show_outcome(&ra), show_outcome(&rb), states, None);
        }
        if let Err(e) = ra {
            errors.push((k, e));
        }
        if !op.is_write() {
            continue;
        }
        if a.len() != b.len() {
            return report(
                Some(k),
                "len",
                a.len().to_string(),
                b.len().to_string(),
                Some((a.snapshot(), b.snapshot())),
                None,
            );
        }
        writes += 1;
        let whole = every_op || writes % SPARSE_EVERY == 0 || Some(k) == last_write;
        // The whole state first (its report names the table), then reads
        // around the op position, which exercise the index structures.
        if whole {
            let (pa, pb) = (a.snapshot(), b.snapshot());
            if let Some(d) = first_difference(&pa, &pb, false) {
                return report(Some(k), &d.table.clone(), d.left.clone(), d.right.clone(), Some((pa, pb)), Some(d));
            }
        }
        for i in probe_points(op, k, a.len()) {
            if a.insn(i) != b.insn(i) || a.aux(i) != b.aux(i) {
                let s = |p: &dyn Fn(usize) -> String| p(i);
                return report(
                    Some(k),
                    "read",
                    s(&|i| format!("insn({i}) = {:?}, aux({i}) = {:?}", a.insn(i), a.aux(i))),
                    s(&|i| format!("insn({i}) = {:?}, aux({i}) = {:?}", b.insn(i), b.aux(i))),
                    Some((a.snapshot(), b.snapshot())),
                    None,
                );
            }
        }
    }
    Checked { divergence: None, errors }
}

/// Slots read after a write: around its position, the ends, and one spread
/// by the op index.
fn probe_points(op: &Op, k: usize, len: usize) -> Vec<usize> {
    let at = match op {
        Op::Patch { off, insns } => {
            vec![*off, off.saturating_add(insns.len().saturating_sub(1)), off.saturating_add(insns.len())]
        }
        Op::Remove { off, .. } | Op::Set { off, .. } => vec![off.saturating_sub(1), *off],
        Op::HiddenSubprog { insns } => vec![len.saturating_sub(insns.len())],
        Op::AdjustJmpOff { tgt, .. } => vec![*tgt],
        Op::Read { idx } => vec![*idx],
    };
    let mut v: Vec<usize> =
        at.into_iter().chain([0, len.saturating_sub(1), (k * 7919) % len.max(1)]).filter(|&i| i < len).collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn show_outcome(r: &Result<Outcome, PatchError>) -> String {
    match r {
        Ok(Outcome::Done) => "ok".into(),
        Ok(Outcome::Read { len, insn, aux }) => format!("len {len}, insn {insn:?}, aux {aux:?}"),
        Err(e) => format!("error: {e}"),
    }
}

/// Index of the first differing instruction slot of two programs, if any.
fn first_insn_difference(a: &Program, b: &Program) -> Option<usize> {
    let n = a.insns.len().max(b.insns.len());
    (0..n).find(|&i| a.insns.get(i) != b.insns.get(i) || a.aux.get(i) != b.aux.get(i))
}

/// Side-by-side disassembly of `[lo, hi)`, `!` on lines that differ.
fn side_by_side(a: &Program, b: &Program, lo: usize, hi: usize) -> String {
    let da = disasm_program(&a.insns);
    let db = disasm_program(&b.insns);
    let mut out = format!("       {:<44} | {}\n", "array (kernel model)", "list");
    // One column: the disassembly and the aux entry of slot `i`.
    let cell = |d: &[String], p: &Program, i: usize| {
        d.get(i).map_or(String::new(), |s| {
            let aux = p
                .aux
                .get(i)
                .map_or(String::new(), |x| format!("o{} s{} z{} t{}", x.orig_idx, x.seen, x.zext_dst as u8, x.token));
            format!("{s}  [{aux}]")
        })
    };
    for i in lo..hi {
        let (left, right) = (cell(&da, a, i), cell(&db, b, i));
        let mark = if a.insns.get(i) != b.insns.get(i) || a.aux.get(i) != b.aux.get(i) { '!' } else { ' ' };
        out += &format!("{mark}{i:>5}: {left:<44} | {right}\n");
    }
    out
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "DIVERGENCE between the array patcher (kernel model) and the list patcher")?;
        match self.op {
            Some(k) => writeln!(f, "after op {k}: {}", crate::case_file::op_line(&self.case.ops[k]))?,
            None => writeln!(f, "when loading the program")?,
        }
        writeln!(f, "first difference: {}", self.table)?;
        writeln!(f, "  array: {}", self.array)?;
        writeln!(f, "  list:  {}", self.list)?;
        if let Some((a, b)) = &self.states {
            let center = match &self.diff {
                Some(d) if d.table == "insns" || d.table == "aux" => d.entry,
                _ => first_insn_difference(a, b),
            }
            .or(match self.op.map(|k| &self.case.ops[k]) {
                Some(Op::Patch { off, .. } | Op::Remove { off, .. } | Op::Set { off, .. }) => Some(*off),
                Some(Op::Read { idx }) => Some(*idx),
                _ => None,
            });
            if let Some(c) = center {
                let hi = (c + 6).min(a.insns.len().max(b.insns.len()));
                writeln!(f, "\ninstructions around slot {c}:")?;
                write!(f, "{}", side_by_side(a, b, c.saturating_sub(5), hi))?;
            }
            writeln!(f, "\nmetadata (array | list):")?;
            let subs = |p: &Program| {
                p.subprogs.iter().map(|s| format!("{}/{}", s.start, s.linfo_idx)).collect::<Vec<_>>().join(" ")
            };
            writeln!(f, "  subprogs (start/linfo_idx): {} | {}", subs(a), subs(b))?;
            let li = |p: &Program| {
                p.linfo.iter().map(|l| format!("{}:{}", l.insn_off, l.line_off)).collect::<Vec<_>>().join(" ")
            };
            writeln!(f, "  linfo (insn_off:line_off):  {} | {}", li(a), li(b))?;
            writeln!(f, "  pokes:                      {:?} | {:?}", a.pokes, b.pokes)?;
            writeln!(f, "  insn_arrays:                {:?} | {:?}", a.insn_arrays, b.insn_arrays)?;
            writeln!(
                f,
                "  func_info:                  {:?} | {:?}",
                a.func_info.as_ref().map(Vec::len),
                b.func_info.as_ref().map(Vec::len)
            )?;
        }
        writeln!(f, "\nthe case:\n{}", crate::case_file::to_text(&self.case))?;
        if let Some(r) = &self.reproduce {
            writeln!(f, "reproduce with: {r}")?;
        }
        Ok(())
    }
}
