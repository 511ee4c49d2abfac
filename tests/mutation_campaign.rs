//! The fixed-seed campaign that mutation testing runs (`.cargo/mutants.toml`):
//! seed 1, cases in order on one thread, both patchers compared after every
//! op. A divergence prints how long the campaign ran before finding it
//! (`docs/mutation-testing.md` collects these lines) and fails the test.

use patch_equiv::campaign::generate_case;
use patch_equiv::equiv::run_thorough;
use patch_equiv::patcher::{ArrayPatcher, ListPatcher};
use std::time::Instant;

fn cases() -> u64 {
    let default = if cfg!(debug_assertions) { 1_500 } else { 30_000 };
    std::env::var("PATCH_EQUIV_CAMPAIGN_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

#[test]
fn fixed_seed_campaign_finds_no_divergence() {
    let start = Instant::now();
    for k in 0..cases() {
        let Ok(g) = generate_case(1, k, None) else { continue };
        let checked = std::panic::catch_unwind(|| run_thorough::<ArrayPatcher, ListPatcher>(&g.case));
        let verdict = match checked {
            Err(_) => Some("panic".to_string()),
            Ok(c) => c.divergence().map(|r| r.table),
        };
        if let Some(what) = verdict {
            println!("DETECTED after {:.3} s at case {k} ({what})", start.elapsed().as_secs_f64());
            panic!("case {k} of seed 1: {what}");
        }
    }
}
