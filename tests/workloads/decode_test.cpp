// Decode lowering against docs/DSA.md section 5.1-9.2 (DeepSeek-V3.2, FP8 MLA cache).
#include <catch2/catch.hpp>

#include <algorithm>
#include <unordered_map>

#include "base/cycle.h"
#include "base/error.h"
#include "tests/workloads/trace_checks.h"
#include "workloads/lowering.h"
#include "workloads/workload.h"

using namespace tpusim;
using tpusim::test::check_trace;
using tpusim::test::totals;

namespace {

WorkloadParams decode(Attention a, std::uint64_t L, std::uint64_t k, std::uint64_t B) {
  WorkloadParams p;
  p.attention = a;
  p.seq = L;
  p.topk = k;
  p.batch = B;
  return p;
}

// Per-query constants of DeepSeek-V3.2 (h = 128, d_qk = 576, d_v = 512, H_I = 64, d_I = 128).
constexpr double kMlaFlopsPerKey = 2.0 * 128 * (576 + 512);  // 278,528
constexpr double kIdxFlopsPerKey = 2.0 * 64 * 128;           // 16,384
constexpr double kRow = 656;                                 // FP8 MLA row
constexpr double kKey = 132;                                 // indexer key
constexpr double kQ = 128 * 576 * 2;                         // 147,456 B query in
constexpr double kO = 128 * 512 * 2;                         // 131,072 B output out

void check_close(double got, double want) {
  INFO("got " << got << " want " << want);
  CHECK(got == Approx(want).epsilon(0.005));
}

}  // namespace

TEST_CASE("decode dense MLA matches the closed form of section 9.1", "[workloads][decode]") {
  HwConfig hw;
  for (std::uint64_t L : {1024ull, 2048ull, 32768ull, 131072ull}) {
    for (std::uint64_t B : {1ull, 4ull}) {
      GeneratedTrace t = generate_workload(decode(Attention::kDense, L, 2048, B), hw);
      INFO("L=" << L << " B=" << B);
      REQUIRE(check_trace(t, hw.sram.capacity_bytes()).empty());
      auto s = totals(t);
      double flops = B * (kMlaFlopsPerKey * L);  // QK + PV over every cached token
      double read = B * (kRow * L                // stream the whole MLA cache
                         + kQ);                  // query in
      double write = B * (kRow                   // new token's row appended
                          + kO);                 // output out
      check_close(s.flops, flops);
      check_close(s.read_bytes, read);
      check_close(s.write_bytes, write);
      CHECK(s.flops == t.closed_form.flops);
      CHECK(s.read_bytes == t.closed_form.hbm_read_bytes);
      CHECK(s.write_bytes == t.closed_form.hbm_write_bytes);
    }
  }
}

TEST_CASE("decode DSA matches the closed form of section 9.2", "[workloads][decode]") {
  HwConfig hw;
  struct Point {
    std::uint64_t L, k, B;
  };
  // L < k, L = k, and long context; two batch sizes.
  for (Point pt : {Point{1024, 2048, 1}, Point{2048, 2048, 1}, Point{2048, 2048, 3},
                   Point{32768, 2048, 2}, Point{131072, 2048, 1}, Point{131072, 512, 1}}) {
    GeneratedTrace t = generate_workload(decode(Attention::kDsa, pt.L, pt.k, pt.B), hw);
    INFO("L=" << pt.L << " k=" << pt.k << " B=" << pt.B);
    REQUIRE(check_trace(t, hw.sram.capacity_bytes()).empty());
    auto s = totals(t);
    double k_eff = std::min(pt.k, pt.L);
    double flops = pt.B * (kIdxFlopsPerKey * pt.L       // indexer logits over every key
                           + kMlaFlopsPerKey * k_eff);  // sparse MLA over the selection
    double read = pt.B * (kKey * pt.L                   // every indexer key streamed
                          + 64 * 128                    // indexer q, fp8
                          + 64 * 4                      // head weights, fp32
                          + kRow * k_eff                // gathered MLA rows
                          + kQ);                        // query in
    double write = pt.B * (kRow                         // new MLA row
                           + kKey                       // new indexer key
                           + kO);                       // output out
    check_close(s.flops, flops);
    check_close(s.read_bytes, read);
    check_close(s.write_bytes, write);
    CHECK(s.flops == t.closed_form.flops);
    CHECK(s.read_bytes == t.closed_form.hbm_read_bytes);
    CHECK(s.write_bytes == t.closed_form.hbm_write_bytes);
    // At L <= k every row is selected, and the cache is streamed (attn.load) as dense does.
    CHECK(test::read_bytes_tagged(t, "attn.gather") == (pt.k < pt.L ? pt.B * kRow * k_eff : 0));
  }
}

TEST_CASE("decode at 128k reproduces the table of section 9.2", "[workloads][decode]") {
  HwConfig hw;
  auto dense = totals(generate_workload(decode(Attention::kDense, 131072, 2048, 1), hw));
  auto dsa = totals(generate_workload(decode(Attention::kDsa, 131072, 2048, 1), hw));
  CHECK(dense.flops / 1e9 == Approx(36.51).epsilon(0.005));
  CHECK(dsa.flops / 1e9 == Approx(2.718).epsilon(0.005));
  // The table's MB leave out Q in and O out.
  CHECK((dense.read_bytes + dense.write_bytes - kQ - kO) / 1e6 == Approx(86.0).epsilon(0.005));
  CHECK((dsa.read_bytes + dsa.write_bytes - kQ - kO) / 1e6 == Approx(18.6).epsilon(0.005));
}

TEST_CASE("decode with MTP multiplies FLOPs by s_q", "[workloads][decode]") {
  HwConfig hw;
  for (Attention a : {Attention::kDense, Attention::kDsa}) {
    WorkloadParams p = decode(a, 8192, 2048, 2);
    GeneratedTrace one = generate_workload(p, hw);
    p.mtp = 2;
    GeneratedTrace two = generate_workload(p, hw);
    REQUIRE(check_trace(two, hw.sram.capacity_bytes()).empty());
    CHECK(totals(two).flops == 2 * totals(one).flops);
    CHECK(totals(two).flops == two.closed_form.flops);
    CHECK(totals(two).read_bytes == two.closed_form.hbm_read_bytes);
  }
}

TEST_CASE("decode traces stay small and use every tag they should", "[workloads][decode]") {
  HwConfig hw;
  GeneratedTrace dsa = generate_workload(decode(Attention::kDsa, 131072, 2048, 1), hw);
  GeneratedTrace dense = generate_workload(decode(Attention::kDense, 131072, 2048, 1), hw);
  WARN("decode L=128k instructions: dense " << dense.instructions.size() << ", DSA "
                                            << dsa.instructions.size());
  CHECK(dsa.instructions.size() < 3000);
  CHECK(dense.instructions.size() < 3000);
  for (const char* tag : {"kv.append", "indexer.scores", "indexer.topk", "attn.gather", "attn.load",
                          "attn.qk", "attn.softmax", "attn.pv"}) {
    bool found = false;
    for (const auto& in : dsa.instructions)
      found |= dsa.tags.name(in.tag) == tag;
    INFO(tag);
    CHECK(found);
  }
}

TEST_CASE("decode tile sizes follow the SRAM capacity", "[workloads][decode]") {
  HwConfig big, small;
  small.sram.capacity_mib = 4;
  small.sram.residency_mib = 0;
  for (Attention a : {Attention::kDense, Attention::kDsa}) {
    WorkloadParams p = decode(a, 131072, 2048, 1);
    GeneratedTrace tb = generate_workload(p, big), ts = generate_workload(p, small);
    // DSA's attention tile is bounded by k; its indexer tile streams the long cache.
    const char* key = a == Attention::kDsa ? "tile.indexer_key_tokens" : "tile.attn_kv_tokens";
    std::uint64_t lt_big = std::stoull(*tb.meta.find(key));
    std::uint64_t lt_small = std::stoull(*ts.meta.find(key));
    INFO(to_string(a) << " big " << lt_big << " small " << lt_small);
    CHECK(lt_small < lt_big);
    REQUIRE(check_trace(ts, small.sram.capacity_bytes()).empty());
    CHECK(ts.sram_peak_bytes <= small.sram.capacity_bytes());
    // Same work whatever the tiling.
    CHECK(totals(ts).flops == totals(tb).flops);
    CHECK(totals(ts).read_bytes == totals(tb).read_bytes);
  }
  HwConfig tiny;
  tiny.sram.capacity_mib = 0.01;
  CHECK_THROWS_WITH(generate_workload(decode(Attention::kDense, 4096, 2048, 1), tiny),
                    Catch::Contains("sram.capacity_mib"));
}

TEST_CASE("short-context decode keeps one-tile partitions, for DSA's attention too",
          "[workloads][decode]") {
  // A many-array chip (132 arrays of 64 columns, an 80 MiB pool, as h800-like). At L = 2k the
  // plan wants 2 x 132 = 264 partitions; each gets ceil(2048 / 264) = 8 rows, rounded up to one
  // 64-column fold, so the range is cut into 2048 / 64 = 32 partitions of one 64-row tile.
  // Dense keeps all 32 (it once halved them to give each two tiles). DSA at L <= k attends the
  // cache as dense does, and its indexer's 2k keys need far less than half the SRAM left after
  // the per-sequence sets, so its attention plans the same 32 (an even split gave it 16 with
  // --mtp 2).
  HwConfig hw;
  hw.mxu.count = 132;
  hw.mxu.rows = 32;
  hw.mxu.cols = 64;
  hw.sram.capacity_mib = 80;
  for (Attention a : {Attention::kDense, Attention::kDsa}) {
    for (std::uint64_t mtp : {1, 2}) {
      WorkloadParams p = decode(a, 2048, 2048, 8);
      p.mtp = mtp;
      GeneratedTrace t = generate_workload(p, hw);
      INFO(to_string(a) << " --mtp " << mtp);
      REQUIRE(check_trace(t, hw.sram.capacity_bytes()).empty());
      CHECK(*t.meta.find("split_kv.partitions") == "32");
      CHECK(*t.meta.find("tile.attn_kv_tokens") == "64");
    }
  }
}

TEST_CASE("decode cuts the indexer's last two key tiles into one-fold pieces",
          "[workloads][decode]") {
  // At L = 64k the grid has 64 tiles of 1024 keys (64k / kIndexerTiles, a multiple of the 128
  // MXU columns). The last two are cut into 128-key pieces: 62 matmuls of m = 1024 and 16 of
  // m = 128, covering every key once, in order, with no piece straddling a grid tile.
  HwConfig hw;
  GeneratedTrace t = generate_workload(decode(Attention::kDsa, 65536, 2048, 1), hw);
  REQUIRE(check_trace(t, hw.sram.capacity_bytes()).empty());
  REQUIRE(*t.meta.find("tile.indexer_key_tokens") == "1024");
  std::vector<std::uint64_t> m;
  for (const auto& in : t.instructions)
    if (in.op == Op::kMxuMatmul && t.tags.name(in.tag) == "indexer.scores") m.push_back(in.m);
  REQUIRE(m.size() == 62 + 16);
  std::uint64_t keys = 0;
  for (std::size_t i = 0; i < m.size(); ++i) {
    CHECK(m[i] == (i < 62 ? 1024u : 128u));
    keys += m[i];
  }
  CHECK(keys == 65536);
  // At 8k the tiles are one fold already (8k / 64 = 128 keys): nothing to cut.
  GeneratedTrace s = generate_workload(decode(Attention::kDsa, 8192, 2048, 1), hw);
  std::uint64_t n = 0;
  for (const auto& in : s.instructions)
    if (in.op == Op::kMxuMatmul && s.tags.name(in.tag) == "indexer.scores") n += in.m == 128;
  CHECK(n == 64);
}

TEST_CASE("decode gathers honour the pattern and spread over engines", "[workloads][decode]") {
  HwConfig hw;
  WorkloadParams p = decode(Attention::kDsa, 65536, 2048, 1);
  p.pattern = parse_gather_pattern("recent:8192");
  GeneratedTrace t = generate_workload(p, hw);
  REQUIRE(check_trace(t, hw.sram.capacity_bytes()).empty());
  std::uint64_t rows = 0, gathers = 0;
  for (const auto& in : t.instructions) {
    if (in.op != Op::kDmaGather) continue;
    ++gathers;
    rows += in.rows;
    // Every gathered row lies in the last 8192 rows of the sequence's table.
    std::uint64_t first_row = (in.src.offset - 0) / 656;
    CHECK(first_row + in.span >= 65536 - 8192);
  }
  CHECK(rows == 2048);
  CHECK(gathers >= hw.dma.engines);
  p.pattern = parse_gather_pattern("recent:1000");
  CHECK_THROWS_WITH(generate_workload(p, hw), Catch::Contains("--pattern"));
}

TEST_CASE("decode splits the first sequence's first gathered tiles over every engine",
          "[workloads][decode]") {
  // k = 2048 rows in 128-row tiles, one per partition: 16 partitions (4 per array). At batch 1
  // the first tiles of the first 2 x 4 partitions, which the arrays start on, go to all 4 engines
  // (32 rows each); the other 8 tiles stay whole (one 84-KB gather: below two 64-KiB pieces).
  HwConfig hw;
  auto gathers = [&](const WorkloadParams& p) {
    GeneratedTrace t = generate_workload(p, hw);
    REQUIRE(check_trace(t, hw.sram.capacity_bytes()).empty());
    std::vector<std::uint64_t> rows;
    for (const auto& in : t.instructions)
      if (in.op == Op::kDmaGather) rows.push_back(in.rows);
    return rows;
  };
  std::vector<std::uint64_t> b1 = gathers(decode(Attention::kDsa, 32768, 2048, 1));
  REQUIRE(b1.size() == 8 * 4 + 8);
  for (std::size_t i = 0; i < b1.size(); ++i)
    CHECK(b1[i] == (i < 32 ? 32u : 128u));
  // When loads queue behind the gathers (the next sequence's keys at batch 2, the next layer's
  // prefetched keys), the first tiles are halved (64 rows), so that 16 pieces, not 32, wait for
  // top-k in the DMA issue window; the second sequence gathers 16 whole tiles.
  std::vector<std::uint64_t> b2 = gathers(decode(Attention::kDsa, 32768, 2048, 2));
  REQUIRE(b2.size() == 8 * 2 + 8 + 16);
  for (std::size_t i = 0; i < b2.size(); ++i)
    CHECK(b2[i] == (i < 16 ? 64u : 128u));
  WorkloadParams pf = decode(Attention::kDsa, 32768, 2048, 1);
  pf.residency = Residency::kPrefetch;
  std::vector<std::uint64_t> p1 = gathers(pf);
  REQUIRE(p1.size() == 8 * 2 + 8);
  for (std::size_t i = 0; i < p1.size(); ++i)
    CHECK(p1[i] == (i < 16 ? 64u : 128u));
}

TEST_CASE("workload flag parsers name the flag", "[workloads]") {
  CHECK(parse_phase("prefill") == Phase::kPrefill);
  CHECK(to_string(parse_residency("auto")) == "auto");
  CHECK_THROWS_WITH(parse_phase("foo"), "--phase: 'foo' is not one of decode, prefill");
  CHECK_THROWS_WITH(parse_attention("x"), Catch::StartsWith("--attention:"));
  CHECK_THROWS_WITH(parse_residency("x"), Catch::Contains("stream, pin, auto"));
  CHECK_THROWS_WITH(parse_gather_pattern("zigzag"), Catch::StartsWith("--pattern:"));
  HwConfig hw;
  WorkloadParams p;
  p.model = "no-such-model";
  CHECK_THROWS_WITH(generate_workload(p, hw), Catch::StartsWith("--model:"));
  p.model = "tiny";
  p.topk = 0;
  CHECK_THROWS_WITH(generate_workload(p, hw), Catch::StartsWith("--topk"));
}

TEST_CASE("decode merges its split-KV partitions in rounds, then one combine pass",
          "[workloads][decode]") {
  HwConfig hw;                // 4 MXUs of 128 columns
  std::uint64_t pv_cols = 0;  // output columns over every pv matmul
  // The combines are multiply-add passes (vpu.add with the weights broadcast), never a
  // separate multiply pass: no vpu.mul in the softmax tag.
  auto count = [&](const WorkloadParams& p, std::uint64_t& pv, std::uint64_t& adds,
                   std::uint64_t& add_elems) {
    GeneratedTrace t = generate_workload(p, hw);
    pv = adds = add_elems = pv_cols = 0;
    std::uint64_t muls = 0;
    for (const auto& in : t.instructions) {
      if (t.tags.name(in.tag) == "attn.pv" && in.op == Op::kMxuMatmul) {
        ++pv;
        pv_cols += in.n;
      }
      if (t.tags.name(in.tag) != "attn.softmax") continue;
      if (in.op == Op::kVpuAdd) {
        ++adds;
        add_elems += in.elems;
      }
      if (in.op == Op::kVpuMul) ++muls;
    }
    CHECK(muls == 0);
  };
  std::uint64_t pv = 0, adds = 0, add_elems = 0;
  // DSA at L = 4k, k = 2048, one query: 16 partitions of one 128-row tile (4 per array). Each pv
  // writes its partition's accumulator, so no tile accumulates. Each is its partition's last
  // tile in the step's last chain, so its pv is one matmul per 128-column fold of d_v = 512: four
  // of 128 columns (64 in all). Rounds of 4 partitions (one per array) while more than 4 remain:
  // [0, 4) alone, then [4, 8) and [8, 12) each with the running result, 4 + 5 + 5 parts of 128
  // heads x 513 (d_v and the row sum), one multiply-add per element. The last 4 partitions and
  // the running result (5 parts) are combined in the tail: the row sums first (5 x 128), then
  // one pass per column fold (5 x 128 x 128 each) into normalised O, each then stored.
  count(decode(Attention::kDsa, 4096, 2048, 1), pv, adds, add_elems);
  CHECK(pv == 4 * 16);
  CHECK(pv_cols == 16 * 512);  // the folds cover d_v once per tile
  CHECK(adds == 3 + 1 + 4);
  CHECK(add_elems == (4 + 5 + 5) * 128 * 513 + 5 * 128 * (1 + 512));
  // MTP 2: 8 partitions of two 128-row tiles, each query its own chain through them: 2 x 16
  // tiles, of which each (partition, query) chain's second accumulates (16 x 128 x 512); the
  // last query's second tiles (8) split their pv in four folds, so 24 + 8 x 4 pv matmuls. One
  // round of 4 partitions (4 x 256 rows x 513: both queries' heads), then 4 + 1 parts in two
  // halves of the 256 rows.
  WorkloadParams mtp = decode(Attention::kDsa, 4096, 2048, 1);
  mtp.mtp = 2;
  count(mtp, pv, adds, add_elems);
  CHECK(pv == 24 + 8 * 4);
  CHECK(pv_cols == 32 * 512);
  CHECK(adds == 16 + 1 + 2);
  CHECK(add_elems == 16 * 128 * 512 + 4 * 256 * 513 + 2 * 5 * 128 * 513);
  // Dense at L = 4k: 8 partitions (two per array) of 512 rows in four 128-row tiles; every
  // tile but a chain's first accumulates (8 x 3 x 128 x 512). The partitions all finish near
  // the end, but still merge in rounds: [0, 4) (4 x 128 x 513), then 4 + 1 parts by column
  // fold. Each partition's last tile is in the step's last chain: 32 tiles, 8 pvs in four
  // folds; the last tiles of the 4 partitions left to the final combine also accumulate fold by
  // fold (20 whole accumulates and 4 x 4 pieces, the same elements).
  count(decode(Attention::kDense, 4096, 2048, 1), pv, adds, add_elems);
  CHECK(pv == 24 + 8 * 4);
  CHECK(pv_cols == 32 * 512);
  CHECK(adds == 20 + 16 + 1 + 1 + 4);
  CHECK(add_elems == 24 * 128 * 512 + 4 * 128 * 513 + 5 * 128 * (1 + 512));
  // Arrays of 64 columns (as h800-like's): d_v = 512 is eight column folds, so each of DSA's 16
  // one-tile partitions (still 128 rows: 2048 / 16 is a whole number of 64-column folds) issues
  // its last pv as eight matmuls of 64 columns.
  hw.mxu.cols = 64;
  count(decode(Attention::kDsa, 4096, 2048, 1), pv, adds, add_elems);
  CHECK(pv == 8 * 16);
  CHECK(pv_cols == 16 * 512);
}

TEST_CASE("decode's final combine and O store run fold by fold, each after its own pvs",
          "[workloads][decode]") {
  // DSA at L = 4k, k = 2048, one query: 16 one-tile partitions, the last 4 left to the final
  // combine, each with its last pv in four 128-column pieces (emitted consecutively, fold 0
  // first). Fold f's combine pass (the 4 partitions and the running result, 5 x 128 x 128
  // elements) must wait for fold f of each of those 4 partitions, and for no other fold's pv
  // (else it could not start before the arrays finish the last folds); its store moves 128
  // columns of bf16 out of each 1-KiB row of O (128 rows, stride 1024).
  HwConfig hw;
  GeneratedTrace t = generate_workload(decode(Attention::kDsa, 4096, 2048, 1), hw);
  const std::vector<Instruction> ins = t.instructions.unpack();
  std::unordered_map<std::uint64_t, std::size_t> at;
  for (std::size_t i = 0; i < ins.size(); ++i)
    at[ins[i].id] = i;
  // Fold index of each split pv piece: its position in its run of 4 consecutive pieces over
  // the same scores (operand A).
  std::unordered_map<std::uint64_t, std::uint64_t> fold;
  for (std::size_t i = 0; i + 3 < ins.size(); ++i) {
    bool run = true;
    for (std::size_t f = 0; f < 4 && run; ++f)
      run = t.tags.name(ins[i + f].tag) == "attn.pv" && ins[i + f].op == Op::kMxuMatmul &&
            ins[i + f].n == 128 && ins[i + f].a.offset == ins[i].a.offset;
    if (!run) continue;
    for (std::size_t f = 0; f < 4; ++f)
      fold[ins[i + f].id] = f;
    i += 3;
  }
  REQUIRE(fold.size() == 16 * 4);
  std::vector<std::size_t> stores;
  for (std::size_t i = 0; i < ins.size(); ++i)
    if (ins[i].op == Op::kDmaStore && t.tags.name(ins[i].tag) == "attn.pv") stores.push_back(i);
  REQUIRE(stores.size() == 4);
  for (std::uint64_t f = 0; f < 4; ++f) {
    const Instruction& st = ins[stores[f]];
    CHECK(st.rows == 128);
    CHECK(st.stride == 512 * 2);
    CHECK(st.bytes == 128 * 128 * 2);
    // store <- the fold's multiply-add into normalised O <- (the weights, the pv pieces).
    REQUIRE(st.deps.size() == 1);
    const Instruction& add = ins[at.at(st.deps[0])];
    REQUIRE(add.op == Op::kVpuAdd);
    CHECK(add.elems == 5 * 128 * 128);
    std::uint64_t pieces = 0;
    for (std::uint64_t d : add.deps) {
      auto it = fold.find(d);
      if (it == fold.end()) continue;
      ++pieces;
      CHECK(it->second == f);
    }
    CHECK(pieces == 4);
  }
}

TEST_CASE("merge rounds leave 1 to mxu.count partitions to the final combine",
          "[workloads][decode]") {
  // While more than `round` partitions remain, the next `round` are merged: 16 in rounds of 4
  // merge [0, 4), [4, 8), [8, 12) and leave 4; 8 leave 4; 5 leave 1; 4 or fewer are not
  // merged in rounds at all.
  CHECK(merged_in_rounds(16, 4) == 12);
  CHECK(merged_in_rounds(8, 4) == 4);
  CHECK(merged_in_rounds(5, 4) == 4);
  CHECK(merged_in_rounds(4, 4) == 0);
  CHECK(merged_in_rounds(1, 4) == 0);
  CHECK(merged_in_rounds(9, 2) == 8);
  CHECK(merged_in_rounds(3, 0) == 2);  // a round of 0 counts as 1
}
