// --scope layer adds the per-token projections of docs/DSA.md section 5 ("L-independent
// per-token work"), with weights streamed from HBM once per step.
#include <catch2/catch.hpp>

#include "base/cycle.h"
#include "base/error.h"
#include "tests/workloads/trace_checks.h"
#include "workloads/workload.h"

using namespace tpusim;
using tpusim::test::check_trace;
using tpusim::test::totals;

namespace {

// Per token, DeepSeek-V3.2 (dim 7168, q_lora 1536, kv_lora 512, 128 heads).
constexpr double kWqA = 2.0 * 7168 * 1536;         // 22.0 MFLOP
constexpr double kWqB = 2.0 * 1536 * 128 * 192;    // 75.5
constexpr double kWkvA = 2.0 * 7168 * 576;         // 8.3
constexpr double kWuk = 2.0 * 128 * 128 * 512;     // 16.8 (absorb into q)
constexpr double kWuv = 2.0 * 128 * 512 * 128;     // 16.8 (absorb out of o)
constexpr double kWo = 2.0 * 128 * 128 * 7168;     // 234.9
constexpr double kIdxWqB = 2.0 * 1536 * 64 * 128;  // 25.2
constexpr double kIdxWk = 2.0 * 7168 * 128;        // 1.8
constexpr double kIdxW = 2.0 * 7168 * 64;          // 0.9

// Weight bytes per layer: fp8 except the indexer's bf16 weights_proj.
constexpr double kMlaWeights =
    7168.0 * 1536 + 1536.0 * 24576 + 7168.0 * 576 + 512.0 * 16384 + 512.0 * 16384 + 16384.0 * 7168;
constexpr double kIdxWeights = 1536.0 * 8192 + 7168.0 * 128 + 7168.0 * 64 * 2;

WorkloadParams decode(Attention a, std::uint64_t B) {
  WorkloadParams p;
  p.attention = a;
  p.seq = 32768;
  p.batch = B;
  return p;
}

}  // namespace

TEST_CASE("scope layer adds the section 9 projection FLOPs", "[workloads][scope]") {
  HwConfig hw;
  for (std::uint64_t B : {1ull, 8ull}) {
    for (Attention a : {Attention::kDense, Attention::kDsa}) {
      WorkloadParams p = decode(a, B);
      GeneratedTrace core = generate_workload(p, hw);
      p.scope = Scope::kLayer;
      GeneratedTrace layer = generate_workload(p, hw);
      INFO(to_string(a) << " B=" << B);
      REQUIRE(check_trace(layer, hw.sram.capacity_bytes()).empty());
      double mla = kWqA + kWqB + kWkvA + kWuk + kWuv + kWo;              // 374 MFLOP
      double idx = a == Attention::kDsa ? kIdxWqB + kIdxWk + kIdxW : 0;  // 27.9 MFLOP
      CHECK(mla / 1e6 == Approx(374).epsilon(0.005));
      CHECK(totals(layer).flops - totals(core).flops == Approx(B * (mla + idx)).epsilon(1e-9));
      CHECK(totals(layer).flops == layer.closed_form.flops);
      CHECK(totals(layer).read_bytes == layer.closed_form.hbm_read_bytes);
      CHECK(totals(layer).write_bytes == layer.closed_form.hbm_write_bytes);
      // Weights once per step, whatever the batch.
      double w = 0;
      for (const auto& in : layer.instructions)
        if (in.op == Op::kDmaLoad && in.bytes > 0 &&
            (layer.tags.name(in.tag) == "attn.proj" || layer.tags.name(in.tag) == "indexer.proj"))
          w += in.bytes;
      double act = totals(layer).read_bytes - totals(core).read_bytes - w;
      (void)act;
      double weights = kMlaWeights + (a == Attention::kDsa ? kIdxWeights : 0);
      CHECK(test::read_bytes_tagged(layer, "attn.proj") +
                test::read_bytes_tagged(layer, "indexer.proj") >=
            weights);
      CHECK(test::read_bytes_tagged(layer, "attn.proj") +
                test::read_bytes_tagged(layer, "indexer.proj") <
            weights + B * 1e6);
      if (a == Attention::kDsa) CHECK(test::flops_tagged(layer, "indexer.proj") == B * idx);
    }
  }
}

TEST_CASE("scope layer in MHA prefill drops the absorptions", "[workloads][scope]") {
  HwConfig hw;
  WorkloadParams p;
  p.phase = Phase::kPrefill;
  p.attention = Attention::kDense;
  p.seq = 8192;
  p.chunk = 1024;
  GeneratedTrace core = generate_workload(p, hw);
  p.scope = Scope::kLayer;
  GeneratedTrace layer = generate_workload(p, hw);
  REQUIRE(check_trace(layer, hw.sram.capacity_bytes()).empty());
  // The projections' weights leave less SRAM, so the head group (and its masked pairs) may differ.
  CHECK((totals(layer).flops - layer.closed_form.masked_flops) -
            (totals(core).flops - core.closed_form.masked_flops) ==
        Approx(1024 * (kWqA + kWqB + kWkvA + kWo)).epsilon(1e-9));
  CHECK(totals(layer).read_bytes == layer.closed_form.hbm_read_bytes);
}
