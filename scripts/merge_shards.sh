#!/usr/bin/env bash
# Merges the part CSVs of a sharded `tpusim sweep` (--shard I/N) into one CSV: the header once,
# then every data row of every part, checked on the way.
#
#   scripts/merge_shards.sh -o sweep.csv part*.csv
#
# Refuses (exit 2, nothing written) when a part is missing or empty, when a part's header
# differs from the first one's (parts of different sweeps or versions), when a part ends in a
# partial line (a shard killed mid-write: rerun it with --resume first), or when a
# (point.key, point.attention) pair appears twice (a part given twice). The output is written
# atomically and may not be one of the parts. It is the checked form of the plain recipe
#   head -n 1 part1.csv > all.csv; for f in part*.csv; do tail -n +2 "$f" >> all.csv; done
set -euo pipefail
prog=merge_shards.sh
die() { echo "$prog: error: $*" >&2; exit 2; }

out=
while [ $# -gt 0 ]; do
  case $1 in
    -o) [ $# -ge 2 ] || die "-o needs a file"; out=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; break ;;
    -*) die "unknown option $1 (usage: $prog -o OUT.csv PART.csv...)" ;;
    *) break ;;
  esac
done
[ -n "$out" ] || die "no output: $prog -o OUT.csv PART.csv..."
[ $# -ge 1 ] || die "no part files given"

header=
for f in "$@"; do
  [ -f "$f" ] || die "$f: no such file"
  [ "$f" -ef "$out" ] 2>/dev/null && die "$f: the output is one of the parts"
  [ -s "$f" ] || die "$f: empty (not a sweep CSV)"
  [ "$(tail -c 1 "$f" | od -An -c | tr -d ' ')" = '\n' ] ||
    die "$f: ends in a partial line (rerun that shard with --resume, then merge)"
  h=$(head -n 1 "$f")
  case $h in point.key,point.attention,*) ;; *) die "$f: not a tpusim sweep CSV (header)" ;; esac
  if [ -z "$header" ]; then header=$h; first=$f
  elif [ "$h" != "$header" ]; then die "$f: header differs from $first's"; fi
done

dir=$(dirname -- "$out")
[ -d "$dir" ] && [ -w "$dir" ] || die "-o $out: directory $dir is not writable"
tmp=$(mktemp "$dir/.merge_shards.XXXXXX")
trap 'rm -f "$tmp"' EXIT
printf '%s\n' "$header" >"$tmp"
for f in "$@"; do tail -n +2 -- "$f" >>"$tmp"; done
# point.key holds no comma (parameters are space-separated), so the first two fields are the id.
dup=$(tail -n +2 "$tmp" | cut -d, -f1,2 | sort | uniq -d | head -n 1)
[ -z "$dup" ] || die "row '$dup' appears twice (was a part given twice?)"
rows=$(($(wc -l <"$tmp") - 1))
mv -f -- "$tmp" "$out"
trap - EXIT
echo "$prog: $# parts, $rows rows -> $out" >&2
