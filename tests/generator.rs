//! The generator's promises: valid programs, ops that keep them valid, both
//! patchers agreeing, few rejected inputs, and every feature reached.

use patch_equiv::campaign::case_bytes;
use patch_equiv::equiv::run_case;
use patch_equiv::gen::{self, Feature, Stats};
use patch_equiv::insn::BranchField;
use patch_equiv::patcher::{ArrayPatcher, PatchError, Patcher, Walk};

fn seeds() -> u64 {
    std::env::var("PATCH_EQUIV_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(if cfg!(debug_assertions) {
        400
    } else {
        4000
    })
}

/// The array model walks its branch index instead of every slot; after
/// every generated op the index lists exactly the slots with a branch field.
#[test]
fn the_array_models_branch_index_follows_every_op() {
    for k in 0..seeds() {
        let Ok((_, g)) = gen::from_bytes(&case_bytes(13, k)) else {
            continue;
        };
        let mut p = ArrayPatcher::new(g.case.prog.clone()).unwrap();
        for (j, op) in g.case.ops.iter().enumerate() {
            let _ = op.apply(&mut p);
            let v = p.view();
            let want: Vec<(u32, BranchField)> =
                (0..v.insns.len()).filter_map(|i| v.insns[i].branch_field().map(|f| (i as u32, f))).collect();
            let got: Vec<(u32, BranchField)> = v.branches.iter().map(|b| (b.slot, b.field)).collect();
            assert_eq!(got, want, "case {k}: branch slots after op {j} ({op:?})");
        }
    }
}

/// The benchmarks time the kernel's own walk over every slot; it gives the
/// branch index's results, op by op, including the first `-ERANGE`.
#[test]
fn walking_every_slot_gives_the_branch_index_results() {
    let mut ranges = 0;
    for k in 0..seeds() {
        let Ok((_, g)) = gen::from_bytes(&case_bytes(14, k)) else {
            continue;
        };
        let mut index = ArrayPatcher::new(g.case.prog.clone()).unwrap();
        let mut every = ArrayPatcher::with_walk(g.case.prog.clone(), Walk::EverySlot);
        for (j, op) in g.case.ops.iter().enumerate() {
            let (a, b) = (op.apply(&mut index), op.apply(&mut every));
            ranges += matches!(a, Err(PatchError::Range { .. })) as u32;
            assert_eq!(a, b, "case {k}: results of op {j} ({op:?})");
            assert_eq!(index.view().insns, every.view().insns, "case {k}: insns after op {j} ({op:?})");
        }
        assert_eq!(index.snapshot(), every.snapshot(), "case {k}: final state");
    }
    assert!(ranges > 0, "no -ERANGE in {} cases: the probe's walk went unchecked", seeds());
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

#[test]
fn seeded_cases_get_the_bytes_they_need() {
    use patch_equiv::campaign::{case_input, generate_case, CASE_BYTES};
    use patch_equiv::gen::Config;
    for k in 0..seeds() {
        let Ok(g) = generate_case(14, k, None) else { continue };
        assert!(!g.features.has(Feature::OutOfBytes), "case {k} of seed 14 ran out of bytes");
    }
    // The configs that need more than CASE_BYTES: a longer prefix of the same
    // stream, drawn to the end of their passes.
    let dense = Config { max_insns: 1500, max_subprogs: 4, max_ops: 2048, ..Config::default() };
    let many = Config { max_insns: 1024, max_subprogs: 256, ..Config::default() };
    let n = if cfg!(debug_assertions) { 2 } else { 12 };
    for cfg in [dense, many] {
        for k in 0..n {
            let bytes = case_input(16, k, Some(&cfg), None);
            assert!(bytes.len() > CASE_BYTES, "{} bytes", bytes.len());
            assert_eq!(bytes[..CASE_BYTES], case_input(16, k, Some(&Config::default()), None)[..]);
            let g = generate_case(16, k, Some(&cfg)).unwrap();
            assert!(!g.features.has(Feature::OutOfBytes), "case {k} ran out of bytes with {cfg:?}");
        }
    }
}

#[test]
fn a_spent_input_adds_no_ops() {
    // An input the program alone uses up: no op may follow (a spent input
    // would answer every draw with its default: every pass on, a second
    // hidden subprog, a nospec run from slot 0).
    use arbitrary::Unstructured;
    use patch_equiv::gen::Config;
    let cfg = Config::default();
    let mut spent = 0;
    for k in 0..200 {
        let bytes = case_bytes(17, k);
        for n in [0, 16, 64, 256] {
            let mut u = Unstructured::new(&bytes[..n]);
            gen::program::generate(&cfg, &mut u).unwrap();
            if !u.is_empty() {
                continue;
            }
            spent += 1;
            let g = gen::from_bytes_with(&cfg, &bytes[..n]).unwrap();
            assert!(g.case.ops.is_empty(), "case {k}, {n} bytes: {} ops after the input ran out", g.case.ops.len());
            assert!(g.features.has(Feature::OutOfBytes), "case {k}, {n} bytes: not counted as out of bytes");
        }
    }
    assert!(spent > 100, "only {spent} inputs ran out in the program");
}

#[test]
fn random_removals_hold_branches_from_dead_code() {
    // Removals at checkpoints (not the dead-code pass) whose range holds the
    // target of a branch from outside: the branch keeps its index (Q7) and the
    // program stays valid.
    use patch_equiv::op::Op;
    let mut held = 0;
    for k in 0..seeds() {
        let Ok((_, g)) = gen::from_bytes(&case_bytes(18, k)) else { continue };
        let mut p = ArrayPatcher::new(g.case.prog.clone()).unwrap();
        for (j, op) in g.case.ops.iter().enumerate() {
            let before = p.snapshot();
            let ok = op.apply(&mut p).is_ok();
            let Op::Remove { off, cnt } = *op else { continue };
            if !ok || !g.checkpoints[j] {
                continue;
            }
            for (i, x) in before.insns.iter().enumerate() {
                let Some(t) = x.target(i).map(|t| t as usize) else { continue };
                if (off..off + cnt).contains(&i) || t <= off || t >= off + cnt {
                    continue;
                }
                held += 1;
                let now = if i < off { i } else { i - cnt };
                let after = p.snapshot();
                assert_eq!(after.insns[now].target(now), Some(t as i64), "case {k}, op {j}: index not kept");
                after.validate().unwrap_or_else(|e| panic!("case {k}, op {j}: invalid: {e}"));
            }
        }
    }
    assert!(held * 100 >= seeds(), "only {held} branches into a removed range in {} cases", seeds());
}
