// --index-share and --kv-row-cache: HBM bytes and FLOPs of the generated F and S layers and of
// the row cache equal their closed forms (docs/DSA.md sections 7 and 8), derived here by hand.
#include <catch2/catch.hpp>

#include "tests/workloads/trace_checks.h"
#include "workloads/params.h"
#include "workloads/workload.h"

using namespace tpusim;
using tpusim::test::check_trace;
using tpusim::test::totals;

namespace {

WorkloadParams dsa(Phase phase, std::uint64_t L, const std::string& share) {
  WorkloadParams p;
  p.attention = Attention::kDsa;
  p.phase = phase;
  p.seq = L;
  p.index_share = share;
  resolve_params(p);
  return p;
}

// Per-layer constants (docs/DSA.md section 5): MLA row 656 B, indexer key 132 B, Q 147,456 B,
// O 131,072 B, indexer q 8,192 B + head weights 256 B; 278,528 FLOP per attended pair and
// 16,384 FP8 FLOP per scored key.
constexpr std::uint64_t kRow = 656, kKey = 132, kQ = 147456, kO = 131072, kIdxQ = 8192 + 256;
constexpr std::uint64_t kAttnPair = 278528, kIdxPair = 16384;

}  // namespace

TEST_CASE("index-share layer counts: the pattern repeats and is cut at the last layer",
          "[workloads][index_share]") {
  WorkloadParams p = dsa(Phase::kDecode, 4096, "FSSS");
  CHECK(p.layers == 61);
  CHECK(index_share_f_layers(p) == 16);  // layers 0, 4, ..., 60
  p.index_share = "FS";
  CHECK(index_share_f_layers(p) == 31);
  p.index_share = "F";
  CHECK(index_share_f_layers(p) == 61);
  CHECK_FALSE(has_shared_layers(p));
  p.index_share = "FSSS";
  p.layers = 3;  // cut after the first S's
  CHECK(index_share_f_layers(p) == 1);
  for (const char* bad : {"", "SF", "FX", "fs"})
    CHECK_THROWS_WITH(find_workload_param("index-share")->set(p, bad),
                      Catch::Contains("--index-share"));
}

TEST_CASE("decode F and S layers of --index-share FS and FSSS equal their closed forms",
          "[workloads][index_share]") {
  HwConfig hw;
  const std::uint64_t L = 32768, k = 2048;
  for (const char* share : {"FS", "FSSS"}) {
    WorkloadParams p = dsa(Phase::kDecode, L, share);
    GeneratedTrace f = generate_workload(p, hw);
    p.shared_layer = true;
    GeneratedTrace s = generate_workload(p, hw);
    REQUIRE(check_trace(s, hw.sram.capacity_bytes()).empty());
    // F layer (section 5.2, streamed keys): read 132 L + 8,448 + 656 k + 147,456; written
    // 656 + 132 + 131,072; FLOPs 16,384 L + 278,528 k.
    CHECK(totals(f).read_bytes == kKey * L + kIdxQ + kRow * k + kQ);
    CHECK(totals(f).write_bytes == kRow + kKey + kO);
    CHECK(totals(f).flops == kIdxPair * L + kAttnPair * k);
    // S layer (section 7): no indexer. Read 656 k + 147,456; written 656 + 131,072; FLOPs
    // 278,528 k.
    CHECK(totals(s).read_bytes == kRow * k + kQ);
    CHECK(totals(s).write_bytes == kRow + kO);
    CHECK(totals(s).flops == kAttnPair * k);
    CHECK(totals(s).read_bytes == s.closed_form.hbm_read_bytes);
    CHECK(totals(s).flops == s.closed_form.flops);
    // Only the F layers hold indexer keys: n_F x L x 132.
    const std::uint64_t nf = std::string(share) == "FS" ? 31 : 16;
    CHECK(f.indexer.key_cache_bytes == nf * L * kKey);
  }
}

TEST_CASE("prefill S layer of --index-share equals its closed form", "[workloads][index_share]") {
  HwConfig hw;
  // Chunk T = 4096 ending at L = 8192: S = sum over queries of min(k, visible) =
  // sum_{i=1..4096} min(2048, 4096 + i) = 4096 x 2048.
  const std::uint64_t T = 4096, S = T * 2048;
  WorkloadParams p = dsa(Phase::kPrefill, 8192, "FSSS");
  p.shared_layer = true;
  GeneratedTrace s = generate_workload(p, hw);
  REQUIRE(check_trace(s, hw.sram.capacity_bytes()).empty());
  CHECK(totals(s).flops == kAttnPair * S);
  CHECK(totals(s).read_bytes == kRow * S + T * kQ);
  CHECK(totals(s).write_bytes == T * (kRow + kO));
}

TEST_CASE("row cache at overlap 0, 0.6 and 1 equals its closed form", "[workloads][row_cache]") {
  HwConfig hw;                                              // sram.residency_mib = 64
  const std::uint64_t L = 32768, k = 2048, set = k * kRow;  // 1,343,488 B per (layer, sequence)
  for (double overlap : {0.0, 0.6, 1.0}) {
    WorkloadParams p = dsa(Phase::kDecode, L, "F");
    p.kv_row_cache = true;
    p.step_overlap = overlap;
    GeneratedTrace t = generate_workload(p, hw);
    REQUIRE(check_trace(t, hw.sram.capacity_bytes()).empty());
    // 64 MiB / 1,343,488 B = 49 whole sets of the 61 layers' (batch 1); the mean layer's query
    // finds h = round(F x 2048 x 49 / 61) rows in SRAM: 0, 987 and 1645.
    const std::uint64_t c = (64ull << 20) / set;
    REQUIRE(c == 49);
    const std::uint64_t h = overlap == 0 ? 0 : overlap == 1.0 ? 1645 : 987;
    CHECK(t.indexer.row_cache.cached_pairs == c);
    CHECK(t.indexer.row_cache.hit_rows == h);
    CHECK(totals(t).read_bytes == kKey * L + kIdxQ + kRow * (k - h) + kQ);
    CHECK(totals(t).read_bytes == t.closed_form.hbm_read_bytes);
    CHECK(totals(t).flops == kIdxPair * L + kAttnPair * k);  // the attention is unchanged
    // With --layers 4 every set fits (4 x 1.28 MiB): h = F x k exactly.
    p.layers = 4;
    GeneratedTrace all = generate_workload(p, hw);
    const auto hf = static_cast<std::uint64_t>(overlap * k + 0.5);
    CHECK(all.indexer.row_cache.hit_rows == hf);
    CHECK(totals(all).read_bytes == kKey * L + kIdxQ + kRow * (k - hf) + kQ);
  }
  // Off, or at overlap 0: today's bytes.
  WorkloadParams off = dsa(Phase::kDecode, L, "F");
  CHECK(totals(generate_workload(off, hw)).read_bytes == kKey * L + kIdxQ + kRow * k + kQ);
}

TEST_CASE("row cache and top-k guess are decode only", "[workloads][row_cache]") {
  WorkloadParams p = dsa(Phase::kPrefill, 8192, "F");
  p.kv_row_cache = true;
  CHECK_THROWS_WITH(validate_workload(p), Catch::Contains("--kv-row-cache"));
  p.kv_row_cache = false;
  p.topk_algo = TopkAlgo::kGuess;
  CHECK_THROWS_WITH(validate_workload(p), Catch::Contains("--topk-algo"));
  CHECK_THROWS_WITH(find_workload_param("step-overlap")->set(p, "1.5"),
                    Catch::Contains("--step-overlap"));
}
