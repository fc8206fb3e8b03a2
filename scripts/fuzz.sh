#!/usr/bin/env bash
# Builds the libFuzzer targets in tests/fuzz/ with clang (ASan + UBSan; a standalone build of the
# sources they need, not part of the CMake build) and runs each for SECONDS (default 60).
#   scripts/fuzz.sh [SECONDS] [TARGET...]     TARGET: trace_reader, config (default: both)
# Corpora grow in build-fuzz/corpus/TARGET (seeded from traces/examples and models/presets);
# crashing inputs land in build-fuzz/artifacts/. Exit status 1 if any target found a crash.
# TPUSIM_FUZZ_SEED=N fixes libFuzzer's seed (CI runs a short, seeded pass so the targets keep
# building); TPUSIM_FUZZ_DIR moves build-fuzz.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(trace_reader config)
out=${TPUSIM_FUZZ_DIR:-$root/build-fuzz}

# clang and its fuzzer runtime are only needed here, so they are not in setup.sh.
if ! command -v clang++ >/dev/null || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "fuzz: installing clang and libclang-rt-dev" >&2
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends clang libclang-rt-dev >/dev/null
fi

mkdir -p "$out/artifacts"
flags=(-std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -fno-omit-frame-pointer -I"$root" -DTPUSIM_SOURCE_DIR=\""$root"\")
build() {  # name sources... -- libs...
  local name=$1
  shift
  local bin=$out/fuzz_$name
  echo "fuzz: building $bin" >&2
  clang++ "${flags[@]}" "$@" -o "$bin"
}

status=0
for t in "${targets[@]}"; do
  corpus=$out/corpus/$t
  mkdir -p "$corpus"
  case $t in
    trace_reader)
      # Whole layers by glob, so that a file moved between them does not break this build.
      # shellcheck disable=SC2046
      build trace_reader "$root/tests/fuzz/fuzz_trace_reader.cpp" "$root"/base/*.cpp \
        "$root"/traces/*.cpp $(pkg-config --cflags --libs fmt)
      cp -n "$root"/traces/examples/*.trace "$corpus"/ ;;
    config)
      # The presets are compiled in, as in the CMake build (cmake/embed_files.cmake).
      presets=$(printf '%s|' "$root"/models/presets/*.toml)
      cmake -DOUT="$out/embedded_presets.cpp" -DFUNC=embedded_presets "-DFILES=${presets%|}" \
        -P "$root/cmake/embed_files.cmake"
      # shellcheck disable=SC2046
      build config "$root/tests/fuzz/fuzz_config.cpp" "$root/sim/config.cpp" "$root"/models/*.cpp \
        "$root"/traces/*.cpp "$root"/base/*.cpp "$out/embedded_presets.cpp" \
        $(pkg-config --cflags --libs systemc tomlplusplus fmt)
      cp -n "$root"/models/presets/*.toml "$corpus"/
      # A seed with overrides after the %% separator.
      printf '[hbm]\nchannels = 8\n%%%%\nsram.banks=64\nmxu.dataflow=os\n' > "$corpus/with_sets.toml" ;;
    *) echo "fuzz: unknown target $t (trace_reader, config)" >&2; exit 2 ;;
  esac
  echo "fuzz: running $t for ${secs}s" >&2
  # Sanitizer reports and uncaught exceptions abort; -timeout catches hangs, -rss_limit_mb
  # unbounded allocations. ASan's leak check is off: SystemC's statics are never freed.
  seed=()
  [ -n "${TPUSIM_FUZZ_SEED:-}" ] && seed=(-seed="$TPUSIM_FUZZ_SEED")
  if ! ASAN_OPTIONS=detect_leaks=0 "$out/fuzz_$t" "${seed[@]}" -max_total_time="$secs" -timeout=10 \
      -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 \
      -artifact_prefix="$out/artifacts/${t}-" "$corpus" 2>"$out/$t.log"; then
    status=1
    echo "fuzz: $t FOUND A CRASH; see $out/$t.log and $out/artifacts/" >&2
  fi
  grep -E '^stat::(number_of_executed_units|peak_rss_mb)|^Done' "$out/$t.log" | sed "s/^/fuzz: $t: /" >&2 || true
done
exit $status
