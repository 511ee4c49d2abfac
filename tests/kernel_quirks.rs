//! `docs/kernel-quirks.md` and the corpus stay in step.
//!
//! The doc's machine-readable table sits between `<!-- quirk-cases:begin -->`
//! and `<!-- quirk-cases:end -->`: one row `| Qn | `case file` | `test`, … |`
//! per (quirk, case). This test fails when a quirk section has no row, a row
//! names a quirk with no section, a case file is missing from `corpus/`, does
//! not name its quirk in its `name`/`note` lines, or does not meet its
//! expectation on both patchers, a named rule test is not in
//! `tests/array_rules.rs`, or the doc lacks the `show`/`replay` commands for
//! a case or prints a command naming a file that does not exist.

use patch_equiv::case_file::parse;
use patch_equiv::patcher::{ArrayPatcher, ListPatcher};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const BEGIN: &str = "<!-- quirk-cases:begin -->";
const END: &str = "<!-- quirk-cases:end -->";
const CMD: &str = "cargo run --release -q -- ";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A quirk id at the start of `s` ("Q" and digits), if any.
fn quirk_id(s: &str) -> Option<&str> {
    let digits = s.strip_prefix('Q')?.chars().take_while(char::is_ascii_digit).count();
    (digits > 0).then(|| &s[..1 + digits])
}

/// Whether `text` names `id` as a whole word (so Q1 does not match Q10).
fn names(text: &str, id: &str) -> bool {
    text.match_indices(id).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + id.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_alphanumeric()) && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

struct Row {
    quirk: String,
    case: String,
    tests: Vec<String>,
}

/// The table rows; panics on a malformed table.
fn rows(doc: &str) -> Vec<Row> {
    let start = doc.find(BEGIN).expect("the quirk table's begin marker") + BEGIN.len();
    let len = doc[start..].find(END).expect("the quirk table's end marker");
    let strip = |c: &str| c.trim().trim_matches('`').to_string();
    doc[start..start + len]
        .lines()
        .filter(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            let cells: Vec<&str> = l.trim().trim_matches('|').split('|').collect();
            assert_eq!(cells.len(), 3, "table row {l:?}: expected | quirk | case | tests |");
            let quirk = strip(cells[0]);
            assert!(quirk_id(&quirk) == Some(quirk.as_str()), "table row {l:?}: {quirk:?} is not a quirk id");
            Row { quirk, case: strip(cells[1]), tests: cells[2].split(',').map(strip).collect() }
        })
        .collect()
}

/// The quirk ids of the `## Qn — …` sections.
fn sections(doc: &str) -> BTreeSet<String> {
    doc.lines().filter_map(|l| l.strip_prefix("## ")).filter_map(quirk_id).map(str::to_string).collect()
}

/// The names the `both!(…)` list of `tests/array_rules.rs` runs.
fn rule_tests() -> BTreeSet<String> {
    let text = read("tests/array_rules.rs");
    let start = text.find("both!(").expect("both!( in tests/array_rules.rs") + "both!(".len();
    let len = text[start..].find(')').unwrap();
    text[start..start + len].split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

/// Everything wrong with `doc` against the corpus in `corpus` (empty: in step).
fn problems(doc: &str, corpus: &Path) -> Vec<String> {
    let rows = rows(doc);
    let tests = rule_tests();
    let mut problems = Vec::new();

    let in_table: BTreeSet<String> = rows.iter().map(|r| r.quirk.clone()).collect();
    let documented = sections(doc);
    if documented.is_empty() {
        problems.push("no \"## Qn\" sections".to_string());
    }
    for q in documented.difference(&in_table) {
        problems.push(format!("{q} has a section but no case in the table"));
    }
    for q in in_table.difference(&documented) {
        problems.push(format!("{q} is in the table but has no section"));
    }

    let mut replayed: BTreeSet<String> = BTreeSet::new();
    for r in &rows {
        let Ok(text) = std::fs::read_to_string(corpus.join(&r.case)) else {
            problems.push(format!("{}: corpus/{} does not exist", r.quirk, r.case));
            continue;
        };
        let header: Vec<&str> = text
            .lines()
            .take_while(|l| l.trim() != "program")
            .filter(|l| l.starts_with("name") || l.starts_with("note"))
            .collect();
        if !names(&header.join("\n"), &r.quirk) {
            problems.push(format!("{}: corpus/{} does not name {} in its name or notes", r.quirk, r.case, r.quirk));
        }
        if replayed.insert(r.case.clone()) {
            match parse(&r.case, &text) {
                Err(e) => problems.push(format!("corpus/{}: {e}", r.case)),
                Ok(case) if case.expect.is_none() => problems.push(format!("corpus/{}: no expectation", r.case)),
                Ok(case) => {
                    problems
                        .extend(case.check::<ArrayPatcher>().err().map(|m| format!("corpus/{}: array: {m}", r.case)));
                    problems.extend(case.check::<ListPatcher>().err().map(|m| format!("corpus/{}: list: {m}", r.case)));
                }
            }
        }
        for t in &r.tests {
            if !tests.contains(t) {
                problems.push(format!("{}: test {t} is not run by tests/array_rules.rs", r.quirk));
            }
        }
        for verb in ["show", "replay"] {
            let cmd = format!("{CMD}{verb} corpus/{}", r.case);
            if !doc.contains(&cmd) {
                problems.push(format!("{}: the doc lacks `{cmd}`", r.quirk));
            }
        }
    }

    // Every command the doc prints names a corpus file that exists.
    for line in doc.lines() {
        let Some(at) = line.find(CMD) else { continue };
        for w in line[at + CMD.len()..].split_whitespace().skip(1).take_while(|w| !w.starts_with('#')) {
            let w = w.trim_matches('`');
            if let Some(name) = w.strip_prefix("corpus/") {
                if !name.contains('<') && !corpus.join(name).exists() {
                    problems.push(format!("the doc prints a command naming {w}, which does not exist"));
                }
            }
        }
    }
    problems
}

fn corpus_dir() -> PathBuf {
    root().join("corpus")
}

#[test]
fn every_quirk_in_the_doc_has_a_corpus_case_that_holds() {
    let p = problems(&read("docs/kernel-quirks.md"), &corpus_dir());
    assert!(p.is_empty(), "{} problem(s):\n{}", p.len(), p.join("\n"));
}

/// The doc with the table rows of `quirk` taken out.
fn without_rows(doc: &str, quirk: &str) -> String {
    let (start, end) = (doc.find(BEGIN).unwrap(), doc.find(END).unwrap());
    let table: Vec<&str> = doc[start..end].lines().filter(|l| !l.starts_with(&format!("| {quirk} |"))).collect();
    format!("{}{}\n{}", &doc[..start], table.join("\n"), &doc[end..])
}

#[test]
fn the_check_fails_when_a_case_or_a_row_is_removed() {
    let doc = read("docs/kernel-quirks.md");
    let corpus = corpus_dir();

    // A quirk whose rows are gone.
    let p = problems(&without_rows(&doc, "Q15"), &corpus);
    assert!(p.iter().any(|m| m.starts_with("Q15 has a section but no case")), "{p:?}");

    // A case file that is gone: a corpus copy without one of the cited cases.
    let victim = "hidden-subprog-new-fake-exit-keeps-stale-linfo-idx-q15.case";
    let copy = Path::new(env!("CARGO_TARGET_TMPDIR")).join("quirks-corpus");
    let _ = std::fs::remove_dir_all(&copy);
    std::fs::create_dir_all(&copy).unwrap();
    for e in std::fs::read_dir(&corpus).unwrap() {
        let e = e.unwrap();
        if e.file_name() != victim {
            std::fs::copy(e.path(), copy.join(e.file_name())).unwrap();
        }
    }
    let p = problems(&doc, &copy);
    assert!(p.iter().any(|m| m.contains(&format!("corpus/{victim} does not exist"))), "{p:?}");
    assert!(p.iter().any(|m| m.contains(&format!("naming corpus/{victim}"))), "{p:?}");

    // A case cited for a quirk its notes do not name.
    let wrong = doc.replacen(
        "| Q15 | `hidden-subprog-new-fake-exit-keeps-stale-linfo-idx-q15.case`",
        "| Q15 | `q10-nop-removal-may-goto-pair-collapses.case`",
        1,
    );
    let p = problems(&wrong, &corpus);
    assert!(p.iter().any(|m| m.contains("does not name Q15")), "{p:?}");

    assert!(names("covers: Q1, Q15", "Q15") && names("Q1 boundary", "Q1") && !names("Q10 only", "Q1"));
}
