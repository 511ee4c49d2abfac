//! Replaying case files and kernel vectors through one or both patchers.

use crate::case::{Case, Mismatch};
use crate::patcher::list::plant::Fault;
use crate::patcher::{ArrayPatcher, ListPatcher};
use crate::vectors::{self, InputError};
use std::path::{Path, PathBuf};

/// Which patcher(s) a replay runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum Which {
    Array,
    List,
    Both,
}

/// Every case file below `paths`: `.jsonl`, `.jsonl.gz` and `.case`, sorted.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, InputError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut stack = vec![p.clone()];
            while let Some(d) = stack.pop() {
                let rd = std::fs::read_dir(&d).map_err(|e| InputError {
                    file: d.display().to_string(),
                    line: 0,
                    msg: format!("cannot read directory: {e}"),
                })?;
                for e in rd.flatten() {
                    let path = e.path();
                    if path.is_dir() {
                        stack.push(path);
                    } else if is_case_file(&path) {
                        out.push(path);
                    }
                }
            }
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(InputError { file: p.display().to_string(), line: 0, msg: "no such file or directory".into() });
        }
    }
    out.sort();
    Ok(out)
}

fn is_case_file(p: &Path) -> bool {
    let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    n.ends_with(".jsonl") || n.ends_with(".jsonl.gz") || n.ends_with(".case") || n.ends_with(".case.gz")
}

/// Load every case of one file, by its name: JSON Lines or the text format.
pub fn load_file(path: &Path) -> Result<Vec<Case>, InputError> {
    let text = vectors::read_text(path)?;
    let file = path.display().to_string();
    if file.trim_end_matches(".gz").ends_with(".case") {
        crate::case_file::parse(&file, &text).map(|c| vec![c])
    } else {
        vectors::parse_vectors(&file, &text)
    }
}

/// What replaying one case found.
#[derive(Debug)]
pub enum Verdict {
    Pass,
    /// The expectation was not met, or the patchers diverged (exit 1).
    Fail(String, Mismatch),
    /// The case itself is malformed: an invalid program, or an op the tool
    /// refuses (exit 2).
    Malformed(String),
}

/// Check one case with the chosen patcher(s). With `both`, the two are first
/// run side by side and compared op by op (a divergence wins over everything).
pub fn check(case: &Case, which: Which) -> Verdict {
    check_with(case, which, None)
}

/// The same, with a planted fault in the list patcher (harness self-test).
pub fn check_with(case: &Case, which: Which, plant: Option<Fault>) -> Verdict {
    if let Err(e) = case.prog.validate() {
        return Verdict::Malformed(e.to_string());
    }
    if which == Which::Both {
        let check = plant
            .map_or(crate::campaign::real_checker as crate::campaign::Checker, crate::patcher::list::plant::checker);
        if let Some(report) = check(case).divergence() {
            return Verdict::Fail("both".to_string(), Mismatch::Diverged(Box::new(report)));
        }
    }
    let sides: &[(&str, bool)] = &[("array", which != Which::List), ("list", which != Which::Array)];
    for &(who, on) in sides {
        if !on {
            continue;
        }
        let r = if who == "array" { case.check::<ArrayPatcher>() } else { check_list(case, plant) };
        match r {
            Ok(()) => {}
            Err(Mismatch::Refused { op, err }) => return Verdict::Malformed(format!("op {op}: {err}")),
            Err(Mismatch::Invalid(e)) => return Verdict::Malformed(e.to_string()),
            Err(m) => return Verdict::Fail(who.to_string(), m),
        }
    }
    Verdict::Pass
}

fn check_list(case: &Case, plant: Option<Fault>) -> Result<(), Mismatch> {
    use crate::patcher::list::plant::Planted;
    match plant {
        None => case.check::<ListPatcher>(),
        Some(Fault::LinfoAtOffMoves) => case.check::<Planted<0>>(),
        Some(Fault::SubprogStartMoves) => case.check::<Planted<1>>(),
        Some(Fault::PseudoFuncNotAdjusted) => case.check::<Planted<2>>(),
        Some(Fault::AuxAtFirstSlot) => case.check::<Planted<3>>(),
        Some(Fault::PokeNotMoved) => case.check::<Planted<4>>(),
        Some(Fault::NoLinfoInherit) => case.check::<Planted<5>>(),
        Some(Fault::InsnArrayNotDeleted) => case.check::<Planted<6>>(),
    }
}
