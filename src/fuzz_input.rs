//! The fuzz target's input type: bytes → swarm `Config` → `Case`. Its `Debug`
//! is the printable case, so `cargo fuzz fmt patch_equiv FILE` shows a
//! readable program and op list. Counters report feature statistics while
//! libFuzzer runs.

use crate::equiv::{self, Checked, Follow};
use crate::gen::{self, Config, Feature, Features, GenCase};
use arbitrary::{Arbitrary, Unstructured};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// One fuzz input: a generated case, or `None` when the bytes made none,
/// with its check. The case is checked while it is generated, as the seeded
/// runner does (`equiv::Follow`: the generator's shadow is the oracle).
pub struct FuzzCase(pub Option<GenCase>, Option<Checked>);

impl<'a> Arbitrary<'a> for FuzzCase {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let mut follow = Follow::new(equiv::builtin());
        let made = Config::arbitrary(u).and_then(|cfg| gen::generate_watched(&cfg, u, None, Some(&mut follow)));
        Ok(match made {
            Ok(g) => {
                let checked = follow.finish(&g.case);
                FuzzCase(Some(g), Some(checked))
            }
            Err(_) => FuzzCase(None, None),
        })
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
    /// Run every built-in engine; a finding (divergence, or a panic of an
    /// engine, caught) panics with the full report, for libFuzzer to see.
    pub fn check(&self) {
        let n = INPUTS.fetch_add(1, Ordering::Relaxed) + 1;
        match &self.0 {
            None => {
                REJECTED.fetch_add(1, Ordering::Relaxed);
            }
            Some(g) => {
                let checked = match &self.1 {
                    Some(c) => c.clone(),
                    None => equiv::run_case(&g.case),
                };
                let mut f = g.features;
                if checked.errors.iter().any(|(_, e)| e.errno() == Some(crate::patcher::ERANGE)) {
                    f.add(Feature::Erange);
                }
                record(f);
                OPS.fetch_add(g.case.ops.len() as u64, Ordering::Relaxed);
                if let Some(mut r) = checked.divergence() {
                    r.reproduce = Some(reproduce_hint(&g.case));
                    panic!("{r}");
                }
            }
        }
        if n.is_power_of_two() || n % 200_000 == 0 {
            eprintln!("{}", stats_report());
        }
    }
}

/// Where libFuzzer writes its artifacts (`-artifact_prefix=`, which
/// `cargo fuzz` always passes), else `fuzz/artifacts/patch_equiv/`.
fn artifact_dir() -> std::path::PathBuf {
    std::env::args()
        .find_map(|a| a.strip_prefix("-artifact_prefix=").map(std::path::PathBuf::from))
        .unwrap_or_else(|| std::path::PathBuf::from("fuzz/artifacts/patch_equiv/"))
}

fn reproduce_hint(case: &crate::case::Case) -> String {
    reproduce_hint_in(&artifact_dir(), case)
}

/// Write the case file into `dir` (libFuzzer's artifacts) and say how to
/// replay it and the raw input, with commands that work from the repository root.
pub fn reproduce_hint_in(dir: &std::path::Path, case: &crate::case::Case) -> String {
    let text = crate::case_file::to_text(case);
    // FNV-1a of the text: a stable name for the same case.
    let h = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
    let path = dir.join(format!("finding-{h:016x}.case"));
    let engines = crate::engine::BUILTIN;
    let replay = match std::fs::write(&path, &text) {
        Ok(()) => format!(
            "{} replay --engines {engines} {}",
            crate::cli::PREFIX,
            crate::cli::shell_word(&path.display().to_string())
        ),
        Err(e) => format!("(the case file could not be written to {}: {e}; the case is above)", path.display()),
    };
    format!(
        "{replay}\n  the raw input is the crash-… file libFuzzer names below (\"Test unit written to …\"); from the \
         repository root: cargo fuzz run -s none patch_equiv fuzz/artifacts/patch_equiv/crash-… (stable) or \
         cargo +nightly fuzz run patch_equiv fuzz/artifacts/patch_equiv/crash-… (nightly)"
    )
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
