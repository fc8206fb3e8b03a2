// Schedule quality of the lowerings: each test simulates one generated trace on the default
// preset and checks that the chip is fed the way a competent kernel would feed it. Each
// TEST_CASE elaborates SystemC once, in its own process (ctest).
#include <catch2/catch.hpp>

#include <algorithm>

#include "sim/config.h"
#include "sim/simulation.h"
#include "tests/workloads/trace_checks.h"
#include "workloads/workload.h"

using namespace tpusim;

namespace {

RunResult simulate_workload(const WorkloadParams& p, const HwConfig& hw) {
  GeneratedTrace t = generate_workload(p, hw);
  REQUIRE(test::check_trace(t, hw.sram.capacity_bytes()).empty());
  PackedSource src(t.instructions);
  return simulate(hw, src, t.tags, SimOptions{});
}

Cycle kernel_cycles(const RunResult& r, const std::string& tag) {
  for (std::size_t i = 0; i < r.tag_names.size() && i < r.stats.kernels.size(); ++i)
    if (r.tag_names[i] == tag) return r.stats.kernels[i].active_cycles();
  return 0;
}

}  // namespace

TEST_CASE("dense decode at 32k keeps the MXUs above 60% busy (split-KV)", "[workloads][schedule]") {
  // Bound. Work: 278,528 FLOP x 32,768 keys = 9.13 GFLOP = 4.56e9 MACs; 4 arrays of 128 x 128 do
  // 65,536 MACs a cycle, so 69.6k cycles is 100%. HBM: 656 B x 32k = 21.5 MB = 26 us at 819
  // GB/s, below the 46 us of compute, so compute bound. One online-softmax chain (qk(i) ->
  // softmax(i) -> pv(i) -> accumulate) has at most qk(i+1) and pv(i) in flight: <= 2 arrays,
  // <= 50%. With P = mxu.count independent partitions the limits are the folds themselves: qk's
  // K = 576 fills 576/640 of its 5 row folds (90%); each matmul pays R + (R + C - 2) = 382
  // cycles of weight preload and drain on ~5k (93%); the arrays start one tile load apart
  // (~1 us each of ~59 us) => about 0.90 x 0.93 x 0.95 = 80%. 60% leaves room for HBM jitter.
  HwConfig hw = load_hw_config(kDefaultPreset, {});
  WorkloadParams p;
  p.attention = Attention::kDense;
  p.seq = 32768;
  RunResult r = simulate_workload(p, hw);
  const double peak_macs = static_cast<double>(hw.mxu.count) * hw.mxu.rows * hw.mxu.cols;
  const double util = static_cast<double>(r.mxu.macs) / (peak_macs * static_cast<double>(r.cycles));
  WARN("dense decode 32k: " << r.seconds() * 1e6 << " us, MXU utilisation " << util);
  CHECK(util > 0.60);
}

TEST_CASE("DSA decode indexer scores run within 2x of their roofline", "[workloads][schedule]") {
  // Roofline of indexer.scores at L = 32k: keys 132 B x 32,768 = 4.33 MB / 819 GB/s = 5.28 us;
  // logits 16,384 FLOP x 32,768 = 0.537 GFLOP / (197 TFLOP/s bf16 x fp8_rate 2) = 1.36 us.
  // Memory bound: 5.28 us. With keys streaming through the MXU (m = tile keys, n = 64 heads
  // stationary: one weight fold per tile) and loads running several tiles ahead, the kernel
  // tracks the key stream; with the queries streaming (m = 64) each 128-key fold costs R = 128
  // cycles for 32 fp8 rows and the kernel took 18.9 us.
  HwConfig hw = load_hw_config(kDefaultPreset, {});
  WorkloadParams p;
  p.attention = Attention::kDsa;
  p.seq = 32768;
  GeneratedTrace t = generate_workload(p, hw);
  RunResult r = simulate_workload(p, hw);
  const double clock = hw.chip.clock_ghz * 1e9;
  const double key_bytes = 132.0 * 32768;
  const double flops = static_cast<double>(test::flops_tagged(t, "indexer.scores"));
  CHECK(flops == 16384.0 * 32768);
  const double fp8_peak =
      2.0 * hw.mxu.count * hw.mxu.rows * hw.mxu.cols * clock * hw.mxu.fp8_rate;  // FLOP/s
  const double bound = std::max(key_bytes / (hw.hbm.bandwidth_gbs * 1e9), flops / fp8_peak);
  const double took = static_cast<double>(kernel_cycles(r, "indexer.scores")) / clock;
  WARN("indexer.scores " << took * 1e6 << " us, roofline " << bound * 1e6 << " us");
  CHECK(took > bound);
  CHECK(took < 2 * bound);
}
