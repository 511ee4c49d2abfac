//! No finding is ever lost, and every printed command works (issue 13),
//! through the real binary: a panic and a crash of an engine are reported,
//! shrunk, written and reproduced like a divergence; every printed reproduce
//! command, run verbatim from the repository root, reproduces the finding;
//! `--json` prints exactly one document; a bad `--out` stops the run before
//! any case; exit codes are as the README says.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_patch-equiv");
const PREFIX: &str = "cargo run --release -q --";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn pe(args: &[&str]) -> Output {
    Command::new(BIN).args(args).current_dir(root()).stdin(Stdio::null()).output().expect("run patch-equiv")
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("patch-equiv-findings-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The commands a report prints after `label`.
fn printed(out: &str, label: &str) -> Vec<String> {
    out.lines().filter_map(|l| l.strip_prefix(label)).map(|c| c.trim().to_string()).collect()
}

/// Run a printed command verbatim through `sh -c` from the repository root,
/// with this test's binary standing for `cargo run --release -q --` (the
/// prefix itself is checked here and run for real by `.ci/run`).
fn run_printed(cmd: &str) -> Output {
    let rest = cmd.strip_prefix(PREFIX).unwrap_or_else(|| panic!("printed command without the prefix: {cmd}"));
    let line = format!("'{BIN}'{rest}");
    Command::new("sh").args(["-c", &line]).current_dir(root()).output().expect("sh")
}

/// A planted run finds, writes raw and shrunk cases and prints commands that
/// reproduce the same finding (`head`: how the report starts).
fn planted_run_reproduces(fault: &str, seed: &str, head: &str) {
    let dir = scratch(fault);
    let out = pe(&[
        "run",
        "--seed",
        seed,
        "--cases",
        "4000",
        "--jobs",
        "2",
        "--plant",
        fault,
        "--out",
        dir.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{fault}: run must report the finding:\n{stdout}\n{stderr}");
    assert!(stdout.contains(head), "{fault}: report lacks {head:?}:\n{stdout}");
    assert!(!stderr.contains("panicked at"), "{fault}: a panic message leaked:\n{stderr}");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
    files.sort();
    let names: Vec<String> = files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names.len(), 2, "{fault}: raw and shrunk case: {names:?}");
    assert!(names[0].ends_with(".case") && names[1].ends_with(".min.case"), "{names:?}");
    let raw = patch_equiv::case_file::parse("raw", &std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    let small = patch_equiv::case_file::parse("min", &std::fs::read_to_string(&files[1]).unwrap()).unwrap();
    let size = |c: &patch_equiv::case::Case| c.prog.len() + c.ops.len();
    assert!(size(&small) < size(&raw), "{fault}: not shrunk ({} → {})", size(&raw), size(&small));
    let cmds: Vec<String> =
        printed(&stdout, "reproduce with:").into_iter().chain(printed(&stdout, "the original case:")).collect();
    assert_eq!(cmds.len(), 2, "{fault}: two printed commands:\n{stdout}");
    for c in &cmds {
        assert!(c.contains(&format!("--plant {fault}")), "{fault}: printed command lacks --plant: {c}");
        assert!(c.contains("--engines array,list"), "{fault}: printed command lacks --engines: {c}");
        let o = run_printed(c);
        let (so, se) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{fault}: `{c}` does not reproduce:\n{so}\n{se}");
        let shown = if c.contains(" replay ") {
            // One line per failing case; the kind named in words.
            let kind = head.split_whitespace().next().unwrap().to_lowercase();
            so.contains("0 passed, 1 failed") && (so.contains(&kind[..4]) || so.contains("diverges"))
        } else {
            so.contains(head)
        };
        assert!(shown, "{fault}: `{c}` shows another outcome:\n{so}");
    }
    // Without the fault the shrunk case passes.
    let real = pe(&["replay", files[1].to_str().unwrap()]);
    assert_eq!(real.status.code(), Some(0), "{}", text(&real).0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_panic_is_caught_shrunk_written_and_reproduced() {
    planted_run_reproduces("tail-removal-out-of-bounds", "3", "PANIC in engine list");
}

#[test]
fn a_crash_is_found_in_a_child_shrunk_written_and_reproduced() {
    planted_run_reproduces("abort-in-hidden-subprog", "3", "CRASH of engine list: killed by signal 6 (SIGABRT)");
}

#[test]
fn a_divergence_is_shrunk_written_and_reproduced() {
    planted_run_reproduces("aux-at-first-slot", "3", "DIVERGENCE between array (kernel model) and list");
}

/// The default config with programs over 32767 slots in every case.
fn large_config(dir: &Path) -> PathBuf {
    let cfg = patch_equiv::gen::Config { large_pct: 100, ..Default::default() };
    let p = dir.join("large.json");
    std::fs::write(&p, serde_json::to_string_pretty(&cfg).unwrap()).unwrap();
    p
}

#[test]
fn a_large_finding_ends_a_timed_run_with_raw_and_shrunk_cases() {
    let dir = scratch("large");
    let cfg = large_config(&dir);
    let out_dir = dir.join("out");
    let t = Instant::now();
    let out = pe(&[
        "run",
        "--seed",
        "1",
        "--time",
        "10",
        "--config",
        cfg.to_str().unwrap(),
        "--plant",
        "linfo-at-off-moves",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let secs = t.elapsed().as_secs_f64();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    // The bound: --time 10 ends within 15 s (the shrink budget ends 3 s after --time).
    assert!(secs < 15.0, "the run took {secs:.1} s");
    let raw = std::fs::read_to_string(out_dir.join("seed-1-case-0.case")).unwrap();
    let raw = patch_equiv::case_file::parse("raw", &raw).unwrap();
    assert!(raw.prog.len() >= 30_000, "{} slots", raw.prog.len());
    assert!(out_dir.join("seed-1-case-0.min.case").exists());
    // The original command carries --config.
    let orig = printed(&stdout, "the original case:");
    assert!(orig[0].contains(&format!("--config {}", cfg.display())), "{orig:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_shrink_budget_that_runs_out_is_reported_and_the_cases_are_written() {
    let dir = scratch("budget");
    let cfg = large_config(&dir);
    let out_dir = dir.join("out");
    let out = pe(&[
        "run",
        "--seed",
        "1",
        "--cases",
        "2",
        "--config",
        cfg.to_str().unwrap(),
        "--plant",
        "linfo-at-off-moves",
        "--shrink-time",
        "0.01",
        "--out",
        out_dir.to_str().unwrap(),
        "--json",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("stopped early: the shrink budget ran out"), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON document");
    assert_eq!(v["divergence"]["shrink_stopped_early"], true, "{v}");
    assert!(out_dir.join("seed-1-case-0.case").exists() && out_dir.join("seed-1-case-0.min.case").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn json_is_one_document_in_every_outcome() {
    let dir = scratch("json");
    let d = dir.to_str().unwrap();
    // A finding: the document on stdout, the human report on stderr.
    let out = pe(&["run", "--seed", "3", "--cases", "4000", "--plant", "aux-at-first-slot", "--out", d, "--json"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}:\n{stdout}"));
    assert_eq!((v["kind"].as_str(), v["version"].as_u64(), v["divergences"].as_u64()), (Some("run"), Some(1), Some(1)));
    assert_eq!(v["engines"], serde_json::json!(["array", "list", "c"]));
    let f = &v["divergence"];
    assert_eq!(
        (f["engine"].as_str(), f["kind"].as_str(), f["table"].as_str()),
        (Some("list"), Some("divergence"), Some("aux"))
    );
    for key in ["case", "op", "raw", "shrunk", "reproduce"] {
        assert!(!f[key].is_null(), "{key} missing: {f}");
    }
    assert!(f["reproduce"].as_str().unwrap().starts_with(PREFIX));
    assert!(stderr.contains("DIVERGENCE between"), "{stderr}");
    assert_eq!(v["features"].as_object().unwrap().len(), patch_equiv::gen::Feature::ALL.len());
    // Clean.
    let out = pe(&["run", "--seed", "3", "--cases", "50", "--out", d, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&text(&out).0).unwrap();
    assert_eq!((out.status.code(), v["divergences"].as_u64(), v["cases"].as_u64()), (Some(0), Some(0), Some(50)));
    assert!(v["divergence"].is_null());
    // Bad arguments, ours and clap's: still one document, exit 2.
    for args in [
        &["run", "--seed", "1", "--cases", "5", "--engines", "wasm", "--json"][..],
        &["run", "--time", "-1", "--json"][..],
        &["replay", "--json", "--plant", "aux-at-first-slot", "--engines", "array", "corpus"][..],
    ] {
        let out = pe(args);
        let (so, se) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {se}");
        let v: serde_json::Value = serde_json::from_str(&so).unwrap_or_else(|e| panic!("{args:?}: {e}:\n{so}"));
        assert!(v["error"].is_string(), "{v}");
    }
    // replay --json with a failing case.
    let out = pe(&["replay", "--json", "--plant", "aux-at-first-slot", "corpus"]);
    let (so, _) = text(&out);
    let v: serde_json::Value = serde_json::from_str(&so).unwrap_or_else(|e| panic!("{e}:\n{so}"));
    assert_eq!(v["kind"], "replay");
    let failed = v["failed"].as_u64().unwrap();
    assert!(failed > 0 && v["failures"].as_array().unwrap().len() as u64 == failed, "{v}");
    assert_eq!(out.status.code(), Some(1));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_out_stops_the_run_before_any_case() {
    let dir = scratch("badout");
    let file = dir.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let t = Instant::now();
    let out = pe(&["run", "--seed", "1", "--time", "30", "--out", file.to_str().unwrap()]);
    let (so, se) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{so}{se}");
    assert!(se.contains("--out") && se.contains("a-file"), "{se}");
    assert!(!so.contains("cases") && t.elapsed().as_secs_f64() < 20.0, "the campaign ran: {so}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failed_write_leaves_the_full_report_on_stderr() {
    let dir = scratch("nowrite");
    // The raw case's path is taken by a directory: the write fails after the finding.
    std::fs::create_dir_all(dir.join("seed-3-case-2.case")).unwrap();
    let out = pe(&[
        "run",
        "--seed",
        "3",
        "--cases",
        "4000",
        "--plant",
        "tail-removal-out-of-bounds",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let (_, se) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{se}");
    for part in ["PANIC in engine list", "the case:", "in case 2 of seed 3", "NOT WRITTEN", "repro --seed 3 --case 2"] {
        assert!(se.contains(part), "stderr lacks {part:?}:\n{se}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn replay_gives_one_line_per_failing_case_and_goes_on_after_a_panic() {
    let out = pe(&["replay", "--plant", "tail-removal-out-of-bounds", "corpus", "tests/data/kernel-vectors"]);
    let (so, se) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{se}");
    let fails: Vec<&str> = so.lines().filter(|l| l.starts_with("FAIL ")).collect();
    assert!(!fails.is_empty());
    // Every other line is the summary: one line per failing case.
    assert_eq!(so.lines().count(), fails.len() + 1, "{so}");
    let summary = so.lines().last().unwrap();
    let passed: u64 = summary.split(' ').next().unwrap().parse().unwrap();
    assert!(passed > 300 && summary.contains(&format!("{} failed", fails.len())), "{summary}");
    for l in &fails {
        for debug in ["Some(", "None", "Aux {", "Insn {", "LineInfo {"] {
            assert!(!l.contains(debug), "Rust Debug in {l}");
        }
        assert!(l.contains("list"), "no engine named: {l}");
    }
    let verbose = pe(&["replay", "--verbose", "--plant", "tail-removal-out-of-bounds", "corpus"]);
    assert!(text(&verbose).0.contains("the case:\npatch-equiv-case 1"));
}

#[test]
fn a_plant_whose_engine_is_not_selected_is_refused() {
    for args in [
        &["replay", "--patcher", "array", "--plant", "aux-at-first-slot", "corpus"][..],
        &["replay", "--engines", "array", "--plant", "aux-at-first-slot", "corpus"][..],
        &["run", "--engines", "array", "--plant", "aux-at-first-slot", "--cases", "1"][..],
    ] {
        let out = pe(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out).1.contains("plants a fault in the `list` engine"), "{args:?}: {}", text(&out).1);
    }
    let out = pe(&["run", "--engines", "array,list", "--plant", "c-aux-stays-first", "--cases", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("plants a fault in the `c` engine"), "{}", text(&out).1);
    let out = pe(&["run", "--engines", "array,lib:/nonexistent/engine.so", "--cases", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("/nonexistent/engine.so"), "{}", text(&out).1);
}

#[test]
fn budgets_must_be_positive_one_rule() {
    for args in [
        &["run", "--time", "-1"][..],
        &["run", "--time", "0"][..],
        &["run", "--cases", "0"][..],
        &["run", "--cases", "-3"][..],
        &["run", "--jobs", "0", "--cases", "1"][..],
        &["run", "--jobs", "-1", "--cases", "1"][..],
        &["run", "--shrink-time", "-2", "--cases", "1"][..],
        &["shrink", "--shrink-time", "0", "corpus/reads-between-ops.case"][..],
    ] {
        let out = pe(args);
        let (_, se) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {se}");
        assert!(se.contains("never zero or negative"), "{args:?}: {se}");
    }
}

#[test]
fn shrinking_a_clean_case_says_so_and_exits_0() {
    let dir = scratch("cleanshrink");
    let min = dir.join("x.min.case");
    let out = pe(&["shrink", "corpus/reads-between-ops.case", "--out", min.to_str().unwrap()]);
    let (so, se) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{so}{se}");
    assert!(so.contains("no finding") && so.contains("nothing to shrink"), "{so}");
    assert!(!min.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shrink_writes_beside_the_case_by_default() {
    let dir = scratch("shrinkdefault");
    let out = pe(&["repro", "--seed", "3", "--case", "2", "--plant", "tail-removal-out-of-bounds", "--out"]
        .iter()
        .copied()
        .chain([dir.join("c.case").to_str().unwrap()])
        .collect::<Vec<_>>());
    assert_eq!(out.status.code(), Some(1));
    let out = pe(&["shrink", "--plant", "tail-removal-out-of-bounds", dir.join("c.case").to_str().unwrap()]);
    let (so, se) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{se}");
    assert!(dir.join("c.min.case").exists(), "{so}");
    let cmd = printed(&so, "reproduce with:");
    assert_eq!(run_printed(&cmd[0]).status.code(), Some(1), "{cmd:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn show_into_a_closed_pipe_exits_0_quietly() {
    let dir = scratch("pipe");
    let cfg = large_config(&dir);
    let case = dir.join("big.case");
    let out = pe(&["repro", "--seed", "1", "--case", "0", "--config", cfg.to_str().unwrap(), "--out"]
        .iter()
        .copied()
        .chain([case.to_str().unwrap()])
        .collect::<Vec<_>>());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    // `show … | head -1`: the reader closes the pipe after one line.
    let o = Command::new("sh")
        .args(["-c", &format!("'{BIN}' show '{}' | head -1; exit 0", case.display())])
        .output()
        .unwrap();
    let mut child = Command::new(BIN)
        .args(["show", case.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "patch-equiv-case 1");
    assert!(!String::from_utf8_lossy(&o.stderr).contains("panicked"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn show_keeps_notes() {
    let dir = scratch("notes");
    let src = std::fs::read_to_string(root().join("corpus/reads-between-ops.case")).unwrap();
    let with_note = src.replacen("program\n", "note first note\nnote second, kept\nprogram\n", 1);
    let p = dir.join("n.case");
    std::fs::write(&p, with_note).unwrap();
    let (so, _) = text(&pe(&["show", p.to_str().unwrap()]));
    assert!(so.contains("note first note\nnote second, kept\n"), "{so}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_fuzz_targets_hint_replays_the_case_it_wrote() {
    let dir = scratch("fuzzhint");
    let g = patch_equiv::campaign::generate_case(1, 0, None).unwrap();
    let hint = patch_equiv::fuzz_input::reproduce_hint_in(&dir, &g.case);
    let cmd = hint.lines().next().unwrap();
    assert!(cmd.contains(" replay --engines array,list,c "), "{hint}");
    let written: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert_eq!(written.len(), 1, "{hint}");
    let o = run_printed(cmd);
    let (so, se) = text(&o);
    // The case is clean on the real engines: the command runs it and passes.
    assert_eq!(o.status.code(), Some(0), "{so}{se}");
    assert!(so.contains("1 passed, 0 failed"), "{so}");
    assert!(hint.contains("cargo fuzz run -s none patch_equiv fuzz/artifacts/patch_equiv/"), "{hint}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_readme_runs_every_command_from_the_repo_root() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for raw in readme.lines() {
        let line = raw.trim_start();
        // The tool itself is never assumed installed…
        let code = raw.starts_with("    ");
        assert!(!(code && line.starts_with("patch-equiv ")), "bare command in the README: {line}");
        assert!(!line.contains("`patch-equiv "), "bare command in the README: {line}");
        assert!(!(code && line.contains("cd fuzz")), "README changes directory: {line}");
        // …and always run one way.
        if line.starts_with("cargo run") {
            assert!(line.starts_with(PREFIX), "README command not in the printed form: {line}");
        }
        // Fuzzing writes new inputs to the untracked working corpus, listed first.
        if line.contains("cargo fuzz run") || line.contains("cargo +nightly fuzz run") {
            let (work, seeds) = (line.find("fuzz/work/"), line.find("fuzz/corpus/"));
            assert!(work.is_some() && work < seeds, "fuzz command without the working corpus first: {line}");
            assert!(line.contains("+nightly") || line.contains("-s none"), "stable fuzz command needs -s none: {line}");
        }
        if line.starts_with("cargo fuzz fmt") {
            assert!(line.contains("-s none"), "stable fuzz fmt needs -s none: {line}");
        }
    }
    let ignore = std::fs::read_to_string(root().join(".gitignore")).unwrap();
    assert!(ignore.lines().any(|l| l.trim() == "fuzz/work/"), ".gitignore lacks fuzz/work/");
}

#[test]
fn the_progress_bar_moves_in_time_mode() {
    // `script` gives the run a terminal, as a person at a shell would.
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("`script` (util-linux) is not installed: the progress bar is not checked");
        return;
    }
    let dir = scratch("bar");
    // In-process engines: the count moves case by case. (With a foreign
    // engine it moves a child's share at a time, and this debug binary may
    // not finish two shares in 2 s on a loaded machine.)
    let cmd = format!("'{BIN}' run --seed 1 --time 2 --jobs 1 --engines array,list --out '{}'", dir.display());
    let o = Command::new("script").args(["-qec", &cmd, "/dev/null"]).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let frames: Vec<&str> = out.split('\r').filter(|f| f.contains(" cases, ")).collect();
    let filled = |f: &str| f.matches('█').count();
    assert!(frames.len() >= 3, "too few progress frames:\n{out}");
    assert!(filled(frames[frames.len() - 1]) > filled(frames[0]), "the bar did not move:\n{out}");
    let counts: std::collections::BTreeSet<&str> =
        frames.iter().filter_map(|f| f.split(" cases, ").next()?.rsplit(' ').next()).collect();
    assert!(counts.len() >= 3, "the case count did not move: {counts:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
