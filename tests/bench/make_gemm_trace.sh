#!/usr/bin/env bash
# Writes a GEMM-only trace: N independent 2048x2048x2048 bf16 matmuls (default 100) sharing A
# and B, with C rotating over four buffers (one per MXU of the default preset).
#   tests/bench/make_gemm_trace.sh FILE [N]
set -euo pipefail
out=$1
n=${2:-100}
awk -v n="$n" 'BEGIN {
  print "tpusim-trace 1"
  print "# bench: " n " independent 2048^3 bf16 matmuls; A, B 8 MiB each, C in 4 rotating buffers"
  print "meta bench=gemm m=2048 n=2048 k=2048 count=" n
  mib = 1048576
  for (i = 0; i < n; i++)
    printf "%d mxu.matmul m=2048 n=2048 k=2048 dtype=bf16 a=sram:0 b=sram:%d c=sram:%d tag=gemm\n",
           i, 8 * mib, (16 + 8 * (i % 4)) * mib
}' > "$out"
