#!/bin/bash -eu
# ClusterFuzzLite (and OSS-Fuzz) build: every cargo-fuzz target of fuzz/ into
# $OUT, each with its tracked seeds as $OUT/<target>_seed_corpus.zip.
#
# In the builder image (.clusterfuzzlite/Dockerfile) SANITIZER is `address`
# (cargo fuzz's default, AddressSanitizer on nightly) or `coverage` (the
# image's cargo wrapper then makes `cargo fuzz build` a plain instrumented
# build at the same path). Outside the image, .ci/run proves this script on
# stable with SANITIZER=none (no sanitizer), SRC holding the repository as
# $SRC/patch-equiv and OUT an absolute directory.
#
# -O --debug-assertions: optimised, with the debug assertions and overflow
# checks the patchers rely on (the same build as `cargo fuzz run`'s default).
# SANITIZER=none (outside the image only): the README's stable fuzz build,
# `-s none -O --no-trace-compares`, so .ci/run reuses the build it just fuzzed.
cd "$SRC/patch-equiv"
flags=(-O --debug-assertions)
if [ "${SANITIZER:-address}" = none ]; then
    flags=(-s none -O --no-trace-compares)
fi
cargo fuzz build "${flags[@]}"
bin=fuzz/target/x86_64-unknown-linux-gnu/release
for src in fuzz/fuzz_targets/*.rs; do
    target=$(basename "$src" .rs)
    cp "$bin/$target" "$OUT/"
    if [ -d "fuzz/corpus/$target" ]; then
        rm -f "$OUT/${target}_seed_corpus.zip"
        zip -q -j "$OUT/${target}_seed_corpus.zip" "fuzz/corpus/$target"/*
    fi
done
