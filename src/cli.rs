//! The `patch-equiv` command line: a thin layer over the library.
//! Exit codes: 0 success, 1 a finding (a failing case, a divergence, a panic
//! or a crash of an engine), 2 bad arguments or input.
//!
//! Every command the tool prints is meant to be pasted as is from the
//! repository root: `cargo run --release -q -- <subcommand> …` (`PREFIX`).

mod findings;
mod replay;
mod run;

use crate::case::Case;
use crate::case_file;
use crate::engine::{self, EngineSet};
use crate::gen::Config;
use clap::builder::PossibleValue;
use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};

/// How every printed command starts: works from the repository root of a
/// fresh clone, nothing installed.
pub const PREFIX: &str = "cargo run --release -q --";

#[derive(Parser, Debug)]
#[command(
    name = "patch-equiv",
    version,
    about = "Prove a list-based BPF patcher equivalent to the kernel's array patcher",
    after_help = "Exit codes: 0 success, 1 a finding (divergence, panic, crash, failing case), 2 bad arguments or input."
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

/// `--engines` and `--plant`.
#[derive(Args, Debug, Clone)]
pub struct EngineArgs {
    /// Engines to compare, comma-separated: array (the oracle; always included, always first),
    /// list, c, lib:PATH. Default: every built-in engine.
    #[arg(long, value_name = "LIST", default_value = engine::BUILTIN)]
    pub engines: String,
    /// Plant a deliberate fault in the engine that holds it (a harness self-test); that engine
    /// must be selected by --engines.
    #[arg(long, value_name = "FAULT", value_parser = plant_values())]
    pub plant: Option<String>,
    /// Also compare an engine loaded from this shared object (the engine ABI,
    /// docs/engine-abi.md): the same as adding lib:PATH to --engines.
    #[arg(long, value_name = "PATH.so")]
    pub engine_lib: Vec<PathBuf>,
}

impl EngineArgs {
    fn set(&self) -> Result<EngineSet, Exit> {
        EngineSet::parse(&with_libs(&self.engines, &self.engine_lib), self.plant.as_deref()).map_err(bad)
    }
}

/// `--engines` with each `--engine-lib PATH` appended as `lib:PATH`.
fn with_libs(engines: &str, libs: &[PathBuf]) -> String {
    let mut spec = engines.to_string();
    for l in libs {
        spec.push_str(&format!(",lib:{}", l.display()));
    }
    spec
}

fn plant_values() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        engine::plant::PLANTS.iter().map(|p| PossibleValue::new(p.name).help(format!("[{}] {}", p.engine, p.help))),
    )
}

/// A positive number of seconds (`--time`, `--shrink-time`).
fn positive_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        Ok(_) => Err("must be a positive number of seconds (budgets are never zero or negative)".into()),
        Err(_) => Err("not a number of seconds".into()),
    }
}

/// A positive count (`--cases`, `--jobs`).
fn positive_count(s: &str) -> Result<u64, String> {
    match s.parse::<i128>() {
        Ok(v) if v >= 1 && v <= u64::MAX as i128 => Ok(v as u64),
        Ok(_) => Err("must be at least 1 (budgets are never zero or negative)".into()),
        Err(_) => Err("not a whole number".into()),
    }
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Replay kernel vectors (.jsonl, .jsonl.gz) and case files (.case), or directories of them.
    Replay {
        /// Old spelling of --engines: both (= array,list), array, list, c, lib:PATH.
        #[arg(long, value_name = "ENGINES", conflicts_with = "engines")]
        patcher: Option<String>,
        #[command(flatten)]
        engines: EngineArgs,
        /// Print the full report under each failing case (default: one line per case).
        #[arg(long)]
        verbose: bool,
        /// Print one JSON document on stdout (the human output goes to stderr).
        #[arg(long)]
        json: bool,
        /// Files (.jsonl, .jsonl.gz, .case, .case.gz) or directories searched for them.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// A seeded campaign: generate cases, run every engine, compare with the oracle.
    Run {
        /// The campaign's seed: case K of seed S is always the same case. Default: drawn at
        /// random and printed.
        #[arg(long)]
        seed: Option<u64>,
        /// Stop after this many cases (at least 1).
        #[arg(long, conflicts_with = "time", allow_negative_numbers = true, value_parser = positive_count)]
        cases: Option<u64>,
        /// Stop after this many seconds (positive; default 10 when --cases is absent). At the
        /// deadline no new case starts; the statistics cover the cases before the first one
        /// not run.
        #[arg(long, value_name = "SECS", allow_negative_numbers = true, value_parser = positive_secs)]
        time: Option<f64>,
        /// Threads (child processes, for engines that can crash) running cases at once.
        /// Default: the number of CPUs.
        #[arg(long, allow_negative_numbers = true, value_parser = positive_count)]
        jobs: Option<u64>,
        /// Generator config (JSON; the `config` subcommand prints the default). Default: a
        /// swarm config drawn per case.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Directory for the finding's case files (raw and shrunk); created if missing and
        /// checked before the campaign starts.
        #[arg(long, value_name = "DIR", default_value = "artifacts")]
        out: PathBuf,
        /// Print one JSON document on stdout in every outcome (the human report goes to stderr).
        #[arg(long)]
        json: bool,
        /// Seconds to spend shrinking a finding (positive). Default: 20 times what the case
        /// took, at least 2 s, and ending at most 3 s after --time runs out.
        #[arg(long, value_name = "SECS", allow_negative_numbers = true, value_parser = positive_secs)]
        shrink_time: Option<f64>,
        /// Also start cases from the programs of these clang-built BPF objects (a directory of
        /// .o files, or one), `real_pct` percent of the time (see `config`).
        #[arg(long, value_name = "DIR")]
        programs: Option<PathBuf>,
        /// Run only shard I of N (0 <= I < N) of the seed's cases: case K is in shard
        /// floor(K / 2048) mod N, so N machines with the same seed and --cases check exactly the
        /// cases of one run, without overlap (with --time, each its own share until its
        /// deadline). `merge` adds up their --json summaries.
        #[arg(long, value_name = "I/N", value_parser = crate::shard::Shard::parse)]
        shard: Option<crate::shard::Shard>,
        #[command(flatten)]
        engines: EngineArgs,
    },
    /// Add up `run --json` summaries of the shards of one seed (cases, ops, features, findings)
    /// into one summary of the same schema.
    Merge {
        /// `run --json` summaries (of `run --shard I/N`, or merged ones) of one seed, engines,
        /// --config and --programs, each shard once.
        #[arg(required = true, value_name = "SUMMARY")]
        summaries: Vec<PathBuf>,
        /// Write the merged summary here (default: standard output).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Regenerate one seeded case and run it with the full report.
    Repro {
        /// The campaign's seed.
        #[arg(long)]
        seed: u64,
        /// The case number within the seed.
        #[arg(long = "case", value_name = "K")]
        case_idx: u64,
        /// The generator config the campaign used (--config of `run`).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The BPF objects the campaign started cases from (--programs of `run`).
        #[arg(long, value_name = "DIR")]
        programs: Option<PathBuf>,
        #[command(flatten)]
        engines: EngineArgs,
        /// Also write the case file here.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Print a case file (or the first case of a vector file, or a program of a BPF object with
    /// its source lines) in the case-file format.
    Show {
        /// A .case, .jsonl or .jsonl.gz file, or a clang-built BPF object (.o).
        path: PathBuf,
        /// With a BPF object: the program to show (default: the only one).
        #[arg(long, value_name = "NAME")]
        prog: Option<String>,
    },
    /// Import programs of clang-built BPF objects (files or directories of .o): list them, or
    /// write one (--prog) as a case file.
    ImportObj {
        /// BPF object files (.o), or directories searched for them.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// The program to import (with one object): printed as a case, or written to --out.
        #[arg(long, value_name = "NAME")]
        prog: Option<String>,
        /// With --prog: the case file; without: a directory for one case file per program
        /// (FILE.PROG.case).
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
    },
    /// Turn a libFuzzer crash or corpus input into a case file.
    Import {
        /// A file of fuzz input bytes (fuzz/artifacts/patch_equiv/crash-…, a corpus entry).
        artifact: PathBuf,
        /// Write the case file here (default: print it).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Minimise a case while the same finding (kind, engine, op kind, table) persists.
    Shrink {
        /// The case file with a finding.
        path: PathBuf,
        /// Where to write the shrunk case. Default: next to PATH, as NAME.min.case.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Seconds to spend (positive). Default: 20 times what the case took, at least 2 s.
        #[arg(long, value_name = "SECS", allow_negative_numbers = true, value_parser = positive_secs)]
        shrink_time: Option<f64>,
        #[command(flatten)]
        engines: EngineArgs,
    },
    /// Time every engine on the benchmark workloads, one column per engine.
    Bench {
        /// Small sizes only (under a minute).
        #[arg(long)]
        quick: bool,
        /// Print the results as JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Draw time against program size (log-log) to this SVG file.
        #[arg(long, value_name = "FILE.svg")]
        plot: Option<PathBuf>,
        /// Engines to time, comma-separated (the oracle, array, is always included).
        #[arg(long, value_name = "LIST", default_value = engine::BUILTIN)]
        engines: String,
        /// Also time an engine loaded from this shared object (as lib:PATH in --engines).
        #[arg(long, value_name = "PATH.so")]
        engine_lib: Vec<PathBuf>,
    },
    /// Print the default generator config as JSON (a starting point for --config).
    Config,
    /// Write the evidence report (Markdown or HTML) from run, bench, replay and mutation results.
    Report(crate::report::Args),
    /// Internal: run cases for a parent process (engines that can crash).
    #[command(hide = true)]
    Worker {
        #[command(flatten)]
        engines: EngineArgs,
        #[command(subcommand)]
        job: WorkerJob,
    },
}

#[derive(Subcommand, Debug)]
pub enum WorkerJob {
    Cases {
        #[arg(long)]
        seed: u64,
        #[arg(long)]
        from: u64,
        #[arg(long)]
        to: u64,
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        programs: Option<PathBuf>,
        #[arg(long)]
        deadline_ms: Option<u64>,
    },
    Case,
    Replay {
        file: PathBuf,
        #[arg(long, default_value_t = 0)]
        skip: usize,
        #[arg(long)]
        verbose: bool,
    },
}

/// A failure to report: exit code and message.
pub struct Exit(pub i32, pub String);

pub(crate) fn bad(msg: impl Into<String>) -> Exit {
    Exit(2, msg.into())
}

/// Write to stdout; a closed pipe (`show … | head`) ends the program quietly
/// with exit 0: the reader has what it wanted.
pub fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("patch-equiv: standard output: {e}");
        std::process::exit(2);
    }
}

/// `say` with a newline.
pub fn sayln(text: &str) {
    say(&format!("{text}\n"));
}

/// One shell word: as is when it is plain, single-quoted otherwise.
pub fn shell_word(s: &str) -> String {
    let plain = !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "_-./:=,+@%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// A printed command: `PREFIX` and the arguments, quoted for `sh`.
pub fn command_line<S: AsRef<str>>(args: &[S]) -> String {
    let mut s = PREFIX.to_string();
    for a in args {
        s.push(' ');
        s.push_str(&shell_word(a.as_ref()));
    }
    s
}

fn load_config(path: &Option<PathBuf>) -> Result<Option<Config>, Exit> {
    path.as_deref().map(Config::load).transpose().map_err(bad)
}

/// The real programs of `--programs` (what was skipped goes to stderr).
fn load_programs(path: &Option<PathBuf>) -> Result<Option<crate::gen::RealPrograms>, Exit> {
    let Some(p) = path else { return Ok(None) };
    let (progs, skipped) = crate::obj::real_programs(p).map_err(bad)?;
    for s in &skipped {
        eprintln!("patch-equiv: --programs: skipped {s}");
    }
    Ok(Some(progs))
}

fn load_one_case(path: &Path) -> Result<Case, Exit> {
    let mut cases = crate::replay::load_file(path).map_err(|e| bad(e.to_string()))?;
    if cases.is_empty() {
        return Err(bad(format!("{}: no case in the file", path.display())));
    }
    Ok(cases.swap_remove(0))
}

fn write_case(path: &Path, case: &Case) -> Result<(), String> {
    write_file(path, &case_file::to_text(case))
}

/// Write `text` to `path`, making its directory.
fn write_file(path: &Path, text: &str) -> Result<(), String> {
    if let Some(d) = path.parent() {
        if !d.as_os_str().is_empty() {
            std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// `write_file` for commands that exit 2 when it fails.
pub(crate) fn write_text(path: &Path, text: &str) -> Result<(), Exit> {
    write_file(path, text).map_err(bad)
}

/// The subcommand's JSON `kind`, when it was asked for JSON (so that even an
/// argument error prints one JSON document).
pub fn json_kind(args: &[String]) -> Option<&'static str> {
    if !args.iter().any(|a| a == "--json") {
        return None;
    }
    match args.get(1).map(String::as_str) {
        Some("run") => Some("run"),
        Some("replay") => Some("replay"),
        Some("bench") => Some("bench"),
        _ => None,
    }
}

/// The JSON document of a command that could not run.
pub fn json_error(kind: &str, msg: &str) -> String {
    serde_json::json!({ "kind": kind, "version": 1, "error": msg }).to_string()
}

/// Run the command; `Ok` carries the exit code for success-or-failure results.
pub fn run(cli: Cli) -> Result<i32, Exit> {
    match cli.cmd {
        Cmd::Replay { patcher, engines, verbose, json, paths } => {
            let r = (|| {
                let set = match patcher {
                    Some(p) => {
                        let spec = if p == "both" { "array,list".to_string() } else { p };
                        let spec = with_libs(&spec, &engines.engine_lib);
                        EngineSet::parse(&spec, engines.plant.as_deref()).map_err(bad)?
                    }
                    None => engines.set()?,
                };
                replay::cmd(&set, &paths, verbose, json)
            })();
            json_on_error(r, json.then_some("replay"))
        }
        Cmd::Run { seed, cases, time, jobs, config, out, json, shrink_time, programs, shard, engines } => {
            let r = (|| {
                let set = engines.set()?;
                let cfg = load_config(&config)?;
                let real = load_programs(&programs)?;
                let opts = run::Options {
                    seed,
                    cases,
                    time,
                    jobs: jobs.map_or_else(default_jobs, |j| j as usize),
                    cfg,
                    config,
                    real,
                    programs,
                    out,
                    json,
                    shrink_time,
                    shard: shard.unwrap_or(crate::shard::Shard::WHOLE),
                };
                run::cmd(&set, opts)
            })();
            json_on_error(r, json.then_some("run"))
        }
        Cmd::Repro { seed, case_idx, config, programs, engines, out } => {
            let set = engines.set()?;
            let cfg = load_config(&config)?;
            let real = load_programs(&programs)?;
            let g = crate::campaign::generate_case_from(seed, case_idx, cfg.as_ref(), real.as_ref())
                .map_err(|e| bad(format!("case {case_idx} of seed {seed} was not generated: {e}")))?;
            if let Some(o) = &out {
                write_case(o, &g.case).map_err(bad)?;
            }
            let checker = findings::Checker::new(&set)?;
            let mut args =
                vec!["repro".to_string(), "--seed".into(), seed.to_string(), "--case".into(), case_idx.to_string()];
            if let Some(c) = &config {
                args.extend(["--config".to_string(), c.display().to_string()]);
            }
            if let Some(p) = &programs {
                args.extend(["--programs".to_string(), p.display().to_string()]);
            }
            args.extend(set.flags());
            match checker.check(&g.case)? {
                Some(f) => {
                    say(&f.text);
                    sayln(&format!("reproduce with: {}", command_line(&args)));
                    Ok(1)
                }
                None => {
                    say(&case_file::to_text(&g.case));
                    sayln(&format!("no finding ({} ops, engines {})", g.case.ops.len(), set.spec()));
                    Ok(0)
                }
            }
        }
        Cmd::Show { path, prog } if crate::obj::command::is_elf(&path) => {
            crate::obj::command::show(&path, prog.as_deref())
        }
        Cmd::ImportObj { paths, prog, out } => crate::obj::command::import(&paths, prog.as_deref(), out.as_deref()),
        Cmd::Report(args) => crate::report::cmd(&args).map_err(bad),
        Cmd::Merge { summaries, out } => crate::merge::cmd(&summaries, out.as_deref()).map_err(bad),
        Cmd::Show { path, prog: _ } => {
            let case = load_one_case(&path)?;
            say(&case_file::to_text(&case));
            Ok(0)
        }
        Cmd::Import { artifact, out } => {
            let data = std::fs::read(&artifact).map_err(|e| bad(format!("{}: {e}", artifact.display())))?;
            let (_, mut g) = crate::gen::from_bytes(&data).map_err(|e| {
                bad(format!("{}: the generator made no case from these bytes: {e}", artifact.display()))
            })?;
            g.case.name = artifact.file_name().and_then(|n| n.to_str()).unwrap_or("imported").to_string();
            match out {
                Some(o) => write_case(&o, &g.case).map_err(bad)?,
                None => say(&case_file::to_text(&g.case)),
            }
            Ok(0)
        }
        Cmd::Shrink { path, out, shrink_time, engines } => {
            let set = engines.set()?;
            findings::cmd_shrink(&set, &path, out, shrink_time)
        }
        Cmd::Bench { quick, json, plot, engines, engine_lib } => {
            let set = EngineSet::parse(&with_libs(&engines, &engine_lib), None).map_err(bad)?;
            json_on_error(crate::bench::cmd(&set, quick, json, plot.as_deref()).map_err(bad), json.then_some("bench"))
        }
        Cmd::Config => {
            sayln(&serde_json::to_string_pretty(&Config::default()).expect("config serializes"));
            Ok(0)
        }
        Cmd::Worker { engines, job } => {
            let set = engines.set()?;
            let job = match job {
                WorkerJob::Cases { seed, from, to, config, programs, deadline_ms } => {
                    crate::isolate::Job::Cases { seed, from, to, config, programs, deadline_ms }
                }
                WorkerJob::Case => crate::isolate::Job::Case,
                WorkerJob::Replay { file, skip, verbose } => crate::isolate::Job::Replay { file, skip, verbose },
            };
            Ok(crate::isolate::worker(&set, job))
        }
    }
}

/// With `--json`, an error still prints one JSON document on stdout.
fn json_on_error(r: Result<i32, Exit>, kind: Option<&str>) -> Result<i32, Exit> {
    if let (Err(Exit(_, msg)), Some(kind)) = (&r, kind) {
        sayln(&json_error(kind, msg));
    }
    r
}

fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn every_option_and_argument_has_help_text() {
        let cmd = Cli::command();
        let mut missing = Vec::new();
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
            assert!(sub.get_about().is_some(), "{} has no description", sub.get_name());
            for a in sub.get_arguments().filter(|a| !matches!(a.get_id().as_str(), "help" | "version")) {
                if a.get_help().is_none() {
                    missing.push(format!("{} {}", sub.get_name(), a.get_id()));
                }
            }
        }
        assert!(missing.is_empty(), "options without --help text: {missing:?}");
    }

    #[test]
    fn printed_commands_quote_what_the_shell_would_split() {
        assert_eq!(shell_word("artifacts/seed-1-case-2.case"), "artifacts/seed-1-case-2.case");
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(command_line(&["replay", "x y"]), "cargo run --release -q -- replay 'x y'");
    }

    #[test]
    fn the_shrunk_case_goes_beside_the_case() {
        assert_eq!(findings::default_min_path(Path::new("a/b.case")), Path::new("a/b.min.case"));
        assert_eq!(findings::default_min_path(Path::new("b.case.gz")), Path::new("b.min.case"));
        assert_eq!(findings::default_min_path(Path::new("v.jsonl")), Path::new("v.min.case"));
    }
}
