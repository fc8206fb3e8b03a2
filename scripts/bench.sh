#!/usr/bin/env bash
# Builds tpusim (Release) and prints one table: wall time, peak RSS and simulated instructions
# per second of whole CLI runs (tests/bench/RESULTS.md has the targets and past numbers).
#   scripts/bench.sh            every row
#   BENCH_ROWS="decode-dense gemm-trace" scripts/bench.sh     selected rows
#   TPUSIM_BIN=/old/build/tpusim scripts/bench.sh             another binary, no build (before/after)
#   scripts/bench.sh --baseline /old/tpusim [--runs 5]          speed against another binary
#       (issue 14): each row's wall time as a ratio baseline / this, the median over pairs of
#       runs that alternate the two binaries (so the shared machine's drift cancels), with both
#       medians beside it; --runs 1 or 2 for a quick look. BENCH_ROWS selects rows here too.
# Peak RSS comes from /usr/bin/time -v (Debian package `time`); it covers the forked
# simulation processes too (wait4 reports the largest descendant).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${TPUSIM_BUILD_DIR:-$root/build}
baseline=""
runs=5
while [ $# -gt 0 ]; do
  case $1 in
    --baseline) baseline=${2:?--baseline needs a tpusim binary}; shift 2 ;;
    --runs) runs=${2:?--runs needs a count}; shift 2 ;;
    *) echo "bench.sh: unknown argument '$1' (see the comment at the top)" >&2; exit 2 ;;
  esac
done
if [ -n "$baseline" ] && [ ! -x "$baseline" ]; then
  echo "bench.sh: --baseline: '$baseline' is not an executable" >&2
  exit 2
fi
if ! [[ $runs =~ ^[1-9][0-9]*$ ]]; then
  echo "bench.sh: --runs: '$runs' is not a positive count" >&2
  exit 2
fi
if [ -n "${TPUSIM_BIN:-}" ]; then
  bin=$TPUSIM_BIN
else
  "$root/scripts/setup.sh"
  TPUSIM_BUILD_DIR=$build "$root/scripts/build.sh" >&2
  bin=$build/tpusim
fi
selected=${BENCH_ROWS:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export SC_COPYRIGHT_MESSAGE=DISABLE

"$root/tests/bench/make_gemm_trace.sh" "$tmp/gemm.trace" 100

# Issue 14: the same command on both binaries, alternating (baseline first in odd pairs, this
# build first in even ones), wall time from the shell's clock and peak RSS from time -v (the
# largest process, the forked simulations included).
# name | target ratio baseline / this (-: none) | command (output to $tmp) | flags for this
# build only. The two "extrap" rows are not targets: this build extrapolates long prefill
# chunks (--steady-state extrapolate, not exact; RESULTS.md gives its largest difference on the
# standard sweep) against the baseline's exact runs.
vs_rows=(
  "prefill-both|4|run --phase prefill --chunk 4k --seq 128k --attention both --format json|"
  "decode-both|1.5|run --phase decode --seq 128k --attention both --format json|"
  "sweep-standard|3|sweep --seq 4k:128k:x2 --topk 512,1024,2048,4096 --phase decode,prefill -j 2 -q|"
  "prefill-extrap|-|run --phase prefill --chunk 4k --seq 128k --attention both --format json|--steady-state extrapolate"
  "sweep-extrap|-|sweep --seq 4k:128k:x2 --topk 512,1024,2048,4096 --phase decode,prefill -j 2 -q|--steady-state extrapolate"
)
vs_rss_target_mb=100

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Runs one command once; prints "wall_seconds rss_kb cpu_seconds" (CPU: user + sys of the
# process and its children), or returns 1 when the command failed. CPU comes from the shell's
# `time` (milliseconds): time -v prints it in hundredths, too coarse for a 40-ms decode row,
# whose per-pair CPU ratios then came out as 1.00x.
time_once() {
  # LC_ALL=C: the shell's time prints the locale's decimal mark, and awk reads only a point.
  local bin=$1 out=$2 cmd=$3 start TIMEFORMAT='%3U %3S' LC_ALL=C
  rm -f "$out"
  start=$EPOCHREALTIME
  # shellcheck disable=SC2086
  { time /usr/bin/time -v -o "$tmp/time.txt" "$bin" $cmd -o "$out" >/dev/null 2>"$tmp/err.txt"; } \
    2>"$tmp/cpu.txt" || return 1
  awk -v a="$start" -v b="$EPOCHREALTIME" -v cpu="$(awk '{ print $1 + $2 }' "$tmp/cpu.txt")" \
    -F': ' '/Maximum resident set size/ { k = $2 }
    END { printf "%.3f %d %.3f\n", b - a, k, cpu }' "$tmp/time.txt"
}

if [ -n "$baseline" ]; then
  # The targets are on wall time; the CPU ratio (user + sys, children included) says what the
  # change saved in work, which a loaded machine hides from the wall clock.
  printf '| %-14s | %8s | %11s | %11s | %9s | %11s | %11s | %9s | %s\n' row ratio "baseline s" "this s" \
    "CPU ratio" "base CPU s" "this CPU s" "RSS (MB)" "targets (medians of $runs pairs)"
  printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s\n' ---------------- ---------- ------------- ------------- \
    ----------- ------------- ------------- ----------- ---------
  status=0
  for row in "${vs_rows[@]}"; do
    IFS='|' read -r name target cmd this_flags <<<"$row"
    if [ -n "$selected" ] && [[ " $selected " != *" $name "* ]]; then continue; fi
    : >"$tmp/base.txt"
    : >"$tmp/this.txt"
    : >"$tmp/ratio.txt"
    : >"$tmp/base.cpu"
    : >"$tmp/this.cpu"
    : >"$tmp/cpu_ratio.txt"
    rss_max=0
    failed=""
    for ((i = 1; i <= runs; i++)); do
      if ((i % 2)); then order="base this"; else order="this base"; fi
      for who in $order; do
        if [ "$who" = base ]; then b=$baseline cmd_who=$cmd; else b=$bin cmd_who="$cmd $this_flags"; fi
        if ! r=$(time_once "$b" "$tmp/$name.$who.out" "$cmd_who"); then
          failed="$who: $(head -c 200 "$tmp/err.txt" | tr '\n' ' ')"
          break 2
        fi
        read -r w k c <<<"$r"
        echo "$w" >>"$tmp/$who.txt"
        echo "$c" >>"$tmp/$who.cpu"
        if [ "$who" = this ] && [ "$k" -gt "$rss_max" ]; then rss_max=$k; fi
      done
      paste -d' ' <(tail -n 1 "$tmp/base.txt") <(tail -n 1 "$tmp/this.txt") |
        awk '{ printf "%.4f\n", $1 / $2 }' >>"$tmp/ratio.txt"
      paste -d' ' <(tail -n 1 "$tmp/base.cpu") <(tail -n 1 "$tmp/this.cpu") |
        awk '{ printf "%.4f\n", ($2 > 0 ? $1 / $2 : 0) }' >>"$tmp/cpu_ratio.txt"
    done
    if [ -n "$failed" ]; then
      printf '| %-14s | %8s | %11s | %11s | %11s | %11s | %11s | %9s | %s\n' "$name" - - - - - - - \
        "FAILED: $failed"
      status=1
      continue
    fi
    ratio=$(median <"$tmp/ratio.txt")
    rss_mb=$(awk -v k="$rss_max" 'BEGIN { printf "%.1f", k / 1024 }')
    if [ "$target" = - ]; then
      verdict="no target (this build: $this_flags)"
    else
      verdict="ratio >= $target"
      if awk -v r="$ratio" -v t="$target" 'BEGIN { exit !(r >= t) }'; then verdict="$verdict ok"; else verdict="$verdict MISSED"; status=1; fi
    fi
    if awk -v m="$rss_mb" -v t="$vs_rss_target_mb" 'BEGIN { exit !(m < t) }'; then
      verdict="$verdict, RSS < $vs_rss_target_mb MB ok"
    else
      verdict="$verdict, RSS < $vs_rss_target_mb MB MISSED"
      status=1
    fi
    printf '| %-14s | %7.2fx | %11.3f | %11.3f | %10.2fx | %11.3f | %11.3f | %9s | %s\n' "$name" \
      "$ratio" "$(median <"$tmp/base.txt")" "$(median <"$tmp/this.txt")" \
      "$(median <"$tmp/cpu_ratio.txt")" "$(median <"$tmp/base.cpu")" "$(median <"$tmp/this.cpu")" \
      "$rss_mb" "$verdict"
  done
  exit $status
fi

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
