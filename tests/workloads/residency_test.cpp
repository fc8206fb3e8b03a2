// Indexer key residency (--residency stream|pin|auto) against hand-derived budgets.
#include <catch2/catch.hpp>

#include "base/cycle.h"
#include "base/error.h"
#include "tests/workloads/trace_checks.h"
#include "workloads/workload.h"

using namespace tpusim;
using tpusim::test::check_trace;
using tpusim::test::totals;

namespace {

WorkloadParams dsa_decode(std::uint64_t L, std::uint64_t B, Residency r) {
  WorkloadParams p;
  p.attention = Attention::kDsa;
  p.seq = L;
  p.batch = B;
  p.residency = r;
  return p;
}

}  // namespace

TEST_CASE("pinned indexer keys remove exactly their HBM reads", "[workloads][residency]") {
  HwConfig hw;  // 64 MiB residency budget
  for (std::uint64_t B : {1ull, 2ull}) {
    // 61 layers x B x 4096 tokens x 132 B = 31.5 MiB per sequence: fits the budget for B <= 2.
    GeneratedTrace stream = generate_workload(dsa_decode(4096, B, Residency::kStream), hw);
    GeneratedTrace pin = generate_workload(dsa_decode(4096, B, Residency::kPin), hw);
    REQUIRE(check_trace(pin, hw.sram.capacity_bytes()).empty());
    CHECK(totals(stream).read_bytes - totals(pin).read_bytes == B * 4096 * 132);
    CHECK(totals(pin).read_bytes == pin.closed_form.hbm_read_bytes);
    CHECK(totals(stream).flops == totals(pin).flops);
    // What the indexer still reads: its q (fp8) and head weights (fp32).
    CHECK(test::read_bytes_tagged(pin, "indexer.scores") == B * (64 * 128 + 64 * 4));
    CHECK(pin.indexer.key_cache_bytes == 61 * B * 4096 * 132);
    CHECK(pin.indexer.resident_bytes == pin.indexer.key_cache_bytes);
    CHECK(pin.indexer.resident_fraction == 1.0);
    CHECK(stream.indexer.resident_bytes == 0);
    CHECK(stream.indexer.resident_fraction == 0.0);
  }
}

TEST_CASE("auto residency pins what the shared budget allows", "[workloads][residency]") {
  HwConfig hw;
  hw.sram.residency_mib = 8;
  WorkloadParams p = dsa_decode(32768, 2, Residency::kAuto);
  p.layers = 61;
  GeneratedTrace t = generate_workload(p, hw);
  REQUIRE(check_trace(t, hw.sram.capacity_bytes()).empty());
  // 8 MiB shared by 61 layers x 2 sequences of 132-B keys: floor(8388608 / 16104) = 520 tokens.
  const std::uint64_t resident = 8388608 / (61 * 2 * 132);
  REQUIRE(resident == 520);
  CHECK(t.indexer.resident_fraction == Approx(520.0 / 32768));
  CHECK(t.indexer.resident_bytes == 61 * 2 * 520 * 132);
  CHECK(t.indexer.key_cache_bytes == 61 * 2 * 32768ull * 132);
  GeneratedTrace s = generate_workload(dsa_decode(32768, 2, Residency::kStream), hw);
  CHECK(totals(s).read_bytes - totals(t).read_bytes == 2 * 520 * 132);
  // Fewer layers sharing the budget pin more of each.
  p.layers = 1;
  GeneratedTrace one = generate_workload(p, hw);
  CHECK(one.indexer.resident_fraction == Approx((8388608.0 / (2 * 132)) / 32768).epsilon(1e-4));
  // A budget larger than the cache pins all of it.
  hw.sram.residency_mib = 64;
  p.seq = 2048;
  p.layers = 0;
  CHECK(generate_workload(p, hw).indexer.resident_fraction == 1.0);
}

TEST_CASE("pinning a cache that does not fit names the budget", "[workloads][residency]") {
  HwConfig hw;
  CHECK_THROWS_WITH(generate_workload(dsa_decode(131072, 1, Residency::kPin), hw),
                    Catch::Contains("sram.residency_mib"));
  // A budget beyond the SRAM itself is caught too.
  hw.sram.residency_mib = 512;
  CHECK_THROWS_WITH(generate_workload(dsa_decode(32768, 1, Residency::kPin), hw),
                    Catch::Contains("sram.residency_mib"));
  // Dense attention has no indexer: residency is moot.
  WorkloadParams p = dsa_decode(131072, 1, Residency::kPin);
  p.attention = Attention::kDense;
  HwConfig def;
  CHECK(generate_workload(p, def).indexer.key_cache_bytes == 0);
}

TEST_CASE("prefetched indexer keys still cross HBM once per step, into a second buffer",
          "[workloads][residency]") {
  HwConfig hw;
  hw.sram.residency_mib = 8;
  for (std::uint64_t B : {1ull, 2ull}) {
    // Two layers' keys share the budget, whatever the layer count: floor(8 MiB / (2 x B x 132))
    // tokens per sequence; 31,775 at B = 1 and 15,887 at B = 2, so 32k is partly streamed.
    const std::uint64_t L = 32768, R = std::min<std::uint64_t>(L, 8388608 / (2 * B * 132));
    GeneratedTrace stream = generate_workload(dsa_decode(L, B, Residency::kStream), hw);
    GeneratedTrace pre = generate_workload(dsa_decode(L, B, Residency::kPrefetch), hw);
    REQUIRE(check_trace(pre, hw.sram.capacity_bytes()).empty());
    CHECK(pre.indexer.resident_fraction == Approx(double(R) / double(L)));
    CHECK(pre.indexer.resident_bytes == 2 * B * R * 132);
    // Keys [0, R) of each sequence are read for the next layer, [R, L) for this one: every key
    // once, as streaming reads them, and the closed form (the roofline's bytes) agrees.
    CHECK(totals(pre).read_bytes == totals(stream).read_bytes);
    CHECK(totals(pre).read_bytes == pre.closed_form.hbm_read_bytes);
    CHECK(pre.closed_form.hbm_read_bytes == stream.closed_form.hbm_read_bytes);
    CHECK(test::read_bytes_tagged(pre, "indexer.scores") == B * (L * 132 + 64 * 128 + 64 * 4));
    CHECK(totals(pre).flops == totals(stream).flops);
  }
}

TEST_CASE("prefetch is refused where it is not modelled", "[workloads][residency]") {
  HwConfig hw;
  WorkloadParams p = dsa_decode(8192, 1, Residency::kPrefetch);
  p.phase = Phase::kPrefill;
  p.chunk = 4096;
  CHECK_THROWS_WITH(generate_workload(p, hw), Catch::Contains("--residency prefetch"));
  p = dsa_decode(8192, 1, Residency::kPrefetch);
  p.index_share = "FS";
  p.layers = 2;
  CHECK_THROWS_WITH(generate_workload(p, hw), Catch::Contains("--index-share"));
}
