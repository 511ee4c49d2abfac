#!/usr/bin/env python3
"""Line and branch coverage of src/patcher/ from `cargo llvm-cov report`
exports: the figures per file and in total (the planted faults,
src/patcher/list/plant.rs, apart: a run without --plant never calls them)
from the JSON export, then every line and branch side not reached, with its
source text, from the text export (llvm-cov's own per-line counts).

Usage: coverage_summary.py EXPORT.json EXPORT.txt [ROOT]"""
import json
import os
import re
import sys

LINE = re.compile(r"^\s*(\d+)\|\s*([0-9.]+[kMGE]?)?\|(.*)$")
BRANCH = re.compile(r"Branch \((\d+):(\d+)\): \[True: ([0-9.]+[kMGE]?), False: ([0-9.]+[kMGE]?)\]")


def patcher(name):
    return "/src/patcher/" in name


def figures(export, root):
    files = sorted((f for f in export["data"][0]["files"] if patcher(f["filename"])), key=lambda f: f["filename"])
    lc = lt = bc = bt = 0
    print("| file | lines reached | line cover | branch sides reached | branch cover |")
    print("|---|---:|---:|---:|---:|")
    for f in files:
        name = os.path.relpath(f["filename"], root)
        ln, br = f["summary"]["lines"], f["summary"]["branches"]
        print(f"| `{name}` | {ln['covered']}/{ln['count']} | {ln['percent']:.2f}% "
              f"| {br['covered']}/{br['count']} | {br['percent']:.2f}% |")
        if not name.endswith("plant.rs"):
            lc, lt, bc, bt = lc + ln["covered"], lt + ln["count"], bc + br["covered"], bt + br["count"]
    print(f"| **src/patcher/ (without plant.rs)** | **{lc}/{lt}** | **{100 * lc / max(lt, 1):.2f}%** "
          f"| **{bc}/{bt}** | **{100 * bc / max(bt, 1):.2f}%** |")
    print()


def misses(text, root):
    """Lines with count 0 (llvm-cov's per-line count, all instantiations of a
    generic function together) and branch sides never taken by any
    instantiation (the text export lists each instantiation's branches)."""
    cur = None
    lines = {}
    sides = {}
    src = {}
    for l in text.split("\n"):
        if l.startswith("/") and l.endswith(":"):
            cur = l[:-1] if patcher(l) and not l.endswith("plant.rs:") else None
            if cur:
                lines.setdefault(cur, set())
                sides.setdefault(cur, {})
            continue
        if cur is None:
            continue
        m = LINE.match(l)
        if m:
            src[(cur, int(m.group(1)))] = m.group(3).strip()
            if m.group(2) == "0":
                lines[cur].add(int(m.group(1)))
            continue
        b = BRANCH.search(l)
        if b:
            key = (int(b.group(1)), int(b.group(2)))
            t, f = sides[cur].get(key, (False, False))
            sides[cur][key] = (t or b.group(3) != "0", f or b.group(4) != "0")
    for name in sorted(lines):
        missed = sorted(k for k, (t, f) in sides[name].items() if not (t and f))
        if not lines[name] and not missed:
            continue
        print(f"{os.path.relpath(name, root)}:")
        for n in sorted(lines[name]):
            print(f"  line {n}: {src.get((name, n), '')}")
        for line, col in missed:
            t, f = sides[name][(line, col)]
            what = "never reached" if not (t or f) else ("never true" if not t else "never false")
            print(f"  branch {line}:{col} {what}: {src.get((name, line), '')}")
        print()


def main():
    root = os.path.abspath(sys.argv[3] if len(sys.argv) > 3 else ".")
    figures(json.load(open(sys.argv[1])), root)
    misses(open(sys.argv[2]).read(), root)


if __name__ == "__main__":
    main()
