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
