#!/usr/bin/python3
"""Cross-check against FlashMLA's published H800 rates (issue 11): runs each FlashMLA shape on the
h800-like preset and prints tpusim's rate beside the published one, with the 0.6-1.4x window.

usage: scripts/flashmla_check.py [--tpusim build/tpusim] [-j 2]

Rates use FlashMLA's own counting (tests/lib.py in deepseek-ai/FlashMLA, see docs/DSA.md):
attention FLOPs only, 2 x h_q x (query rows x attended keys) x (d_qk 576 + d_v 512); bytes of
dense decode 2 x (Q + KV + O) in bf16. FlashMLA's kernels are attention only, so the sparse
rows are timed on a layer without the indexer: with `--index-share FS` the report's
`index_share.s_layer_time_s` is a layer that reuses the previous layer's top-k and runs no
indexer. The whole DSA step (indexer included) is printed beside it.

Shapes, as FlashMLA benchmarks them but at smaller batch (simulation time):
- dense decode, memory-bound: BF16 cache, s_q 1, 16 query heads (one rank of 8-way tensor
  parallelism; FlashMLA's deep-dive puts dense MLA decode at about 2 x h_q x s_q FLOP per byte,
  memory-bound on an H800 only when h_q x s_q < 128), L 4k, batch 32;
- dense decode, compute-bound: BF16 cache, s_q 2, 128 heads, L 4k, batch 32;
- sparse decode: FP8 cache (656 B rows), s_q 2, k 2048, L 32k, batch 32 (FlashMLA's figure is
  bound by FP8 dequantisation on Hopper, which tpusim does not model);
- sparse prefill: BF16 cache, a chunk of 256 queries at s_kv 32k, k 2048 (FlashMLA: s_q 4096).
"""
import argparse
import concurrent.futures as cf
import json
import os
import subprocess
import sys

D_QK, D_V = 576, 512
H16 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "bench", "models",
                   "deepseek-v3.2-h16.toml")


def run(tpusim, args):
    out = subprocess.run([tpusim, "run", "--hw", "h800-like", "--format", "json"] + args,
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"tpusim run {' '.join(args)} failed: {out.stderr.strip()}")
    return json.loads(out.stdout)


def shapes():
    b, L = 32, 4096
    # (label, args, published, unit, work(report) -> (amount, seconds of the timed layer,
    #  seconds of the whole step or None))
    def dense_bytes(h, sq):
        return 2 * (b * sq * h * D_QK + b * L * D_QK + b * sq * h * D_V)

    def dense_flops(h, sq):
        return 2 * b * sq * h * L * (D_QK + D_V)

    sparse_decode_flops = 2 * 128 * (32 * 2 * 2048) * (D_QK + D_V)
    sparse_prefill_flops = 2 * 128 * (256 * 2048) * (D_QK + D_V)
    return [
        ("dense decode, memory-bound (h_q 16, s_q 1, L 4k, b 32, bf16)",
         ["--model", H16, "--phase", "decode", "--seq", "4k", "--batch", str(b), "--attention",
          "dense", "--kv-format", "bf16"], 3000, "GB/s",
         lambda r: (dense_bytes(16, 1) / 1e9, r["time_s"], None)),
        ("dense decode, compute-bound (h_q 128, s_q 2, L 4k, b 32, bf16)",
         ["--phase", "decode", "--mtp", "2", "--seq", "4k", "--batch", str(b), "--attention",
          "dense", "--kv-format", "bf16"], 660, "TFLOPS",
         lambda r: (dense_flops(128, 2) / 1e12, r["time_s"], None)),
        ("sparse decode (s_q 2, k 2048, L 32k, b 32, fp8)",
         ["--phase", "decode", "--mtp", "2", "--seq", "32k", "--batch", "32", "--attention",
          "dsa", "--index-share", "FS"], 410, "TFLOPS",
         lambda r: (sparse_decode_flops / 1e12, r["index_share"]["s_layer_time_s"],
                    r["index_share"]["f_layer_time_s"])),
        ("sparse prefill (chunk 256 at s_kv 32k, k 2048, bf16)",
         ["--phase", "prefill", "--chunk", "256", "--seq", "32k", "--attention", "dsa",
          "--kv-format", "bf16", "--index-share", "FS"], 640, "TFLOPS",
         lambda r: (sparse_prefill_flops / 1e12, r["index_share"]["s_layer_time_s"],
                    r["index_share"]["f_layer_time_s"])),
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tpusim", default="build/tpusim")
    ap.add_argument("-j", type=int, default=2)
    a = ap.parse_args()
    rows = shapes()
    with cf.ThreadPoolExecutor(a.j) as ex:
        res = list(ex.map(lambda r: run(a.tpusim, r[1]), rows))
    print(f"{'FlashMLA shape on h800-like':64s} {'published':>14s} {'tpusim':>14s} {'ratio':>6s} "
          f"{'window':>9s}  {'with the indexer':s}")
    for (label, _, published, unit, work), r in zip(rows, res):
        amount, t, t_step = work(r)
        rate = amount / t
        ratio = rate / published
        ok = "ok" if 0.6 <= ratio <= 1.4 else "outside"
        step = f"{amount / t_step:.0f} {unit} ({amount / t_step / published:.2f}x)" if t_step else ""
        print(f"{label:64s} {published:>7.0f} {unit:6s} {rate:>7.0f} {unit:6s} {ratio:5.2f}x "
              f"{ok:>9s}  {step}")


if __name__ == "__main__":
    main()
