//! The regression corpus: every `corpus/*.case` (one hand-checked case per
//! file, named after the rule or quirk of the semantics doc it covers) must
//! meet its expectation on both patchers, show no divergence between them,
//! and survive a text round trip.

use patch_equiv::case::Case;
use patch_equiv::case_file::{parse, to_text};
use patch_equiv::equiv::run_case;
use patch_equiv::patcher::{ArrayPatcher, ListPatcher};
use std::path::{Path, PathBuf};

/// Fewest case files the corpus may hold.
const MIN_CASES: usize = 30;

fn corpus_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "case"))
        .collect();
    files.sort();
    files
}

/// Every problem with one case, in words (empty: the case passes).
fn problems(case: &Case) -> Vec<String> {
    let mut out = Vec::new();
    if case.expect.is_none() {
        out.push("no expectation (\"expect none\"): corpus cases must state their outcome".to_string());
    }
    if let Err(m) = case.check::<ArrayPatcher>() {
        out.push(format!("array patcher: {m}"));
    }
    if let Err(m) = case.check::<ListPatcher>() {
        out.push(format!("list patcher: {m}"));
    }
    if let Some(r) = run_case(case).divergence() {
        out.push(format!("equivalence: {r}"));
    }
    match parse("round-trip", &to_text(case)) {
        Ok(back) if back == *case => {}
        Ok(_) => out.push("round trip: to_text then parse gives a different case".to_string()),
        Err(e) => out.push(format!("round trip: to_text output does not parse: {e}")),
    }
    out
}

#[test]
fn corpus_cases_hold_on_both_patchers() {
    let files = corpus_files();
    assert!(files.len() >= MIN_CASES, "corpus has {} case files, expected at least {MIN_CASES}", files.len());
    let mut failures = Vec::new();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{name}: unreadable: {e}"));
                continue;
            }
        };
        let case = match parse(&name, &text) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{name}: does not parse: {e}"));
                continue;
            }
        };
        failures.extend(problems(&case).into_iter().map(|p| format!("{name}: {p}")));
    }
    assert!(
        failures.is_empty(),
        "{} problem(s) in {} corpus files:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
