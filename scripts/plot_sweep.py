#!/usr/bin/python3
"""Plots a `tpusim sweep` CSV (DESIGN.md section 9) as PNG files, one set per phase:

  speedup_<phase>.png           DSA speedup over dense (dense cycles / DSA cycles) vs L, a line per k
  hbm_bytes_<phase>.png         HBM bytes (read + write) vs L, dense and DSA (a line per k)
  kernels_<phase>.png           per-kernel time at one L (--at-seq, default the largest), stacked
  indexer_resident_<phase>.png  fraction of the indexer key cache resident in SRAM vs L,
                                a line per SRAM size / residency budget

Usage: scripts/plot_sweep.py SWEEP.csv -o DIR [--at-seq 32k]
Runs under Debian's /usr/bin/python3 with python3-matplotlib and python3-pandas (scripts/setup.sh).
Exit codes: 0 plots written, 2 bad input (a missing file or columns, named in the message).
"""

import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")  # files only: no display on build machines and in tests
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

KERNELS = ["kv.append", "indexer.proj", "indexer.scores", "indexer.topk", "attn.proj",
           "attn.gather", "attn.load", "attn.qk", "attn.softmax", "attn.pv"]
NEEDED = ["workload.phase", "workload.attention", "workload.seq", "workload.topk", "cycles",
          "dram.read_bytes", "dram.write_bytes", "hw.chip.clock_ghz", "hw.sram.capacity_mib",
          "hw.sram.residency_mib", "workload.residency", "indexer.resident_fraction"]
# Parameters besides L, k, phase and variant that, when they vary in a sweep, split the lines.
OTHER_DIMS = ["hw.chip.name", "workload.model", "workload.batch", "workload.chunk", "workload.mtp",
              "workload.residency", "workload.dense_mode", "workload.kv_format", "workload.scope",
              "workload.layers", "workload.pattern", "hw.sram.capacity_mib",
              "hw.sram.residency_mib", "hw.hbm.bandwidth_gbs"]


def fail(msg):
    print(f"plot_sweep.py: error: {msg}", file=sys.stderr)
    sys.exit(2)


def parse_size(text):
    t = str(text).strip().lower()
    mult = {"k": 1024, "m": 1024 ** 2}.get(t[-1:], 1)
    digits = t[:-1] if mult > 1 else t
    if not digits.isdigit():
        fail(f"--at-seq: '{text}' is not a size (examples: 32k, 131072)")
    return int(digits) * mult


def count_label(n):
    n = int(n)
    if n >= 1024 ** 2 and n % 1024 ** 2 == 0:
        return f"{n // 1024 ** 2}m"
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024}k"
    return str(n)


def log2_seq_axis(ax, seqs):
    ax.set_xscale("log", base=2)
    ticks = sorted(set(int(s) for s in seqs))
    ax.set_xticks(ticks)
    ax.set_xticklabels([count_label(s) for s in ticks])
    ax.minorticks_off()
    ax.set_xlabel("context length L (tokens, log2 scale)")


def varying(df, cols):
    return [c for c in cols if c in df.columns and df[c].nunique(dropna=False) > 1]


def label_of(row, dims):
    return ", ".join(f"{d.split('.')[-1]}={row[d]}" for d in dims)


def groups(df, cols):
    """The row groups of df by cols (one group when cols is empty), frames only."""
    if not cols:
        return [df]
    return [g for _, g in df.groupby(cols if len(cols) > 1 else cols[0], sort=True)]


def save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    print(path)


def pair_key(df):
    # Dense and DSA rows of one point share point.key; CSVs from `run` lack it, so fall back to
    # the parameters that identify a point.
    if "point.key" in df.columns:
        return df["point.key"]
    dims = [c for c in df.columns if c.startswith(("workload.", "hw."))
            and c != "workload.attention"]
    return df[dims].astype(str).agg("|".join, axis=1)


def plot_speedup(df, phase, out, dims):
    dense = df[df["workload.attention"] == "dense"]
    dsa = df[df["workload.attention"] == "dsa"]
    m = dsa.merge(dense[["_pair", "cycles"]], on="_pair", suffixes=("", "_dense"))
    if m.empty:
        print(f"plot_sweep.py: no dense/DSA pairs for {phase}: speedup plot skipped",
              file=sys.stderr)
        return
    m["speedup"] = m["cycles_dense"] / m["cycles"]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for g in groups(m, ["workload.topk"] + dims):
        g = g.sort_values("workload.seq")
        row = g.iloc[0]
        lab = f"k={count_label(row['workload.topk'])}"
        if dims:
            lab += ", " + label_of(row, dims)
        ax.plot(g["workload.seq"], g["speedup"], marker="o", label=lab)
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    log2_seq_axis(ax, m["workload.seq"])
    ax.set_ylabel("DSA speedup over dense (dense cycles / DSA cycles, x)")
    ax.set_title(f"{phase}: DSA speedup vs context length")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    save(fig, os.path.join(out, f"speedup_{phase}.png"))


def plot_hbm(df, phase, out, dims):
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    df = df.assign(hbm_mib=(df["dram.read_bytes"] + df["dram.write_bytes"]) / 2 ** 20)
    dense = df[df["workload.attention"] == "dense"]
    for g in groups(dense, dims):
        lab = "dense" + (", " + label_of(g.iloc[0], dims) if dims else "")
        # Dense attention does not depend on k: one line (the mean over k is the same value).
        g = g.groupby("workload.seq", as_index=False)["hbm_mib"].mean()
        ax.plot(g["workload.seq"], g["hbm_mib"], marker="s", color="black", label=lab)
    dsa = df[df["workload.attention"] == "dsa"]
    for g in groups(dsa, ["workload.topk"] + dims):
        g = g.sort_values("workload.seq")
        row = g.iloc[0]
        lab = f"DSA k={count_label(row['workload.topk'])}"
        if dims:
            lab += ", " + label_of(row, dims)
        ax.plot(g["workload.seq"], g["hbm_mib"], marker="o", label=lab)
    log2_seq_axis(ax, df["workload.seq"])
    ax.set_yscale("log")
    ax.set_ylabel("HBM traffic, read + write (MiB, log scale)")
    ax.set_title(f"{phase}: HBM bytes per step vs context length")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    save(fig, os.path.join(out, f"hbm_bytes_{phase}.png"))


def plot_kernels(df, phase, out, at_seq, dims):
    seqs = sorted(df["workload.seq"].unique())
    seq = at_seq if at_seq is not None else seqs[-1]
    at = df[df["workload.seq"] == seq]
    if at.empty:
        fail(f"--at-seq {count_label(seq)}: no {phase} point at that L "
             f"(the sweep has {', '.join(count_label(s) for s in seqs)})")
    bars, labels = [], []
    dense = at[at["workload.attention"] == "dense"]
    if not dense.empty:
        bars.append(dense.iloc[0])
        labels.append("dense")
    for _, row in at[at["workload.attention"] == "dsa"].sort_values("workload.topk").iterrows():
        bars.append(row)
        labels.append(f"DSA\nk={count_label(row['workload.topk'])}"
                      + "".join(f"\n{d.split('.')[-1]}={row[d]}" for d in dims))
    tags = [t for t in KERNELS if f"kernel.{t}.cycles" in at.columns
            and at[f"kernel.{t}.cycles"].fillna(0).sum() > 0]
    # Microseconds, or milliseconds once a step is longer than 10 ms.
    step_us = max(float(b["cycles"]) / float(b["hw.chip.clock_ghz"]) / 1e3 for b in bars)
    scale, unit = (1e3, "ms") if step_us > 1e4 else (1.0, "us")
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    bottom = [0.0] * len(bars)
    cmap = plt.get_cmap("tab10")
    for i, tag in enumerate(tags):
        # Cycles to microseconds at the chip's clock.
        # A kernel the variant does not have is an empty cell (NaN), which would poison the stack.
        vals = [0.0 if pd.isna(b.get(f"kernel.{tag}.cycles")) else
                float(b[f"kernel.{tag}.cycles"]) / float(b["hw.chip.clock_ghz"]) / 1e3 / scale
                for b in bars]
        ax.bar(range(len(bars)), vals, bottom=bottom, label=tag, color=cmap(i % 10))
        bottom = [x + y for x, y in zip(bottom, vals)]
    totals = [float(b["cycles"]) / float(b["hw.chip.clock_ghz"]) / 1e3 / scale for b in bars]
    ax.plot(range(len(bars)), totals, "k_", markersize=30, mew=2, label="step time")
    ax.set_xticks(range(len(bars)))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel(f"time ({unit})")
    ax.set_title(f"{phase}: time per kernel at L = {count_label(seq)} (spans overlap)")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3, axis="y")
    save(fig, os.path.join(out, f"kernels_{phase}.png"))


def plot_resident(df, phase, out):
    dsa = df[df["workload.attention"] == "dsa"]
    dims = varying(dsa, ["hw.sram.capacity_mib", "hw.sram.residency_mib", "workload.residency",
                         "workload.layers", "workload.batch", "hw.chip.name"])
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for g in groups(dsa, dims):
        first = g.iloc[0]
        # The resident fraction does not depend on k: average the identical values over k.
        g = g.groupby("workload.seq", as_index=False)["indexer.resident_fraction"].mean()
        lab = (f"SRAM {first['hw.sram.capacity_mib']} MiB, residency budget "
               f"{first['hw.sram.residency_mib']} MiB, {first['workload.residency']}")
        ax.plot(g["workload.seq"], 100 * g["indexer.resident_fraction"], marker="o", label=lab)
    log2_seq_axis(ax, dsa["workload.seq"] if not dsa.empty else df["workload.seq"])
    ax.set_ylim(-3, 103)
    ax.set_ylabel("indexer key cache resident in SRAM (%)")
    ax.set_title(f"{phase}: indexer keys resident vs context length")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    save(fig, os.path.join(out, f"indexer_resident_{phase}.png"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv", help="CSV written by tpusim sweep")
    ap.add_argument("-o", "--output", required=True, help="directory for the PNG files")
    ap.add_argument("--at-seq", help="L of the per-kernel plot (default: the largest in the sweep)")
    args = ap.parse_args()

    try:
        df = pd.read_csv(args.csv)
    except FileNotFoundError:
        fail(f"{args.csv}: no such file")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        fail(f"{args.csv}: not a CSV ({e})")
    missing = [c for c in NEEDED if c not in df.columns]
    if missing:
        fail(f"{args.csv} lacks the columns {', '.join(missing)} "
             "(is it a CSV from tpusim sweep or run --format csv?)")
    if "status" in df.columns:
        failed = (df["status"] != "ok").sum()
        if failed:
            print(f"plot_sweep.py: ignoring {failed} failed rows", file=sys.stderr)
        df = df[df["status"] == "ok"]
    if df.empty:
        fail(f"{args.csv}: no successful rows to plot")
    for c in ["workload.seq", "workload.topk", "cycles", "dram.read_bytes", "dram.write_bytes"]:
        df[c] = pd.to_numeric(df[c])
    df = df.assign(_pair=pair_key(df))
    at_seq = parse_size(args.at_seq) if args.at_seq else None
    os.makedirs(args.output, exist_ok=True)

    for phase, g in df.groupby("workload.phase", sort=True):
        dims = varying(g, OTHER_DIMS)
        plot_speedup(g, phase, args.output, dims)
        plot_hbm(g, phase, args.output, dims)
        plot_kernels(g, phase, args.output, at_seq, dims)
        plot_resident(g, phase, args.output)


if __name__ == "__main__":
    main()
