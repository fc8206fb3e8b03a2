// gather_rows patterns, VPU/top-k laws and bytes, and config validation messages.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <vector>

#include "models/dma.h"
#include "models/hbm.h"
#include "models/mxu.h"
#include "models/sram.h"
#include "models/topk.h"
#include "models/vpu.h"

using namespace tpusim;

namespace {

void check_rows(const std::vector<std::uint64_t>& rows, std::uint64_t span, std::uint64_t want) {
  CHECK(rows.size() == std::min(want, span));
  CHECK(std::set<std::uint64_t>(rows.begin(), rows.end()).size() == rows.size());
  for (std::uint64_t r : rows)
    REQUIRE(r < span);
}

Instruction vop(Op op, std::uint64_t elems, std::uint64_t n = 0) {
  Instruction in;
  in.op = op;
  in.elems = elems;
  in.n = n;
  return in;
}

template <typename Cfg>
std::string error_of(const Cfg& cfg) {
  try {
    cfg.validate();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("gather_rows gives distinct in-range rows, reproducibly, for every pattern",
          "[dma][gather]") {
  const std::vector<GatherPattern> patterns = {
      {PatternKind::kUniform, 0},    {PatternKind::kRecent, 4096}, {PatternKind::kRecent, 10},
      {PatternKind::kClustered, 16}, {PatternKind::kClustered, 7}, {PatternKind::kStrided, 3},
      {PatternKind::kStrided, 1000}};
  for (const GatherPattern& p : patterns) {
    for (std::uint64_t span : {1ull, 100ull, 5000ull, 131072ull}) {
      for (std::uint64_t rows : {1ull, 37ull, 2048ull, 200000ull}) {
        for (bool sort : {false, true}) {
          INFO(pattern_to_string(p) << " span " << span << " rows " << rows << " sort " << sort);
          std::vector<std::uint64_t> a, b;
          gather_rows(p, span, rows, 42, sort, a);
          gather_rows(p, span, rows, 42, sort, b);
          check_rows(a, span, rows);
          CHECK(a == b);
          if (sort) CHECK(std::is_sorted(a.begin(), a.end()));
          std::vector<std::uint64_t> sorted_a = a;
          std::sort(sorted_a.begin(), sorted_a.end());
          std::vector<std::uint64_t> s;
          gather_rows(p, span, rows, 42, true, s);
          CHECK(s == sorted_a);  // sorting only changes the order, not the set
        }
      }
    }
  }
}

TEST_CASE("gather_rows pattern shapes", "[dma][gather]") {
  std::vector<std::uint64_t> v, w;
  // uniform: a different seed gives a different sample; unsorted is not ascending.
  gather_rows({PatternKind::kUniform, 0}, 1 << 20, 2048, 1, false, v);
  gather_rows({PatternKind::kUniform, 0}, 1 << 20, 2048, 2, false, w);
  CHECK(v != w);
  CHECK_FALSE(std::is_sorted(v.begin(), v.end()));
  // Dense uniform (selection sampling path): 900 of 1000.
  gather_rows({PatternKind::kUniform, 0}, 1000, 900, 3, false, v);
  check_rows(v, 1000, 900);
  // recent:4096 of 131072: every row is in [131072 - 4096, 131072).
  gather_rows({PatternKind::kRecent, 4096}, 131072, 2048, 5, true, v);
  CHECK(v.front() >= 131072 - 4096);
  // recent:10 with 37 rows: the window widens to 37 rows so the count stays exact: all of
  // [5000 - 37, 5000).
  gather_rows({PatternKind::kRecent, 10}, 5000, 37, 5, true, v);
  CHECK(v.front() == 5000 - 37);
  CHECK(v.back() == 4999);
  // clustered:16, 2048 rows: 128 runs of 16 adjacent rows, each aligned to nothing in
  // particular, so at most 128 maximal runs once sorted (adjacent runs may touch).
  gather_rows({PatternKind::kClustered, 16}, 1 << 20, 2048, 9, true, v);
  std::uint64_t runs = 1;
  for (std::size_t i = 1; i < v.size(); ++i)
    runs += v[i] != v[i - 1] + 1;
  CHECK(runs <= 128);
  CHECK(runs >= 100);  // 128 runs in 1M rows rarely touch
  // Unsorted clustered keeps each run ascending: 2047 steps, of which >= 2048-128 are +1.
  gather_rows({PatternKind::kClustered, 16}, 1 << 20, 2048, 9, false, w);
  std::uint64_t adjacent = 0;
  for (std::size_t i = 1; i < w.size(); ++i)
    adjacent += w[i] == w[i - 1] + 1;
  CHECK(adjacent >= 2048 - 128);
  // strided:3 over 100 rows, 37 rows: 0, 3, ..., 108? no: 34 fit in the first pass (0..99),
  // then the pass at offset 1 adds 1, 4, 7.
  gather_rows({PatternKind::kStrided, 3}, 100, 37, 0, false, v);
  CHECK(v[0] == 0);
  CHECK(v[33] == 99);
  CHECK(v[34] == 1);
  CHECK(v[36] == 7);
  // Golden values pin the PRNG (splitmix64) and the sampling algorithms, so a trace's gathers
  // are identical on every platform and after refactoring. Recorded from this implementation.
  gather_rows({PatternKind::kUniform, 0}, 1000, 3, 0, false, v);
  CHECK(v == std::vector<std::uint64_t>{511, 679, 27});
  // clustered:4, 6 rows: ceil(6/4) = 2 runs, of 4 and of 2 rows (the later one is short).
  gather_rows({PatternKind::kClustered, 4}, 1000, 6, 1, false, v);
  CHECK(v == std::vector<std::uint64_t>{405, 406, 407, 408, 574, 575});
  gather_rows({PatternKind::kUniform, 0}, 0, 3, 0, false, v);
  CHECK(v.empty());
  // Parameters near 2^64 (a trace may carry any): clustered:C with C beyond the rows is one
  // run of all of them; strided:S with S beyond the span takes one row per offset, 0, 1, 2, ...
  // (once the run count wrapped to 0 and the stride's step wrapped back into the span).
  const std::uint64_t huge = ~std::uint64_t{0};
  gather_rows({PatternKind::kClustered, huge}, 1000, 6, 1, true, v);
  REQUIRE(v.size() == 6);
  for (std::size_t i = 1; i < v.size(); ++i)
    CHECK(v[i] == v[0] + i);
  gather_rows({PatternKind::kStrided, huge}, 100, 37, 0, false, v);
  std::vector<std::uint64_t> first(37);
  for (std::size_t i = 0; i < first.size(); ++i)
    first[i] = i;
  CHECK(v == first);
}

TEST_CASE("vpu and top-k laws", "[vpu]") {
  VpuTiming vpu{VpuConfig{}};  // 1024 lanes, 8-cycle op latency, default costs
  // relu over 1 Mi elements: 8 + 1 Mi * 1 / 1024 = 8 + 1024.
  CHECK(vpu.cycles(vop(Op::kVpuRelu, 1 << 20)) == 1032);
  // exp costs 4 passes: 8 + 4096.
  CHECK(vpu.cycles(vop(Op::kVpuExp, 1 << 20)) == 4104);
  // softmax over 1000 elements at 6 passes: 8 + ceil(6000 / 1024) = 8 + 6.
  CHECK(vpu.cycles(vop(Op::kVpuSoftmax, 1000)) == 14);
  // topk, 1 row of 32768 scores keeping 2048, 4 radix passes:
  // 8 + ceil((4*32768 + 2048) / 1024) = 8 + 130.
  Instruction tk;
  tk.op = Op::kVpuTopk;
  tk.rows = 1;
  tk.n = 32768;
  tk.k = 2048;
  CHECK(vpu.cycles(tk) == 138);
  // Radix passes re-read the scores: 4 * 32768 * 4 B; 2048 indices of 4 B written.
  CHECK(vpu.read_bytes(tk) == 4ull * 32768 * 4);
  CHECK(vpu.write_bytes(tk) == 2048 * 4);
  // Dedicated unit: 32 + 32768 / 256 = 160 cycles, one read of the scores.
  TopkTiming unit{TopkConfig{}};
  CHECK(unit.cycles(tk) == 160);
  CHECK(unit.read_bytes(tk) == 32768ull * 4);
  // Bytes: elementwise reads and writes elems * 4; a row sum with n = 128 writes one value per
  // row (1024 rows); softmax writes the whole row back.
  CHECK(vpu.read_bytes(vop(Op::kVpuRelu, 1000)) == 4000);
  CHECK(vpu.write_bytes(vop(Op::kVpuRelu, 1000)) == 4000);
  CHECK(vpu.write_bytes(vop(Op::kVpuSum, 1024 * 128, 128)) == 1024 * 4);
  CHECK(vpu.write_bytes(vop(Op::kVpuMax, 1024 * 128, 128)) == 1024 * 4);
  CHECK(vpu.write_bytes(vop(Op::kVpuSoftmax, 1024 * 128, 128)) == 1024 * 128 * 4);
}

TEST_CASE("config defaults validate and bad values name their key", "[config]") {
  CHECK_NOTHROW(SramConfig{}.validate());
  CHECK_NOTHROW(HbmConfig{}.validate());
  CHECK_NOTHROW(MxuConfig{}.validate());
  CHECK_NOTHROW(VpuConfig{}.validate());
  CHECK_NOTHROW(TopkConfig{}.validate());
  CHECK_NOTHROW(DmaConfig{}.validate());

  HbmConfig h;
  h.channels = 0;
  CHECK(error_of(h) == "hbm.channels must be > 0 (got 0)");
  h = HbmConfig{};
  h.bandwidth_gbs = std::numeric_limits<double>::quiet_NaN();
  CHECK(error_of(h).rfind("hbm.bandwidth_gbs must be > 0", 0) == 0);
  h = HbmConfig{};
  h.burst_bytes = 512;
  CHECK(error_of(h) == "hbm.burst_bytes (512) must be <= hbm.interleave_bytes (256)");
  h = HbmConfig{};
  h.row_bytes = 1000;
  CHECK(error_of(h) == "hbm.row_bytes must be a power of two (got 1000)");
  h = HbmConfig{};
  h.latency_ns = -1;
  CHECK(error_of(h) == "hbm.latency_ns must be >= 0 (got -1)");

  SramConfig s;
  s.interleave_bytes = 48;
  CHECK(error_of(s) == "sram.interleave_bytes must be a power of two (got 48)");
  s = SramConfig{};
  s.banks = 0;
  CHECK(error_of(s) == "sram.banks must be > 0 (got 0)");
  s = SramConfig{};
  s.residency_mib = 200;
  CHECK(error_of(s) == "sram.residency_mib (200) must be <= sram.capacity_mib (128)");
  s = SramConfig{};
  s.capacity_mib = std::numeric_limits<double>::infinity();
  CHECK(error_of(s) == "sram.capacity_mib must be > 0 (got inf)");

  MxuConfig m;
  m.fp8_rate = 0;
  CHECK(error_of(m) == "mxu.fp8_rate must be > 0 (got 0)");
  m = MxuConfig{};
  m.cols = 0;
  CHECK(error_of(m) == "mxu.cols must be > 0 (got 0)");

  VpuConfig v;
  v.cost[static_cast<std::size_t>(vpu_op_index(Op::kVpuExp))] = 0;
  CHECK(error_of(v) == "vpu.cost_exp must be > 0 (got 0)");
  v = VpuConfig{};
  v.lanes = 0;
  CHECK(error_of(v) == "vpu.lanes must be > 0 (got 0)");

  TopkConfig t;
  t.elems_per_cycle = -3;
  CHECK(error_of(t) == "topk.elems_per_cycle must be > 0 (got -3)");

  DmaConfig d;
  d.max_outstanding = 0;
  CHECK(error_of(d) == "dma.max_outstanding must be > 0 (got 0)");
  d = DmaConfig{};
  d.group_requests = 0;
  CHECK(error_of(d) == "dma.group_requests must be > 0 (got 0)");
  d.group_requests = 4097;
  CHECK(error_of(d) == "dma.group_requests must be <= 4096 (got 4097)");
  d = DmaConfig{};
  d.max_in_flight = 0;
  CHECK(error_of(d) == "dma.max_in_flight must be > 0 (got 0)");
}
