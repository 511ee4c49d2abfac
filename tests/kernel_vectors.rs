//! The kernel vectors (expected outcomes from the real kernel functions)
//! replayed through each patcher.

use patch_equiv::case::Case;
use patch_equiv::patcher::*;
use patch_equiv::vectors;
use std::path::Path;

fn all_cases() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/kernel-vectors");
    let mut cases = Vec::new();
    for f in ["vectors-public-000.jsonl.gz", "large-public-000.jsonl.gz", "real-public-030.jsonl.gz"] {
        let p = dir.join(f);
        let text = vectors::read_text(&p).unwrap();
        cases.extend(vectors::parse_vectors(f, &text).unwrap());
    }
    assert_eq!(cases.len(), 347);
    cases
}

fn replay<P: Patcher>() {
    let cases = all_cases();
    let failed: Vec<String> =
        cases.iter().filter_map(|c| c.check::<P>().err().map(|m| format!("{}: {}", c.name, m))).collect();
    assert!(
        failed.is_empty(),
        "{} of {} failed:\n{}",
        failed.len(),
        cases.len(),
        failed[..failed.len().min(20)].join("\n")
    );
}

#[test]
fn array_patcher_matches_kernel_vectors() {
    replay::<ArrayPatcher>();
}

#[test]
fn list_patcher_matches_kernel_vectors() {
    replay::<ListPatcher>();
}
