// Prefill lowering against docs/DSA.md section 5.3 (DeepSeek-V3.2, FP8 MLA cache).
#include <catch2/catch.hpp>

#include "base/cycle.h"
#include "base/error.h"
#include "tests/workloads/trace_checks.h"
#include "workloads/workload.h"

using namespace tpusim;
using tpusim::test::check_trace;
using tpusim::test::totals;

namespace {

WorkloadParams prefill(Attention a, std::uint64_t P0, std::uint64_t T) {
  WorkloadParams p;
  p.phase = Phase::kPrefill;
  p.attention = a;
  p.seq = P0 + T;
  p.chunk = T;
  return p;
}

double pairs(double P0, double T) {
  return T * P0 + T * (T + 1) / 2;
}  // visible (q, key)

double selected(std::uint64_t P0, std::uint64_t T, std::uint64_t k) {  // S of section 9.3
  double s = 0;
  for (std::uint64_t i = 1; i <= T; ++i)
    s += std::min(k, P0 + i);
  return s;
}

}  // namespace

TEST_CASE("prefill FLOPs match section 9.3 at P = 0 and P = 60k", "[workloads][prefill]") {
  HwConfig hw;
  const std::uint64_t T = 4096;
  for (std::uint64_t P0 : {0ull, 61440ull}) {
    INFO("P0=" << P0);
    const double P = pairs(P0, T);
    {
      WorkloadParams p = prefill(Attention::kDense, P0, T);
      p.dense_mode = DenseMode::kMqa;
      GeneratedTrace t = generate_workload(p, hw);
      REQUIRE(check_trace(t, hw.sram.capacity_bytes()).empty());
      double flops = 278528.0 * P;  // 2 x 128 heads x (576 + 512) per visible pair
      CHECK(totals(t).flops == Approx(flops).epsilon(0.005));
      CHECK(totals(t).read_bytes == t.closed_form.hbm_read_bytes);
      CHECK(totals(t).write_bytes == t.closed_form.hbm_write_bytes);
    }
    {
      GeneratedTrace t = generate_workload(prefill(Attention::kDense, P0, T), hw);  // MHA
      REQUIRE(check_trace(t, hw.sram.capacity_bytes()).empty());
      double flops = 81920.0 * P                          // 2 x 128 x (192 + 128) per pair
                     + 2.0 * 512 * 128 * 256 * (P0 + T);  // wkv_b over every visible latent
      CHECK(totals(t).flops - t.closed_form.masked_flops == Approx(flops).epsilon(0.005));
      // Diagonal sub-blocks of R = 128 queries, aligned to the chunk start: each multiplies
      // the keys up to its last query, so its i-th query computes 127 - i masked pairs,
      // 128 x 127 / 2 per sub-block and T x 127 / 2 per head, at 2 x (192 + 128) FLOPs each.
      CHECK(t.closed_form.masked_flops == 128ull * 640 * T * 127 / 2);
      CHECK(totals(t).read_bytes == t.closed_form.hbm_read_bytes);
      CHECK(totals(t).write_bytes == t.closed_form.hbm_write_bytes);
    }
    {
      GeneratedTrace t = generate_workload(prefill(Attention::kDsa, P0, T), hw);
      REQUIRE(check_trace(t, hw.sram.capacity_bytes()).empty());
      double S = selected(P0, T, 2048);
      double flops = 16384.0 * P      // fp8 indexer logits per visible pair
                     + 278528.0 * S;  // sparse MLA per selected pair
      CHECK(totals(t).flops == Approx(flops).epsilon(0.005));
      CHECK(test::flops_tagged(t, "attn.qk") + test::flops_tagged(t, "attn.pv") ==
            Approx(278528.0 * S).epsilon(1e-12));
      // Gather choice: every query gathers its own rows, 656 B each.
      CHECK(test::read_bytes_tagged(t, "attn.gather") == 656.0 * S);
      CHECK(totals(t).read_bytes == t.closed_form.hbm_read_bytes);
      CHECK(totals(t).write_bytes == t.closed_form.hbm_write_bytes);
      CHECK(totals(t).flops == Approx(t.closed_form.flops).epsilon(0.005));
    }
  }
}

TEST_CASE("dense MHA prefill reads the expanded K/V once per head group", "[workloads][prefill]") {
  HwConfig hw;
  for (std::uint64_t P0 : {0ull, 61440ull}) {
    const std::uint64_t T = 4096, L = P0 + T;
    GeneratedTrace t = generate_workload(prefill(Attention::kDense, P0, T), hw);  // MHA
    REQUIRE(check_trace(t, hw.sram.capacity_bytes()).empty());
    const std::uint64_t G = std::stoull(*t.meta.find("tile.mha_head_group"));
    INFO("P0=" << P0 << " G=" << G);
    REQUIRE(128 % G == 0);
    // The whole chunk's queries of a group stay on chip at the default preset: no re-reads.
    CHECK(std::stoull(*t.meta.find("tile.prefill_query_tokens")) == T);
    // Reads: Q once (T x 128 heads x 192 bf16); wkv_b once (512 x 128 x 256 fp8); every latent
    // row once (656 B); each of the 128/G head groups streams its K_nope/V slice (G x 256 bf16)
    // and the shared k_pe (64 bf16) of all L tokens once:
    //   L x (128 x 512 + (128/G) x 128)   (vs (T/Tq) x L x 65,664 when query tiles re-read).
    const double read =
        T * 128.0 * 192 * 2 + 512.0 * 128 * 256 + L * 656.0 + L * (128.0 * 512 + (128.0 / G) * 128);
    // Writes: appended latent rows, O (T x 128 x 128 bf16), expanded slices and k_pe once.
    const double write = T * (656.0 + 128 * 128 * 2) + L * (128.0 * 512 + 128);
    CHECK(totals(t).read_bytes == read);
    CHECK(totals(t).write_bytes == write);
    CHECK(totals(t).read_bytes == t.closed_form.hbm_read_bytes);
    CHECK(totals(t).write_bytes == t.closed_form.hbm_write_bytes);
    // Within 7% of reading every expanded row (65,664 B) exactly once: only the 128-B k_pe is
    // read once per group (6% at G = 4 on the default preset).
    CHECK(G >= 4);
    CHECK(L * (128.0 * 512 + (128.0 / G) * 128) < 1.07 * L * 65664);
  }
}

TEST_CASE("prefill reproduces the 9.3 example T = 8k at L = 120k", "[workloads][prefill]") {
  HwConfig hw;
  GeneratedTrace t = generate_workload(prefill(Attention::kDsa, 122880, 8192), hw);
  CHECK(totals(t).flops / 1e12 == Approx(21.7).epsilon(0.01));
  CHECK(test::flops_tagged(t, "indexer.scores") / 1e12 == Approx(17.0).epsilon(0.01));
}

TEST_CASE("prefill T = 4k at L = 128k stays under 150k instructions", "[workloads][prefill]") {
  HwConfig hw;
  for (int mode = 0; mode < 3; ++mode) {
    WorkloadParams p =
        prefill(mode == 2 ? Attention::kDsa : Attention::kDense, 131072 - 4096, 4096);
    p.dense_mode = mode == 1 ? DenseMode::kMqa : DenseMode::kMha;
    GeneratedTrace t = generate_workload(p, hw);
    WARN("prefill T=4k L=128k " << (mode == 0   ? "dense MHA"
                                    : mode == 1 ? "dense MQA"
                                                : "DSA")
                                << ": " << t.instructions.size() << " instructions");
    CHECK(t.instructions.size() < 150000);
    CHECK(check_trace(t, hw.sram.capacity_bytes()).empty());
  }
}

TEST_CASE("short-prefill MHA fallback runs DSA prefill as dense MHA", "[workloads][prefill]") {
  HwConfig hw;
  WorkloadParams p = prefill(Attention::kDsa, 0, 2048);
  p.short_prefill_mha = true;
  GeneratedTrace t = generate_workload(p, hw);
  WorkloadParams d = prefill(Attention::kDense, 0, 2048);
  CHECK(totals(t).flops == totals(generate_workload(d, hw)).flops);
  CHECK(*t.meta.find("dense_mode") == "mha");
  // Beyond k tokens of context the fallback does not apply.
  p.seq = p.chunk = 4096;
  CHECK(test::flops_tagged(generate_workload(p, hw), "indexer.scores") > 0);
}

TEST_CASE("prefill tiles follow the SRAM capacity", "[workloads][prefill]") {
  HwConfig big, small;
  small.sram.capacity_mib = 32;  // MHA keeps all of wkv_b (16 MiB fp8) on chip
  for (Attention a : {Attention::kDense, Attention::kDsa}) {
    WorkloadParams p = prefill(a, 28672, 4096);
    GeneratedTrace tb = generate_workload(p, big), ts = generate_workload(p, small);
    // Dense MHA keeps the whole chunk's queries of a head group on chip: SRAM sets the group.
    const char* key = a == Attention::kDsa ? "tile.indexer_query_tokens" : "tile.mha_head_group";
    INFO(to_string(a));
    CHECK(std::stoull(*ts.meta.find(key)) < std::stoull(*tb.meta.find(key)));
    CHECK(check_trace(ts, small.sram.capacity_bytes()) == "");
    CHECK(totals(ts).flops == Approx(totals(tb).flops).epsilon(0.005));
  }
}

TEST_CASE("prefill on the tiny model is valid in every mode", "[workloads][prefill]") {
  HwConfig hw;
  hw.sram.capacity_mib = 2;
  hw.sram.residency_mib = 0.05;
  for (Attention a : {Attention::kDense, Attention::kDsa}) {
    for (DenseMode m : {DenseMode::kMha, DenseMode::kMqa}) {
      for (Residency r : {Residency::kStream, Residency::kAuto}) {
        WorkloadParams p = prefill(a, 300, 200);
        p.model = "tiny";
        p.topk = 64;
        p.dense_mode = m;
        p.residency = r;
        p.batch = 2;
        GeneratedTrace t = generate_workload(p, hw);
        INFO(to_string(a) << " " << to_string(m) << " " << to_string(r));
        CHECK(check_trace(t, hw.sram.capacity_bytes()).empty());
        CHECK(totals(t).read_bytes == t.closed_form.hbm_read_bytes);
        CHECK(totals(t).write_bytes == t.closed_form.hbm_write_bytes);
        CHECK(totals(t).flops ==
              Approx(t.closed_form.flops + t.closed_form.masked_flops).epsilon(0.02));
      }
    }
  }
}
