// Speed of light (workloads/roofline.h) against docs/DSA.md section 5 on the tpu-v5e
// preset: 4 x 128x128 MXUs at 1.5 GHz = 131,072 bf16 FLOP per cycle (fp8 at twice that),
// 819 GB/s = 546 B per cycle, 1024 vector lanes.
#include <catch2/catch.hpp>

#include "sim/report.h"
#include "workloads/roofline.h"

using namespace tpusim;

namespace {

const HwConfig& v5e() {
  static const HwConfig hw = load_hw_config(kDefaultPreset);
  return hw;
}

WorkloadParams decode(Attention a, std::uint64_t L) {
  WorkloadParams p;
  p.attention = a;
  p.seq = L;
  return p;
}

}  // namespace

TEST_CASE("roofline: dense decode at 32k is MXU-bound at 278,528 FLOP per key", "[roofline]") {
  Roofline r = workload_roofline(decode(Attention::kDense, 32768), v5e());
  CHECK(r.work.bf16_flops == 278528.0 * 32768);
  CHECK(r.work.fp8_flops == 0);
  // Cache once, Q in (147,456 B), O out (131,072 B), the new row (656 B).
  CHECK(r.work.hbm_bytes == 656.0 * 32768 + 147456 + 131072 + 656);
  CHECK(r.bound.mxu_cycles == Approx(278528.0 * 32768 / 131072));  // 69,632
  CHECK(r.bound.hbm_cycles == Approx(r.work.hbm_bytes / (819.0 / 1.5)));
  CHECK(r.bound.bound_by == "mxu");
  CHECK(r.bound.bound_cycles == r.bound.mxu_cycles);
}

TEST_CASE("roofline: DSA decode at 128k is HBM-bound by the indexer keys", "[roofline]") {
  Roofline r = workload_roofline(decode(Attention::kDsa, 131072), v5e());
  CHECK(r.work.fp8_flops == 16384.0 * 131072);
  CHECK(r.work.bf16_flops == 278528.0 * 2048);
  // Keys 132 B each, q_idx 8,192 B, weights 256 B, k gathered rows, Q, O, new row and key.
  const double bytes = 132.0 * 131072 + 8192 + 256 + 656.0 * 2048 + 147456 + 131072 + 656 + 132;
  CHECK(r.work.hbm_bytes == bytes);
  CHECK(r.bound.bound_by == "hbm");
  CHECK(r.bound.bound_cycles == Approx(bytes / (819.0 / 1.5)));
  // Per kernel: the indexer alone is most of it; its own bound is its key stream.
  bool found = false;
  for (const auto& k : r.kernels) {
    if (k.tag != "indexer.scores") continue;
    found = true;
    CHECK(k.bound.bound_by == "hbm");
    CHECK(k.work.vpu_ops == 64.0 * 131072 * 2);  // one fused relu_wsum, 2 lane-ops per logit
  }
  CHECK(found);
}

TEST_CASE("roofline: DSA prefill VPU work is the fused epilogue, softmax and top-k", "[roofline]") {
  WorkloadParams p;
  p.phase = Phase::kPrefill;
  p.attention = Attention::kDsa;
  p.seq = 8192;
  p.chunk = 4096;
  Roofline r = workload_roofline(p, v5e());
  const double P0 = 4096, T = 4096, pairs = T * P0 + T * (T + 1) / 2;
  double S = 0, topk = 0;
  for (double i = 1; i <= T; ++i) {
    S += std::min(2048.0, P0 + i);
    topk += 4 * (P0 + i) + std::min(2048.0, P0 + i);  // 4 radix passes + k per row
  }
  CHECK(r.work.fp8_flops == 16384 * pairs);
  CHECK(r.work.bf16_flops == 278528 * S);
  // Epilogue 64 x 2 per pair; softmax 128 x 6 per selected pair; 1/l scale 128 x 512 per query.
  CHECK(r.work.vpu_ops == Approx(64 * 2 * pairs + 128 * 6 * S + T * 128 * 512 + topk));
}

TEST_CASE("add_roofline writes the roofline keys and per-kernel bounds", "[roofline][report]") {
  Roofline r = workload_roofline(decode(Attention::kDense, 32768), v5e());
  Json report;
  report["cycles"] = 2 * r.bound.bound_cycles;
  report["kernels"] = Json::array({Json{{"tag", "attn.qk"}}, Json{{"tag", "other"}}});
  add_roofline(report, r);
  CHECK(report["roofline"]["efficiency"].get<double>() == Approx(0.5));
  CHECK(report["roofline"]["bound_by"] == "mxu");
  CHECK(report["roofline"]["flops"].get<double>() == r.work.bf16_flops);
  CHECK(report["kernels"][0]["bound_cycles"].get<double>() ==
        Approx(2.0 * 128 * 576 * 32768 / 131072));  // qk alone: 147,456 FLOP per key
  CHECK_FALSE(report["kernels"][1].contains("bound_cycles"));
  auto flat = flatten_report(report);
  bool csv = false;
  for (const auto& [k, v] : flat)
    csv = csv || k == "kernel.attn.qk.bound_cycles";
  CHECK(csv);
}
