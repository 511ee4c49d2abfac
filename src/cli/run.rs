//! `run`: a seeded campaign with a progress display; a finding is written
//! raw before it is shrunk, shrunk within a budget, written again and
//! reported with the commands that reproduce it.

use super::findings::{self, Checker};
use super::{bad, command_line, say, sayln, Exit};
use crate::campaign::{self, Outcome, Runner};
use crate::engine::EngineSet;
use crate::finding::Finding;
use crate::gen::Config;
use crate::isolate::Child;
use crate::shard::{Covered, Shard};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub struct Options {
    pub seed: Option<u64>,
    pub cases: Option<u64>,
    pub time: Option<f64>,
    pub jobs: usize,
    pub cfg: Option<Config>,
    /// The `--config` path, for printed commands and child processes.
    pub config: Option<PathBuf>,
    /// The programs of `--programs`, and its path (printed commands, children).
    pub real: Option<crate::gen::RealPrograms>,
    pub programs: Option<PathBuf>,
    pub out: PathBuf,
    pub json: bool,
    pub shrink_time: Option<f64>,
    /// `--shard I/N`: this run's slice of the seed's cases (`Shard::WHOLE` without it).
    pub shard: Shard,
}

/// Seconds of a `--time`-less, `--cases`-less run.
const DEFAULT_SECS: f64 = 10.0;

/// Make sure findings can be written to `out` before any case runs.
fn prepare_out(out: &Path) -> Result<(), Exit> {
    std::fs::create_dir_all(out)
        .map_err(|e| bad(format!("--out {}: cannot create the directory: {e}", out.display())))?;
    let probe = out.join(format!(".patch-equiv-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .map_err(|e| bad(format!("--out {}: cannot write in the directory: {e}", out.display())))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

pub fn cmd(engines: &EngineSet, o: Options) -> Result<i32, Exit> {
    prepare_out(&o.out)?;
    let seed = o.seed.unwrap_or_else(|| {
        let s = rand::random::<u64>() >> 16;
        eprintln!("seed: {s}");
        s
    });
    let secs = if o.cases.is_none() { Some(o.time.unwrap_or(DEFAULT_SECS)) } else { o.time };
    let started = Instant::now();
    let deadline = secs.map(|s| started + Duration::from_secs_f64(s));
    let child = if engines.can_crash() { Some(Child::new(engines).map_err(bad)?) } else { None };
    let runner = match &child {
        Some(c) => Runner::Children {
            child: c,
            config: o.config.as_deref(),
            programs: o.programs.as_deref(),
            real: o.real.as_ref(),
            jobs: o.jobs,
        },
        None => Runner::InProcess { engines, cfg: o.cfg.as_ref(), real: o.real.as_ref(), jobs: o.jobs },
    };
    let done = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let outcome = std::thread::scope(|s| {
        if !o.json {
            // The bar counts this shard's cases of --cases.
            let (ours, done, stop) = (o.cases.map(|c| o.shard.cases_below(c)), &done, &stop);
            s.spawn(move || progress(done, stop, started, ours, secs));
        }
        let r = campaign::run_shard(seed, o.shard, o.cases, deadline, &runner, &done, |_, _| {});
        stop.store(true, Ordering::Relaxed);
        r
    })
    .map_err(bad)?;
    match outcome.finding.clone() {
        Some((k, f)) => Ok(on_finding(engines, &o, seed, &outcome, k, f, deadline)),
        None => {
            let rate = outcome.stats.cases as f64 / outcome.seconds.max(1e-9);
            if o.json {
                sayln(&json_doc(engines, &o, seed, &outcome, None));
            } else {
                let ran = outcome.stats.cases + outcome.stats.rejected;
                let shard = if o.shard == Shard::WHOLE { String::new() } else { format!(" (shard {})", o.shard) };
                sayln(&format!(
                    "seed {seed}: {ran} cases{shard} in {:.1}s ({rate:.0} cases/s, {} jobs, engines {}), no finding",
                    outcome.seconds,
                    o.jobs,
                    engines.spec()
                ));
                say(&outcome.stats.to_string());
                sayln("(% of the cases that ran; the README's \"The feature table\" explains each line)");
            }
            Ok(0)
        }
    }
}

/// The progress display, until `stop`: a bar on a terminal (cases, or
/// seconds in `--time` mode), a line every 5 s otherwise.
fn progress(done: &AtomicU64, stop: &AtomicBool, started: Instant, cases: Option<u64>, secs: Option<f64>) {
    let bar = std::io::stderr().is_terminal().then(|| {
        let (len, template) = match (cases, secs) {
            (Some(n), _) => (n, "{elapsed_precise} {bar:30} {pos}/{len} cases {msg}"),
            (None, Some(s)) => ((s * 1000.0) as u64, "{elapsed_precise} {bar:30} {msg}"),
            (None, None) => (0, "{elapsed_precise} {msg}"),
        };
        let b = indicatif::ProgressBar::new(len);
        b.set_style(indicatif::ProgressStyle::with_template(template).expect("template"));
        b
    });
    let mut last_line = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        let n = done.load(Ordering::Relaxed);
        let el = started.elapsed().as_secs_f64();
        let rate = n as f64 / el.max(1e-9);
        match &bar {
            Some(b) => {
                if cases.is_some() {
                    b.set_position(n);
                    b.set_message(format!("{rate:.0}/s"));
                } else {
                    b.set_position((el * 1000.0) as u64);
                    b.set_message(format!("{n} cases, {rate:.0}/s"));
                }
            }
            None if last_line.elapsed().as_secs_f64() >= 5.0 => {
                eprintln!("[{el:>6.1}s] {n} cases, {rate:.0} cases/s");
                last_line = Instant::now();
            }
            None => {}
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
}

/// Write, shrink, write, report; the exit code is 1 whatever else fails.
fn on_finding(
    engines: &EngineSet,
    o: &Options,
    seed: u64,
    outcome: &Outcome,
    k: u64,
    found: Finding,
    run_deadline: Option<Instant>,
) -> i32 {
    let mut repro = vec!["repro".to_string(), "--seed".into(), seed.to_string(), "--case".into(), k.to_string()];
    if let Some(c) = &o.config {
        repro.extend(["--config".to_string(), c.display().to_string()]);
    }
    if let Some(p) = &o.programs {
        repro.extend(["--programs".to_string(), p.display().to_string()]);
    }
    repro.extend(engines.flags());
    let repro = command_line(&repro);
    let mut problems = Vec::new();
    let raw = match campaign::generate_case_from(seed, k, o.cfg.as_ref(), o.real.as_ref()) {
        Ok(g) => Some(g.case),
        Err(e) => {
            problems.push(format!("case {k} of seed {seed} does not generate again: {e}"));
            None
        }
    };
    let raw_path = o.out.join(format!("seed-{seed}-case-{k}.case"));
    let min_path = o.out.join(format!("seed-{seed}-case-{k}.min.case"));
    let mut written_raw = false;
    let mut written_min = false;
    let mut final_text = found.text.clone();
    let mut shrink_note = String::new();
    let mut stopped_early = None;
    if let Some(raw) = &raw {
        // The raw case first: whatever happens to shrinking, the finding is on disk.
        match super::write_case(&raw_path, raw) {
            Ok(()) => written_raw = true,
            Err(e) => problems.push(format!("writing the raw case: {e}")),
        }
        match Checker::new(engines) {
            Err(Exit(_, e)) => problems.push(e),
            Ok(checker) => {
                let (budget, again) = findings::budget(&checker, raw, &found.signature, o.shrink_time, run_deadline);
                if !again {
                    shrink_note = "not shrunk: the finding did not show again when the case was re-run".to_string();
                } else {
                    let t = Instant::now();
                    let small = findings::shrink_case(&checker, raw, &found.signature, budget);
                    shrink_note = findings::shrink_words(raw, &small, t.elapsed().as_secs_f64());
                    stopped_early = Some(small.stopped_early);
                    match super::write_case(&min_path, &small.case) {
                        Ok(()) => written_min = true,
                        Err(e) => problems.push(format!("writing the shrunk case: {e}")),
                    }
                    if let Ok(Some(f)) = checker.check(&small.case) {
                        final_text = f.text;
                    }
                }
            }
        }
    }
    let reproduce_file = if written_min {
        Some(&min_path)
    } else if written_raw {
        Some(&raw_path)
    } else {
        None
    };
    let reproduce = match reproduce_file {
        Some(p) => {
            let mut a = vec!["replay".to_string()];
            a.extend(engines.flags());
            a.push(p.display().to_string());
            command_line(&a)
        }
        None => repro.clone(),
    };
    let mut text = final_text;
    text += &format!("reproduce with: {reproduce}\n");
    if reproduce_file.is_some() {
        text += &format!("the original case: {repro}\n");
    }
    text += &format!(
        "\n{} ({}) in case {k} of seed {seed}, engine {}: {}\n",
        found.kind.to_uppercase(),
        found.table,
        found.engine,
        found.summary
    );
    if written_raw {
        text += &format!("raw case written to {}\n", raw_path.display());
    }
    if written_min {
        text += &format!("shrunk case written to {}\n", min_path.display());
    }
    if !shrink_note.is_empty() {
        text += &format!("{shrink_note}\n");
    }
    for p in &problems {
        text += &format!("NOT WRITTEN: {p}\n");
    }
    // Human output goes to stdout, or to stderr when stdout carries JSON; a
    // write that failed leaves the report on stderr in full either way.
    if !problems.is_empty() || o.json {
        eprint!("{text}");
    } else {
        say(&text);
    }
    if o.json {
        let d = serde_json::json!({
            "case": k,
            "engine": found.engine,
            "kind": found.kind,
            "op": found.op,
            "table": found.table,
            "what": found.summary,
            "raw": written_raw.then(|| raw_path.display().to_string()),
            "shrunk": written_min.then(|| min_path.display().to_string()),
            "shrink_stopped_early": stopped_early,
            "reproduce": reproduce,
            "original": repro,
            "problems": problems,
        });
        sayln(&json_doc(engines, o, seed, outcome, Some(d)));
    }
    1
}

/// The `run --json` document (schema: the README's "JSON output"). `shard`
/// and `covered` say which cases it covered (`prefix`: n when they are exactly
/// `[0, n)`); `config` and `programs` what
/// generated them (`merge` refuses to add up runs that differ in these).
fn json_doc(engines: &EngineSet, opts: &Options, seed: u64, o: &Outcome, finding: Option<serde_json::Value>) -> String {
    let covered = Covered { shard: opts.shard, count: o.stats.cases + o.stats.rejected };
    let features: serde_json::Map<String, serde_json::Value> =
        crate::gen::Feature::ALL.iter().map(|f| (f.name().to_string(), o.stats.count(*f).into())).collect();
    let v = serde_json::json!({
        "kind": "run",
        "version": 1,
        "seed": seed,
        "jobs": opts.jobs,
        "shard": opts.shard.to_string(),
        "covered": [covered.to_json()],
        "prefix": Covered::union_as_prefix(&[covered]).map(|c| c.count),
        "config": opts.config.as_ref().map(|p| p.display().to_string()),
        "programs": opts.programs.as_ref().map(|p| p.display().to_string()),
        "engines": engines.names(),
        "plant": engines.plant().map(|p| p.name),
        "cases": o.stats.cases,
        "ops": o.stats.ops,
        "rejected": o.stats.rejected,
        "seconds": o.seconds,
        "cases_per_sec": o.stats.cases as f64 / o.seconds.max(1e-9),
        "features": features,
        "real_programs": o.stats.real,
        "divergences": finding.is_some() as u32,
        "divergence": finding,
    });
    serde_json::to_string_pretty(&v).expect("json")
}
