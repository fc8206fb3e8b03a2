#!/usr/bin/env bash
# Configures and builds tpusim in build/ (Release). Extra arguments go to cmake's configure step.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${TPUSIM_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build" -j "$(nproc)" 2>&1 | grep -v -E '^\[ *[0-9]+%\]|^Consolidate|^-- ' || true
test -x "$build/tpusim"
