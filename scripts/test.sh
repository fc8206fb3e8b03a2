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
  # SystemC's coroutine stacks and never-freed kernel statics look like leaks to LeakSanitizer,
  # so leak checking is off; every other ASan finding and every UBSan finding (built with
  # -fno-sanitize-recover) aborts the test that hit it, which fails the run.
  export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:detect_stack_use_after_return=0
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
build=${TPUSIM_BUILD_DIR:-$root/build}
TPUSIM_BUILD_DIR=$build "$root/scripts/build.sh" "${extra[@]}"
cd "$build"
ctest --output-on-failure -j "$(nproc)"
