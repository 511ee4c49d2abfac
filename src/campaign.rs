//! Seeded campaigns: case `k` of seed `S` is generated from bytes filled by a
//! `ChaCha8Rng` seeded from `(S, k)`, so any case reproduces alone and the
//! run's results do not depend on how cases are spread over threads.
//!
//! A run covers cases `[0, n)`: chunks run in parallel, each case checks the
//! deadline before it starts, and the statistics count the unbroken prefix of
//! cases that ran (a finding beyond it is still reported). Engines that can
//! crash run in child processes (`isolate`); a crash is a finding.

use crate::engine::EngineSet;
use crate::equiv::{self, Report};
use crate::finding::Finding;
use crate::gen::{self, Config, Feature, Features, RealPrograms, Stats};
use crate::isolate::{self, Child, Line};
use crate::shard::Shard;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// The least input a case gets. Cases that need more (dense and 256-subprog
/// configs, `gen::input_len`) get a longer prefix of the same stream, so a
/// case that fits in these bytes is the same whatever its budget.
pub const CASE_BYTES: usize = 8192;

/// Case `k`'s stream: a `ChaCha8Rng` seeded from `(seed, k)`.
fn stream(seed: u64, k: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&k.to_le_bytes());
    key[16..].copy_from_slice(b"patch-equiv case");
    ChaCha8Rng::from_seed(key)
}

/// The generator input of case `k` of seed `seed` with the swarm config its
/// bytes draw: `CASE_BYTES`, or more when that config needs more.
pub fn case_bytes(seed: u64, k: u64) -> Vec<u8> {
    case_input(seed, k, None, None)
}

/// The generator input of case `k` of seed `seed` for a run with `cfg`
/// (`--config`; `None`: the swarm config drawn from the bytes) and `real`
/// (`--programs`): at least `CASE_BYTES`, as many as `gen::input_len` asks
/// for that config. A function of its arguments alone.
pub fn case_input(seed: u64, k: u64, cfg: Option<&Config>, real: Option<&RealPrograms>) -> Vec<u8> {
    let mut buf = Vec::new();
    fill_case_input(&mut buf, seed, k, cfg, real);
    buf
}

/// `case_input` into `buf` (reused from case to case: no allocation, no
/// zeroing). The first `CASE_BYTES` come first; when the config drawn from
/// them needs more, the same stream goes on (a stream filled in two steps
/// is the stream filled in one: `CASE_BYTES` is whole 32-bit words).
fn fill_case_input(buf: &mut Vec<u8>, seed: u64, k: u64, cfg: Option<&Config>, real: Option<&RealPrograms>) {
    use arbitrary::{Arbitrary, Unstructured};
    let mut rng = stream(seed, k);
    buf.resize(CASE_BYTES, 0);
    rng.fill_bytes(buf);
    let want = match cfg {
        Some(c) => gen::input_len(c, real),
        // The swarm config is the first thing drawn from the bytes.
        None => Config::arbitrary(&mut Unstructured::new(buf)).map_or(0, |c| gen::input_len(&c, real)),
    };
    if want > CASE_BYTES {
        buf.resize(want, 0);
        rng.fill_bytes(&mut buf[CASE_BYTES..]);
    }
}

/// Run `f` on case `k`'s input, in this thread's reused buffer.
fn with_case_input<R>(
    seed: u64,
    k: u64,
    cfg: Option<&Config>,
    real: Option<&RealPrograms>,
    f: impl FnOnce(&[u8]) -> R,
) -> R {
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUF.with_borrow_mut(|buf| {
        fill_case_input(buf, seed, k, cfg, real);
        f(buf)
    })
}

/// Generate case `k` (from the swarm config in its bytes, or `cfg`).
pub fn generate_case(seed: u64, k: u64, cfg: Option<&Config>) -> arbitrary::Result<gen::GenCase> {
    generate_case_from(seed, k, cfg, None)
}

/// The same, with real programs to start from (`run --programs`).
pub fn generate_case_from(
    seed: u64,
    k: u64,
    cfg: Option<&Config>,
    real: Option<&RealPrograms>,
) -> arbitrary::Result<gen::GenCase> {
    generate_watched(seed, k, cfg, real, None)
}

/// `generate_case_from` with `watch` shown the case as it is generated.
fn generate_watched(
    seed: u64,
    k: u64,
    cfg: Option<&Config>,
    real: Option<&RealPrograms>,
    watch: Option<&mut dyn gen::Watch>,
) -> arbitrary::Result<gen::GenCase> {
    let mut g = with_case_input(seed, k, cfg, real, |bytes| gen::from_bytes_watched(cfg, bytes, real, watch))?;
    g.case.name = match &g.real {
        Some(r) => format!("seed-{seed}-case-{k} from {r}"),
        None => format!("seed-{seed}-case-{k}"),
    };
    Ok(g)
}

/// One seeded case, checked.
#[derive(Debug, Default)]
pub struct CaseResult {
    /// The generator made no case from the bytes.
    pub rejected: bool,
    pub features: Features,
    pub ops: usize,
    /// The real program the case started from (`run --programs`).
    pub real: Option<String>,
    pub finding: Option<Box<Report>>,
}

/// Generate and check case `k` in this process.
pub fn check_one(
    seed: u64,
    k: u64,
    cfg: Option<&Config>,
    real: Option<&RealPrograms>,
    engines: &EngineSet,
) -> CaseResult {
    // Checked while it is generated: the generator's shadow is the oracle.
    let mut follow = equiv::Follow::new(engines);
    match generate_watched(seed, k, cfg, real, Some(&mut follow)) {
        Err(_) => CaseResult { rejected: true, ..CaseResult::default() },
        Ok(g) => {
            let checked = follow.finish(&g.case);
            let mut f = g.features;
            if checked.errors.iter().any(|(_, e)| e.errno() == Some(crate::patcher::ERANGE)) {
                f.add(Feature::Erange);
            }
            CaseResult {
                rejected: false,
                features: f,
                ops: g.case.ops.len(),
                real: g.real,
                finding: checked.divergence,
            }
        }
    }
}

/// What one seeded run found.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Over the cases `[0, stats.cases + stats.rejected)`.
    pub stats: Stats,
    /// The lowest-numbered case with a finding, if any.
    pub finding: Option<(u64, Finding)>,
    pub seconds: f64,
}

/// Cases per chunk: findings are looked for between chunks (the lowest
/// numbered of a chunk wins, whatever the thread count).
pub const CHUNK: u64 = 2048;

/// Where a campaign's cases run.
pub enum Runner<'a> {
    /// In this process on `jobs` threads.
    InProcess { engines: &'a EngineSet, cfg: Option<&'a Config>, real: Option<&'a RealPrograms>, jobs: usize },
    /// In `jobs` child processes at a time (engines that can crash); `programs`
    /// is `--programs` for the children, `real` what it holds.
    Children {
        child: &'a Child,
        config: Option<&'a Path>,
        programs: Option<&'a Path>,
        real: Option<&'a RealPrograms>,
        jobs: usize,
    },
}

/// One case's result as the campaign keeps it.
struct Slot {
    rejected: bool,
    features: Features,
    ops: usize,
    real: Option<String>,
    finding: Option<Finding>,
}

impl Runner<'_> {
    /// Cases `[from, to)`: `None` for those not run (the deadline passed).
    /// The thread pool of an in-process runner, built once per run.
    fn pool(&self) -> Option<rayon::ThreadPool> {
        match self {
            Runner::InProcess { jobs, .. } => {
                Some(rayon::ThreadPoolBuilder::new().num_threads(*jobs).build().expect("thread pool"))
            }
            Runner::Children { .. } => None,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn chunk(
        &self,
        pool: Option<&rayon::ThreadPool>,
        seed: u64,
        from: u64,
        to: u64,
        deadline: Option<Instant>,
        done: &AtomicU64,
    ) -> Result<Vec<Option<Slot>>, String> {
        match self {
            Runner::InProcess { engines, cfg, real, .. } => {
                let pool = pool.expect("an in-process runner has a pool");
                // Cases above the lowest finding so far cannot be the lowest: not started.
                let lowest = AtomicU64::new(u64::MAX);
                Ok(pool.install(|| {
                    (from..to)
                        .into_par_iter()
                        .map(|k| {
                            if k > lowest.load(Ordering::Relaxed) || deadline.is_some_and(|d| Instant::now() >= d) {
                                return None;
                            }
                            let r = check_one(seed, k, *cfg, *real, engines);
                            if r.finding.is_some() {
                                lowest.fetch_min(k, Ordering::Relaxed);
                            }
                            done.fetch_add(1, Ordering::Relaxed);
                            Some(Slot {
                                rejected: r.rejected,
                                features: r.features,
                                ops: r.ops,
                                real: r.real,
                                finding: r.finding.as_deref().map(Finding::from),
                            })
                        })
                        .collect()
                }))
            }
            Runner::Children { child, config, programs, real, jobs } => {
                let inputs = Inputs { config: *config, programs: *programs, real: *real };
                children_chunk(child, &inputs, *jobs, seed, from, to, deadline, done)
            }
        }
    }
}

/// What generates the cases of children: `--config` and `--programs`.
struct Inputs<'a> {
    config: Option<&'a Path>,
    programs: Option<&'a Path>,
    real: Option<&'a RealPrograms>,
}

/// A chunk over `jobs` children, each a contiguous share. A child that
/// crashed stopped at the case after its last line: that case is run alone in
/// a fresh child to confirm, and its finding (crash or other) takes the slot.
#[allow(clippy::too_many_arguments)]
fn children_chunk(
    child: &Child,
    inputs: &Inputs,
    jobs: usize,
    seed: u64,
    from: u64,
    to: u64,
    deadline: Option<Instant>,
    done: &AtomicU64,
) -> Result<Vec<Option<Slot>>, String> {
    let n = to - from;
    let share = n.div_ceil(jobs as u64).max(1);
    let ranges: Vec<(u64, u64)> =
        (0..jobs as u64).map(|j| (from + j * share, (from + (j + 1) * share).min(to))).filter(|(a, b)| a < b).collect();
    let runs: Vec<Result<isolate::Ran, String>> = std::thread::scope(|s| {
        let hs: Vec<_> = ranges
            .iter()
            .map(|&(a, b)| {
                s.spawn(move || child.run_cases(seed, a, b, inputs.config, inputs.programs, deadline, Some(done)))
            })
            .collect();
        hs.into_iter().map(|h| h.join().expect("worker thread")).collect()
    });
    let mut out: Vec<Option<Slot>> = (0..n).map(|_| None).collect();
    for (&(a, b), ran) in ranges.iter().zip(runs) {
        let ran = ran?;
        let mut next = a;
        for line in ran.lines {
            if let Line::Case { k, rejected, features, ops, real, finding } = line {
                out[(k - from) as usize] = Some(Slot { rejected, features: Features(features), ops, real, finding });
                next = k + 1;
            }
        }
        if !ran.done && next < b {
            out[(next - from) as usize] = Some(crashed_case(child, inputs, seed, next, &ran.status, &ran.stderr));
        }
    }
    Ok(out)
}

/// Case `k` crashed a child: run it alone to confirm and explain.
fn crashed_case(child: &Child, inputs: &Inputs, seed: u64, k: u64, status: &str, stderr: &str) -> Slot {
    let cfg = inputs.config.and_then(|p| Config::load(p).ok());
    let slot = |features, ops, real, finding| Slot { rejected: false, features, ops, real, finding: Some(finding) };
    let g = match generate_case_from(seed, k, cfg.as_ref(), inputs.real) {
        Ok(g) => g,
        Err(_) => {
            // The generator never fails in a child and not here: say so plainly.
            let text = format!("case {k} crashed a worker ({status}) but generates no case here");
            let f = Finding {
                kind: "crash".into(),
                engine: "worker".into(),
                op: None,
                table: "crash".into(),
                summary: text.clone(),
                signature: format!("crash {status}"),
                text,
            };
            return slot(Features(0), 0, None, f);
        }
    };
    let (features, ops, real) = (g.features, g.case.ops.len(), g.real.clone());
    match child.check_case(&g.case) {
        Ok(isolate::Checked::Crashed { status, stderr }) => {
            slot(features, ops, real, child.crash_finding(&g.case, &status, &stderr))
        }
        Ok(isolate::Checked::Found(f)) => slot(features, ops, real, f),
        // Not alone: the crash needed the cases before it in the same process.
        Ok(isolate::Checked::Clean) | Err(_) => {
            let mut f = child.crash_finding(&g.case, status, stderr);
            f.summary = format!("{} (only after the cases before it in the same process: it passes alone)", f.summary);
            slot(features, ops, real, f)
        }
    }
}

/// glibc's malloc starts with a 128 KB mmap threshold and a 256 KB trim
/// threshold, so the memory of one case goes back to the kernel when the case
/// ends and the next case page-faults fresh pages (measured: 273k page faults
/// and 0.4 s of system time per 20,000 cases). Freeing one mmapped block
/// raises both thresholds to its size (up to 32 MB; 16 MB here): cases reuse memory
/// (4k page faults). Elsewhere this is one allocation and one free.
pub(crate) fn warm_allocator() {
    let block: Vec<u8> = Vec::with_capacity(16 << 20);
    drop(std::hint::black_box(block));
}

/// Run cases `[0, cases)` (or until `deadline`) with `runner`. `done` counts
/// cases as they finish (for a progress bar); `progress` is called after
/// each chunk with (cases covered, stats so far).
pub fn run(
    seed: u64,
    cases: Option<u64>,
    deadline: Option<Instant>,
    runner: &Runner,
    done: &AtomicU64,
    progress: impl FnMut(u64, &Stats),
) -> Result<Outcome, String> {
    run_shard(seed, Shard::WHOLE, cases, deadline, runner, done, progress)
}

/// `run` over `shard`'s cases of `[0, cases)` only, its blocks in order (see
/// `shard`): the statistics cover the first `stats.cases + stats.rejected`
/// cases of the shard's sequence.
pub fn run_shard(
    seed: u64,
    shard: Shard,
    cases: Option<u64>,
    deadline: Option<Instant>,
    runner: &Runner,
    done: &AtomicU64,
    mut progress: impl FnMut(u64, &Stats),
) -> Result<Outcome, String> {
    let start = Instant::now();
    let mut stats = Stats::default();
    let limit = cases.unwrap_or(u64::MAX);
    warm_allocator();
    let pool = runner.pool();
    'blocks: for (block_from, block_to) in shard.blocks(limit) {
        let mut at = block_from;
        while at < block_to {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break 'blocks;
            }
            let end = (at + CHUNK).min(block_to);
            let before = stats.cases + stats.rejected;
            let slots = runner.chunk(pool.as_ref(), seed, at, end, deadline, done)?;
            let mut first: Option<(u64, Finding)> = None;
            let mut prefix = true;
            for (i, s) in slots.into_iter().enumerate() {
                let Some(s) = s else {
                    prefix = false;
                    continue;
                };
                let k = at + i as u64;
                if prefix {
                    if s.rejected {
                        stats.rejected += 1;
                    } else {
                        stats.record(s.features, s.ops);
                        if let Some(name) = &s.real {
                            stats.record_real(name);
                        }
                    }
                }
                if first.is_none() {
                    first = s.finding.map(|f| (k, f));
                }
            }
            let covered = stats.cases + stats.rejected;
            progress(covered, &stats);
            if first.is_some() {
                return Ok(Outcome { stats, finding: first, seconds: start.elapsed().as_secs_f64() });
            }
            if !prefix || covered - before < end - at {
                break 'blocks;
            }
            at = end;
        }
    }
    Ok(Outcome { stats, finding: None, seconds: start.elapsed().as_secs_f64() })
}

/// A quick in-process run (benchmarks, tests): `cases` cases on one thread.
pub fn run_in_process(seed: u64, cases: u64, engines: &EngineSet) -> Outcome {
    let runner = Runner::InProcess { engines, cfg: None, real: None, jobs: 1 };
    run(seed, Some(cases), None, &runner, &AtomicU64::new(0), |_, _| {}).expect("in-process runs start no worker")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The input filled in two steps (the head, then the rest of the same
    /// stream) is the stream filled in one, whatever the length.
    #[test]
    fn an_input_filled_in_two_steps_is_the_one_step_stream() {
        for want in [CASE_BYTES + 1, CASE_BYTES + 3, CASE_BYTES + 4, 19_001, 36_032, 70_000] {
            let mut one = vec![0u8; want];
            stream(7, 3).fill_bytes(&mut one);
            let mut rng = stream(7, 3);
            let mut two = vec![0u8; CASE_BYTES];
            rng.fill_bytes(&mut two);
            two.resize(want, 0);
            rng.fill_bytes(&mut two[CASE_BYTES..]);
            assert_eq!(one, two, "{want} bytes");
        }
    }

    /// A reused buffer gives each case its own input, longer or shorter than
    /// the one before.
    #[test]
    fn the_reused_buffer_gives_each_case_its_own_input() {
        let dense = Config { max_insns: 1500, max_ops: 2048, ..Config::default() };
        for (k, cfg) in [(0, None), (1, Some(&dense)), (2, None), (3, Some(&dense)), (3, None)] {
            let want = case_input(9, k, cfg, None);
            with_case_input(9, k, cfg, None, |got| assert_eq!(got, &want[..], "case {k}"));
        }
    }
}
