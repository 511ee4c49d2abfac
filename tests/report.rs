//! `patch-equiv report` end to end, through the real binary.
//!
//! The run summaries are made here by the binary itself (two seeded runs of
//! 200 cases); the benchmark input `tests/data/report/bench-quick.json` is
//! the output of `cargo run --release -q -- bench --quick --json` on the
//! project machine (a benchmark is too slow for a test build to produce). The
//! replay results are fixtures written to the agreed `replay --json` schema
//! (/work/notes/schemas.md), one with an unknown field.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_patch-equiv");

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/report").join(name)
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("report-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Run the binary; (exit code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(BIN).args(args).output().expect("run patch-equiv");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}

/// `run --json` with these arguments, written to `dir/name`; the parsed summary.
fn summary(dir: &Path, name: &str, args: &[&str]) -> (PathBuf, Value) {
    let mut a = vec!["run", "--json"];
    a.extend_from_slice(args);
    let (code, out, err) = run(&a);
    assert_eq!(code, 0, "run {args:?}: {err}");
    let path = dir.join(name);
    std::fs::write(&path, &out).unwrap();
    (path, serde_json::from_str(&out).unwrap_or_else(|e| panic!("run {args:?} printed no JSON: {e}\n{out}")))
}

/// The rows of the first pipe table after the heading `## title`.
fn table(md: &str, title: &str) -> Vec<Vec<String>> {
    let head = format!("## {title}");
    let mut lines = md.lines().skip_while(|l| l.trim() != head).skip(1);
    let rows: Vec<Vec<String>> = lines
        .by_ref()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.trim_matches('|').split(" | ").map(|c| c.trim().to_string()).collect())
        .collect();
    assert!(rows.len() >= 2, "no table under {head}:\n{md}");
    rows[2..].to_vec()
}

/// The value of row `key` in a two-column table.
fn value<'a>(rows: &'a [Vec<String>], key: &str) -> &'a str {
    &rows.iter().find(|r| r[0] == key).unwrap_or_else(|| panic!("no row {key:?} in {rows:?}"))[1]
}

fn sum(runs: &[&Value], key: &str) -> u64 {
    runs.iter().map(|r| r[key].as_u64().unwrap_or_else(|| panic!("{key} in {r}"))).sum()
}

#[test]
fn report_totals_equal_the_sum_of_its_inputs() {
    let dir = scratch("totals");
    let (p1, r1) = summary(&dir, "run1.json", &["--seed", "1", "--cases", "200", "--jobs", "1"]);
    let (p2, r2) = summary(&dir, "run2.json", &["--seed", "2", "--cases", "200", "--jobs", "2"]);
    let runs = [&r1, &r2];
    let bench_path = data("bench-quick.json");
    let bench: Value = serde_json::from_str(&std::fs::read_to_string(&bench_path).unwrap()).unwrap();
    let (p1, p2, pb) = (p1.to_str().unwrap(), p2.to_str().unwrap(), bench_path.to_str().unwrap());

    let (code, md, err) = run(&["report", p1, p2, "--bench", pb]);
    assert_eq!(code, 0, "{err}");

    // Totals: cases, ops, rejected and seconds summed over the two summaries.
    let totals = table(&md, "Totals");
    for (row, key) in [("cases", "cases"), ("operations", "ops"), ("rejected generator inputs", "rejected")] {
        assert_eq!(value(&totals, row), sum(&runs, key).to_string(), "{row}");
    }
    let seconds: f64 = runs.iter().map(|r| r["seconds"].as_f64().unwrap()).sum();
    assert_eq!(value(&totals, "campaign seconds (wall clock)"), format!("{seconds:.3}"));
    assert_eq!(value(&totals, "campaign hours (wall clock)"), format!("{:.4}", seconds / 3600.0));
    assert_eq!(value(&totals, "divergences"), "0");
    assert!(value(&totals, "engines compared").starts_with("array (oracle), list"), "{totals:?}");

    // One row per summary, then the total row.
    let campaigns = table(&md, "Campaigns");
    assert_eq!(campaigns.len(), 3, "{campaigns:?}");
    for (row, r) in campaigns.iter().zip(runs) {
        assert_eq!(row[1], r["seed"].to_string());
        assert_eq!(row[3], r["cases"].to_string());
        assert_eq!(row[4], r["ops"].to_string());
    }
    assert_eq!(campaigns[2][3], sum(&runs, "cases").to_string());
    assert_eq!(campaigns[2][4], sum(&runs, "ops").to_string());

    // Every feature either summary names, with the sum of its counts; the
    // never-reached line lists exactly those whose sum is zero.
    let features = table(&md, "Generator features");
    let names = r1["features"].as_object().unwrap();
    assert_eq!(features.len(), names.len(), "{features:?}");
    let mut zero = Vec::new();
    for (name, n) in names {
        let total = n.as_u64().unwrap() + r2["features"][name].as_u64().unwrap();
        assert_eq!(value(&features, name), total.to_string(), "feature {name}");
        if total == 0 {
            zero.push(format!("`{name}`"));
        }
    }
    let never = md.lines().find(|l| l.starts_with("Never reached:")).expect("never-reached line");
    if zero.is_empty() {
        assert!(never.contains("none"), "{never}");
    } else {
        for z in &zero {
            assert!(never.contains(z.as_str()), "{never} lacks {z}");
        }
    }

    // The benchmark table: one row per input row, in order, with its figures.
    let rows = table(&md, "Benchmarks");
    let input = bench["rows"].as_array().unwrap();
    assert_eq!(rows.len(), input.len());
    for (row, r) in rows.iter().zip(input) {
        assert_eq!(row[0], r["workload"].as_str().unwrap());
        assert_eq!(row[1], r["insns"].to_string());
        assert_eq!(row[2], r["ops"].to_string());
    }
    assert!(md.contains("](data:image/svg+xml;base64,"), "the W2 plot is embedded");

    // The HTML page: self-contained, the W2 plot inline (one point per W2
    // row and engine), the same totals.
    let (code, html, err) = run(&["report", p1, p2, "--bench", pb, "--format", "html"]);
    assert_eq!(code, 0, "{err}");
    let w2 = input.iter().filter(|r| r["workload"].as_str().unwrap().starts_with("W2")).count();
    assert!(w2 > 0);
    assert_eq!(html.matches("<svg").count(), 1);
    assert_eq!(html.matches("<circle").count(), 2 * w2);
    for external in ["src=", "href=", "@import", "url("] {
        assert!(!html.contains(external), "external asset: {external}");
    }
    let cases = sum(&runs, "cases");
    assert!(html.contains(&format!("<tr><td>cases</td><td class=\"r\">{cases}</td></tr>")));

    // --out writes the same text.
    let out = dir.join("report.md");
    let (code, stdout, err) = run(&["report", p1, p2, "--bench", pb, "--out", out.to_str().unwrap()]);
    assert_eq!((code, stdout.as_str()), (0, ""), "{err}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), md);
}

#[test]
fn report_shows_replays_mutation_score_and_failures() {
    let dir = scratch("replays");
    let (p1, _) = summary(&dir, "run.json", &["--seed", "3", "--cases", "50", "--jobs", "1"]);
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/mutation-testing.md");
    let (v, c) = (data("replay-vectors.json"), data("replay-corpus-failing.json"));
    let args = [
        "report",
        p1.to_str().unwrap(),
        "--replay",
        v.to_str().unwrap(),
        "--replay",
        c.to_str().unwrap(),
        "--mutation",
        doc.to_str().unwrap(),
    ];
    let (code, md, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    let replays = table(&md, "Replays: kernel vectors and regression corpus");
    assert_eq!(replays.len(), 2);
    assert_eq!(replays[0][2..], ["3", "347", "0", "0"]);
    assert_eq!(replays[1][2..], ["46", "45", "1", "0"]);
    assert_eq!(value(&table(&md, "Totals"), "replayed cases passed"), "392 of 393");
    assert!(md.contains("`linfo-inherits-last-removed-record` in `corpus/linfo-inherits-last-removed-record.case` (list, op 0): final state"), "{md}");
    // The score as the mutation-testing doc states it in its first result block.
    let text = std::fs::read_to_string(&doc).unwrap();
    let score = text.lines().find(|l| l.starts_with("score: ")).unwrap();
    let frac = score.split_whitespace().nth(1).unwrap();
    assert!(value(&table(&md, "Totals"), "mutation score").starts_with(frac), "{score}");
    assert!(md.contains("time to detect"), "{md}");
}

#[test]
fn report_keeps_divergences_from_both_summary_schemas() {
    let (new, old) = (data("run-divergence.json"), data("run-old-divergence.txt"));
    let (code, md, err) = run(&["report", new.to_str().unwrap(), old.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let totals = table(&md, "Totals");
    assert_eq!(value(&totals, "divergences"), "2");
    assert_eq!(value(&totals, "cases"), "2468");
    // Only the new summary has ops and seconds; the old one is named as incomplete.
    assert_eq!(value(&totals, "operations"), "40000");
    assert!(md.contains("give no ops, seconds or feature counts") && md.contains("run-old-divergence.txt"), "{md}");
    assert!(md.contains("DIVERGENCE: 2 divergence(s) found"), "{md}");
    assert!(md.contains("reproduce with `cargo run --release -q -- replay artifacts/seed-7-case-1233.case`"), "{md}");
    assert!(md.contains("shrunk case `artifacts/seed-7-case-1233.case`"), "{md}");
    // A feature only a newer generator knows is listed, not dropped; one no
    // summary reports is shown as such, not as never reached.
    let features = table(&md, "Generator features");
    assert_eq!(value(&features, "a feature from a newer generator"), "5");
    assert_eq!(value(&features, "gotol"), "100");
    assert_eq!(value(&features, "pseudo call"), "—");
    let unreported = md.lines().find(|l| l.starts_with("Not reported by any summary")).expect("unreported line");
    assert!(unreported.contains("`pseudo call`") && !unreported.contains("`gotol`"), "{unreported}");
    assert!(md.contains("Never reached: none"), "{md}");
}

#[test]
fn report_refuses_bad_inputs_with_exit_2() {
    let good = data("replay-vectors.json");
    let cases = [
        (vec!["report".to_string(), data("run-wrong-kind.json").display().to_string()], "\"kind\" is \"bench\""),
        (vec!["report".into(), data("run-version-2.json").display().to_string()], "\"version\" 2"),
        (vec!["report".into(), data("bench-quick.json").display().to_string()], "not a `run --json` summary"),
        (vec!["report".into(), data("no-such-file.json").display().to_string()], "no-such-file.json"),
        (
            vec![
                "report".into(),
                data("run-divergence.json").display().to_string(),
                "--replay".into(),
                data("replay-missing-passed.json").display().to_string(),
            ],
            "missing field `passed`",
        ),
        (
            vec![
                "report".into(),
                data("run-divergence.json").display().to_string(),
                "--mutation".into(),
                good.display().to_string(),
            ],
            "no \"score:",
        ),
        (
            vec![
                "report".into(),
                data("run-divergence.json").display().to_string(),
                "--bench".into(),
                good.display().to_string(),
            ],
            "not `bench --json` output",
        ),
    ];
    for (args, want) in cases {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out, err) = run(&a);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains(want), "{args:?}: stderr {err:?} lacks {want:?}");
        assert!(out.is_empty(), "{args:?} printed a report: {out}");
    }
}
