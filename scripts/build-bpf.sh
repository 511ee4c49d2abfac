#!/usr/bin/env bash
# Rebuild the BPF objects of tests/bpf/ from their C sources with clang
# (Debian: apt-get install -y clang llvm libbpf-dev). The built objects are
# committed, so the tests and CI need no clang; CI rebuilds and re-checks them
# where clang is present. Paths are mapped to "." so the objects do not depend
# on where the repository is checked out; DWARF is stripped (.BTF and .BTF.ext,
# which carry the line and func info, stay).
#
#   scripts/build-bpf.sh [OUTDIR]      # default OUTDIR: tests/bpf
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-tests/bpf}
mkdir -p "$out"
clang=${CLANG:-clang}
strip=${LLVM_STRIP:-llvm-strip}
arch_inc=/usr/include/$(uname -m)-linux-gnu
for src in tests/bpf/*.bpf.c; do
    obj="$out/$(basename "${src%.c}").o"
    "$clang" -O2 -g -target bpf -mcpu=v3 -I"$arch_inc" \
        -fdebug-prefix-map="$PWD"=. -c "$src" -o "$obj"
    "$strip" -g "$obj"
    echo "built $obj"
done
