#!/usr/bin/env bash
# Writes a large streaming trace for the memory-bound check (RESULTS.md): repeated blocks of a
# DMA load, a small matmul and a vector op, each depending on the previous block, until the file
# reaches SIZE_MB megabytes (default 1024). Not committed: generate it where you need it.
#   tests/bench/make_big_trace.sh FILE [SIZE_MB]
set -euo pipefail
out=$1
mb=${2:-1024}
awk -v target=$((mb * 1024 * 1024)) 'BEGIN {
  print "tpusim-trace 1"
  print "meta bench=big-trace"
  bytes = 0; id = 0
  while (bytes < target) {
    l1 = sprintf("%d dma.load src=hbm:%d dst=sram:0 bytes=4096 tag=load%s", id, (id % 65536) * 4096, id ? " deps=" (id - 1) : "")
    l2 = sprintf("%d mxu.matmul m=16 n=16 k=64 dtype=bf16 a=sram:0 b=sram:8192 c=sram:16384 deps=%d tag=mm", id + 1, id)
    l3 = sprintf("%d vpu.exp elems=256 src=sram:16384 dst=sram:32768 deps=%d tag=exp", id + 2, id + 1)
    print l1; print l2; print l3
    bytes += length(l1) + length(l2) + length(l3) + 3
    id += 3
  }
}' > "$out"
