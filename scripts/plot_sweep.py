#!/usr/bin/python3
"""Plots a `tpusim sweep` CSV, one set of pictures per phase, each with the table it plotted.

  speedup_<phase>           DSA speedup over dense (dense time / DSA time) vs L, a line per k
  step_time_<phase>         simulated step time vs L, dense and DSA (a line per k)
  hbm_bytes_<phase>         HBM bytes (read + write) per step vs L, dense and DSA
  energy_<phase>            energy per step (energy.total_j: dynamic plus static, see
                            docs/ENERGY.md) vs L, dense and DSA; skipped for a CSV without it
  units_<phase>             at one L (--at-seq, default the largest): per unit kind, the time its
                            instances were busy (mean over instances) and idle; each bar adds up
                            to the step time of its variant
  kernels_<phase>           at the same L: the span of each kernel (first start to last end), one
                            panel per variant, the step time marked; spans overlap, so they are
                            never stacked
  indexer_resident_<phase>  fraction of the indexer key cache resident in SRAM vs L

Every title names the chip and the workload; whatever varies in the sweep besides L, k and the
variant is spelled out in the legend. A plot whose variable does not vary (one L only, or a
resident fraction that is the same everywhere) is skipped with a note on stderr.
Beside each picture goes NAME.csv, the numbers it shows in the units of its axes, with the
title and axis labels in every row (columns title, xlabel, ylabel; line plots: series, x, y;
bar plots: bar, segment, bottom, value, step).

Usage: scripts/plot_sweep.py SWEEP.csv -o DIR [--at-seq 32k] [--format png|svg] [--dpi 100]
Runs under Debian's /usr/bin/python3 with python3-matplotlib and python3-pandas (scripts/setup.sh).
The files of one call appear together or not at all. Exit codes: 0 plots written, 2 bad input
(missing file or column, no successful row, unwritable -o, --at-seq not in the data), one line
on stderr naming the culprit.
"""

import argparse
import csv
import os
import shutil
import sys
import tempfile

import pandas as pd

# matplotlib is imported once the input has been checked (load_matplotlib): an error costs
# no more than reading the CSV.
plt = ticker = None

PROG = "plot_sweep.py"
KERNELS = ["kv.append", "indexer.proj", "indexer.scores", "indexer.topk", "attn.proj",
           "attn.gather", "attn.load", "attn.qk", "attn.softmax", "attn.pv"]
# Unit kinds in the order data flows through them, with their names in the report.
UNITS = [("dma", "DMA engines"), ("mxu", "MXUs"), ("vpu", "VPU"), ("topk", "top-k unit")]
UNIT_COLORS = {"dma": "tab:blue", "mxu": "tab:orange", "vpu": "tab:green", "topk": "tab:purple"}
NEEDED = ["workload.phase", "workload.attention", "workload.seq", "workload.topk", "cycles",
          "dram.read_bytes", "dram.write_bytes", "hw.chip.name", "hw.chip.clock_ghz",
          "hw.sram.capacity_mib", "hw.sram.residency_mib", "workload.residency",
          "indexer.resident_fraction"]
# Without point.key (a CSV from `run --format csv`), these split the lines when they vary.
OTHER_DIMS = ["hw.chip.name", "workload.model", "workload.batch", "workload.chunk", "workload.mtp",
              "workload.residency", "workload.dense_mode", "workload.kv_format", "workload.scope",
              "workload.layers", "workload.pattern", "hw.sram.capacity_mib",
              "hw.sram.residency_mib", "hw.hbm.bandwidth_gbs"]
# point.key parameters that are axes or bars of every plot, never legend entries.
AXIS_PARAMS = {"seq", "topk", "phase"}


def load_matplotlib():
    global plt, ticker
    import matplotlib
    matplotlib.use("Agg")  # files only: no display on build machines and in tests
    import matplotlib.pyplot
    import matplotlib.ticker
    plt, ticker = matplotlib.pyplot, matplotlib.ticker
    # A fixed SVG id salt and no creation date (Writer.save): the same CSV gives the same
    # bytes, which scripts/readme_numbers.py --check compares.
    matplotlib.rcParams["svg.hashsalt"] = "tpusim"
    matplotlib.rcParams["font.size"] = 9


class UserError(Exception):
    pass


def fail(msg):
    print(f"{PROG}: error: {msg}", file=sys.stderr)
    sys.exit(2)


def note(msg):
    print(f"{PROG}: {msg}", file=sys.stderr)


def parse_size(text):
    t = str(text).strip().lower()
    mult = {"k": 1024, "m": 1024 ** 2}.get(t[-1:], 1)
    digits = t[:-1] if mult > 1 else t
    if not digits.isdigit():
        raise UserError(f"--at-seq: '{text}' is not a whole number of tokens "
                        "(examples: 32k, 131072; fractions are not accepted)")
    return int(digits) * mult


def count_label(n):
    n = int(n)
    if n >= 1024 ** 2 and n % 1024 ** 2 == 0:
        return f"{n // 1024 ** 2}m"
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024}k"
    return str(n)


def fmt_time(us):
    if us >= 1e4:
        return f"{us / 1e3:.2f} ms"
    return f"{us:.1f} us"


def time_scale(max_us):
    """Display unit for times up to max_us: microseconds, or milliseconds past 10 ms."""
    return (1e3, "ms") if max_us > 1e4 else (1.0, "us")


def energy_scale(max_j):
    """(divisor, unit) putting the largest energy of a plot in [1, 1000) of its unit."""
    for scale, unit in [(1.0, "J"), (1e-3, "mJ"), (1e-6, "uJ")]:
        if max_j >= scale:
            return scale, unit
    return 1e-9, "nJ"


def log2_seq_axis(ax, seqs):
    ax.set_xscale("log", base=2)
    ticks = sorted(set(int(s) for s in seqs))
    ax.set_xticks(ticks)
    ax.set_xticklabels([count_label(s) for s in ticks])
    ax.minorticks_off()
    ax.set_xlabel("context length L (tokens, log2 scale)")


def log_y(ax):
    # Plain numbers at 1, 2, 5 x 10^n: a reader should not have to decode 10^2.
    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    # Within a decade or two, 1-2-5 leaves too few labels to read a value off.
    subs = (1.0, 2.0, 5.0) if hi / lo > 100 else (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 7.0)
    ax.yaxis.set_major_locator(ticker.LogLocator(base=10, subs=subs))
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())


def step_us(row):
    return float(row["cycles"]) / float(row["hw.chip.clock_ghz"]) / 1e3


# --- what varies, what is constant ---------------------------------------------------------

def key_params(key):
    out = {}
    for tok in str(key).split():
        name, _, value = tok.partition("=")
        out[name.removeprefix("set:")] = value
    return out


def add_dims(df):
    """Adds a column per sweep parameter that varies within df (besides L, k and phase) and
    returns their names; a CSV without point.key falls back to the report's columns."""
    if "point.key" in df.columns:
        params = df["point.key"].map(key_params)
        names = sorted({n for p in params for n in p} - AXIS_PARAMS)
        dims = []
        for n in names:
            col = params.map(lambda p, n=n: p.get(n, ""))
            if col.nunique() > 1:
                df[f"dim.{n}"] = col.map(lambda v: os.path.basename(v) if "/" in v else v)
                dims.append(f"dim.{n}")
        return dims
    return [c for c in OTHER_DIMS if c in df.columns and df[c].nunique(dropna=False) > 1]


def dim_label(row, dims, sep=", "):
    return sep.join(f"{d.split('.', 1)[1] if d.startswith('dim.') else d.split('.')[-1]}="
                    f"{row[d]}" for d in dims)


def context(df, phase, dims, with_k=True):
    """Chip and workload for a title: every parameter that is the same on all rows of df."""
    def const(col):
        if col not in df.columns or df[col].nunique(dropna=False) != 1:
            return None
        return df[col].iloc[0]

    parts = []
    chip = const("hw.chip.name")
    parts.append(f"chip {chip}" if chip is not None else "several chips")
    model = const("workload.model")
    if model is not None:
        parts.append(str(model))
    if phase == "prefill":
        chunk = const("workload.chunk")
        parts.append(f"prefill, {count_label(chunk)}-token chunk ending at L"
                     if chunk is not None else "prefill")
    else:
        parts.append(phase)
    batch = const("workload.batch")
    if batch is not None:
        parts.append(f"batch {int(batch)}")
    k = const("workload.topk")
    if with_k and k is not None and (df["workload.attention"] == "dsa").any():
        parts.append(f"k = {count_label(k)}")
    for col, default, fmt in [("workload.mtp", 1, "MTP {}"),
                              ("workload.kv_format", "fp8", "{} KV cache"),
                              ("workload.residency", "stream", "indexer keys {}"),
                              ("workload.scope", "attention", "scope {}")]:
        v = const(col)
        if v is not None and str(v) != str(default):
            parts.append(fmt.format(v))
    # Flags and --set overrides the user gave that are the same on every row are part of the
    # workload too (those already spelled out above are not repeated).
    if "point.key" in df.columns:
        params = df["point.key"].map(key_params)
        shown = AXIS_PARAMS | {"hw", "model", "chunk", "batch", "mtp", "kv-format", "residency",
                               "scope", "attention"}
        for n in sorted({n for p in params for n in p} - shown):
            vals = params.map(lambda p, n=n: p.get(n, "")).unique()
            if len(vals) == 1:
                parts.append(f"{n}={vals[0]}")
    return ", ".join(parts)


# --- output --------------------------------------------------------------------------------

class Writer:
    """Renders into a private directory inside -o; commit() moves every file into place at
    once, so a failure leaves no partial set behind."""

    def __init__(self, out, fmt, dpi):
        self.out, self.fmt, self.dpi = out, fmt, dpi
        self.tmp = tempfile.mkdtemp(prefix=".plot_sweep-", dir=out)
        self.names = []

    def save(self, fig, stem, title, xlabel, ylabel, header, rows):
        fig.savefig(os.path.join(self.tmp, f"{stem}.{self.fmt}"), dpi=self.dpi,
                    bbox_inches="tight", metadata={"Software": None} if self.fmt == "png"
                    else {"Date": None, "Creator": None})
        plt.close(fig)
        with open(os.path.join(self.tmp, f"{stem}.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["title", "xlabel", "ylabel"] + header)
            for r in rows:
                w.writerow([title, xlabel, ylabel] + [fmt_cell(v) for v in r])
        self.names += [f"{stem}.{self.fmt}", f"{stem}.csv"]

    def commit(self):
        for n in self.names:
            os.replace(os.path.join(self.tmp, n), os.path.join(self.out, n))
            if n.endswith(self.fmt):
                print(os.path.join(self.out, n))
        self.discard()

    def discard(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def fmt_cell(v):
    return f"{v:.6g}" if isinstance(v, float) else v


def legend_outside(ax, ncol=1):
    # Right of the axes, so no legend ever covers a line or a bar.
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0,
              ncol=ncol, frameon=False)


def titled(ax_or_fig, what, ctx):
    title = f"{what}\n{ctx}"
    if hasattr(ax_or_fig, "set_title"):
        ax_or_fig.set_title(title, fontsize=9.5)
    else:
        ax_or_fig.suptitle(title, fontsize=9.5)
    return title.replace("\n", " | ")


# --- plots ---------------------------------------------------------------------------------

def group_by(df, cols):
    """(key tuple, rows) per combination of cols, in sorted order; one group when cols is empty."""
    if not cols:
        yield (), df
        return
    for key, g in df.groupby(cols[0] if len(cols) == 1 else cols, sort=True):
        yield (key if isinstance(key, tuple) else (key,)), g


def pairs(df):
    dense = df[df["workload.attention"] == "dense"]
    dsa = df[df["workload.attention"] == "dsa"]
    return dsa.merge(dense[["_pair", "cycles"]], on="_pair", suffixes=("", "_dense"))


def plot_speedup(w, df, phase, dims):
    m = pairs(df)
    if m.empty:
        note(f"skipped speedup_{phase}: no dense and DSA rows of the same point")
        return
    m["speedup"] = m["cycles_dense"] / m["cycles"]
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    rows = []
    clock = m["hw.chip.clock_ghz"].astype(float)
    m["dsa_us"] = m["cycles"] / clock / 1e3
    m["dense_us"] = m["cycles_dense"] / clock / 1e3
    for (k, *_), g in group_by(m, ["workload.topk"] + dims):
        g = g.sort_values("workload.seq")
        last = g.iloc[-1]
        series = f"k={count_label(k)}" + (", " + dim_label(last, dims) if dims else "")
        # The step times at the largest L, so the ratio comes with what it is a ratio of.
        lab = series + (f": {fmt_time(last['dsa_us'])} vs {fmt_time(last['dense_us'])} dense"
                        f" at {count_label(last['workload.seq'])}")
        ax.plot(g["workload.seq"], g["speedup"], marker="o", label=lab)
        rows += [[series, int(r["workload.seq"]), float(r["speedup"])] for _, r in g.iterrows()]
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    log2_seq_axis(ax, m["workload.seq"])
    ylabel = "DSA speedup over dense (dense step time / DSA step time, x)"
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    legend_outside(ax)
    title = titled(ax, "DSA speedup vs context length (above 1: DSA faster)",
                   context(m, phase, dims, with_k=False))
    w.save(fig, f"speedup_{phase}", title, ax.get_xlabel(), ylabel, ["series", "x", "y"], rows)


def step_note(g):
    """The step time at the largest L of the rows g, for a legend entry."""
    last = g[g["workload.seq"] == g["workload.seq"].max()]
    us = sorted({step_us(r) for _, r in last.iterrows()})
    t = fmt_time(us[0]) if len(us) == 1 else f"{fmt_time(us[0])} to {fmt_time(us[-1])}"
    return f" (step {t} at {count_label(last['workload.seq'].iloc[0])})"


def plot_per_variant(w, df, phase, dims, stem, what, ylabel, with_step):
    """A line for dense (it does not depend on k) and a line per DSA k, vs L, log y."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    rows = []
    dense = df[df["workload.attention"] == "dense"]
    for _, g in group_by(dense, dims):
        if g.empty:
            continue
        series = "dense" + (", " + dim_label(g.iloc[0], dims) if dims else "")
        note_ = step_note(g) if with_step else ""
        g = g.groupby("workload.seq", as_index=False)["_v"].mean()
        ax.plot(g["workload.seq"], g["_v"], marker="s", color="black", label=series + note_)
        rows += [[series, int(r["workload.seq"]), float(r["_v"])] for _, r in g.iterrows()]
    dsa = df[df["workload.attention"] == "dsa"]
    for (k, *_), g in group_by(dsa, ["workload.topk"] + dims):
        g = g.sort_values("workload.seq")
        series = f"DSA k={count_label(k)}" + (", " + dim_label(g.iloc[0], dims) if dims else "")
        ax.plot(g["workload.seq"], g["_v"], marker="o",
                label=series + (step_note(g) if with_step else ""))
        rows += [[series, int(r["workload.seq"]), float(r["_v"])] for _, r in g.iterrows()]
    log2_seq_axis(ax, df["workload.seq"])
    log_y(ax)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both")
    legend_outside(ax)
    title = titled(ax, what, context(df, phase, dims, with_k=False))
    w.save(fig, f"{stem}_{phase}", title, ax.get_xlabel(), ylabel, ["series", "x", "y"], rows)


def variants_at(at, dims):
    """The rows of the bar plots, in reading order: per combination of the other parameters,
    dense first (one row: it does not depend on k), then DSA by increasing k."""
    out = []
    for _, g in group_by(at, dims):
        dense = g[g["workload.attention"] == "dense"]
        extra = ("\n" + dim_label(g.iloc[0], dims, "\n")) if dims else ""
        if not dense.empty:
            out.append(("dense" + extra, dense.iloc[0]))
        for _, r in g[g["workload.attention"] == "dsa"].sort_values("workload.topk").iterrows():
            out.append((f"DSA k={count_label(r['workload.topk'])}" + extra, r))
    return out


def plot_units(w, at, phase, seq, dims):
    bars = variants_at(at, dims)
    units = [(u, name) for u, name in UNITS if f"units.{u}.busy_cycles" in at.columns
             and at[f"units.{u}.busy_cycles"].notna().any()]
    if not units:
        note(f"skipped units_{phase}: the CSV has no units.*.busy_cycles columns")
        return
    scale, unit = time_scale(max(step_us(r) for _, r in bars))
    n = len(units)
    width = 0.8 / n
    # Wide enough per variant for its bars and for the longest line of its label (8-pt text).
    chars = max(len(line) for lab, _ in bars for line in lab.split("\n"))
    per_variant = max(0.45 * n, 0.075 * chars + 0.2)
    fig, ax = plt.subplots(figsize=(max(6.5, 1.0 + per_variant * len(bars)), 4.4))
    rows = []
    for i, (label, r) in enumerate(bars):
        step = step_us(r) / scale
        flat = label.replace("\n", ", ")
        for j, (u, name) in enumerate(units):
            x = i + (j - (n - 1) / 2) * width
            cyc, inst = r.get(f"units.{u}.busy_cycles"), r.get(f"units.{u}.instances")
            if pd.isna(cyc) or pd.isna(inst) or float(inst) <= 0:
                continue
            # Busy cycles are summed over a kind's instances; their mean is the time one
            # instance was busy, which fits in the step.
            busy = float(cyc) / float(inst) / float(r["hw.chip.clock_ghz"]) / 1e3 / scale
            ax.bar(x, busy, width, color=UNIT_COLORS[u], label=name if i == 0 else None)
            ax.bar(x, step - busy, width, bottom=busy, color="0.92", edgecolor="0.6", lw=0.5,
                   label="idle" if i == 0 and j == n - 1 else None)
            ax.text(x, busy, f"{100 * busy / step:.0f}%", ha="center", va="bottom", fontsize=6.5)
            rows.append([flat, f"{name} busy", 0.0, busy, step])
            rows.append([flat, f"{name} idle", busy, step - busy, step])
        ax.plot([i - 0.45, i + 0.45], [step, step], color="black", lw=1.5,
                label="step time" if i == 0 else None)
        ax.annotate(f"step {fmt_time(step * scale)}", (i, step), xytext=(0, 3),
                    textcoords="offset points", ha="center", va="bottom", fontsize=7.5,
                    fontweight="bold")
    ax.set_xticks(range(len(bars)))
    ax.set_xticklabels([lab for lab, _ in bars], fontsize=8)
    ax.set_xlabel("variant (bars left to right per variant: " +
                  ", ".join(name for _, name in units) + ")")
    ylabel = f"time per step ({unit}); busy = mean over a kind's instances"
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, max(step_us(r) for _, r in bars) / scale * 1.12)
    ax.grid(alpha=0.3, axis="y")
    legend_outside(ax)
    title = titled(ax, f"Where the step goes: busy and idle time per unit kind at L = "
                   f"{count_label(seq)} (each bar adds up to the step time)",
                   context(at, phase, dims))
    w.save(fig, f"units_{phase}", title, ax.get_xlabel(), ylabel,
           ["bar", "segment", "bottom", "value", "step"], rows)


def plot_kernels(w, at, phase, seq, dims):
    bars = variants_at(at, dims)
    tags = [t for t in KERNELS if f"kernel.{t}.cycles" in at.columns
            and at[f"kernel.{t}.cycles"].fillna(0).sum() > 0]
    if not tags:
        note(f"skipped kernels_{phase}: the CSV has no kernel.*.cycles columns")
        return
    ncols = min(len(bars), 5)
    nrows = (len(bars) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.4 * ncols + 1.2, 0.28 * len(tags) * nrows
                                                    + 1.4 * nrows + 0.6),
                             sharex=True, sharey=True, squeeze=False)
    rows = []
    # Each panel in percent of its own step, so a fast variant's kernels stay readable; the
    # absolute span is written beside each bar and the step time above each panel.
    xlabel = "kernel span, first start to last end (% of the step time)"
    for i, (label, r) in enumerate(bars):
        ax = axes[i // ncols][i % ncols]
        step = step_us(r)
        scale, unit = time_scale(step)
        spans = [None if pd.isna(r.get(f"kernel.{t}.cycles")) or float(r[f"kernel.{t}.cycles"])
                 == 0 else float(r[f"kernel.{t}.cycles"]) / float(r["hw.chip.clock_ghz"]) / 1e3
                 for t in tags]
        pct = [0.0 if s is None else 100 * s / step for s in spans]
        ax.barh(range(len(tags)), pct, color="tab:blue")
        for y, (s, p) in enumerate(zip(spans, pct)):
            text = "not run" if s is None else f"{s / scale:.3g} {unit}"
            inside = p > 60
            ax.text(p - 2 if inside else p + 2, y, text, va="center",
                    ha="right" if inside else "left", fontsize=6.5,
                    color="white" if inside else ("0.5" if s is None else "black"))
        ax.axvline(100, color="black", lw=1.5)
        ax.set_xlim(0, 105)
        ax.set_title(f"{label.replace(chr(10), ', ')}\nstep time {fmt_time(step)} (black line)",
                     fontsize=8)
        ax.grid(alpha=0.3, axis="x")
        if i + ncols >= len(bars):
            ax.set_xlabel("span (% of step)", fontsize=8)
            ax.xaxis.set_tick_params(labelbottom=True)
        rows += [[label.replace("\n", ", "), t, 0.0, p, 100.0] for t, p in zip(tags, pct)]
    for j in range(len(bars), nrows * ncols):
        axes[j // ncols][j % ncols].set_visible(False)
    axes[0][0].set_yticks(range(len(tags)))
    axes[0][0].set_yticklabels(tags)
    axes[0][0].invert_yaxis()  # pipeline order, top to bottom
    for rr in range(nrows):
        axes[rr][0].set_ylabel("kernel")
    title = titled(fig, f"Kernel spans at L = {count_label(seq)}, in % of each variant's step "
                   "time (kernels overlap, so spans do not add up)", context(at, phase, dims))
    fig.tight_layout()
    w.save(fig, f"kernels_{phase}", title, xlabel, "kernel",
           ["bar", "segment", "bottom", "value", "step"], rows)


def plot_resident(w, df, phase):
    dsa = df[df["workload.attention"] == "dsa"]
    frac = pd.to_numeric(dsa["indexer.resident_fraction"], errors="coerce")
    if dsa.empty or frac.nunique() <= 1:
        v = "" if dsa.empty or frac.empty else f" ({100 * frac.iloc[0]:.0f}% everywhere)"
        note(f"skipped indexer_resident_{phase}: the resident fraction does not vary{v}")
        return
    dims = [c for c in ["hw.chip.name", "hw.sram.capacity_mib", "hw.sram.residency_mib",
                        "workload.residency", "workload.layers", "workload.batch"]
            if dsa[c].nunique(dropna=False) > 1] if not dsa.empty else []
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    rows = []
    for _, g in group_by(dsa, dims):
        first = g.iloc[0]
        note_ = step_note(g)
        # The resident fraction does not depend on k: average the identical values over k.
        g = g.groupby("workload.seq", as_index=False)["indexer.resident_fraction"].mean()
        series = (f"SRAM {first['hw.sram.capacity_mib']} MiB, residency budget "
                  f"{first['hw.sram.residency_mib']} MiB, {first['workload.residency']}")
        if first["workload.residency"] == "prefetch":
            # Held on chip for this layer, but read from HBM during the previous one.
            series += " (keys still read from HBM, a layer ahead)"
        ax.plot(g["workload.seq"], 100 * g["indexer.resident_fraction"], marker="o",
                label=series + note_)
        rows += [[series, int(r["workload.seq"]), 100 * float(r["indexer.resident_fraction"])]
                 for _, r in g.iterrows()]
    log2_seq_axis(ax, dsa["workload.seq"])
    ax.set_ylim(-3, 103)
    ylabel = "indexer key cache resident in SRAM (%)"
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    legend_outside(ax)
    title = titled(ax, "Indexer keys resident in SRAM vs context length",
                   context(dsa, phase, []))
    w.save(fig, f"indexer_resident_{phase}", title, ax.get_xlabel(), ylabel,
           ["series", "x", "y"], rows)


# --- input ---------------------------------------------------------------------------------

def pair_key(df):
    # Dense and DSA rows of one point share point.key; CSVs from `run` lack it, so fall back to
    # the parameters that identify a point.
    if "point.key" in df.columns:
        return df["point.key"]
    dims = [c for c in df.columns if c.startswith(("workload.", "hw."))
            and c != "workload.attention"]
    return df[dims].astype(str).agg("|".join, axis=1)


def load(path):
    try:
        df = pd.read_csv(path)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file")
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory, not a CSV")
    except PermissionError:
        raise UserError(f"{path}: not readable")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not a CSV ({str(e).strip()})")
    if "status" in df.columns:
        ok = df["status"] == "ok"
        if not ok.any():
            first = ""
            if "error" in df.columns and len(df):
                first = f"; first error: {str(df['error'].iloc[0]).strip()}"
            raise UserError(f"{path}: no successful rows to plot ({len(df)} rows, "
                            f"all failed{first})" if len(df) else f"{path}: no rows to plot")
        if (~ok).sum():
            note(f"ignoring {(~ok).sum()} failed rows of {path}")
        df = df[ok].copy()
    if df.empty:
        raise UserError(f"{path}: no rows to plot")
    missing = [c for c in NEEDED if c not in df.columns]
    if missing:
        raise UserError(f"{path} lacks the columns {', '.join(missing)} "
                        "(is it a CSV from tpusim sweep or run --format csv?)")
    for c in ["workload.seq", "workload.topk", "cycles", "dram.read_bytes", "dram.write_bytes",
              "hw.chip.clock_ghz"]:
        df[c] = pd.to_numeric(df[c])
    return df.assign(_pair=pair_key(df))


def output_dir(out):
    if os.path.exists(out) and not os.path.isdir(out):
        raise UserError(f"-o {out}: exists and is not a directory")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise UserError(f"-o {out}: cannot create the directory ({e.strerror})")
    if not os.access(out, os.W_OK | os.X_OK):
        raise UserError(f"-o {out}: directory is not writable")


def main():
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                 epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv", help="CSV written by tpusim sweep (or run --format csv)")
    ap.add_argument("-o", "--output", required=True, help="directory for the pictures")
    ap.add_argument("--at-seq", help="L of the unit and kernel plots (default: the largest)")
    ap.add_argument("--format", choices=["png", "svg"], default="png", help="picture format")
    ap.add_argument("--dpi", type=int, default=100, help="PNG resolution (default 100)")
    args = ap.parse_args()
    if not 20 <= args.dpi <= 1200:
        ap.error(f"--dpi {args.dpi}: must be in [20, 1200]")

    try:
        df = load(args.csv)
        at_seq = parse_size(args.at_seq) if args.at_seq else None
        phases = sorted(df["workload.phase"].unique())
        # Every check before the first picture: a bad --at-seq must not leave half a set.
        at = {}
        for phase in phases:
            g = df[df["workload.phase"] == phase]
            seqs = sorted(g["workload.seq"].unique())
            seq = at_seq if at_seq is not None else seqs[-1]
            if seq not in seqs:
                raise UserError(f"--at-seq {count_label(seq)}: the sweep has no {phase} point "
                                f"at that L (it has {', '.join(count_label(s) for s in seqs)})")
            at[phase] = seq
        output_dir(args.output)
    except UserError as e:
        fail(str(e))

    load_matplotlib()
    w = Writer(args.output, args.format, args.dpi)
    try:
        for phase in phases:
            g = df[df["workload.phase"] == phase].copy()
            dims = add_dims(g)
            if g["workload.seq"].nunique() > 1:
                plot_speedup(w, g, phase, dims)
                clock = g["hw.chip.clock_ghz"]
                g["_v"] = g["cycles"] / clock / 1e3
                scale, unit = time_scale(g["_v"].max())
                g["_v"] /= scale
                plot_per_variant(w, g, phase, dims, "step_time",
                                 "Simulated step time vs context length",
                                 f"step time ({unit}, log scale)", with_step=False)
                g["_v"] = (g["dram.read_bytes"] + g["dram.write_bytes"]) / 2 ** 20
                plot_per_variant(w, g, phase, dims, "hbm_bytes",
                                 "HBM traffic per step vs context length",
                                 "HBM read + write (MiB, log scale)", with_step=True)
                if "energy.total_j" in g.columns:
                    g["_v"] = pd.to_numeric(g["energy.total_j"])
                    scale, unit = energy_scale(g["_v"].max())
                    g["_v"] /= scale
                    plot_per_variant(w, g, phase, dims, "energy",
                                     "Energy per step vs context length",
                                     f"energy ({unit}, log scale)", with_step=True)
                else:
                    note(f"skipped energy_{phase}: the CSV has no energy.total_j column")
            else:
                note(f"skipped speedup_{phase}, step_time_{phase}, hbm_bytes_{phase}, "
                     f"energy_{phase}: "
                     f"one L only ({count_label(g['workload.seq'].iloc[0])})")
            sub = g[g["workload.seq"] == at[phase]]
            plot_units(w, sub, phase, at[phase], dims)
            plot_kernels(w, sub, phase, at[phase], dims)
            plot_resident(w, g, phase)
        w.commit()
    except OSError as e:
        w.discard()
        fail(f"-o {args.output}: {e.strerror or e}")
    except Exception as e:  # noqa: BLE001 -- one line, never a traceback or a partial set
        w.discard()
        if os.environ.get("PLOT_SWEEP_DEBUG"):
            raise
        print(f"{PROG}: internal error: {type(e).__name__}: {e} "
              "(rerun with PLOT_SWEEP_DEBUG=1 for the traceback)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
