//! Child processes, for engines that can kill the process they run in (a
//! segfault, an abort, a sanitizer report): the cases run in a child of the
//! same binary (the hidden `worker` subcommand), which prints one JSON line per
//! case. A child that dies without its final `done` line crashed; the parent
//! finds the case (the one after the last line), confirms it alone, names the
//! engine and the op, and reports it like any other finding.

use crate::case::Case;
use crate::engine::EngineSet;
use crate::equiv::{Kind, Report};
use crate::finding::Finding;
use crate::gen::Config;
use crate::replay::Verdict;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// One line a worker prints.
#[derive(Serialize, Deserialize, Debug)]
#[serde(tag = "line", rename_all = "snake_case")]
pub enum Line {
    /// Seeded case `k`: rejected by the generator, or checked.
    Case {
        k: u64,
        rejected: bool,
        features: u64,
        ops: usize,
        /// The real program the case started from (`--programs`).
        #[serde(default)]
        real: Option<String>,
        finding: Option<Finding>,
    },
    /// The case at `index` of a replayed file.
    Verdict { index: usize, verdict: Verdict },
    /// A single case from standard input, checked.
    Checked { finding: Option<Finding> },
    /// The worker finished; `next` is the first seeded case it did not run.
    Done { next: u64 },
    /// The job could not start (a bad config, an unreadable input).
    Refused { why: String },
}

/// What a worker is asked to do.
pub enum Job {
    /// Seeded cases `[from, to)`, stopping at the first finding or the deadline.
    Cases {
        seed: u64,
        from: u64,
        to: u64,
        config: Option<PathBuf>,
        programs: Option<PathBuf>,
        deadline_ms: Option<u64>,
    },
    /// One case file read from standard input.
    Case,
    /// The cases of a file from `skip` on.
    Replay { file: PathBuf, skip: usize, verbose: bool },
}

fn emit(line: &Line) {
    // One write per line (stdout is line-buffered): a crash loses nothing printed.
    println!("{}", serde_json::to_string(line).expect("a line serializes"));
}

/// Say why the job cannot start; exit code 2.
fn refuse(why: String) -> i32 {
    emit(&Line::Refused { why });
    2
}

/// The worker's side: run `job` with `engines`, print lines; 0 when done, 2
/// when the job itself cannot start (bad config, unreadable input).
pub fn worker(engines: &EngineSet, job: Job) -> i32 {
    crate::campaign::warm_allocator();
    match job {
        Job::Cases { seed, from, to, config, programs, deadline_ms } => {
            let cfg = match config.as_deref().map(Config::load).transpose() {
                Ok(c) => c,
                Err(e) => return refuse(e),
            };
            let real = match programs.as_deref().map(crate::obj::real_programs).transpose() {
                Ok(r) => r.map(|(progs, _skipped)| progs),
                Err(e) => return refuse(e),
            };
            let deadline = deadline_ms.map(|ms| Instant::now() + std::time::Duration::from_millis(ms));
            let mut k = from;
            while k < to {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let r = crate::campaign::check_one(seed, k, cfg.as_ref(), real.as_ref(), engines);
                let found = r.finding.is_some();
                emit(&Line::Case {
                    k,
                    rejected: r.rejected,
                    features: r.features.0,
                    ops: r.ops,
                    real: r.real,
                    finding: r.finding.as_deref().map(Finding::from),
                });
                k += 1;
                if found {
                    break;
                }
            }
            emit(&Line::Done { next: k });
            0
        }
        Job::Case => {
            let mut text = String::new();
            if let Err(e) = std::io::Read::read_to_string(&mut std::io::stdin(), &mut text) {
                return refuse(format!("standard input: {e}"));
            }
            let case = match crate::case_file::parse("<stdin>", &text) {
                Ok(c) => c,
                Err(e) => return refuse(e.to_string()),
            };
            let finding = crate::equiv::check(&case, engines).divergence().map(|r| Finding::from(&r));
            emit(&Line::Checked { finding });
            emit(&Line::Done { next: 0 });
            0
        }
        Job::Replay { file, skip, verbose } => {
            let cases = match crate::replay::load_file(&file) {
                Ok(c) => c,
                Err(e) => return refuse(e.to_string()),
            };
            for (index, case) in cases.iter().enumerate().skip(skip) {
                emit(&Line::Verdict { index, verdict: crate::replay::check(case, engines, verbose) });
            }
            emit(&Line::Done { next: 0 });
            0
        }
    }
}

/// How a child ended, and what it printed.
#[derive(Debug)]
pub struct Ran {
    pub lines: Vec<Line>,
    /// It printed its `done` line: no crash.
    pub done: bool,
    /// How it exited, in words ("killed by signal 6 (SIGABRT)").
    pub status: String,
    /// The last lines of its standard error.
    pub stderr: String,
}

/// The parent's side: how to start workers with the same engines.
#[derive(Clone, Debug)]
pub struct Child {
    exe: PathBuf,
    /// `--engines …` and `--plant …` as given to the worker.
    flags: Vec<String>,
    /// The engines that can crash (to name the one that did).
    crashing: Vec<String>,
    plant: Option<String>,
}

/// The result of checking one case in a child.
#[derive(Debug)]
pub enum Checked {
    Clean,
    Found(Finding),
    Crashed { status: String, stderr: String },
}

impl Checked {
    /// `Report::signature` of what was found (a crash: engine-less, by how it died).
    pub fn signature(&self) -> Option<String> {
        match self {
            Checked::Clean => None,
            Checked::Found(f) => Some(f.signature.clone()),
            Checked::Crashed { status, .. } => Some(format!("crash {status}")),
        }
    }
}

/// Lines of standard error kept for a crash report.
const STDERR_LINES: usize = 30;

fn status_words(s: std::process::ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = s.signal() {
            let name = match sig {
                4 => " (SIGILL)",
                6 => " (SIGABRT)",
                7 => " (SIGBUS)",
                8 => " (SIGFPE)",
                9 => " (SIGKILL)",
                11 => " (SIGSEGV)",
                _ => "",
            };
            return format!("killed by signal {sig}{name}");
        }
    }
    match s.code() {
        Some(c) => format!("exited with code {c}"),
        None => "ended abnormally".to_string(),
    }
}

impl Child {
    /// Workers of this binary with `engines`.
    pub fn new(engines: &EngineSet) -> Result<Child, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find this program to start a worker: {e}"))?;
        Ok(Child {
            exe,
            flags: engines.flags(),
            crashing: engines.crashing(),
            plant: engines.plant().map(|p| p.name.to_string()),
        })
    }

    /// The same workers with another binary (tests).
    pub fn with_exe(mut self, exe: &Path) -> Child {
        self.exe = exe.to_path_buf();
        self
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.exe);
        c.arg("worker").args(&self.flags);
        c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        c
    }

    /// Run one child. Its lines are read as they come (a `case` line bumps
    /// `progress`, so a progress display moves while children work); its
    /// standard error is drained on a thread so that neither pipe can fill.
    fn run(&self, mut cmd: Command, input: Option<String>, progress: Option<&AtomicU64>) -> Result<Ran, String> {
        if input.is_some() {
            cmd.stdin(Stdio::piped());
        }
        let mut child = cmd.spawn().map_err(|e| format!("cannot start a worker ({}): {e}", self.exe.display()))?;
        let err_pipe = child.stderr.take();
        let err_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = err_pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        });
        if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
            // A worker that dies before reading all of it is a crash seen below.
            let _ = stdin.write_all(text.as_bytes());
        }
        let mut lines = Vec::new();
        let mut done = false;
        let mut refused = None;
        if let Some(out) = child.stdout.take() {
            let mut reader = std::io::BufReader::new(out);
            let mut raw = Vec::new();
            while reader.read_until(b'\n', &mut raw).is_ok_and(|n| n > 0) {
                match serde_json::from_slice::<Line>(&raw) {
                    Ok(Line::Done { next }) => {
                        done = true;
                        lines.push(Line::Done { next });
                    }
                    Ok(Line::Refused { why }) => refused = Some(why),
                    Ok(line) => {
                        if let (Line::Case { .. }, Some(p)) = (&line, progress) {
                            p.fetch_add(1, Ordering::Relaxed);
                        }
                        lines.push(line);
                    }
                    // A line cut by the crash, or output of a foreign engine.
                    Err(_) => {}
                }
                raw.clear();
            }
        }
        let status = child.wait().map_err(|e| format!("worker: {e}"))?;
        let stderr_bytes = err_reader.join().unwrap_or_default();
        if let Some(why) = refused {
            return Err(format!("worker refused its job: {why}"));
        }
        let stderr = String::from_utf8_lossy(&stderr_bytes);
        let all: Vec<&str> = stderr.lines().collect();
        let tail = all[all.len().saturating_sub(STDERR_LINES)..].join("\n");
        let done = done && status.success();
        Ok(Ran { lines, done, status: status_words(status), stderr: tail })
    }

    /// Seeded cases `[from, to)` in one child.
    #[allow(clippy::too_many_arguments)]
    pub fn run_cases(
        &self,
        seed: u64,
        from: u64,
        to: u64,
        config: Option<&Path>,
        programs: Option<&Path>,
        deadline: Option<Instant>,
        progress: Option<&AtomicU64>,
    ) -> Result<Ran, String> {
        let mut c = self.command();
        c.args(["cases", "--seed", &seed.to_string(), "--from", &from.to_string(), "--to", &to.to_string()]);
        if let Some(p) = config {
            c.arg("--config").arg(p);
        }
        if let Some(p) = programs {
            c.arg("--programs").arg(p);
        }
        if let Some(d) = deadline {
            let ms = d.saturating_duration_since(Instant::now()).as_millis();
            c.args(["--deadline-ms", &ms.to_string()]);
        }
        self.run(c, None, progress)
    }

    /// One case in a child.
    pub fn check_case(&self, case: &Case) -> Result<Checked, String> {
        let mut c = self.command();
        c.arg("case");
        let ran = self.run(c, Some(crate::case_file::to_text(case)), None)?;
        if !ran.done {
            return Ok(Checked::Crashed { status: ran.status, stderr: ran.stderr });
        }
        Ok(ran
            .lines
            .into_iter()
            .find_map(|l| match l {
                Line::Checked { finding } => Some(finding.map_or(Checked::Clean, Checked::Found)),
                _ => None,
            })
            .unwrap_or(Checked::Clean))
    }

    /// The cases of `file` from `skip` on, in one child.
    pub fn replay_file(&self, file: &Path, skip: usize, verbose: bool) -> Result<Ran, String> {
        let mut c = self.command();
        c.arg("replay").arg(file).args(["--skip", &skip.to_string()]);
        if verbose {
            c.arg("--verbose");
        }
        self.run(c, None, None)
    }

    /// The same workers with the oracle and `engine` only.
    fn pair(&self, engine: &str) -> Child {
        let mut flags = vec!["--engines".to_string(), format!("{},{engine}", crate::engine::ORACLE)];
        if let Some(p) = &self.plant {
            if crate::engine::plant::find(p).is_ok_and(|x| x.engine == engine) {
                flags.extend(["--plant".to_string(), p.clone()]);
            }
        }
        Child { flags, crashing: vec![engine.to_string()], ..self.clone() }
    }

    /// The engine that crashed on `case`: the only one that can, or the
    /// first that crashes alone beside the oracle. Its workers come with it.
    pub fn culprit(&self, case: &Case) -> (String, Child) {
        if self.crashing.len() == 1 {
            return (self.crashing[0].clone(), self.clone());
        }
        for e in &self.crashing {
            let alone = self.pair(e);
            if matches!(alone.check_case(case), Ok(Checked::Crashed { .. })) {
                return (e.clone(), alone);
            }
        }
        (self.crashing.join("/"), self.clone())
    }

    /// The op during which `case` crashes: the shortest op prefix that still
    /// crashes ends with it (`None`: loading the program crashes).
    pub fn crashing_op(&self, case: &Case) -> Option<usize> {
        let crashes = |m: usize| {
            let mut c = case.clone();
            c.ops.truncate(m);
            c.expect = None;
            matches!(self.check_case(&c), Ok(Checked::Crashed { .. }))
        };
        let (mut lo, mut hi) = (0, case.ops.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if crashes(mid) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        hi.checked_sub(1)
    }

    /// The full finding for a crash of `case`: engine, op, how it died.
    pub fn crash_finding(&self, case: &Case, status: &str, stderr: &str) -> Finding {
        let (engine, child) = self.culprit(case);
        let op = child.crashing_op(case);
        let r = Report {
            case: case.clone(),
            kind: Kind::Crash { status: status.to_string(), stderr: stderr.to_string() },
            engine,
            op,
            table: "crash".to_string(),
            oracle: String::new(),
            other: String::new(),
            states: None,
            diff: None,
            reproduce: None,
        };
        Finding::from(&r)
    }
}
