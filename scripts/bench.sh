#!/usr/bin/env bash
# Builds tpusim (Release) and prints one table: wall time, peak RSS and simulated instructions
# per second of whole CLI runs (tests/bench/RESULTS.md has the targets and past numbers).
#   scripts/bench.sh            every row
#   BENCH_ROWS="decode-dense gemm-trace" scripts/bench.sh     selected rows
#   TPUSIM_BIN=/old/build/tpusim scripts/bench.sh             another binary, no build (before/after)
# Peak RSS comes from /usr/bin/time -v (Debian package `time`); it covers the forked
# simulation processes too (wait4 reports the largest descendant).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${TPUSIM_BUILD_DIR:-$root/build}
if [ -n "${TPUSIM_BIN:-}" ]; then
  bin=$TPUSIM_BIN
else
  "$root/scripts/setup.sh"
  TPUSIM_BUILD_DIR=$build "$root/scripts/build.sh" >&2
  bin=$build/tpusim
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export SC_COPYRIGHT_MESSAGE=DISABLE

"$root/tests/bench/make_gemm_trace.sh" "$tmp/gemm.trace" 100

# name | target wall seconds (empty: none) | command (JSON report on $tmp/NAME.json)
rows=(
  "decode-dense|0.2|run --seq 128k --attention dense --format json"
  "decode-dsa|0.2|run --seq 128k --attention dsa --format json"
  "prefill-dense|5|run --phase prefill --chunk 4k --seq 128k --attention dense --format json"
  "prefill-dsa|5|run --phase prefill --chunk 4k --seq 128k --attention dsa --format json"
  "gemm-trace||trace run $tmp/gemm.trace --format json"
  "sweep-j2|60|sweep --seq 4k:128k:x2 --topk 512,1024,2048,4096 --phase decode,prefill -j 2 -q"
)
rss_target_kb=$((500 * 1024))
selected=${BENCH_ROWS:-}

# HBM requests are the simulator's real unit of work (one timing-core call each); instructions
# alone say little when one DMA instruction moves gigabytes.
printf '| %-13s | %9s | %12s | %11s | %12s | %9s | %s\n' row "wall (s)" instructions "instr/s" "HBM req/s" "RSS (MB)" "targets"
printf '|%s|%s|%s|%s|%s|%s|%s\n' --------------- ----------- -------------- ------------- -------------- ----------- ---------
status=0
for row in "${rows[@]}"; do
  IFS='|' read -r name target cmd <<<"$row"
  if [ -n "$selected" ] && [[ " $selected " != *" $name "* ]]; then continue; fi
  out=$tmp/$name.json
  if [ "$name" = sweep-j2 ]; then
    # CLI11 answers `--help` after an unknown word with the top-level help and exit 0, so look
    # for the sweep subcommand's own usage line.
    if ! "$bin" sweep --help 2>/dev/null | grep -q "Usage: .*sweep"; then
      printf '| %-13s | %9s | %12s | %11s | %12s | %9s | %s\n' "$name" - - - - - "skipped: 'tpusim sweep' not available in this build"
      continue
    fi
    out=$tmp/sweep.csv
    cmd="$cmd -o $out"
  else
    cmd="$cmd -o $out"
  fi
  # shellcheck disable=SC2086
  start=$EPOCHREALTIME
  if ! /usr/bin/time -v -o "$tmp/time.txt" "$bin" $cmd >/dev/null 2>"$tmp/err.txt"; then
    printf '| %-13s | %9s | %12s | %11s | %12s | %9s | %s\n' "$name" - - - - - "FAILED: $(head -c 200 "$tmp/err.txt" | tr '\n' ' ')"
    status=1
    continue
  fi
  # time -v rounds to 10 ms; the shell's clock does not (the time wrapper adds ~1 ms).
  wall=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
  rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/time.txt")
  if [ "$name" = sweep-j2 ]; then
    read -r instr req < <(/usr/bin/python3 -c 'import csv,sys
rows = list(csv.DictReader(open(sys.argv[1])))
num = lambda r, k: int(float(r.get(k) or 0))
print(sum(num(r, "instructions") for r in rows), sum(num(r, "dram.requests") for r in rows))' "$out")
  else
    read -r instr req < <(/usr/bin/python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
print(d["instructions"], d["dram"]["requests"])' "$out")
  fi
  ips=$(awk -v i="$instr" -v w="$wall" 'BEGIN { printf "%.0f", (w > 0 ? i / w : 0) }')
  rps=$(awk -v i="$req" -v w="$wall" 'BEGIN { printf "%.3g", (w > 0 ? i / w : 0) }')
  verdict=""
  if [ -n "$target" ]; then
    if awk -v w="$wall" -v t="$target" 'BEGIN { exit !(w < t) }'; then verdict="wall < ${target} s ok"; else verdict="wall < ${target} s MISSED"; status=1; fi
  fi
  if [ "$rss_kb" -lt "$rss_target_kb" ]; then verdict="$verdict${verdict:+, }RSS ok"; else verdict="$verdict${verdict:+, }RSS >= 500 MB MISSED"; status=1; fi
  printf '| %-13s | %9s | %12s | %11s | %12s | %9.1f | %s\n' "$name" "$wall" "$instr" "$ips" "$rps" "$(awk -v k="$rss_kb" 'BEGIN{print k/1024}')" "$verdict"
done
exit $status
