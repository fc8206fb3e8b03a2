// At L <= k DSA selects every key: it does dense attention's work plus the indexer, so it can
// never be faster than dense. Issue 11 found it faster with --mtp 2 on an H800-balanced chip
// (tile and partition rounding); this pins the law for MTP 1 and 2, batch 1 and 8, on the
// default chip and on that H800-like configuration. Each point is a real `tpusim run`.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_util.h"

using tpusim_test::run_tpusim;
using Json = nlohmann::json;

namespace {

// H800 peaks (990 TFLOPS bf16 at 1.83 GHz over 132 arrays of 32x64 with fp8 at twice the rate,
// 3.35 TB/s) with enough SRAM banks, DMA engines and vector lanes to feed them (issue 11).
const char* kH800Sets =
    " --set chip.clock_ghz=1.83 --set mxu.count=132 --set mxu.rows=32 --set mxu.cols=64"
    " --set mxu.fp8_rate=2 --set hbm.bandwidth_gbs=3350 --set hbm.channels=32"
    " --set sram.capacity_mib=50 --set sram.residency_mib=25 --set sram.banks=264"
    " --set dma.engines=16 --set vpu.lanes=16896";

void check_not_faster(const std::string& hw, const char* name, std::initializer_list<int> batches) {
  for (const char* seq : {"1k", "2k"}) {
    for (int mtp : {1, 2}) {
      for (int batch : batches) {
        auto r = run_tpusim("run --seq " + std::string(seq) + " --topk 2048 --mtp " +
                            std::to_string(mtp) + " --batch " + std::to_string(batch) +
                            " --format json" + hw);
        REQUIRE(r.exit_code == 0);
        const double s = Json::parse(r.out)["speedup"].get<double>();
        INFO(name << " L = " << seq << " mtp " << mtp << " batch " << batch << ": speedup " << s);
        CHECK(s <= 1.0);
      }
    }
  }
}

}  // namespace

TEST_CASE("DSA is never faster than dense at L <= k on tpu-v5e (MTP 1, 2; batch 1, 8)",
          "[trend][dsa]") {
  check_not_faster("", "tpu-v5e", {1, 8});
}

TEST_CASE("DSA is never faster than dense at L <= k on an H800-like chip, batch 1",
          "[trend][dsa]") {
  check_not_faster(kH800Sets, "h800-balanced", {1});
  check_not_faster(" --hw h800-like", "h800-like", {1});
}

// Batch 8 was the last open case of issue 11 (DSA 1.03-1.17x faster on h800-like): dense
// deferred each sequence's tail into the next, and at L <= k DSA gathered every row on a
// different tile grid. Both now share dense's schedule, plus the indexer.
TEST_CASE("DSA is never faster than dense at L <= k on an H800-like chip, batch 8",
          "[trend][dsa]") {
  check_not_faster(kH800Sets, "h800-balanced", {8});
  check_not_faster(" --hw h800-like", "h800-like", {8});
}

// With the indexer keys prefetched during the previous layer (--residency prefetch) the key
// stream leaves the step's critical path, but the indexer's matmuls and top-k still come before
// an attention that is dense's: still never faster.
TEST_CASE("DSA with prefetched keys is never faster than dense at L <= k", "[trend][dsa]") {
  check_not_faster(" --residency prefetch", "tpu-v5e prefetch", {1, 8});
  check_not_faster(" --hw h800-like --residency prefetch", "h800-like prefetch", {1});
}
