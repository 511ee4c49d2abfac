//! The `patch-equiv` command line: a thin layer over the library.
//! Exit codes: 0 success, 1 a failing case or divergence, 2 bad arguments or input.

use crate::campaign::{self, Checker};
use crate::case::Case;
use crate::case_file;
use crate::gen::Config;
use crate::patcher::list::plant::{self, Fault};
use crate::replay::{self, Verdict, Which};
use crate::shrink::shrink;
use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(
    name = "patch-equiv",
    version,
    about = "Prove a list-based BPF patcher equivalent to the kernel's array patcher"
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Replay kernel vectors (.jsonl, .jsonl.gz) and case files (.case), or directories of them.
    Replay {
        #[arg(long, value_enum, default_value = "both")]
        patcher: Which,
        /// Check a list patcher with this planted fault instead (harness self-test).
        #[arg(long, value_enum)]
        plant: Option<Fault>,
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// A seeded campaign: generate cases, run both patchers, compare.
    Run {
        /// Seed (drawn and printed when absent).
        #[arg(long)]
        seed: Option<u64>,
        #[arg(long, conflicts_with = "time")]
        cases: Option<u64>,
        /// Time budget in seconds (default: 10 when --cases is absent).
        #[arg(long)]
        time: Option<f64>,
        #[arg(long, default_value_t = default_jobs())]
        jobs: usize,
        /// Fixed generator config (JSON); default: a swarm config per case.
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long, default_value = "artifacts")]
        out: PathBuf,
        #[arg(long)]
        json: bool,
        #[arg(long, value_enum)]
        plant: Option<Fault>,
        /// Also start cases from the programs of these BPF objects (a
        /// directory of .o files, or files), `real_pct` percent of the time.
        #[arg(long)]
        programs: Option<PathBuf>,
    },
    /// Regenerate one seeded case and run it with the full report.
    Repro {
        #[arg(long)]
        seed: u64,
        #[arg(long = "case")]
        case_idx: u64,
        #[arg(long)]
        config: Option<PathBuf>,
        /// The --programs the run had.
        #[arg(long)]
        programs: Option<PathBuf>,
        #[arg(long, value_enum)]
        plant: Option<Fault>,
        /// Also write the case file here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Pretty-print a case file (or the first case of a vector file, or a
    /// program of a BPF object with its source lines).
    Show {
        path: PathBuf,
        /// With a BPF object: the program (default: the only one).
        #[arg(long)]
        prog: Option<String>,
    },
    /// Import programs of clang-built BPF objects (files or directories of
    /// `.o`): list them, or write one (`--prog`) as a case file.
    ImportObj {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The program to import (with one object): printed as a case, or
        /// written to --out.
        #[arg(long)]
        prog: Option<String>,
        /// With --prog: the case file; without: a directory for one case
        /// file per program (FILE.PROG.case).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Turn a libFuzzer crash or corpus input into a case file.
    Import {
        artifact: PathBuf,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Minimise a divergent case while the same divergence persists.
    Shrink {
        path: PathBuf,
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long, value_enum)]
        plant: Option<Fault>,
    },
    /// Time the array and list patchers side by side and print a table.
    Bench {
        /// Small sizes only (under a minute).
        #[arg(long)]
        quick: bool,
        #[arg(long)]
        json: bool,
        /// Draw time against program size (log-log) to this SVG file.
        #[arg(long)]
        plot: Option<PathBuf>,
    },
    /// Print the default generator config as JSON (a starting point for --config).
    Config,
    /// Write the evidence report (Markdown or HTML) from run, bench, replay and mutation results.
    Report(crate::report::Args),
}

fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A failure to report: message and exit code.
pub struct Exit(pub i32, pub String);

pub(crate) fn bad(msg: impl Into<String>) -> Exit {
    Exit(2, msg.into())
}

fn checker(plant: Option<Fault>) -> Checker {
    plant.map_or(campaign::real_checker as Checker, plant::checker)
}

fn load_config(path: &Option<PathBuf>) -> Result<Option<Config>, Exit> {
    let Some(p) = path else { return Ok(None) };
    let text = crate::vectors::read_text(p).map_err(|e| bad(e.to_string()))?;
    let cfg: Config = serde_json::from_str(&text).map_err(|e| bad(format!("{}: {e}", p.display())))?;
    Ok(Some(cfg.sanitize()))
}

/// The real programs of `--programs PATH` (what was skipped goes to stderr).
fn load_programs(path: &Option<PathBuf>) -> Result<Option<crate::gen::RealPrograms>, Exit> {
    let Some(p) = path else { return Ok(None) };
    let (progs, skipped) = crate::obj::load_all(std::slice::from_ref(p))
        .map_err(|(f, e)| bad(format!("{}: {e}", if f.as_os_str().is_empty() { p } else { &f }.display())))?;
    for s in &skipped {
        eprintln!("patch-equiv: --programs: skipped {s}");
    }
    if progs.is_empty() {
        return Err(bad(format!("{}: no program imported from any .o file", p.display())));
    }
    Ok(Some(crate::gen::RealPrograms::new(progs)))
}

/// ` --plant FAULT` for a printed command, or nothing.
fn plant_arg(plant: Option<Fault>) -> String {
    plant.map_or(String::new(), |f| {
        format!(
            " --plant {}",
            clap::ValueEnum::to_possible_value(&f).map_or(String::new(), |v| v.get_name().to_string())
        )
    })
}

/// ` --programs PATH` for a printed command, or nothing.
fn programs_arg(path: &Option<PathBuf>) -> String {
    path.as_ref().map_or(String::new(), |p| format!(" --programs {}", p.display()))
}

fn load_one_case(path: &Path) -> Result<Case, Exit> {
    let mut cases = replay::load_file(path).map_err(|e| bad(e.to_string()))?;
    if cases.is_empty() {
        return Err(bad(format!("{}: no case in the file", path.display())));
    }
    Ok(cases.swap_remove(0))
}

pub(crate) fn write_case(path: &Path, case: &Case) -> Result<(), Exit> {
    write_text(path, &case_file::to_text(case))
}

pub(crate) fn write_text(path: &Path, text: &str) -> Result<(), Exit> {
    if let Some(d) = path.parent() {
        if !d.as_os_str().is_empty() {
            std::fs::create_dir_all(d).map_err(|e| bad(format!("{}: {e}", d.display())))?;
        }
    }
    std::fs::write(path, text).map_err(|e| bad(format!("{}: {e}", path.display())))
}

/// Run the command; `Ok` carries the exit code for success-or-failure results.
pub fn run(cli: Cli) -> Result<i32, Exit> {
    match cli.cmd {
        Cmd::Replay { patcher, plant, paths } => cmd_replay(patcher, plant, &paths),
        Cmd::Run { seed, cases, time, jobs, config, out, json, plant, programs } => {
            let cfg = load_config(&config)?;
            let real = load_programs(&programs)?;
            // The flags besides --seed/--case that `repro` needs to regenerate a case.
            let config_arg = config.as_ref().map_or(String::new(), |p| format!(" --config {}", p.display()));
            let repro_args = format!("{config_arg}{}", programs_arg(&programs));
            cmd_run(seed, cases, time, jobs, cfg, &out, json, plant, real.as_ref(), &repro_args)
        }
        Cmd::Repro { seed, case_idx, config, programs, plant, out } => {
            let cfg = load_config(&config)?;
            let real = load_programs(&programs)?;
            let g = campaign::generate_case_from(seed, case_idx, cfg.as_ref(), real.as_ref())
                .map_err(|e| bad(format!("case {case_idx} of seed {seed} was not generated: {e}")))?;
            if let Some(o) = &out {
                write_case(o, &g.case)?;
            }
            match checker(plant)(&g.case).divergence() {
                Some(mut r) => {
                    r.reproduce = Some(format!(
                        "patch-equiv repro --seed {seed} --case {case_idx}{}{}{}",
                        config.as_ref().map_or(String::new(), |p| format!(" --config {}", p.display())),
                        programs_arg(&programs),
                        plant_arg(plant)
                    ));
                    println!("{r}");
                    Ok(1)
                }
                None => {
                    println!("{}", case_file::to_text(&g.case));
                    println!("no divergence ({} ops)", g.case.ops.len());
                    Ok(0)
                }
            }
        }
        Cmd::Show { path, prog } if crate::obj::command::is_elf(&path) => {
            crate::obj::command::show(&path, prog.as_deref())
        }
        Cmd::ImportObj { paths, prog, out } => crate::obj::command::import(&paths, prog.as_deref(), out.as_deref()),
        Cmd::Show { path, prog: _ } => {
            let case = load_one_case(&path)?;
            print!("{}", case_file::to_text(&case));
            Ok(0)
        }
        Cmd::Import { artifact, out } => {
            let data = std::fs::read(&artifact).map_err(|e| bad(format!("{}: {e}", artifact.display())))?;
            let (_, mut g) = crate::gen::from_bytes(&data).map_err(|e| {
                bad(format!("{}: the generator made no case from these bytes: {e}", artifact.display()))
            })?;
            g.case.name = artifact.file_name().and_then(|n| n.to_str()).unwrap_or("imported").to_string();
            let text = case_file::to_text(&g.case);
            match out {
                Some(o) => write_case(&o, &g.case)?,
                None => print!("{text}"),
            }
            Ok(0)
        }
        Cmd::Shrink { path, out, plant } => {
            let case = load_one_case(&path)?;
            case.prog.validate().map_err(|e| bad(format!("{}: {e}", path.display())))?;
            let check = checker(plant);
            let Some(report) = check(&case).divergence() else {
                return Err(Exit(1, format!("{}: no divergence to shrink", path.display())));
            };
            let sig = report.signature();
            let small = shrink(&case, &|c: &Case| check(c).divergence().is_some_and(|r| r.signature() == sig), 20_000);
            let out = out.unwrap_or_else(|| path.with_extension("min.case"));
            write_case(&out, &small)?;
            println!(
                "shrunk {} → {} (insns+ops+metadata); written to {}",
                crate::shrink::size(&case),
                crate::shrink::size(&small),
                out.display()
            );
            Ok(0)
        }
        Cmd::Bench { quick, json, plot } => crate::bench::cmd(quick, json, plot.as_deref()).map_err(bad),
        Cmd::Report(args) => crate::report::cmd(&args).map_err(bad),
        Cmd::Config => {
            println!("{}", serde_json::to_string_pretty(&Config::default()).expect("config serializes"));
            Ok(0)
        }
    }
}

fn cmd_replay(which: Which, plant: Option<Fault>, paths: &[PathBuf]) -> Result<i32, Exit> {
    let files = replay::collect_files(paths).map_err(|e| bad(e.to_string()))?;
    if files.is_empty() {
        return Err(bad("no .jsonl, .jsonl.gz or .case files found"));
    }
    let (mut pass, mut fail, mut malformed) = (0u64, 0u64, 0u64);
    for f in &files {
        let cases = replay::load_file(f).map_err(|e| bad(e.to_string()))?;
        for case in &cases {
            match replay::check_with(case, which, plant) {
                Verdict::Pass => pass += 1,
                Verdict::Fail(who, m) => {
                    fail += 1;
                    println!("FAIL {} [{}] ({who}): {m}", case.name, f.display());
                    if let crate::case::Mismatch::Diverged(r) = &m {
                        println!("{r}");
                    }
                }
                Verdict::Malformed(msg) => {
                    malformed += 1;
                    eprintln!("patch-equiv: {}: case {}: {msg}", f.display(), case.name);
                }
            }
        }
    }
    println!("{pass} passed, {fail} failed");
    Ok(if malformed > 0 {
        2
    } else if fail == 0 {
        0
    } else {
        1
    })
}

#[allow(clippy::too_many_arguments)]
fn cmd_run(
    seed: Option<u64>,
    cases: Option<u64>,
    time: Option<f64>,
    jobs: usize,
    cfg: Option<Config>,
    out: &Path,
    json: bool,
    plant: Option<Fault>,
    real: Option<&crate::gen::RealPrograms>,
    repro_args: &str,
) -> Result<i32, Exit> {
    if jobs == 0 {
        return Err(bad("--jobs must be at least 1"));
    }
    if time.is_some_and(|t| !(t > 0.0 && t.is_finite())) {
        return Err(bad("--time must be a positive number of seconds"));
    }
    let seed = seed.unwrap_or_else(|| {
        let s = rand::random::<u64>() >> 16;
        eprintln!("seed: {s}");
        s
    });
    let time = if cases.is_none() { Some(time.unwrap_or(10.0)) } else { time };
    let tty = std::io::stderr().is_terminal() && !json;
    let bar = tty.then(|| {
        let b = match cases {
            Some(n) => indicatif::ProgressBar::new(n),
            None => indicatif::ProgressBar::new_spinner(),
        };
        b.set_style(
            indicatif::ProgressStyle::with_template("{elapsed_precise} {bar:30} {pos} cases {per_sec} {msg}")
                .expect("template"),
        );
        b
    });
    let started = Instant::now();
    let mut last_line = Instant::now();
    let check = checker(plant);
    let outcome = campaign::run_from(seed, cases, time, jobs, cfg.as_ref(), real, check, |done, stats| {
        if let Some(b) = &bar {
            b.set_position(done);
            b.set_message(format!("rejected {}", stats.rejected));
        } else if !json && last_line.elapsed().as_secs_f64() >= 5.0 {
            eprintln!(
                "[{:>6.1}s] {done} cases, {:.0} cases/s",
                started.elapsed().as_secs_f64(),
                done as f64 / started.elapsed().as_secs_f64()
            );
            last_line = Instant::now();
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let rate = outcome.stats.cases as f64 / outcome.seconds.max(1e-9);
    if let Some((k, report)) = outcome.divergence {
        let sig = report.signature();
        let small =
            shrink(&report.case, &|c: &Case| check(c).divergence().is_some_and(|r| r.signature() == sig), 20_000);
        let mut small_report = check(&small).divergence().unwrap_or(report);
        let path = out.join(format!("seed-{seed}-case-{k}.case"));
        write_case(&path, &small)?;
        let plant_arg = plant_arg(plant);
        small_report.reproduce = Some(format!(
            "patch-equiv replay{plant_arg} {}   (original: patch-equiv repro --seed {seed} --case {k}{repro_args}{plant_arg})",
            path.display()
        ));
        println!("{small_report}");
        println!("divergence in case {k} of seed {seed}; shrunk reproducer written to {}", path.display());
        if json {
            println!(
                "{}",
                serde_json::json!({"seed": seed, "cases": outcome.stats.cases, "divergent_case": k, "reproducer": path.display().to_string()})
            );
        }
        return Ok(1);
    }
    if json {
        let features: serde_json::Map<String, serde_json::Value> =
            crate::gen::Feature::ALL.iter().map(|f| (f.name().to_string(), outcome.stats.count(*f).into())).collect();
        let v = serde_json::json!({
            "seed": seed, "jobs": jobs, "cases": outcome.stats.cases, "ops": outcome.stats.ops,
            "rejected": outcome.stats.rejected, "seconds": outcome.seconds, "cases_per_sec": rate,
            "divergences": 0, "features": features, "real_programs": outcome.stats.real,
        });
        println!("{}", serde_json::to_string_pretty(&v).expect("json"));
    } else {
        println!(
            "seed {seed}: {} cases in {:.1}s ({rate:.0} cases/s, {jobs} jobs), no divergence",
            outcome.stats.cases, outcome.seconds
        );
        print!("{}", outcome.stats);
    }
    Ok(0)
}
