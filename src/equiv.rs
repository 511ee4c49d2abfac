//! The equivalence checker: one case through the oracle and every other
//! engine, op by op; every result and read compared, the whole state compared
//! on a cadence; a panic in any engine caught and reported like a divergence;
//! on a finding, a report a kernel developer can act on.

use crate::case::Case;
use crate::diff::{first_difference_in, list_words, Diff, Words};
use crate::disasm::disasm_program;
use crate::engine::{Engine, EngineSet};
use crate::op::{Op, Outcome};
use crate::panics::{self, Caught};
use crate::patcher::{PatchError, Patcher};
use crate::program::Program;
use std::fmt;
use std::sync::OnceLock;

/// What kind of finding a report holds.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Kind {
    /// The engine's result, a read or its state differs from the oracle's.
    Divergence,
    /// The engine panicked.
    Panic(Caught),
    /// The engine killed its process (seen only by a parent process, `isolate`):
    /// how it died and the end of what it printed.
    Crash { status: String, stderr: String },
}

impl Kind {
    /// `divergence`, `panic` or `crash`.
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Divergence => "divergence",
            Kind::Panic(_) => "panic",
            Kind::Crash { .. } => "crash",
        }
    }
}

/// Where and how an engine parted from the oracle.
#[derive(Clone, Debug)]
pub struct Report {
    pub case: Case,
    pub kind: Kind,
    /// The engine that diverged, panicked or crashed (the oracle's own name
    /// when it was the oracle that panicked).
    pub engine: String,
    /// The op after which they differed (`None`: when loading the program).
    pub op: Option<usize>,
    /// `result`, `read`, `len`, `load`, the first differing table, `panic` or `crash`.
    pub table: String,
    /// What the oracle gave, in words.
    pub oracle: String,
    /// What the engine gave, in words.
    pub other: String,
    /// Full state of both sides at that point (when both could be taken).
    pub states: Option<(Program, Program)>,
    pub diff: Option<Diff>,
    /// The command that reproduces it (filled in by the caller that knows).
    pub reproduce: Option<String>,
}

impl Report {
    /// What makes two findings "the same" while a case shrinks: kind,
    /// engine, op kind and table (a panic: its location; a crash: how the
    /// process died, as `isolate::Checked::signature` says it).
    pub fn signature(&self) -> String {
        let op = self.op.and_then(|k| self.case.ops.get(k)).map_or("load", |o| o.kind());
        match &self.kind {
            Kind::Divergence => {
                format!("divergence {} {op} {}", self.engine, self.table.split('[').next().unwrap_or(""))
            }
            Kind::Panic(c) => format!("panic {} {op} {}", self.engine, c.site()),
            // A child's crash is known by how it died (the op needs more runs to find).
            Kind::Crash { status, .. } => format!("crash {status}"),
        }
    }

    /// One line in words: what happened, where, and the first difference.
    pub fn summary(&self) -> String {
        let at = match self.op.and_then(|k| self.case.ops.get(k).map(|o| (k, o))) {
            Some((k, o)) => format!("op {k} ({})", crate::case_file::op_line(o)),
            None => "loading the program".to_string(),
        };
        match &self.kind {
            Kind::Divergence => match &self.diff {
                Some(d) => format!("{} diverges from {} after {at}: {d}", self.engine, crate::engine::ORACLE),
                None => format!(
                    "{} diverges from {} after {at}: {}: expected {}, got {}",
                    self.engine,
                    crate::engine::ORACLE,
                    self.table,
                    self.oracle,
                    self.other
                ),
            },
            Kind::Panic(c) => format!("{} panicked at {at}: {c}", self.engine),
            Kind::Crash { status, .. } => format!("{} crashed at {at}: {status}", self.engine),
        }
    }
}

/// The result of checking one case.
#[derive(Clone, Debug)]
pub struct Checked {
    /// The first finding: a divergence or a panic.
    pub divergence: Option<Box<Report>>,
    /// Ops that failed (in every engine, with the same error).
    pub errors: Vec<(usize, PatchError)>,
}

impl Checked {
    /// The finding (a divergence or a panic), if any.
    pub fn divergence(self) -> Option<Report> {
        self.divergence.map(|b| *b)
    }
}

/// The built-in engines, built once.
pub fn builtin() -> &'static EngineSet {
    static SET: OnceLock<EngineSet> = OnceLock::new();
    SET.get_or_init(EngineSet::builtin)
}

/// Run `case` through every built-in engine and compare everything.
pub fn run_case(case: &Case) -> Checked {
    check(case, builtin())
}

/// The whole state is compared after the last write and, before it, once at
/// least `SPARSE_EVERY` writes and `len / SPARSE_SLOTS` writes have passed
/// since the last comparison (reads around each op are always compared). A
/// finding is then re-run with whole-state comparison after every op, so the
/// report names the first op.
pub const SPARSE_EVERY: usize = 8;

/// A whole-state comparison costs a snapshot of every engine, O(len); on long
/// programs it comes every `len / SPARSE_SLOTS` writes, so its cost per write
/// stays about `SPARSE_SLOTS` slots (programs up to 512 slots: every 8 writes).
pub const SPARSE_SLOTS: usize = 64;

/// Compare with the cadence above; the report always comes from a run with
/// whole-state comparison after every op.
pub fn check(case: &Case, engines: &EngineSet) -> Checked {
    let fast = compare(case, engines.all(), false);
    if fast.divergence.is_some() {
        return compare(case, engines.all(), true);
    }
    fast
}

/// Whole-state comparison after every op (the equivalence contract verbatim).
pub fn check_thorough(case: &Case, engines: &EngineSet) -> Checked {
    compare(case, engines.all(), true)
}

/// `A` (the oracle's place) against `B` with the cadence of `check`.
pub fn run_with<A: Patcher + 'static, B: Patcher + 'static>(case: &Case) -> Checked {
    let engines = typed::<A, B>();
    let fast = compare(case, &engines, false);
    if fast.divergence.is_some() {
        return compare(case, &engines, true);
    }
    fast
}

/// `A` against `B`, whole state after every op.
pub fn run_thorough<A: Patcher + 'static, B: Patcher + 'static>(case: &Case) -> Checked {
    compare(case, &typed::<A, B>(), true)
}

/// A patcher type as an engine, for the typed entry points above.
struct Typed<P>(&'static str, std::marker::PhantomData<fn() -> P>);

impl<P: Patcher + 'static> Engine for Typed<P> {
    fn name(&self) -> String {
        self.0.to_string()
    }
    fn load(&self, prog: Program) -> Result<Box<dyn Patcher>, String> {
        Ok(Box::new(P::from_valid(prog)))
    }
}

/// `A` in the oracle's place, named `array`; `B` named `list`.
fn typed<A: Patcher + 'static, B: Patcher + 'static>() -> [Box<dyn Engine>; 2] {
    [
        Box::new(Typed::<A>(crate::engine::ORACLE, std::marker::PhantomData)),
        Box::new(Typed::<B>("list", std::marker::PhantomData)),
    ]
}

/// A finding before it becomes a report: what was found and where, by
/// engine index (0 = the oracle). The case is not needed to find it.
struct Found {
    kind: Kind,
    engine: usize,
    op: Option<usize>,
    table: String,
    oracle: String,
    other: String,
    states: Option<(Program, Program)>,
    diff: Option<Diff>,
}

impl Found {
    fn divergence(engine: usize, op: Option<usize>, table: &str, oracle: String, other: String) -> Box<Found> {
        let table = table.to_string();
        Box::new(Found { kind: Kind::Divergence, engine, op, table, oracle, other, states: None, diff: None })
    }

    fn with_states(mut self: Box<Self>, states: Option<(Program, Program)>) -> Box<Found> {
        self.states = states;
        self
    }

    fn panic(engine: usize, op: Option<usize>, c: Caught, oracle: String) -> Box<Found> {
        let other = format!("panicked: {c}");
        let table = "panic".into();
        Box::new(Found { kind: Kind::Panic(c), engine, op, table, oracle, other, states: None, diff: None })
    }

    /// The report for `case`; every finding carries the same fields.
    fn report(self, case: &Case, engines: &[Box<dyn Engine>]) -> Checked {
        Checked {
            divergence: Some(Box::new(Report {
                case: case.clone(),
                kind: self.kind,
                engine: engines[self.engine].name(),
                op: self.op,
                table: self.table,
                oracle: self.oracle,
                other: self.other,
                states: self.states,
                diff: self.diff,
                reproduce: None,
            })),
            errors: Vec::new(),
        }
    }
}

/// Both states, when neither snapshot panics.
fn states(a: &dyn Patcher, b: &dyn Patcher) -> Option<(Program, Program)> {
    let pa = panics::catch(|| a.snapshot()).ok()?;
    let pb = panics::catch(|| b.snapshot()).ok()?;
    Some((pa, pb))
}

/// Load `prog` (already validated) into `engine` number `i`.
fn load(engine: &dyn Engine, i: usize, prog: &Program) -> Result<Box<dyn Patcher>, Box<Found>> {
    match panics::catch(|| engine.load(prog.clone())) {
        Ok(Ok(p)) => Ok(p),
        Ok(Err(msg)) => Err(Found::divergence(i, None, "load", "loaded".into(), format!("refused: {msg}"))),
        Err(c) => Err(Found::panic(i, None, c, "loaded".to_string())),
    }
}

/// Every engine but the oracle, stepped right after it one op at a time.
struct Followers {
    /// Engines `1..`, in order.
    ps: Vec<Box<dyn Patcher>>,
    every_op: bool,
    /// Writes since the last whole-state comparison.
    since: usize,
}

impl Followers {
    /// Load engines `1..` with `prog` (already validated).
    fn load(prog: &Program, engines: &[Box<dyn Engine>], every_op: bool) -> Result<Followers, Box<Found>> {
        let ps = engines.iter().enumerate().skip(1).map(|(i, e)| load(&**e, i, prog)).collect::<Result<_, _>>()?;
        Ok(Followers { ps, every_op, since: 0 })
    }

    /// Op `k` on every follower, after the oracle gave `ro`: the results,
    /// then for a write the length, the whole state on the cadence (or when
    /// `last_write` says so) and the reads around the op.
    fn step(
        &mut self,
        k: usize,
        op: &Op,
        oracle: &dyn Patcher,
        ro: &Result<Outcome, PatchError>,
        last_write: bool,
    ) -> Result<(), Box<Found>> {
        for (j, p) in self.ps.iter_mut().enumerate() {
            let rb = match panics::catch(|| op.apply(&mut **p)) {
                Ok(r) => r,
                Err(c) => return Err(Found::panic(j + 1, Some(k), c, show_outcome(ro))),
            };
            if *ro != rb {
                let table = if matches!(op, Op::Read { .. }) { "read" } else { "result" };
                let st = states(oracle, &**p);
                return Err(
                    Found::divergence(j + 1, Some(k), table, show_outcome(ro), show_outcome(&rb)).with_states(st)
                );
            }
        }
        if !op.is_write() {
            return Ok(());
        }
        let len = oracle.len();
        for (j, p) in self.ps.iter_mut().enumerate() {
            let lb = match panics::catch(|| p.len()) {
                Ok(l) => l,
                Err(c) => return Err(Found::panic(j + 1, Some(k), c, format!("len {len}"))),
            };
            if lb != len {
                let st = states(oracle, &**p);
                return Err(Found::divergence(j + 1, Some(k), "len", len.to_string(), lb.to_string()).with_states(st));
            }
        }
        self.since += 1;
        let due = self.since >= SPARSE_EVERY && self.since * SPARSE_SLOTS >= len;
        // The whole state first (its report names the table), then reads
        // around the op position, which exercise the index structures.
        if self.every_op || due || last_write {
            self.whole(k, oracle)?;
        }
        let (points, n) = probe_points(op, k, len);
        for &i in &points[..n] {
            let (ia, xa) = (oracle.insn(i), oracle.aux(i));
            for (j, p) in self.ps.iter_mut().enumerate() {
                let (ib, xb) = match panics::catch(|| (p.insn(i), p.aux(i))) {
                    Ok(r) => r,
                    Err(c) => return Err(Found::panic(j + 1, Some(k), c, format!("a read of slot {i}"))),
                };
                if ia != ib || xa != xb {
                    let st = states(oracle, &**p);
                    let (l, r) = (show_slot(i, ia, xa), show_slot(i, ib, xb));
                    return Err(Found::divergence(j + 1, Some(k), "read", l, r).with_states(st));
                }
            }
        }
        Ok(())
    }

    /// The whole state of every follower against the oracle's, after op `k`.
    fn whole(&mut self, k: usize, oracle: &dyn Patcher) -> Result<(), Box<Found>> {
        self.since = 0;
        // The oracle's tables borrowed where it keeps them (no copy).
        let owned;
        let pa = match oracle.tables() {
            Some(t) => t,
            None => {
                owned =
                    panics::catch(|| oracle.snapshot()).map_err(|c| Found::panic(0, Some(k), c, "panicked".into()))?;
                owned.tables()
            }
        };
        for (j, p) in self.ps.iter_mut().enumerate() {
            let pb =
                panics::catch(|| p.snapshot()).map_err(|c| Found::panic(j + 1, Some(k), c, "a snapshot".into()))?;
            if let Some(d) = first_difference_in(pa, pb.tables(), false) {
                let (t, l, r) = (d.table.clone(), d.left.clone(), d.right.clone());
                let mut found = Found::divergence(j + 1, Some(k), &t, l, r).with_states(Some((pa.to_program(), pb)));
                found.diff = Some(d);
                return Err(found);
            }
        }
        Ok(())
    }
}

fn compare(case: &Case, engines: &[Box<dyn Engine>], every_op: bool) -> Checked {
    // Every engine loads through the one shared `Program::validate`, so an
    // invalid program is refused identically; check once.
    if let Err(e) = case.prog.validate() {
        return Checked { divergence: None, errors: vec![(0, PatchError::InvalidProgram(e))] };
    }
    let run = || -> Result<Vec<(usize, PatchError)>, Box<Found>> {
        let mut oracle = load(&*engines[0], 0, &case.prog)?;
        let mut followers = Followers::load(&case.prog, engines, every_op)?;
        let mut errors = Vec::new();
        let last_write = case.ops.iter().rposition(Op::is_write);
        for (k, op) in case.ops.iter().enumerate() {
            let ro =
                panics::catch(|| op.apply(&mut *oracle)).map_err(|c| Found::panic(0, Some(k), c, "panicked".into()))?;
            followers.step(k, op, &*oracle, &ro, Some(k) == last_write)?;
            if let Err(e) = ro {
                errors.push((k, e));
            }
        }
        Ok(errors)
    };
    match run() {
        Ok(errors) => Checked { divergence: None, errors },
        Err(found) => found.report(case, engines),
    }
}

/// The seeded runner's check, made while the generator builds the case
/// (`gen::Watch`): the generator's shadow `ArrayPatcher` is the oracle (the
/// same model loaded with the same program, given the same ops in the same
/// order), so the oracle runs once per case instead of twice. Every other
/// engine is stepped and compared exactly as `check` does, except that the
/// whole state after the last write is compared when the case ends (the same
/// state: reads change nothing). So a case has a finding here exactly when
/// `check` finds one; the report then comes from `check` itself.
pub struct Follow<'e> {
    engines: &'e EngineSet,
    state: Following,
    errors: Vec<(usize, PatchError)>,
}

enum Following {
    /// No program yet.
    Start,
    /// Comparing.
    On(Followers),
    /// The program is invalid: every engine refuses it alike, nothing to compare.
    Invalid(PatchError),
    /// Something was found; `check` will say what.
    Found,
}

impl<'e> Follow<'e> {
    /// Follow with `engines` (the oracle first, as `EngineSet` keeps it).
    pub fn new(engines: &'e EngineSet) -> Follow<'e> {
        assert_eq!(engines.all()[0].name(), crate::engine::ORACLE, "the generator's shadow stands for the oracle");
        Follow { engines, state: Following::Start, errors: Vec::new() }
    }

    /// Check the generated case: the finding (from `check`) or the errors
    /// every engine returned alike.
    pub fn finish(self, case: &Case) -> Checked {
        match self.state {
            Following::Found => check(case, self.engines),
            Following::Invalid(e) => Checked { divergence: None, errors: vec![(0, e)] },
            Following::Start | Following::On(_) => Checked { divergence: None, errors: self.errors },
        }
    }
}

impl crate::gen::Watch for Follow<'_> {
    fn program(&mut self, prog: &Program) {
        self.state = match prog.validate() {
            Err(e) => Following::Invalid(PatchError::InvalidProgram(e)),
            Ok(()) => match Followers::load(prog, self.engines.all(), false) {
                Ok(f) => Following::On(f),
                Err(_) => Following::Found,
            },
        };
    }

    fn op(&mut self, k: usize, op: &Op, oracle: &crate::patcher::ArrayPatcher, ro: &Result<Outcome, PatchError>) {
        let Following::On(f) = &mut self.state else {
            return;
        };
        if f.step(k, op, oracle, ro, false).is_err() {
            self.state = Following::Found;
        } else if let Err(e) = ro {
            self.errors.push((k, e.clone()));
        }
    }

    fn end(&mut self, oracle: &crate::patcher::ArrayPatcher) {
        if let Following::On(f) = &mut self.state {
            if f.since > 0 && f.whole(usize::MAX, oracle).is_err() {
                self.state = Following::Found;
            }
        }
    }
}

/// Slots read after a write: around its position, the ends, and one spread
/// by the op index. A fixed array, so the fast path allocates nothing per op.
fn probe_points(op: &Op, k: usize, len: usize) -> ([usize; 6], usize) {
    let mut v = [usize::MAX; 6];
    let at: &[usize] = match op {
        Op::Patch { off, insns } => {
            &[*off, off.saturating_add(insns.len().saturating_sub(1)), off.saturating_add(insns.len())]
        }
        Op::Remove { off, .. } | Op::Set { off, .. } => &[off.saturating_sub(1), *off],
        Op::HiddenSubprog { insns } => &[len.saturating_sub(insns.len())],
        Op::AdjustJmpOff { tgt, .. } => &[*tgt],
        Op::Read { idx } => &[*idx],
    };
    let mut n = 0;
    for i in at.iter().copied().chain([0, len.saturating_sub(1), (k * 7919) % len.max(1)]) {
        if i < len && !v[..n].contains(&i) {
            v[n] = i;
            n += 1;
        }
    }
    v[..n].sort_unstable();
    (v, n)
}

fn show_slot(i: usize, insn: Option<crate::insn::Insn>, aux: Option<crate::program::Aux>) -> String {
    let insn = insn.map_or("none".to_string(), |x| x.words());
    let aux = aux.map_or("none".to_string(), |x| x.words());
    format!("insn({i}) = {insn}, aux({i}) = {aux}")
}

fn show_outcome(r: &Result<Outcome, PatchError>) -> String {
    match r {
        Ok(Outcome::Done) => "ok".into(),
        Ok(Outcome::Read { len, insn, aux }) => {
            let insn = insn.map_or("none".to_string(), |x| x.words());
            let aux = aux.map_or("none".to_string(), |x| x.words());
            format!("len {len}, insn {insn}, aux {aux}")
        }
        Err(e) => format!("error: {e}"),
    }
}

/// Index of the first differing instruction slot of two programs, if any.
fn first_insn_difference(a: &Program, b: &Program) -> Option<usize> {
    let n = a.insns.len().max(b.insns.len());
    (0..n).find(|&i| a.insns.get(i) != b.insns.get(i) || a.aux.get(i) != b.aux.get(i))
}

/// The oracle's column title.
fn oracle_title() -> String {
    format!("{} (kernel model)", crate::engine::ORACLE)
}

/// Side-by-side disassembly of `[lo, hi)`, `!` on lines that differ.
fn side_by_side(a: &Program, b: &Program, engine: &str, lo: usize, hi: usize) -> String {
    let da = disasm_program(&a.insns);
    let db = disasm_program(&b.insns);
    let mut out = format!("       {:<44} | {engine}\n", oracle_title());
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
        let oracle = crate::engine::ORACLE;
        match &self.kind {
            Kind::Divergence => writeln!(f, "DIVERGENCE between {} and {}", oracle_title(), self.engine)?,
            Kind::Panic(c) => writeln!(f, "PANIC in engine {}: {c}", self.engine)?,
            Kind::Crash { status, .. } => writeln!(f, "CRASH of engine {}: {status}", self.engine)?,
        }
        match self.op {
            Some(k) => match self.case.ops.get(k) {
                Some(o) => writeln!(f, "after op {k}: {}", crate::case_file::op_line(o))?,
                None => writeln!(f, "after op {k}")?,
            },
            None if matches!(self.kind, Kind::Crash { .. }) => writeln!(f, "op: not located")?,
            None => writeln!(f, "when loading the program")?,
        }
        let w = oracle.len().max(self.engine.len()) + 1;
        match &self.kind {
            Kind::Divergence => {
                writeln!(f, "first difference: {}", self.table)?;
                writeln!(f, "  {:<w$} {}", format!("{oracle}:"), self.oracle)?;
                writeln!(f, "  {:<w$} {}", format!("{}:", self.engine), self.other)?;
            }
            Kind::Panic(_) => {
                writeln!(f, "  {:<w$} {}", format!("{oracle}:"), self.oracle)?;
                writeln!(f, "  {:<w$} {}", format!("{}:", self.engine), self.other)?;
            }
            Kind::Crash { stderr, .. } if !stderr.trim().is_empty() => {
                writeln!(f, "\nwhat the crashing process printed (last lines):")?;
                for l in stderr.lines() {
                    writeln!(f, "  | {l}")?;
                }
            }
            Kind::Crash { .. } => {}
        }
        if let Some((a, b)) = &self.states {
            let center = match &self.diff {
                Some(d) if d.table == "insns" || d.table == "aux" => d.entry,
                _ => first_insn_difference(a, b),
            }
            .or(match self.op.and_then(|k| self.case.ops.get(k)) {
                Some(Op::Patch { off, .. } | Op::Remove { off, .. } | Op::Set { off, .. }) => Some(*off),
                Some(Op::Read { idx }) => Some(*idx),
                _ => None,
            });
            if let Some(c) = center {
                let hi = (c + 6).min(a.insns.len().max(b.insns.len()));
                writeln!(f, "\ninstructions around slot {c}:")?;
                write!(f, "{}", side_by_side(a, b, &self.engine, c.saturating_sub(5), hi))?;
            }
            writeln!(f, "\nmetadata ({oracle} | {}):", self.engine)?;
            let subs = |p: &Program| {
                p.subprogs.iter().map(|s| format!("{}/{}", s.start, s.linfo_idx)).collect::<Vec<_>>().join(" ")
            };
            writeln!(f, "  subprogs (start/linfo_idx): {} | {}", subs(a), subs(b))?;
            let li = |p: &Program| {
                p.linfo.iter().map(|l| format!("{}:{}", l.insn_off, l.line_off)).collect::<Vec<_>>().join(" ")
            };
            writeln!(f, "  linfo (insn_off:line_off):  {} | {}", li(a), li(b))?;
            writeln!(f, "  pokes:                      {} | {}", list_words(&a.pokes), list_words(&b.pokes))?;
            let ia = |p: &Program| {
                p.insn_arrays.iter().map(|m| format!("[{}]", list_words(m))).collect::<Vec<_>>().join(" ")
            };
            writeln!(f, "  insn_arrays:                {} | {}", ia(a), ia(b))?;
            let fi = |p: &Program| p.func_info.as_ref().map_or("none".to_string(), |v| format!("{} records", v.len()));
            writeln!(f, "  func_info:                  {} | {}", fi(a), fi(b))?;
        }
        writeln!(f, "\nthe case:\n{}", crate::case_file::to_text(&self.case))?;
        if let Some(r) = &self.reproduce {
            writeln!(f, "reproduce with: {r}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{ArrayEngine, ListEngine, PlantedListEngine};
    use crate::patcher::list::plant::Fault;

    /// An engine under another name.
    struct Named(&'static str, Box<dyn Engine>);

    impl Engine for Named {
        fn name(&self) -> String {
            self.0.to_string()
        }
        fn load(&self, prog: Program) -> Result<Box<dyn Patcher>, String> {
            self.1.load(prog)
        }
    }

    /// An engine that refuses every program.
    struct Refuses;

    impl Engine for Refuses {
        fn name(&self) -> String {
            "refuses".into()
        }
        fn load(&self, _: Program) -> Result<Box<dyn Patcher>, String> {
            Err("not today".into())
        }
    }

    /// A patch of slot 1 into two slots (the aux fault shows), then the
    /// removal of the program's tail (the panic fault shows).
    fn small_case() -> Case {
        let text = "patch-equiv-case 1
program
insns 4
  0  b7 01 00 00 00 00 00 00  aux 0 1 0 1
  1  b7 01 00 00 01 00 00 00  aux 1 1 0 2
  2  b7 01 00 00 02 00 00 00  aux 2 1 0 3
  3  95 00 00 00 00 00 00 00  aux 3 1 0 4
subprogs 1 hidden 0
  0 0
  4 0
linfo 0
func_info none
func_info_aux 0
pokes 0
insn_arrays 0
end
ops 2
  patch 1 2
    0  b7 02 00 00 00 00 00 00
    1  b7 01 00 00 01 00 00 00
  remove 3 2
expect none
";
        crate::case_file::parse("small.case", text).expect("the test case parses")
    }

    #[test]
    fn the_engine_that_diverges_is_named_among_several() {
        let case = small_case();
        for order in [["good", "bad"], ["bad", "good"]] {
            let mut engines: Vec<Box<dyn Engine>> = vec![Box::new(ArrayEngine)];
            for n in order {
                let e: Box<dyn Engine> =
                    if n == "bad" { Box::new(PlantedListEngine(Fault::AuxAtFirstSlot)) } else { Box::new(ListEngine) };
                engines.push(Box::new(Named(n, e)));
            }
            let r = compare(&case, &engines, true).divergence().expect("a finding");
            assert_eq!((r.engine.as_str(), r.kind.name(), r.table.as_str()), ("bad", "divergence", "aux"), "{order:?}");
            assert!(r.to_string().contains("array (kernel model)                         | bad"), "{r}");
        }
    }

    #[test]
    fn a_panic_names_its_engine_even_the_oracle() {
        let case = small_case();
        let panicky = || Box::new(PlantedListEngine(Fault::TailRemovalOutOfBounds)) as Box<dyn Engine>;
        let oracle_panics: [Box<dyn Engine>; 2] = [Box::new(Named("array", panicky())), Box::new(ListEngine)];
        let r = compare(&case, &oracle_panics, false).divergence().expect("a finding");
        assert_eq!((r.engine.as_str(), r.kind.name()), ("array", "panic"));
        let other_panics: [Box<dyn Engine>; 2] = [Box::new(ArrayEngine), panicky()];
        let r = compare(&case, &other_panics, false).divergence().expect("a finding");
        assert_eq!((r.engine.as_str(), r.kind.name(), r.table.as_str()), ("list", "panic", "panic"));
        let Kind::Panic(c) = &r.kind else { unreachable!() };
        assert!(c.message.contains("index out of bounds"), "{c}");
        assert!(r.summary().starts_with("list panicked at op "), "{}", r.summary());
    }

    #[test]
    fn an_engine_that_refuses_a_valid_program_is_a_finding() {
        let case = small_case();
        let engines: [Box<dyn Engine>; 2] = [Box::new(ArrayEngine), Box::new(Refuses)];
        let r = compare(&case, &engines, false).divergence().expect("a finding");
        assert_eq!((r.engine.as_str(), r.table.as_str(), r.op), ("refuses", "load", None));
        assert!(r.other.contains("not today"));
    }
}
