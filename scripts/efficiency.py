#!/usr/bin/python3
"""Speed-of-light bench: runs tpusim on the points of issue 11 and prints each run's efficiency
(closed-form bound / simulated cycles, from the report's roofline section) beside its target.

usage: scripts/efficiency.py [--tpusim build/tpusim] [--quick] [-j 2] [--set K=V ...]
Columns: efficiency against the largest of the MXU, HBM and VPU bounds, and against the MXU and
HBM bounds alone; the binding resource; the target and whether it is met; the critical path's
time on the DMA engines, the MXUs and the VPU (the report's critical_path: what held the run back).
--set passes a config override to every run (repeatable), e.g. --set hbm.refresh_start=phase to
see the rows under a steady-state refresh phase; the scaling row adds its own overrides after it.
"""
import argparse
import concurrent.futures as cf
import json
import subprocess
import sys


def run(tpusim, args):
    out = subprocess.run([tpusim, "run", "--format", "json"] + args, capture_output=True,
                         text=True)
    if out.returncode != 0:
        sys.exit(f"tpusim run {' '.join(args)} failed: {out.stderr.strip()}")
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tpusim", default="build/tpusim")
    ap.add_argument("--quick", action="store_true", help="decode rows and 32k prefill only")
    ap.add_argument("-j", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], metavar="K=V",
                    help="config override for every run (repeatable)")
    a = ap.parse_args()
    sets = [x for kv in a.set for x in ("--set", kv)]
    seqs = ["4k", "8k", "16k", "32k", "64k", "128k"]
    rows = []  # (label, args, target)
    for phase in ["decode", "prefill"]:
        for att in ["dense", "dsa"]:
            for s in seqs:
                if a.quick and phase == "prefill" and s != "32k":
                    continue
                L = int(s[:-1]) * 1024
                target = 0.70 if L >= 32768 else 0.50
                rows.append((f"{phase} {att} L={s} b=1", ["--phase", phase, "--seq", s,
                                                         "--attention", att], target))
    # One layer of a steady stack (--residency prefetch): DSA streams the next layer's indexer
    # keys during this layer's attention (the overlap of key bytes and attention FLOPs the bound
    # assumes), dense the next layer's first KV tiles under its compute tail.
    for att in ["dense", "dsa"]:
        for s in seqs:
            L = int(s[:-1]) * 1024
            rows.append((f"decode {att} L={s} b=1 prefetch", ["--seq", s, "--attention", att,
                                                              "--residency", "prefetch"],
                         0.70 if L >= 32768 else 0.50))
    for s in ["32k", "128k"]:
        for att in ["dense", "dsa"]:
            rows.append((f"decode {att} L={s} b=32", ["--seq", s, "--attention", att,
                                                      "--batch", "32"], 0.70))
        rows.append((f"decode dsa L={s} b=32 prefetch", ["--seq", s, "--attention", "dsa",
                                                         "--batch", "32", "--residency",
                                                         "prefetch"], 0.70))
    scale = [] if a.quick else [
        ("prefill dsa L=128k 2x MXU+lanes", ["--phase", "prefill", "--seq", "128k", "--attention",
                                             "dsa", "--set", "mxu.count=8", "--set",
                                             "vpu.lanes=2048"], None)]
    todo = rows + scale
    with cf.ThreadPoolExecutor(a.j) as ex:
        res = list(ex.map(lambda r: run(a.tpusim, sets + r[1]), todo))
    if a.set:
        print("with " + " ".join(f"--set {kv}" for kv in a.set))
    # Three decimals: at two, a row just under its target printed as "0.50 MISS".
    print(f"{'point (tpu-v5e, k 2048, chunk 4k)':36s} {'cycles':>12s} {'eff':>6s} {'mxu':>6s} "
          f"{'hbm':>6s} {'bound':>5s} {'target':>7s}      {'critical path':s}")
    byname = {}
    for (label, _, target), r in zip(todo, res):
        rf = r["roofline"]
        c = r["cycles"]
        byname[label] = c
        if target is None:
            continue
        ok = "ok" if rf["efficiency"] >= target else "MISS"
        cp = r.get("critical_path", {})
        path = " ".join(f"{u} {100 * cp[u + '_cycles'] / c:.0f}%" for u in ("dma", "mxu", "vpu")
                        if cp.get(u + "_cycles", 0) > 0)
        print(f"{label:36s} {c:12d} {rf['efficiency']:6.3f} {rf['mxu_cycles'] / c:6.3f} "
              f"{rf['hbm_cycles'] / c:6.3f} {rf['bound_by']:>5s} {'>=%.2f' % target:>7s} {ok:4s} "
              f"{path}")
    if scale:
        base = byname["prefill dsa L=128k b=1"]
        sp = base / byname["prefill dsa L=128k 2x MXU+lanes"]
        print(f"{'DSA prefill 128k, 2x mxu.count+vpu.lanes':42s} speedup {sp:.2f}x "
              f"(target >= 1.60x) {'ok' if sp >= 1.6 else 'MISS'}")


if __name__ == "__main__":
    main()
