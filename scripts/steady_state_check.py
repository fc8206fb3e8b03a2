#!/usr/bin/python3
"""--steady-state extrapolate against exact: runs a sweep both ways (by default the standard
sweep, 48 points, 96 rows) and prints every extrapolated row's cycles beside the exact ones, the
largest difference, and both sweeps' wall times.

usage: scripts/steady_state_check.py [--tpusim build/tpusim] [-j 2] [--max-diff PCT]
           [-- SWEEP FLAGS]
Exit 1 when a row differs by more than --max-diff percent (default 2) or a row is missing.
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time

STANDARD = ["--seq", "4k:128k:x2", "--topk", "512,1024,2048,4096", "--phase", "decode,prefill"]
KEY_SUFFIX = " steady_state=extrapolate"


def sweep(tpusim, flags, jobs, path):
    start = time.monotonic()
    out = subprocess.run([tpusim, "sweep", *flags, "-j", str(jobs), "-q", "-o", path],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"tpusim sweep {' '.join(flags)} failed: {out.stderr.strip()}")
    rows = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            key = row["point.key"]
            if key.endswith(KEY_SUFFIX):
                key = key[: -len(KEY_SUFFIX)]
            rows[(key, row["point.attention"])] = row
    return rows, time.monotonic() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tpusim", default="build/tpusim")
    ap.add_argument("-j", type=int, default=2)
    ap.add_argument("--max-diff", type=float, default=2.0, help="percent")
    ap.add_argument("flags", nargs="*", help="sweep flags (default: the standard sweep)")
    a = ap.parse_args()
    flags = a.flags or STANDARD
    with tempfile.TemporaryDirectory() as tmp:
        exact, t_exact = sweep(a.tpusim, flags, a.j, os.path.join(tmp, "exact.csv"))
        extra, t_extra = sweep(a.tpusim, flags + ["--steady-state", "extrapolate"], a.j,
                               os.path.join(tmp, "extrapolated.csv"))
    worst, status, shown = 0.0, 0, 0
    print(f"| point | variant | exact cycles | extrapolated | difference |")
    print(f"|---|---|---:|---:|---:|")
    for key, row in exact.items():
        other = extra.get(key)
        if other is None:
            print(f"| {key[0]} | {key[1]} | missing from the extrapolated sweep | | |")
            status = 1
            continue
        if other["steady_state"] != "extrapolated":
            if other["cycles"] != row["cycles"]:
                print(f"| {key[0]} | {key[1]} | ran exact but differs | | |")
                status = 1
            continue
        x, y = float(row["cycles"]), float(other["cycles"])
        diff = 100.0 * (y / x - 1.0)
        worst = max(worst, abs(diff))
        if abs(diff) > a.max_diff:
            status = 1
        shown += 1
        print(f"| {key[0]} | {key[1]} | {x:,.0f} | {y:,.0f} | {diff:+.3f}% |")
    print(f"\n{shown} of {len(exact)} rows extrapolated; largest difference {worst:.3f}% "
          f"(limit {a.max_diff}%); wall time exact {t_exact:.1f} s, extrapolated {t_extra:.1f} s "
          f"({t_exact / t_extra:.2f}x)")
    return status


if __name__ == "__main__":
    sys.exit(main())
