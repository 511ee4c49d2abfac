//! Replaying case files and kernel vectors through the selected engines.

use crate::case::{Case, Mismatch};
use crate::engine::EngineSet;
use crate::input::InputError;
use crate::vectors;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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

/// Why a case failed, in words.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Failure {
    /// The engine that failed (diverged, missed the expectation, panicked, crashed).
    pub engine: String,
    /// The op concerned, when one is.
    pub op: Option<usize>,
    /// `divergence`, `panic`, `crash` or `expectation`.
    pub kind: String,
    /// One line in words.
    pub what: String,
    /// The full report (`--verbose`), when asked for.
    pub detail: Option<String>,
}

/// What replaying one case found.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Verdict {
    Pass,
    /// The expectation was not met, or an engine diverged or panicked (exit 1).
    Fail(Failure),
    /// The case itself is malformed: an invalid program, or an op the tool
    /// refuses (exit 2).
    Malformed(String),
}

/// Check one case with `engines`: with more than one, they are first run side
/// by side and compared op by op (a finding wins over everything); then every
/// engine is held to the case's expectation. Panics are failures, never the
/// end of the replay. `verbose` keeps the full report.
pub fn check(case: &Case, engines: &EngineSet, verbose: bool) -> Verdict {
    if let Err(e) = case.prog.validate() {
        return Verdict::Malformed(e.to_string());
    }
    if engines.all().len() > 1 {
        if let Some(r) = crate::equiv::check(case, engines).divergence() {
            return Verdict::Fail(Failure {
                engine: r.engine.clone(),
                op: r.op,
                kind: r.kind.name().to_string(),
                what: r.summary(),
                detail: verbose.then(|| r.to_string()),
            });
        }
    }
    for e in engines.all() {
        let fail = |kind: &str, op, what: String| {
            Verdict::Fail(Failure {
                engine: e.name(),
                op,
                kind: kind.to_string(),
                detail: verbose.then(|| format!("{what}\n\nthe case:\n{}", crate::case_file::to_text(case))),
                what,
            })
        };
        match crate::panics::catch(|| case.check_engine(&**e)) {
            Ok(Ok(())) => {}
            Ok(Err(Mismatch::Refused { op, err })) => return Verdict::Malformed(format!("op {op}: {err}")),
            Ok(Err(Mismatch::Invalid(err))) => return Verdict::Malformed(err.to_string()),
            Ok(Err(m)) => return fail("expectation", m.op(), format!("{}: {m}", e.name())),
            Err(c) => return fail("panic", None, format!("{} panicked: {c}", e.name())),
        }
    }
    Verdict::Pass
}
