#!/usr/bin/env bash
# Line and branch coverage of the C list patcher (c/bpf_patcher.c) and its
# engine glue (c/pe_engine.c) reached by a seeded campaign with the c engine
# (docs/coverage.md, "The C engine"). gcc's gcov: build.rs's cc crate reads
# CFLAGS, so the C is compiled with --coverage; the campaign's child processes
# write their counts at exit and gcov adds them up.
# Usage: scripts/coverage-c.sh [SECONDS] (default 60); .gcov files go to target/gcov/report/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
echo "== build with the C instrumented (target/gcov)"
CFLAGS="--coverage -O0" RUSTFLAGS="-C link-arg=--coverage" cargo build --release -q --target-dir target/gcov
find target/gcov -name '*.gcda' -delete
gcno=$(ls -t target/gcov/release/build/patch-equiv-*/out/*-bpf_patcher.gcno | head -1)
dir=$(dirname "$gcno")
echo "== a ${secs} s seeded campaign (seed 1, 2 jobs, engines array,list,c)"
target/gcov/release/patch-equiv run --seed 1 --time "$secs" --jobs 2 --engines array,list,c \
    --out target/gcov/artifacts | grep -E '^seed|^cases:'
echo "== gcov -b -c"
mkdir -p target/gcov/report
rm -f target/gcov/report/*.gcov
# gcov writes its .gcov files into the current directory and reads the sources
# by the paths the compiler saw (relative to the repository root).
gcov -b -c "$dir"/*-bpf_patcher.gcda "$dir"/*-pe_engine.gcda 2>/dev/null | grep -E "^File|executed|Taken"
mv ./*.gcov target/gcov/report/
echo "lines never run in c/bpf_patcher.c (target/gcov/report/bpf_patcher.c.gcov):"
grep -E '^ +#####:' target/gcov/report/bpf_patcher.c.gcov | awk -F: '{printf "%s ", $2+0} END {print ""}'
