//! The fuzz target's input type: bytes → swarm `Config` → `Case`. Its `Debug`
//! is the printable case, so `cargo fuzz fmt patch_equiv FILE` shows a
//! readable program and op list. Counters report feature statistics while
//! libFuzzer runs.

use crate::equiv::run_case;
use crate::gen::{self, Config, Feature, Features, GenCase};
use arbitrary::{Arbitrary, Unstructured};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// One fuzz input: a generated case, or `None` when the bytes made none.
pub struct FuzzCase(pub Option<GenCase>);

impl<'a> Arbitrary<'a> for FuzzCase {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let made = Config::arbitrary(u).and_then(|cfg| gen::generate(&cfg, u));
        Ok(FuzzCase(made.ok()))
    }
}

impl fmt::Debug for FuzzCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(g) => write!(f, "{}", crate::case_file::to_text(&g.case)),
            None => write!(f, "(these bytes produce no case)"),
        }
    }
}

static INPUTS: AtomicU64 = AtomicU64::new(0);
static REJECTED: AtomicU64 = AtomicU64::new(0);
static OPS: AtomicU64 = AtomicU64::new(0);
static COUNTS: [AtomicU64; 64] = [const { AtomicU64::new(0) }; 64];

impl FuzzCase {
    /// Run both patchers; a divergence panics with the full report.
    pub fn check(&self) {
        let n = INPUTS.fetch_add(1, Ordering::Relaxed) + 1;
        match &self.0 {
            None => {
                REJECTED.fetch_add(1, Ordering::Relaxed);
            }
            Some(g) => {
                let checked = run_case(&g.case);
                let mut f = g.features;
                if checked.errors.iter().any(|(_, e)| e.errno() == Some(crate::patcher::ERANGE)) {
                    f.add(Feature::Erange);
                }
                record(f);
                OPS.fetch_add(g.case.ops.len() as u64, Ordering::Relaxed);
                if let Some(mut r) = checked.divergence() {
                    r.reproduce = Some("cargo fuzz run patch_equiv <artifact>, or: patch-equiv import <artifact> --out x.case && patch-equiv replay x.case".into());
                    panic!("{r}");
                }
            }
        }
        if n.is_power_of_two() || n % 200_000 == 0 {
            eprintln!("{}", stats_report());
        }
    }
}

fn record(f: Features) {
    for (k, feat) in Feature::ALL.iter().enumerate() {
        if f.has(*feat) {
            COUNTS[k].fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The feature statistics gathered so far in this process.
pub fn stats_report() -> String {
    let mut s = gen::Stats::default();
    let inputs = INPUTS.load(Ordering::Relaxed);
    s.rejected = REJECTED.load(Ordering::Relaxed);
    s.cases = inputs - s.rejected;
    s.ops = OPS.load(Ordering::Relaxed);
    s.counts = Feature::ALL.iter().enumerate().map(|(k, _)| COUNTS[k].load(Ordering::Relaxed)).collect();
    format!("patch_equiv stats after {inputs} inputs:\n{s}")
}
