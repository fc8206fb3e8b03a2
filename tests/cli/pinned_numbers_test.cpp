// Refactors must not move a simulated number. These are the cycles and HBM bytes of the example
// traces and of the default runs at L = 8k and 128k, taken from the binary built at commit
// f7bf4c9 (before the issue-9 restructuring). A model change (a new law, a new lowering) updates
// them in its own commit, naming the commit and the reason beside the new values.
// Current values: issue 11's lowering (issue window 32, DSA prefill on every MXU, fused indexer
// epilogue; decode: L <= k as dense, per-sequence drain, two tiles per partition) on issue 10's
// HBM model, with eight DMA instructions in flight per engine (commits d374ae5, 8a0905c,
// 06519f5, bb84e80 give each step's before and after); dense MHA prefill with pushes of 16
// row folds and diagonal sub-blocks of mxu.rows queries; MXU arrays that overlap consecutive
// matmuls, with two split-KV partitions per array in decode (the commits that changed the pins
// below say what moved); the indexer's last two key tiles cut into one-fold pieces (DSA decode
// at 128k 45,449 -> 45,123 cycles); the first sequence's first gathered tiles split over every
// DMA engine (DSA decode at 128k 45,123 -> 44,767 cycles); single-query sparse decode with one
// tile per split-KV partition, the partitions merged in rounds of mxu.count (DSA decode at 8k
// 11,078 -> 10,877, 128k 44,767 -> 44,506 cycles); the step's last tiles with their pv in two
// column halves (dense decode at 8k 22,487 -> 22,422; DSA at 8k 10,877 -> 10,787, 128k 44,506
// -> 44,381); dense decode's partitions merged in rounds too (8k 22,422 -> 22,221, 128k
// 302,463 -> 302,197); those last pvs in one matmul per MXU column fold instead of halves
// (dense decode at 8k 22,221 -> 22,049, 128k 302,197 -> 301,871; DSA at 8k 10,787 -> 10,722,
// 128k 44,381 -> 44,270); the final combine and O store by column fold, each fold after its
// own last pvs, and DSA's one-tile partitions at L <= k too (dense decode at 8k 22,049 ->
// 21,910, 128k 301,871 -> 301,344; DSA at 8k 10,722 -> 10,551, 128k 44,270 -> 44,180); the
// final combine's weights with 1/l folded in, no separate pass over O (dense at 8k 21,910 ->
// 21,865; DSA at 8k 10,551 -> 10,521, 128k 44,180 -> 44,064); the idle unit that has waited
// longest takes the next instruction, instead of SystemC's run order among all idle units
// (double_buffer.trace 4,399 -> 4,343; DSA decode at 8k 10,521 -> 10,491; prefill at 8k dense
// 23,001,217 -> 23,001,037, DSA 22,915,315 -> 23,021,954; at 128k dense 430,982,438 ->
// 430,981,933, DSA 75,146,061 -> 75,145,994; no byte moves).
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_util.h"

using tpusim_test::run_tpusim;
using Json = nlohmann::json;

namespace {

struct Pinned {
  std::uint64_t cycles, read_bytes, write_bytes;
};

void check(const Json& r, const Pinned& p) {
  CHECK(r["cycles"].get<std::uint64_t>() == p.cycles);
  CHECK(r["dram"]["read_bytes"].get<std::uint64_t>() == p.read_bytes);
  CHECK(r["dram"]["write_bytes"].get<std::uint64_t>() == p.write_bytes);
}

void check_run(const std::string& flags, const Pinned& dense, const Pinned& dsa) {
  auto r = run_tpusim("run " + flags + " --format json");
  INFO(flags << "\n" << r.err);
  REQUIRE(r.exit_code == 0);
  const Json j = Json::parse(r.out);
  check(j["dense"], dense);
  check(j["dsa"], dsa);
}

}  // namespace

TEST_CASE("pinned: example traces keep their cycles and bytes", "[pinned]") {
  const std::pair<const char*, Pinned> cases[] = {
      {"double_buffer.trace", {4343, 655360, 131072}},
      {"gather_matmul.trace", {32741, 5447680, 131072}},
      {"indexer.trace", {5736, 1581056, 0}},
      {"strided_dma.trace", {1395, 36864, 16384}},
  };
  for (const auto& [name, p] : cases) {
    auto r = run_tpusim(std::string("trace run ") + TPUSIM_SOURCE_DIR + "/traces/examples/" + name +
                        " --format json");
    INFO(name << "\n" << r.err);
    REQUIRE(r.exit_code == 0);
    check(Json::parse(r.out), p);
  }
}

TEST_CASE("pinned: decode at 8k and 128k keeps its cycles and bytes", "[pinned]") {
  check_run("--phase decode --seq 8k", {21865, 5521408, 131728}, {10491, 2580736, 131860});
  check_run("--phase decode --seq 128k", {301344, 86130688, 131728}, {44064, 18800896, 131860});
}

TEST_CASE("pinned: prefill at 8k keeps its cycles and bytes", "[pinned]") {
  check_run("--phase prefill --seq 8k", {23001037, 768737280, 674824192},
            {23021954, 6202025824, 540098560});
}

TEST_CASE("pinned: prefill at 128k keeps its cycles and bytes", "[pinned]") {
  check_run("--phase prefill --seq 128k", {430981933, 9028239360, 8743616512},
            {75145994, 8321769472, 540098560});
}
