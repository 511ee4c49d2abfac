//! The tracked fuzz seeds (`fuzz/corpus/patch_equiv`) replayed through the
//! library exactly as the fuzz target reads them (`FuzzCase` from the whole
//! input, then `check`: every built-in engine against the oracle; a finding
//! panics with its report). Every seed must pass. This is also what
//! `docs/coverage.md` measures as "the fuzz corpus" (`cargo llvm-cov --test
//! fuzz_corpus`); `PATCH_EQUIV_FUZZ_CORPUS=DIR` replays another corpus, such
//! as one a fuzzing session grew in `fuzz/work/patch_equiv`.

use arbitrary::{Arbitrary, Unstructured};
use patch_equiv::fuzz_input::FuzzCase;
use std::path::PathBuf;

#[test]
fn every_tracked_fuzz_seed_passes() {
    let dir = std::env::var_os("PATCH_EQUIV_FUZZ_CORPUS")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/patch_equiv"), PathBuf::from);
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
    files.sort();
    assert!(!files.is_empty(), "no seed in {}", dir.display());
    let mut made = 0;
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        // What libfuzzer-sys does for a typed target: the whole input, taken.
        let input = FuzzCase::arbitrary_take_rest(Unstructured::new(&bytes)).unwrap();
        made += input.0.is_some() as usize;
        input.check();
    }
    eprintln!("{} seeds of {}, {made} made a case", files.len(), dir.display());
    assert!(made * 2 > files.len(), "only {made} of {} seeds made a case", files.len());
}
