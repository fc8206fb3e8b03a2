#!/usr/bin/env bash
# Installs dependencies, builds, and runs the whole test suite.
#   scripts/test.sh              Release build in build/
#   scripts/test.sh --sanitize   ASan+UBSan build in build-sanitize/
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
extra=()
if [ "${1:-}" = "--sanitize" ]; then
  export TPUSIM_BUILD_DIR=$root/build-sanitize
  extra=(-DTPUSIM_SANITIZE=ON)
fi
build=${TPUSIM_BUILD_DIR:-$root/build}
TPUSIM_BUILD_DIR=$build "$root/scripts/build.sh" "${extra[@]}"
cd "$build"
ctest --output-on-failure -j "$(nproc)"
