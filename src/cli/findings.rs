//! Findings as `run`, `repro` and `shrink` handle them: checked in this
//! process or, for engines that can crash, in a child; shrunk within a time
//! budget while the same finding persists.

use super::{bad, command_line, say, sayln, write_case, Exit};
use crate::case::Case;
use crate::engine::EngineSet;
use crate::finding::Finding;
use crate::isolate::{self, Child};
use crate::shrink::{self, Budget, Shrunk};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Shrinking gets this many times what one check of the case took…
pub const SHRINK_FACTOR: f64 = 20.0;
/// …but at least this many seconds…
pub const SHRINK_MIN_SECS: f64 = 2.0;
/// …and in a timed run, ends at most this long after the run's deadline.
pub const GRACE_SECS: f64 = 3.0;

/// Where cases are checked.
pub enum Checker<'a> {
    InProcess(&'a EngineSet),
    Child(Child),
}

impl<'a> Checker<'a> {
    /// In a child when an engine can crash, here otherwise.
    pub fn new(engines: &'a EngineSet) -> Result<Checker<'a>, Exit> {
        if engines.can_crash() {
            Ok(Checker::Child(Child::new(engines).map_err(bad)?))
        } else {
            Ok(Checker::InProcess(engines))
        }
    }

    /// The finding of `case`, with its full report.
    pub fn check(&self, case: &Case) -> Result<Option<Finding>, Exit> {
        match self {
            Checker::InProcess(e) => Ok(crate::equiv::check(case, e).divergence().map(|r| Finding::from(&r))),
            Checker::Child(c) => match c.check_case(case).map_err(bad)? {
                isolate::Checked::Clean => Ok(None),
                isolate::Checked::Found(f) => Ok(Some(f)),
                isolate::Checked::Crashed { status, stderr } => Ok(Some(c.crash_finding(case, &status, &stderr))),
            },
        }
    }

    /// What identifies the finding of `case` (cheap: no crash location).
    pub fn signature(&self, case: &Case) -> Option<String> {
        match self {
            Checker::InProcess(e) => crate::equiv::check(case, e).divergence().map(|r| r.signature()),
            Checker::Child(c) => c.check_case(case).ok().and_then(|v| v.signature()),
        }
    }
}

/// The shrink budget: `explicit` seconds, or the default multiple of what
/// one check of `case` takes, bounded by `run_deadline` (plus the grace).
/// Also says whether the finding still shows (it must, to shrink).
pub fn budget(
    checker: &Checker,
    case: &Case,
    signature: &str,
    explicit: Option<f64>,
    run_deadline: Option<Instant>,
) -> (Budget, bool) {
    let t = Instant::now();
    let again = checker.signature(case).as_deref() == Some(signature);
    let took = t.elapsed().as_secs_f64();
    let secs = explicit.unwrap_or_else(|| {
        let mut s = (SHRINK_FACTOR * took).max(SHRINK_MIN_SECS);
        if let Some(d) = run_deadline {
            let left = d.saturating_duration_since(Instant::now()).as_secs_f64() + GRACE_SECS;
            s = s.min(left);
        }
        s
    });
    (Budget::new(shrink::TRIES, Some(secs)), again)
}

/// Shrink `case` while `checker` finds the same `signature`.
pub fn shrink_case(checker: &Checker, case: &Case, signature: &str, budget: Budget) -> Shrunk {
    let same = |c: &Case| checker.signature(c).as_deref() == Some(signature);
    shrink::shrink(case, &same, budget)
}

/// How the shrinking went, in words.
pub fn shrink_words(from: &Case, s: &Shrunk, secs: f64) -> String {
    let how = if s.stopped_early {
        format!("stopped early: the shrink budget ran out after {secs:.1} s and {} tries (--shrink-time)", s.tries)
    } else {
        format!("done in {secs:.1} s, {} tries", s.tries)
    };
    format!("shrunk {} → {} (insns+ops+metadata), {how}", shrink::size(from), shrink::size(&s.case))
}

/// `shrink CASE`: a clean case is not an error (exit 0, nothing written).
pub fn cmd_shrink(engines: &EngineSet, path: &Path, out: Option<PathBuf>, secs: Option<f64>) -> Result<i32, Exit> {
    let case = super::load_one_case(path)?;
    case.prog.validate().map_err(|e| bad(format!("{}: {e}", path.display())))?;
    let checker = Checker::new(engines)?;
    let Some(found) = checker.check(&case)? else {
        sayln(&format!(
            "{}: no finding with engines {}: nothing to shrink, nothing written",
            path.display(),
            engines.spec()
        ));
        return Ok(0);
    };
    let (budget, again) = budget(&checker, &case, &found.signature, secs, None);
    if !again {
        return Err(Exit(1, format!("{}: the finding does not show twice in a row; not shrunk", path.display())));
    }
    let t = Instant::now();
    let small = shrink_case(&checker, &case, &found.signature, budget);
    let out = out.unwrap_or_else(|| default_min_path(path));
    write_case(&out, &small.case).map_err(bad)?;
    let mut args = vec!["replay".to_string()];
    args.extend(engines.flags());
    args.push(out.display().to_string());
    say(&format!(
        "{}\nwritten to {}\nreproduce with: {}\n",
        shrink_words(&case, &small, t.elapsed().as_secs_f64()),
        out.display(),
        command_line(&args)
    ));
    Ok(0)
}

/// `NAME.case` → `NAME.min.case` beside it.
pub fn default_min_path(path: &Path) -> PathBuf {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("case");
    let stem = name.strip_suffix(".gz").unwrap_or(name);
    let stem = stem.strip_suffix(".case").or_else(|| stem.strip_suffix(".jsonl")).unwrap_or(stem);
    path.with_file_name(format!("{stem}.min.case"))
}
