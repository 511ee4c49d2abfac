//! `replay`: every case of every file through the selected engines; one line
//! per failing case, a summary, the full reports with `--verbose`. Engines
//! that can crash replay in child processes, a crash failing only its case.

use super::{bad, say, sayln, Exit};
use crate::engine::EngineSet;
use crate::isolate::{Child, Line};
use crate::replay::{self, Failure, Verdict};
use std::path::{Path, PathBuf};

/// One failing or malformed case, for the report and the JSON document.
struct Row {
    case: String,
    file: String,
    verdict: Verdict,
}

pub fn cmd(engines: &EngineSet, paths: &[PathBuf], verbose: bool, json: bool) -> Result<i32, Exit> {
    let files = replay::collect_files(paths).map_err(|e| bad(e.to_string()))?;
    if files.is_empty() {
        return Err(bad("no .jsonl, .jsonl.gz or .case files found"));
    }
    let child = if engines.can_crash() { Some(Child::new(engines).map_err(bad)?) } else { None };
    let (mut pass, mut fail, mut malformed) = (0u64, 0u64, 0u64);
    let mut rows = Vec::new();
    for f in &files {
        let cases = replay::load_file(f).map_err(|e| bad(e.to_string()))?;
        let verdicts = match &child {
            None => cases.iter().map(|c| replay::check(c, engines, verbose)).collect(),
            Some(ch) => in_children(ch, f, &cases, verbose)?,
        };
        for (case, v) in cases.iter().zip(verdicts) {
            let row = Row { case: case.name.clone(), file: f.display().to_string(), verdict: v };
            match &row.verdict {
                Verdict::Pass => pass += 1,
                Verdict::Fail(fl) => {
                    fail += 1;
                    let line = format!("FAIL {} [{}] {}\n", row.case, row.file, fl.what);
                    let detail = fl.detail.as_deref().map_or(String::new(), |d| format!("{d}\n"));
                    if json {
                        eprint!("{line}{detail}");
                    } else {
                        say(&format!("{line}{detail}"));
                    }
                }
                Verdict::Malformed(msg) => {
                    malformed += 1;
                    eprintln!("patch-equiv: {}: case {}: {msg}", row.file, row.case);
                }
            }
            if row.verdict != Verdict::Pass {
                rows.push(row);
            }
        }
    }
    let mut summary = format!("{pass} passed, {fail} failed");
    if malformed > 0 {
        summary += &format!(", {malformed} malformed");
    }
    if fail > 0 && !verbose {
        summary += " (--verbose for the full reports)";
    }
    if json {
        eprintln!("{summary}");
        let failures: Vec<serde_json::Value> = rows
            .iter()
            .filter_map(|r| match &r.verdict {
                Verdict::Fail(f) => Some(serde_json::json!({
                    "case": r.case, "file": r.file, "engine": f.engine, "op": f.op, "kind": f.kind, "what": f.what,
                })),
                _ => None,
            })
            .collect();
        let bad_cases: Vec<serde_json::Value> = rows
            .iter()
            .filter_map(|r| match &r.verdict {
                Verdict::Malformed(m) => Some(serde_json::json!({ "case": r.case, "file": r.file, "what": m })),
                _ => None,
            })
            .collect();
        let v = serde_json::json!({
            "kind": "replay", "version": 1, "engines": engines.names(),
            "plant": engines.plant().map(|p| p.name), "files": files.len(),
            "passed": pass, "failed": fail, "malformed": malformed,
            "failures": failures, "malformed_cases": bad_cases,
        });
        sayln(&serde_json::to_string_pretty(&v).expect("json"));
    } else {
        sayln(&summary);
    }
    Ok(if malformed > 0 {
        2
    } else if fail == 0 {
        0
    } else {
        1
    })
}

/// The verdicts of `cases` (of `file`) from child processes; a case that
/// crashes its child is a failure, and the next child goes on after it.
fn in_children(child: &Child, file: &Path, cases: &[crate::case::Case], verbose: bool) -> Result<Vec<Verdict>, Exit> {
    let mut out: Vec<Option<Verdict>> = vec![None; cases.len()];
    let mut skip = 0;
    while skip < cases.len() {
        let ran = child.replay_file(file, skip, verbose).map_err(bad)?;
        let mut next = skip;
        for l in ran.lines {
            if let Line::Verdict { index, verdict } = l {
                if index < cases.len() {
                    out[index] = Some(verdict);
                    next = index + 1;
                }
            }
        }
        if ran.done {
            break;
        }
        if next < cases.len() {
            let f = child.crash_finding(&cases[next], &ran.status, &ran.stderr);
            out[next] = Some(Verdict::Fail(Failure {
                engine: f.engine.clone(),
                op: f.op,
                kind: f.kind.clone(),
                what: f.summary.clone(),
                detail: verbose.then(|| f.text.clone()),
            }));
        }
        skip = next + 1;
    }
    Ok(out.into_iter().map(|v| v.unwrap_or_else(|| Verdict::Malformed("not replayed".into()))).collect())
}
