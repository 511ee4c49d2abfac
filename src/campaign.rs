//! Seeded campaigns: case `k` of seed `S` is generated from bytes filled by a
//! `ChaCha8Rng` seeded from `(S, k)`, so any case reproduces alone and the
//! run's results do not depend on how cases are spread over threads.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Bytes handed to the generator for one case.
pub const CASE_BYTES: usize = 8192;

/// The generator input of case `k` of seed `seed`.
pub fn case_bytes(seed: u64, k: u64) -> Vec<u8> {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&k.to_le_bytes());
    key[16..].copy_from_slice(b"patch-equiv case");
    let mut rng = ChaCha8Rng::from_seed(key);
    let mut buf = vec![0u8; CASE_BYTES];
    rng.fill_bytes(&mut buf);
    buf
}

use crate::equiv::{self, Report};
use crate::gen::{self, Config, Feature, RealPrograms, Stats};
use crate::patcher::{ArrayPatcher, ListPatcher};
use rayon::prelude::*;
use std::time::Instant;

/// Which list patcher a campaign checks: the real one, or one with a planted
/// fault (to show the harness finds it).
pub type Checker = fn(&crate::case::Case) -> equiv::Checked;

/// The checker for the real patchers.
pub fn real_checker(case: &crate::case::Case) -> equiv::Checked {
    equiv::run_with::<ArrayPatcher, ListPatcher>(case)
}

/// What one seeded run found.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub stats: Stats,
    /// The lowest-numbered divergent case, if any.
    pub divergence: Option<(u64, Report)>,
    pub seconds: f64,
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
    let bytes = case_bytes(seed, k);
    let mut g = match (cfg, real) {
        (_, Some(r)) => gen::from_bytes_real(cfg, &bytes, r)?,
        (Some(c), None) => gen::from_bytes_with(c, &bytes)?,
        (None, None) => gen::from_bytes(&bytes)?.1,
    };
    g.case.name = match &g.real {
        Some(r) => format!("seed-{seed}-case-{k} from {r}"),
        None => format!("seed-{seed}-case-{k}"),
    };
    Ok(g)
}

fn one(
    seed: u64,
    k: u64,
    cfg: Option<&Config>,
    real: Option<&RealPrograms>,
    check: Checker,
) -> (Stats, Option<(u64, Report)>) {
    let mut stats = Stats::default();
    match generate_case_from(seed, k, cfg, real) {
        Err(_) => stats.rejected += 1,
        Ok(g) => {
            let checked = check(&g.case);
            let mut f = g.features;
            if checked.errors.iter().any(|(_, e)| e.errno() == Some(crate::patcher::ERANGE)) {
                f.add(Feature::Erange);
            }
            stats.record(f, g.case.ops.len());
            if let Some(name) = &g.real {
                stats.record_real(name);
            }
            if let Some(r) = checked.divergence() {
                return (stats, Some((k, r)));
            }
        }
    }
    (stats, None)
}

/// Cases per chunk: time-bounded runs stop between chunks, so which cases a
/// run covered depends only on how many chunks it finished.
pub const CHUNK: u64 = 2048;

/// Run cases `[0, cases)` (or chunks until `seconds` pass) on `jobs` threads.
/// `progress` is called after each chunk with (cases done, stats so far).
pub fn run(
    seed: u64,
    cases: Option<u64>,
    seconds: Option<f64>,
    jobs: usize,
    cfg: Option<&Config>,
    check: Checker,
    progress: impl FnMut(u64, &Stats),
) -> Outcome {
    run_from(seed, cases, seconds, jobs, cfg, None, check, progress)
}

/// `run` with real programs to start from (`run --programs`).
#[allow(clippy::too_many_arguments)]
pub fn run_from(
    seed: u64,
    cases: Option<u64>,
    seconds: Option<f64>,
    jobs: usize,
    cfg: Option<&Config>,
    real: Option<&RealPrograms>,
    check: Checker,
    mut progress: impl FnMut(u64, &Stats),
) -> Outcome {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs.max(1)).build().expect("thread pool");
    let start = Instant::now();
    let mut stats = Stats::default();
    let mut done = 0u64;
    let limit = cases.unwrap_or(u64::MAX);
    while done < limit {
        if seconds.is_some_and(|s| start.elapsed().as_secs_f64() >= s) {
            break;
        }
        let end = (done + CHUNK).min(limit);
        let results: Vec<(Stats, Option<(u64, Report)>)> =
            pool.install(|| (done..end).into_par_iter().map(|k| one(seed, k, cfg, real, check)).collect());
        let mut first: Option<(u64, Report)> = None;
        for (s, d) in results {
            stats.merge(&s);
            if first.is_none() {
                first = d;
            }
        }
        done = end;
        progress(done, &stats);
        if first.is_some() {
            return Outcome { stats, divergence: first, seconds: start.elapsed().as_secs_f64() };
        }
    }
    Outcome { stats, divergence: None, seconds: start.elapsed().as_secs_f64() }
}
