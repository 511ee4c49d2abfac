//! The generator's promises: valid programs, ops that keep them valid, both
//! patchers agreeing, few rejected inputs, and every feature reached.

use patch_equiv::campaign::case_bytes;
use patch_equiv::equiv::run_case;
use patch_equiv::gen::{self, Feature, Stats};
use patch_equiv::patcher::{ArrayPatcher, Patcher};

fn seeds() -> u64 {
    std::env::var("PATCH_EQUIV_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(if cfg!(debug_assertions) {
        400
    } else {
        4000
    })
}

#[test]
fn generated_programs_and_every_checkpoint_are_valid() {
    for k in 0..seeds() {
        let Ok((_, g)) = gen::from_bytes(&case_bytes(11, k)) else {
            continue;
        };
        g.case.prog.validate().unwrap_or_else(|e| panic!("case {k}: generated program invalid: {e}"));
        let mut p = ArrayPatcher::new(g.case.prog.clone()).unwrap();
        for (j, op) in g.case.ops.iter().enumerate() {
            let _ = op.apply(&mut p);
            if g.checkpoints[j] {
                p.snapshot().validate().unwrap_or_else(|e| panic!("case {k}: invalid after op {j} ({op:?}): {e}"));
            }
        }
    }
}

#[test]
fn patchers_agree_on_generated_cases() {
    for k in 0..seeds() {
        let Ok((_, g)) = gen::from_bytes(&case_bytes(12, k)) else {
            continue;
        };
        if let Some(r) = run_case(&g.case).divergence() {
            panic!("case {k}:\n{r}");
        }
    }
}

#[test]
fn few_inputs_are_rejected_and_every_feature_is_reached() {
    let mut stats = Stats::default();
    for k in 0..seeds() * 2 {
        match gen::from_bytes(&case_bytes(13, k)) {
            Ok((_, g)) => {
                let mut f = g.features;
                for (_, e) in run_case(&g.case).errors {
                    if e.errno() == Some(-34) {
                        f.add(Feature::Erange);
                    }
                }
                stats.record(f, g.case.ops.len());
            }
            Err(_) => stats.rejected += 1,
        }
    }
    assert!(stats.rejected * 20 <= stats.cases + stats.rejected, "too many rejected inputs:\n{stats}");
    let missing: Vec<_> = stats.missing().iter().map(|f| f.name()).collect();
    assert!(missing.is_empty(), "features never exercised: {missing:?}\n{stats}");
}
