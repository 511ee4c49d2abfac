//! The kernel-style C list patcher (`c/`) through the engine ABI: every
//! kernel vector and corpus case, and seeded campaigns compared with the
//! array patcher after every op. (Foreign code: not run under miri.)
#![cfg(not(miri))]

use patch_equiv::campaign::generate_case;
use patch_equiv::engine::ffi::CPatcher;
use patch_equiv::equiv::run_thorough;
use patch_equiv::patcher::ArrayPatcher;
use patch_equiv::replay::{collect_files, load_file};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn c_engine_passes_every_kernel_vector_and_corpus_case() {
    let files = collect_files(&[root().join("tests/data/kernel-vectors"), root().join("corpus")]).unwrap();
    let mut checked = 0;
    for f in &files {
        for case in load_file(f).unwrap() {
            if let Err(m) = case.check::<CPatcher>() {
                panic!("{} [{}]: {m}", case.name, f.display());
            }
            checked += 1;
        }
    }
    assert!(checked >= 390, "only {checked} cases found");
}

#[test]
fn c_engine_matches_the_array_patcher_after_every_op() {
    let cases: u64 = std::env::var("PATCH_EQUIV_C_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(3000);
    for seed in [1u64, 2] {
        for k in 0..cases {
            let Ok(g) = generate_case(seed, k, None) else { continue };
            if let Some(r) = run_thorough::<ArrayPatcher, CPatcher>(&g.case).divergence() {
                panic!("seed {seed} case {k}:\n{r}");
            }
        }
    }
}

/// Deep index trees, leaf and inner splits, detaches and root changes: random
/// patches, removals and reads on a program of 200k slots, checked against
/// the Rust list patcher (itself checked against the oracle) by reads after
/// every op and whole snapshots along the way.
#[test]
fn c_engine_matches_the_list_patcher_on_a_big_program() {
    use patch_equiv::insn::build::*;
    use patch_equiv::patcher::{ListPatcher, Patcher};
    use rand::{Rng, SeedableRng};
    let prog = patch_equiv::bench::w4_program(200_000, false, 5);
    let mut c = patch_equiv::engine::ffi::CEngine::builtin().instantiate(&prog).unwrap();
    let mut l = ListPatcher::new(prog).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    for step in 0..60_000u32 {
        let len = l.len();
        let off = if step % 3 == 0 { rng.gen_range(0..len - 1) } else { (step as usize * 7) % (len - 1) };
        let (rc, rl) = match rng.gen_range(0..10) {
            0..=5 => {
                let n = rng.gen_range(1..40);
                let v: Vec<_> = (0..n).map(|k| mov64_imm((k % 10) as u8, step as i32)).collect();
                (c.patch(off, &v), l.patch(off, &v))
            }
            6..=8 if len > 1000 => {
                let cnt = rng.gen_range(1..=200.min(len - off - 1));
                (c.remove(off, cnt), l.remove(off, cnt))
            }
            _ => (c.set(off, ja(0)), l.set(off, ja(0))),
        };
        assert_eq!(rc, rl, "step {step}");
        assert_eq!(c.len(), l.len(), "step {step}");
        for i in [off.saturating_sub(1), off, (off + 1).min(l.len() - 1), rng.gen_range(0..l.len())] {
            assert_eq!(c.insn(i), l.insn(i), "step {step} insn {i}");
            assert_eq!(c.aux(i), l.aux(i), "step {step} aux {i}");
        }
        if step % 15_000 == 14_999 {
            assert!(c.snapshot() == l.snapshot(), "step {step}: snapshots differ");
        }
    }
    assert!(c.snapshot() == l.snapshot(), "final snapshots differ");
}

/// Every planted fault of the C patcher (compiled in with `BPF_PATCHER_PLANT`)
/// is found by a seeded run, named (engine `c`, the right table or a crash),
/// written raw and shrunk, as the harness promises for any engine.
#[test]
fn every_planted_c_fault_is_found_written_and_shrunk() {
    let bin = env!("CARGO_BIN_EXE_patch-equiv");
    for &(name, _, table) in &patch_equiv::engine::ffi::C_PLANTS {
        let plant = format!("c-{name}");
        let dir = std::env::temp_dir().join(format!("patch-equiv-cplant-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = std::process::Command::new(bin)
            .args(["run", "--seed", "1", "--cases", "4000", "--shrink-time", "3", "--json", "--plant", &plant, "--out"])
            .arg(&dir)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{plant}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let d = &v["divergence"];
        assert_eq!(d["engine"], "c", "{plant}: {d}");
        match table {
            Some(t) => assert_eq!((d["kind"].as_str(), d["table"].as_str()), (Some("divergence"), Some(t)), "{plant}"),
            None => assert_eq!(d["kind"], "crash", "{plant}: {d}"),
        }
        let raw = std::fs::read_to_string(d["raw"].as_str().unwrap()).unwrap();
        let min = std::fs::read_to_string(d["shrunk"].as_str().unwrap()).unwrap();
        let (raw, min) =
            (patch_equiv::case_file::parse("raw", &raw).unwrap(), patch_equiv::case_file::parse("min", &min).unwrap());
        assert!(
            patch_equiv::shrink::size(&min) < patch_equiv::shrink::size(&raw),
            "{plant}: not shrunk ({} -> {})",
            patch_equiv::shrink::size(&raw),
            patch_equiv::shrink::size(&min)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
