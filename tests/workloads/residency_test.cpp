// Indexer key residency (--residency stream|pin|auto) against hand-derived budgets.
#include <catch2/catch.hpp>

#include <set>

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

TEST_CASE("dense decode under prefetch: each partition's first tile comes from the previous layer",
          "[workloads][residency]") {
  HwConfig hw;  // 4 MXUs: 8 split-KV partitions
  for (std::uint64_t B : {1ull, 2ull}) {
    WorkloadParams p = dsa_decode(32768, B, Residency::kStream);
    p.attention = Attention::kDense;
    GeneratedTrace stream = generate_workload(p, hw);
    p.residency = Residency::kPrefetch;
    GeneratedTrace pre = generate_workload(p, hw);
    REQUIRE(check_trace(pre, hw.sram.capacity_bytes()).empty());
    // 32768 rows in 8 partitions of 4096. A tile is 4096 / 16 = 256 rows, raised to
    // min(8 folds = 1024, 4096 / 4 = 1024) = 1024 so that it is not mostly fill and drain; SRAM
    // holds it. One such tile per partition is prefetched: 8,192 rows, 2 x 8 x 1024 x 1152 B =
    // 18 MiB for both layers' buffers, inside the 64 MiB budget.
    const std::string* tile = pre.meta.find("tile.attn_kv_tokens");
    const std::string* rows = pre.meta.find("prefetch.kv_rows");
    REQUIRE(tile != nullptr);
    REQUIRE(rows != nullptr);
    CHECK(*tile == "1024");
    CHECK(*rows == "8192");
    CHECK(stream.meta.find("prefetch.kv_rows") == nullptr);
    // The same rows cross HBM (the next layer's first tiles instead of this layer's) and the
    // same FLOPs run.
    CHECK(totals(pre).read_bytes == totals(stream).read_bytes);
    CHECK(totals(pre).flops == totals(stream).flops);
    CHECK(pre.closed_form.hbm_read_bytes == stream.closed_form.hbm_read_bytes);
    // Row 0 of sequence 0 is read once, for the next layer: after every other KV load of the
    // step, and waiting for one of them. Streaming reads it first, waiting for nothing.
    auto reads_row0 = [](const Instruction& in) {
      return in.op == Op::kDmaLoad && in.src.offset == 0;
    };
    const std::vector<Instruction> pre_ins = pre.instructions.unpack();
    const std::vector<Instruction> stream_ins = stream.instructions.unpack();
    std::size_t first_kv_load = 0, row0 = 0, loads = 0;
    for (std::size_t i = 0; i < pre.instructions.size(); ++i) {
      const Instruction& in = pre_ins[i];
      if (in.op != Op::kDmaLoad || in.bytes < 65536) continue;  // KV tiles, not Q
      ++loads;
      if (first_kv_load == 0) first_kv_load = i;
      if (reads_row0(in)) row0 = i;
    }
    REQUIRE(row0 > first_kv_load);
    CHECK_FALSE(pre_ins[row0].deps.empty());
    // Its partition's last tile load is among its dependencies.
    bool waits_for_load = false;
    for (std::uint64_t d : pre_ins[row0].deps)
      for (const Instruction& in : pre.instructions)
        if (in.id == d && in.op == Op::kDmaLoad && in.bytes >= 65536) waits_for_load = true;
    CHECK(waits_for_load);
    std::size_t stream_row0 = 0;
    for (std::size_t i = 0; i < stream.instructions.size(); ++i)
      if (reads_row0(stream_ins[i])) {
        stream_row0 = i;
        break;
      }
    CHECK(stream_ins[stream_row0].deps.empty());
    // Only sequence 0 starts from prefetched tiles: sequence 1's are loaded in the step, so the
    // loads are as many as streaming's.
    std::size_t stream_loads = 0;
    for (const Instruction& in : stream.instructions)
      if (in.op == Op::kDmaLoad && in.bytes >= 65536) ++stream_loads;
    CHECK(loads == stream_loads);
  }
  // Without room for both buffers in the residency budget nothing is prefetched.
  HwConfig small;
  small.sram.residency_mib = 1;
  WorkloadParams p = dsa_decode(32768, 1, Residency::kPrefetch);
  p.attention = Attention::kDense;
  GeneratedTrace none = generate_workload(p, small);
  REQUIRE(none.meta.find("prefetch.kv_rows") != nullptr);
  CHECK(*none.meta.find("prefetch.kv_rows") == "0");
}

TEST_CASE("prefetched KV tiles: own buffers, no waiting, new rows excluded, budget shared",
          "[workloads][residency]") {
  HwConfig hw;
  const std::uint64_t row = 656;  // fp8 KV row in HBM: 512 fp8 + 4 fp32 scales + 64 bf16
  auto range_overlaps = [](std::uint64_t a, std::uint64_t n, std::uint64_t b, std::uint64_t m) {
    return a < b + m && b < a + n;
  };
  {
    // 32k, batch 1: 8 partitions of 4096 rows, first tiles of 1024 rows prefetched (the test
    // above). A qk matmul of this layer's first tile reads a buffer no load of the step writes,
    // and waits for no KV load; the next layer's tiles (HBM rows [4096 i, 4096 i + 1024)) go
    // to a buffer no matmul of the step reads.
    WorkloadParams p = dsa_decode(32768, 1, Residency::kPrefetch);
    p.attention = Attention::kDense;
    GeneratedTrace t = generate_workload(p, hw);
    const std::vector<Instruction> ins = t.instructions.unpack();  // pointers into it are kept
    std::vector<const Instruction*> loads, qks, pvs;
    for (const Instruction& in : ins) {
      const std::string& tag = t.tags.name(in.tag);
      // KV tiles, not the query (which follows the cache in HBM).
      if (in.op == Op::kDmaLoad && tag == "attn.load" && in.src.offset < 32768 * row)
        loads.push_back(&in);
      if (in.op == Op::kMxuMatmul && tag == "attn.qk") qks.push_back(&in);
      if (in.op == Op::kMxuMatmul && tag == "attn.pv") pvs.push_back(&in);
    }
    std::set<std::uint64_t> load_ids;
    for (const Instruction* l : loads)
      load_ids.insert(l->id);
    std::size_t prefetched = 0;
    for (const Instruction* q : qks) {
      const std::uint64_t extent = q->k * q->n * 2;  // K^T tile: dqk x rows, bf16
      bool written = false;
      for (const Instruction* l : loads)
        written = written || range_overlaps(q->b.offset, extent, l->dst.offset, l->bytes);
      if (written) continue;
      ++prefetched;
      CHECK(q->n == 1024);
      for (std::uint64_t d : q->deps)
        CHECK(load_ids.count(d) == 0);
    }
    CHECK(prefetched == 8);
    std::size_t next_layer = 0;
    for (const Instruction* l : loads) {
      const std::uint64_t first_row = l->src.offset / row;
      if (first_row % 4096 >= 1024) continue;  // not a partition's first tile
      ++next_layer;
      for (const Instruction* m : qks)
        CHECK_FALSE(range_overlaps(m->b.offset, m->k * m->n * 2, l->dst.offset, l->bytes));
      for (const Instruction* m : pvs)
        CHECK_FALSE(range_overlaps(m->b.offset, m->k * m->n * 2, l->dst.offset, l->bytes));
    }
    CHECK(next_layer > 0);
  }
  for (std::uint64_t mtp : {1ull, 2ull}) {
    // L = 200 on 4 MXUs: two partitions, [0, 128) and [128, 200), one 128-row tile each. The
    // second holds the new tokens' rows (written this step), so only the first is prefetched.
    // It then loads nothing this step, and its next-layer load waits for the second
    // partition's load instead of running at the start.
    WorkloadParams p = dsa_decode(200, 1, Residency::kPrefetch);
    p.attention = Attention::kDense;
    p.mtp = mtp;
    GeneratedTrace t = generate_workload(p, hw);
    REQUIRE(check_trace(t, hw.sram.capacity_bytes()).empty());
    REQUIRE(t.meta.find("prefetch.kv_rows") != nullptr);
    CHECK(*t.meta.find("prefetch.kv_rows") == "128");
    std::set<std::uint64_t> second_loads;
    const std::vector<Instruction> ins = t.instructions.unpack();  // row0 points into it
    const Instruction* row0 = nullptr;
    for (const Instruction& in : ins) {
      if (in.op != Op::kDmaLoad || t.tags.name(in.tag) != "attn.load") continue;
      if (in.src.offset >= 200 * row) continue;  // the query
      if (in.src.offset == 0) row0 = &in;
      if (in.src.offset / row >= 128) second_loads.insert(in.id);
    }
    REQUIRE(row0 != nullptr);
    bool waits = false;
    for (std::uint64_t d : row0->deps)
      waits = waits || second_loads.count(d) > 0;
    CHECK(waits);
  }
  {
    // DSA at L <= k streams its attention like dense, and the prefetch buffers come after the
    // indexer's slots: where streaming fits, prefetching does too (with fewer or no rows).
    HwConfig tight;
    tight.sram.capacity_mib = 8.1875;
    tight.sram.residency_mib = 8;
    WorkloadParams p = dsa_decode(2048, 1, Residency::kStream);
    p.mtp = 4;
    REQUIRE_NOTHROW(generate_workload(p, tight));
    p.residency = Residency::kPrefetch;
    CHECK_NOTHROW(generate_workload(p, tight));
  }
  {
    // A row cache that no query hits (--step-overlap 0) leaves DSA at L = k streaming its
    // attention; the cache holds the residency budget, so no KV tile is prefetched.
    WorkloadParams p = dsa_decode(2048, 1, Residency::kPrefetch);
    p.kv_row_cache = true;
    p.step_overlap = 0;
    GeneratedTrace t = generate_workload(p, hw);
    REQUIRE(t.meta.find("row_cache.hit_rows") != nullptr);
    CHECK(*t.meta.find("row_cache.hit_rows") == "0");
    REQUIRE(t.meta.find("prefetch.kv_rows") != nullptr);
    CHECK(*t.meta.find("prefetch.kv_rows") == "0");
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
