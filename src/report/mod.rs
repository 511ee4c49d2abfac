//! `patch-equiv report`: the evidence a cover letter needs, in one
//! self-contained Markdown or HTML document — campaign totals (cases, ops,
//! hours), the engines compared, every generator feature with its count and
//! the ones never reached, replay results (kernel vectors, corpus), the
//! mutation score with time to detect, the benchmark table and the W2 plot.
//! The inputs and what is read from each are described in `inputs`.

pub mod doc;
pub mod inputs;

use crate::gen::Feature;
use doc::{Block, Format};
use inputs::{BenchInput, MutationScore, ReplayResult, RunSummary};
use std::path::{Path, PathBuf};

/// The engines of summaries written before `run --json` named them: the
/// binary then compared exactly these two.
const DEFAULT_ENGINES: [&str; 2] = ["array", "list"];

pub const TITLE: &str = "patch-equiv: equivalence evidence";

/// `patch-equiv report` arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// `run --json` summaries, one JSON document each.
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// `bench --json` output: the benchmark table and the W2 plot.
    #[arg(long)]
    pub bench: Option<PathBuf>,
    /// `replay --json` results (kernel vectors, corpus); repeatable.
    #[arg(long)]
    pub replay: Vec<PathBuf>,
    /// The mutation-testing score: scripts/mutation_report.py output or docs/mutation-testing.md.
    #[arg(long)]
    pub mutation: Option<PathBuf>,
    /// Markdown (plot embedded as a data URI) or a self-contained HTML page (plot inline).
    #[arg(long, value_enum, default_value = "markdown")]
    pub format: Format,
    /// Write the report here instead of to stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Everything read, each with the path it came from.
#[derive(Clone, Debug, Default)]
pub struct Evidence {
    pub runs: Vec<(String, RunSummary)>,
    pub bench: Option<(String, BenchInput)>,
    pub replays: Vec<(String, ReplayResult)>,
    pub mutation: Option<(String, MutationScore)>,
}

fn shown(p: &Path) -> String {
    p.display().to_string()
}

impl Evidence {
    pub fn read(args: &Args) -> Result<Evidence, String> {
        Ok(Evidence {
            runs: args.runs.iter().map(|p| Ok((shown(p), inputs::read_run(p)?))).collect::<Result<_, String>>()?,
            bench: args.bench.as_deref().map(|p| Ok::<_, String>((shown(p), inputs::read_bench(p)?))).transpose()?,
            replays: args
                .replay
                .iter()
                .map(|p| Ok((shown(p), inputs::read_replay(p)?)))
                .collect::<Result<_, String>>()?,
            mutation: args
                .mutation
                .as_deref()
                .map(|p| Ok::<_, String>((shown(p), inputs::read_mutation(p)?)))
                .transpose()?,
        })
    }
}

/// Sums over the run summaries.
#[derive(Clone, Debug, PartialEq)]
pub struct Totals {
    pub cases: u64,
    pub ops: u64,
    pub rejected: u64,
    pub seconds: f64,
    pub divergences: u64,
    /// Every feature the tool knows, then any other a summary names; `None`
    /// when no summary reports it.
    pub features: Vec<(String, Option<u64>)>,
    /// Oracle first.
    pub engines: Vec<String>,
    /// Some summary did not name its engines (older binary).
    pub engines_assumed: bool,
    /// Summaries without `ops`, `seconds` or `features` (a divergent run of
    /// the older binary): their cases count, the rest is missing from the sums.
    pub incomplete: Vec<String>,
}

pub fn totals(runs: &[(String, RunSummary)]) -> Totals {
    let mut names: Vec<String> = Feature::ALL.iter().map(|f| f.name().to_string()).collect();
    let mut extra: Vec<String> = runs
        .iter()
        .flat_map(|(_, r)| r.features.iter().flat_map(|m| m.keys()))
        .filter(|k| !names.contains(k))
        .cloned()
        .collect();
    extra.sort();
    extra.dedup();
    names.extend(extra);
    let features = names
        .into_iter()
        .map(|n| {
            let counts: Vec<u64> = runs.iter().filter_map(|(_, r)| r.features.as_ref()?.get(&n).copied()).collect();
            let reported = !counts.is_empty();
            (n, reported.then(|| counts.iter().sum()))
        })
        .collect();
    let mut engines: Vec<String> = Vec::new();
    let mut engines_assumed = false;
    for (_, r) in runs {
        let named = match &r.engines {
            Some(e) => e.clone(),
            None => {
                engines_assumed = true;
                DEFAULT_ENGINES.iter().map(|s| s.to_string()).collect()
            }
        };
        for e in named {
            if !engines.contains(&e) {
                engines.push(e);
            }
        }
    }
    Totals {
        cases: runs.iter().map(|(_, r)| r.cases).sum(),
        ops: runs.iter().filter_map(|(_, r)| r.ops).sum(),
        rejected: runs.iter().filter_map(|(_, r)| r.rejected).sum(),
        seconds: runs.iter().filter_map(|(_, r)| r.seconds).sum(),
        divergences: runs.iter().map(|(_, r)| r.divergence_count()).sum(),
        features,
        engines,
        engines_assumed,
        incomplete: runs
            .iter()
            .filter(|(_, r)| r.ops.is_none() || r.seconds.is_none() || r.features.is_none())
            .map(|(p, _)| p.clone())
            .collect(),
    }
}

fn pct(n: u64, of: u64) -> String {
    if of == 0 {
        "—".to_string()
    } else {
        format!("{:.1}%", 100.0 * n as f64 / of as f64)
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "—".to_string(), |v| v.to_string())
}

fn engines_text(t: &Totals) -> String {
    let mut s: Vec<String> = t.engines.clone();
    if let Some(first) = s.first_mut() {
        *first = format!("{first} (oracle)");
    }
    let mut out = s.join(", ");
    if t.engines_assumed {
        out += " (assumed for summaries that do not name their engines)";
    }
    out
}

/// The replay totals: cases passed, cases replayed.
fn replay_sums(ev: &Evidence) -> (u64, u64, u64, u64) {
    ev.replays.iter().fold((0, 0, 0, 0), |(p, f, m, n), (_, r)| {
        (p + r.passed, f + r.failed, m + r.malformed.unwrap_or(0), n + r.files)
    })
}

/// The whole report as blocks.
pub fn document(ev: &Evidence) -> Vec<Block> {
    let t = totals(&ev.runs);
    let mut out = Vec::new();
    let verdict = if t.divergences == 0 {
        format!(
            "No divergence between the engines ({}) in {} generated cases ({} operations) over {:.2} hours of seeded campaigns.",
            t.engines.join(", "),
            t.cases,
            t.ops,
            t.seconds / 3600.0
        )
    } else {
        format!(
            "DIVERGENCE: {} divergence(s) found in {} generated cases; see \"Divergences\" below for the reproducers.",
            t.divergences, t.cases
        )
    };
    out.push(Block::Para(verdict));

    out.push(Block::Heading(2, "Totals".into()));
    let mut rows = vec![
        vec!["cases".to_string(), t.cases.to_string()],
        vec!["operations".to_string(), t.ops.to_string()],
        vec!["rejected generator inputs".to_string(), t.rejected.to_string()],
        vec!["campaign seconds (wall clock)".to_string(), format!("{:.3}", t.seconds)],
        vec!["campaign hours (wall clock)".to_string(), format!("{:.4}", t.seconds / 3600.0)],
        vec!["divergences".to_string(), t.divergences.to_string()],
        vec!["engines compared".to_string(), engines_text(&t)],
    ];
    if !ev.replays.is_empty() {
        let (p, f, m, _) = replay_sums(ev);
        rows.push(vec!["replayed cases passed".to_string(), format!("{p} of {}", p + f + m)]);
    }
    if let Some((_, m)) = &ev.mutation {
        rows.push(vec!["mutation score".to_string(), format!("{}/{} ({})", m.caught, m.total, pct(m.caught, m.total))]);
    }
    out.push(Block::Table { head: vec!["what".into(), "total".into()], right: vec![false, true], rows });
    if !t.incomplete.is_empty() {
        out.push(Block::Para(format!(
            "These summaries give no ops, seconds or feature counts (a divergent run of an older binary): {}. Their cases are counted; the other sums leave them out.",
            t.incomplete.join(", ")
        )));
    }

    out.push(Block::Heading(2, "Campaigns".into()));
    let mut rows: Vec<Vec<String>> = ev
        .runs
        .iter()
        .map(|(p, r)| {
            vec![
                format!("`{p}`"),
                r.seed.to_string(),
                opt(r.jobs),
                r.cases.to_string(),
                opt(r.ops),
                opt(r.seconds.map(|s| format!("{s:.3}"))),
                opt(r.seconds.filter(|s| *s > 0.0).map(|s| format!("{:.0}", r.cases as f64 / s))),
                r.divergence_count().to_string(),
            ]
        })
        .collect();
    rows.push(vec![
        "total".into(),
        String::new(),
        String::new(),
        t.cases.to_string(),
        t.ops.to_string(),
        format!("{:.3}", t.seconds),
        String::new(),
        t.divergences.to_string(),
    ]);
    out.push(Block::Table {
        head: ["summary", "seed", "jobs", "cases", "ops", "seconds", "cases/s", "divergences"]
            .map(String::from)
            .to_vec(),
        right: vec![false, true, true, true, true, true, true, true],
        rows,
    });
    if let Some((_, first)) = ev.runs.first() {
        out.push(Block::Para(format!(
            "Case K of seed S is regenerated exactly, whatever the number of jobs, by `cargo run --release -q -- repro --seed S --case K` (with the run's `--config FILE`, if it had one); e.g. `cargo run --release -q -- repro --seed {} --case 0`.",
            first.seed
        )));
    }

    out.push(Block::Heading(2, "Generator features".into()));
    out.push(Block::Para("Cases (summed over the campaigns) that exercised each feature.".into()));
    let rows = t
        .features
        .iter()
        .map(|(n, c)| vec![n.clone(), opt(*c), c.map_or_else(|| "—".into(), |c| pct(c, t.cases))])
        .collect();
    out.push(Block::Table {
        head: vec!["feature".into(), "cases".into(), "share".into()],
        right: vec![false, true, true],
        rows,
    });
    let never: Vec<String> = t.features.iter().filter(|(_, c)| *c == Some(0)).map(|(n, _)| format!("`{n}`")).collect();
    let unreported: Vec<String> =
        t.features.iter().filter(|(_, c)| c.is_none()).map(|(n, _)| format!("`{n}`")).collect();
    out.push(Block::Para(if never.is_empty() {
        "Never reached: none — every feature was reached.".into()
    } else {
        format!("Never reached: {}.", never.join(", "))
    }));
    if !unreported.is_empty() {
        out.push(Block::Para(format!(
            "Not reported by any summary (written by another version of the tool): {}.",
            unreported.join(", ")
        )));
    }

    out.push(Block::Heading(2, "Replays: kernel vectors and regression corpus".into()));
    if ev.replays.is_empty() {
        out.push(Block::Para("No replay results were given (`--replay FILE`, from `replay --json`).".into()));
    } else {
        let rows = ev
            .replays
            .iter()
            .map(|(p, r)| {
                vec![
                    format!("`{p}`"),
                    r.engines.as_ref().map_or_else(|| "—".into(), |e| e.join(", ")),
                    r.files.to_string(),
                    r.passed.to_string(),
                    r.failed.to_string(),
                    opt(r.malformed),
                ]
            })
            .collect();
        out.push(Block::Table {
            head: ["results", "engines", "files", "passed", "failed", "malformed"].map(String::from).to_vec(),
            right: vec![false, false, true, true, true, true],
            rows,
        });
        let failures: Vec<String> = ev
            .replays
            .iter()
            .flat_map(|(p, r)| {
                r.failures.iter().map(move |f| {
                    format!(
                        "`{}` in `{}` ({}, op {}): {} — from `{p}`",
                        f.case.as_deref().unwrap_or("?"),
                        f.file.as_deref().unwrap_or("?"),
                        f.engine.as_deref().unwrap_or("?"),
                        opt(f.op),
                        f.what.as_deref().unwrap_or("")
                    )
                })
            })
            .collect();
        if !failures.is_empty() {
            out.push(Block::Para("Failing cases:".into()));
            out.push(Block::List(failures));
        }
    }

    out.push(Block::Heading(2, "Mutation testing".into()));
    match &ev.mutation {
        None => out.push(Block::Para("No mutation-testing score was given (`--mutation FILE`).".into())),
        Some((p, m)) => {
            let mut items = vec![format!(
                "score: {} of {} non-equivalent mutants of the list patcher caught ({}){}",
                m.caught,
                m.total,
                pct(m.caught, m.total),
                m.equivalent.map_or(String::new(), |e| format!("; {e} missed mutants shown equivalent"))
            )];
            if let Some(tested) = &m.tested {
                items.push(tested.clone());
            }
            if let (Some(med), Some(worst)) = (m.detect_median_s, m.detect_worst_s) {
                items.push(format!(
                    "time to detect (seconds of seeded campaign to the first divergence): median {med:.3} s, worst {worst:.3} s{}",
                    m.detect_over.map_or(String::new(), |n| format!(", over the {n} mutants the campaign caught"))
                ));
            }
            items.push(format!(
                "from `{p}`{}",
                m.commit.as_ref().map_or(String::new(), |c| format!(" (run at commit {c})"))
            ));
            out.push(Block::List(items));
        }
    }

    out.push(Block::Heading(2, "Benchmarks".into()));
    match &ev.bench {
        None => out.push(Block::Para("No benchmark results were given (`--bench FILE`, from `bench --json`).".into())),
        Some((p, b)) => {
            let runner = b.runner_cases_per_sec_per_core.unwrap_or(f64::NAN);
            let mem = b.memory();
            let text = crate::bench::table(&b.rows, runner, &mem);
            out.extend(doc::pipe_table(&text));
            let mut notes = Vec::new();
            if let Some(r) = b.runner_cases_per_sec_per_core {
                notes.push(format!("seeded runner: {r:.0} cases/s on one core (swarm config)"));
            }
            let known: Vec<String> = mem.iter().filter_map(|(n, b)| b.map(|b| format!("{n} {b:.0} B/insn"))).collect();
            if !known.is_empty() {
                notes.push(format!("memory at 1M insns: {}", known.join(", ")));
            }
            if let Some(a) = &b.c_alone {
                notes.push(format!("C list patcher alone (kernel API, no harness): {a}"));
            }
            notes.push(format!("from `{p}`; array times marked extrapolated come from the O(N·M) fit"));
            out.push(Block::List(notes));
            if b.rows.iter().any(|r| r.workload.starts_with("W2")) {
                out.push(Block::Heading(3, "W2: one 1→2 patch per instruction, time against size (log-log)".into()));
                out.push(Block::Svg { alt: "W2, log-log".into(), svg: crate::bench::plot(&b.rows) });
            }
        }
    }

    let findings: Vec<String> = ev
        .runs
        .iter()
        .flat_map(|(p, r)| {
            r.findings().into_iter().map(move |d| {
                format!(
                    "seed {} case {} ({}, engine {}, op {}, {}): reproduce with `{}`; shrunk case `{}` — from `{p}`",
                    r.seed,
                    opt(d.case),
                    d.kind.as_deref().unwrap_or("divergence"),
                    d.engine.as_deref().unwrap_or("?"),
                    opt(d.op),
                    d.table.as_deref().unwrap_or("table not given"),
                    d.reproduce.as_deref().unwrap_or("—"),
                    d.shrunk.as_deref().unwrap_or("—"),
                )
            })
        })
        .collect();
    if !findings.is_empty() {
        out.push(Block::Heading(2, "Divergences".into()));
        out.push(Block::List(findings));
    }

    out.push(Block::Heading(2, "Inputs".into()));
    let mut inputs: Vec<String> = ev.runs.iter().map(|(p, _)| format!("run summary `{p}`")).collect();
    inputs.extend(ev.bench.iter().map(|(p, _)| format!("benchmarks `{p}`")));
    inputs.extend(ev.replays.iter().map(|(p, _)| format!("replay results `{p}`")));
    inputs.extend(ev.mutation.iter().map(|(p, _)| format!("mutation score `{p}`")));
    out.push(Block::List(inputs));
    out
}

/// Entry point of the subcommand: read, render, write. Bad input is an error
/// naming the file (exit 2).
pub fn cmd(args: &Args) -> Result<i32, String> {
    let ev = Evidence::read(args)?;
    let text = doc::render(TITLE, &document(&ev), args.format);
    match &args.out {
        Some(p) => std::fs::write(p, text).map_err(|e| format!("{}: {e}", p.display()))?,
        None => print!("{text}"),
    }
    Ok(0)
}
