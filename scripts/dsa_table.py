#!/usr/bin/python3
"""Prints the README's "What DSA saves" table from real runs of tpusim on one chip.

    scripts/dsa_table.py [--json FILE] [extra tpusim run flags, e.g. --hw tpu-v6e]

--json FILE also writes the reports of every row ({"decode 128k": run --format json, ...}), from
which scripts/readme_numbers.py takes the numbers the README quotes around the table.

Decode is one step at batch 1; prefill is one 4k-token chunk ending at L. Each row is a
`tpusim run --attention both --format json`.
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TPUSIM = os.environ.get("TPUSIM", os.path.join(ROOT, "build", "tpusim"))


def fmt_time(s):
    return f"{s * 1e3:.2f} ms" if s >= 1e-3 else f"{s * 1e6:.1f} us"


def fmt_bytes(x):
    for unit in ["B", "KiB", "MiB", "GiB", "TiB"]:
        if x < 1024:
            return f"{x:.1f} {unit}"
        x /= 1024
    return f"{x:.1f} PiB"


def eff(report):
    """Speed of light: closed-form bound / simulated cycles and the binding unit."""
    r = report["roofline"]
    return f"{r['efficiency']:.2f} ({r['bound_by'].upper()})"


def main():
    extra = sys.argv[1:]
    json_out = None
    if extra[:1] == ["--json"]:
        if len(extra) < 2:
            print("dsa_table.py: error: --json needs a file", file=sys.stderr)
            sys.exit(2)
        json_out, extra = extra[1], extra[2:]
    reports = {}
    print("| phase | L | dense time | DSA time | speedup | dense HBM read | DSA HBM read "
          "| read ratio | DSA time in indexer | dense efficiency (bound by) | DSA efficiency (bound by) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for phase in ["decode", "prefill"]:
        for seq in ["8k", "32k", "128k"]:
            cmd = [TPUSIM, "run", "--phase", phase, "--seq", seq, "--format", "json"]
            if phase == "prefill":
                cmd += ["--chunk", "4k"]
            j = json.loads(subprocess.run(cmd + extra, check=True, capture_output=True,
                                          text=True).stdout)
            reports[f"{phase} {seq}"] = j
            d, s = j["dense"], j["dsa"]
            # Indexer kernels can overlap each other; their spans are summed as an upper bound.
            idx = sum(k["cycles"] for k in s["kernels"] if k["tag"].startswith("indexer."))
            print(f"| {phase} | {seq} | {fmt_time(d['time_s'])} | {fmt_time(s['time_s'])} "
                  f"| {j['speedup']:.2f}x | {fmt_bytes(d['dram']['read_bytes'])} "
                  f"| {fmt_bytes(s['dram']['read_bytes'])} | {j['dram_read_ratio']:.2f}x "
                  f"| {100 * idx / s['cycles']:.0f}% | {eff(d)} | {eff(s)} |", flush=True)
    if json_out:
        with open(json_out, "w") as f:
            json.dump(reports, f)


if __name__ == "__main__":
    main()
