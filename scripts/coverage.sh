#!/usr/bin/env bash
# Line and branch coverage of src/patcher/ (docs/coverage.md): reached by a
# 60 s seeded campaign alone, and by the tracked fuzz corpus replayed through
# the library (tests/fuzz_corpus.rs). Branch coverage needs nightly Rust.
# Installs what it needs, saying so: cargo-llvm-cov (crates.io) and the
# llvm-tools-preview component of the nightly toolchain (rustup).
# Usage: scripts/coverage.sh [SECONDS] (default 60); exports go to target/coverage/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
if ! cargo llvm-cov --version >/dev/null 2>&1; then
    echo "installing cargo-llvm-cov (cargo install cargo-llvm-cov --locked)"
    cargo install cargo-llvm-cov --locked
fi
if ! rustup component list --installed --toolchain nightly 2>/dev/null | grep -q '^llvm-tools'; then
    echo "installing the llvm-tools-preview component of the nightly toolchain (rustup)"
    rustup component add llvm-tools-preview --toolchain nightly
fi
out=target/coverage
mkdir -p "$out"
cov=(cargo +nightly llvm-cov)
report() {
    "${cov[@]}" report --branch --release --json --output-path "$out/$1.json"
    "${cov[@]}" report --branch --release --text --output-path "$out/$1.txt"
    python3 scripts/coverage_summary.py "$out/$1.json" "$out/$1.txt" . | tee "$out/$1.md"
}

echo "== a ${secs} s seeded campaign (seed 1, 2 jobs), instrumented"
"${cov[@]}" clean --profraw-only
"${cov[@]}" run --branch --release --no-report --bin patch-equiv -- \
    run --seed 1 --time "$secs" --jobs 2 --out target/coverage/artifacts
report campaign

echo "== the tracked fuzz corpus (fuzz/corpus/patch_equiv) through the library"
"${cov[@]}" clean --profraw-only
"${cov[@]}" test --branch --release --no-report --test fuzz_corpus
report corpus
