#!/usr/bin/env python3
"""Summarise a cargo-mutants run for docs/mutation-testing.md.

Usage: scripts/mutation_report.py MUTANTS_OUT_DIR [EQUIVALENT_LIST]

Reads MUTANTS_OUT_DIR/outcomes.json and each mutant's log (where
tests/mutation_campaign.rs prints "DETECTED after N s at case K"), and prints
the score, the missed mutants, and the time-to-detect table. EQUIVALENT_LIST is
a file of mutant names (one per line, '#' comments) shown to be equivalent.
"""
import json
import os
import re
import statistics
import sys


def main():
    out = sys.argv[1]
    equivalent = set()
    if len(sys.argv) > 2:
        for line in open(sys.argv[2]):
            line = line.split("#", 1)[0].strip()
            if line:
                equivalent.add(line)
    data = json.load(open(os.path.join(out, "outcomes.json")))
    rows, missed, unviable, timeouts, out_of_scope = [], [], [], [], []
    for o in data["outcomes"]:
        sc = o["scenario"]
        if sc == "Baseline" or "Mutant" not in sc:
            continue
        name = sc["Mutant"]["name"]
        summary = o["summary"]
        if "heap_bytes" in name or "memory_bytes" in name:
            # Benchmark memory figures, not patcher behaviour (excluded in
            # .cargo/mutants.toml since).
            out_of_scope.append(name)
            continue
        if summary == "Unviable":
            unviable.append(name)
            continue
        if summary == "Timeout":
            timeouts.append(name)
            continue
        if summary == "MissedMutant":
            missed.append(name)
            continue
        log = open(os.path.join(out, o["log_path"]), errors="replace").read()
        m = re.search(r"DETECTED after ([0-9.]+) s at case (\d+) \(([^)]*)\)", log)
        first = "campaign" if m else "unit/vector tests only"
        rows.append((name, float(m.group(1)) if m else None, int(m.group(2)) if m else None, m.group(3) if m else "", first))
    caught = len(rows) + len(timeouts)
    non_equiv_missed = [m for m in missed if m not in equivalent]
    total = caught + len(non_equiv_missed)
    print(f"mutants tested: {caught + len(missed) + len(unviable)} "
          f"(caught {len(rows)}, timeouts {len(timeouts)}, missed {len(missed)}, unviable {len(unviable)})")
    print(f"missed and shown equivalent: {len(missed) - len(non_equiv_missed)}")
    if out_of_scope:
        print(f"out of scope (heap_bytes, memory_bytes: the benchmark's memory figure): {len(out_of_scope)}")
    print(f"score: {caught}/{total} non-equivalent mutants caught = {100.0 * caught / max(total, 1):.1f}%")
    times = [r[1] for r in rows if r[1] is not None]
    if times:
        print(f"time to detect by the seeded campaign (seed 1): median {statistics.median(times):.3f} s, "
              f"worst {max(times):.3f} s, over {len(times)} mutants the campaign itself caught "
              f"({len(rows) - len(times)} more were caught by unit/vector tests before or without a campaign divergence)")
    print()
    print("| mutant | campaign: seconds to first divergence | case | first difference |")
    print("|---|---:|---:|---|")
    for name, t, k, what, first in sorted(rows, key=lambda r: (r[1] is None, r[1] or 0)):
        print(f"| `{name}` | {'' if t is None else f'{t:.3f}'} | {'' if k is None else k} | {what or first} |")
    if missed:
        print()
        print("Missed:")
        for m in missed:
            print(f"- `{m}`{' (equivalent)' if m in equivalent else ''}")
    if timeouts:
        print()
        print("Timeouts (counted as caught):")
        for m in timeouts:
            print(f"- `{m}`")


if __name__ == "__main__":
    main()
