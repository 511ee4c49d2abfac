#!/usr/bin/env bash
# CI for the real BPF programs: with clang (and llvm-strip) present, rebuild
# tests/bpf/*.bpf.c into a temporary directory and check those objects; without,
# check the committed ones. Either way: import every program (exit 2 if one
# does not import or validate) and run a short seeded campaign on them.
#
#   scripts/check-bpf-objects.sh          # CLANG=/path/to/clang to pick one
set -euo pipefail
cd "$(dirname "$0")/.."
objs=tests/bpf
if command -v "${CLANG:-clang}" >/dev/null 2>&1 && command -v "${LLVM_STRIP:-llvm-strip}" >/dev/null 2>&1; then
    rebuilt=$(mktemp -d)
    trap 'rm -rf "$rebuilt"' EXIT
    scripts/build-bpf.sh "$rebuilt"
    for o in tests/bpf/*.o; do
        if ! cmp -s "$o" "$rebuilt/$(basename "$o")"; then
            echo "note: $(basename "$o") rebuilt by $("${CLANG:-clang}" --version | head -1) differs from the committed object"
        fi
    done
    objs=$rebuilt
else
    echo "clang or llvm-strip not installed: checking the committed objects in tests/bpf"
fi
cargo run --release -q -- import-obj "$objs"
cargo run --release -q -- run --seed 1 --cases 3000 --jobs 2 --programs "$objs"
