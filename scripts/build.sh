#!/usr/bin/env bash
# Configures and builds tpusim in build/ (Release). Extra arguments go to cmake's configure step.
#
# stdout stays empty, so `scripts/build.sh && build/tpusim run` prints only the table. Progress,
# warnings and errors go to stderr: on a terminal one line redrawn in place
# ("build: 45% sim/config.cpp"), otherwise one line per file compiled or linked; a build with
# nothing to do prints nothing. The exit code is the build's.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${TPUSIM_BUILD_DIR:-$root/build}
if [ ! -f "$build/CMakeCache.txt" ]; then
  echo "build.sh: configuring $build (first build: about 3 minutes on 2 cores)" >&2
fi
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null

tty=0
if [ -t 2 ]; then tty=1; fi
# Make prints "[ 45%] Building CXX object CMakeFiles/x.dir/sim/config.cpp.o", Ninja
# "[12/80] Building CXX object ...": keep the percentage and the source, drop the bookkeeping.
progress() {
  local line pct what shown=0 steps=0 start=$SECONDS
  local re='^\[ *([0-9]+)(%|/([0-9]+))\] (.*)$'
  while IFS= read -r line; do
    if [[ $line =~ $re ]]; then
      pct=${BASH_REMATCH[1]}
      if [ -n "${BASH_REMATCH[3]}" ]; then pct=$((100 * pct / BASH_REMATCH[3])); fi
      what=${BASH_REMATCH[4]}
      case $what in
        "Building CXX object "*)
          what=${what#Building CXX object }
          what=${what#*.dir/}
          what=${what%.o} ;;
        "Linking CXX "*) what="linking ${what##* }" ;;
        *) continue ;;  # "Built target", "Scanning dependencies", ...
      esac
      steps=$((steps + 1))
      if [ "$tty" = 1 ]; then
        printf '\r\033[Kbuild: %3s%% %s' "$pct" "$what"
        shown=1
      else
        printf 'build: %3s%% %s\n' "$pct" "$what"
      fi
    elif [[ $line == Consolidate* || $line == "-- "* ]]; then
      continue
    else
      # A warning or an error: on its own line, never behind the progress line.
      if [ "$shown" = 1 ]; then printf '\r\033[K'; shown=0; fi
      printf '%s\n' "$line"
    fi
  done
  if [ "$shown" = 1 ]; then printf '\r\033[K'; fi
  if [ "$steps" -gt 0 ]; then
    printf 'build: %d steps in %d s\n' "$steps" "$((SECONDS - start))"
  fi
}

set +e
cmake --build "$build" -j "$(nproc)" 2>&1 | progress >&2
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
  echo "build.sh: error: the build failed (exit $status); the compiler's messages are above" >&2
  exit "$status"
fi
test -x "$build/tpusim"
