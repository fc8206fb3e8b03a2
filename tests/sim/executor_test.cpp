// Executor laws (docs/ARCHITECTURE.md): independent instructions on different units overlap
// (total = max), a dependent chain serialises (total = sum), instructions of one kind queue on
// the available units. Each TEST_CASE elaborates SystemC once, in its own process (ctest).
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include "models/mxu.h"
#include "models/vpu.h"
#include "sim/config.h"
#include "sim/simulation.h"

using namespace tpusim;

namespace {

// A 128x128x128 bf16 matmul reads 2 x 32 KiB and writes 32 KiB of SRAM: 96 KiB over the
// preset's 128 banks of 64 B/cycle is 12 cycles, far below the array's 510 (pipelined WS:
// R + S + R + C - 2 = 128 + 128 + 254), so the array sets the time.
Instruction matmul(std::uint64_t id, std::uint64_t sram_base,
                   std::vector<std::uint64_t> deps = {}) {
  Instruction in;
  in.id = id;
  in.op = Op::kMxuMatmul;
  in.m = in.n = in.k = 128;
  in.dtype = DType::kBf16;
  in.a = {Space::kSram, sram_base};
  in.b = {Space::kSram, sram_base + 65536};
  in.c = {Space::kSram, sram_base + 131072};
  in.deps = std::move(deps);
  return in;
}

// exp over 64k elements: 256 KiB in and out of SRAM = 512 KiB / 8 KiB per cycle = 64 cycles
// at most, below the VPU's 64k*cost/1024 = 256 cycles at exp's default cost of 4.
Instruction vexp(std::uint64_t id, std::uint64_t sram_base, std::vector<std::uint64_t> deps = {}) {
  Instruction in;
  in.id = id;
  in.op = Op::kVpuExp;
  in.elems = 65536;
  in.src = {Space::kSram, sram_base};
  in.dst = {Space::kSram, sram_base + 262144};
  in.deps = std::move(deps);
  return in;
}

Cycle run(const HwConfig& hw, const std::vector<Instruction>& v) {
  TagTable tags;
  VectorSource src(v);
  return simulate(hw, src, tags, SimOptions{}).cycles;
}

HwConfig one_mxu() {
  HwConfig hw = load_hw_config(kDefaultPreset, {"mxu.count=1"});
  return hw;
}

}  // namespace

TEST_CASE("independent instructions on different units overlap: total = max", "[executor]") {
  HwConfig hw = one_mxu();
  const Cycle mxu = SystolicTiming(hw.mxu).cycles(128, 128, 128, DType::kBf16);
  const Cycle vpu = VpuTiming(hw.vpu).cycles(vexp(1, 0));
  REQUIRE(mxu > 0);
  REQUIRE(vpu > 0);
  CHECK(run(hw, {matmul(0, 0), vexp(1, 1 << 20)}) == std::max(mxu, vpu));
}

TEST_CASE("a dependent chain serialises: total = sum", "[executor]") {
  HwConfig hw = one_mxu();
  const Cycle mxu = SystolicTiming(hw.mxu).cycles(128, 128, 128, DType::kBf16);
  const Cycle vpu = VpuTiming(hw.vpu).cycles(vexp(1, 0));
  CHECK(run(hw, {matmul(0, 0), vexp(1, 1 << 20, {0})}) == mxu + vpu);
}

TEST_CASE("same-kind instructions queue on one unit and spread over several", "[executor]") {
  SECTION("one MXU: two independent matmuls queue, the second streaming behind the first") {
    HwConfig hw = one_mxu();
    const Cycle mxu = SystolicTiming(hw.mxu).cycles(128, 128, 128, DType::kBf16);
    // 128^3 is one fold of S = R = 128. The second matmul is taken when the first's fold
    // starts streaming (cycle R), loads its weights meanwhile and streams at 2R; only its own
    // stream (R) adds to the first's end: mxu + R, where serial execution would take 2 mxu.
    CHECK(run(hw, {matmul(0, 0), matmul(1, 1 << 20)}) == mxu + 128);
  }
}

// One simulation per test case: SystemC elaborates one model per process.
TEST_CASE("one MXU in scalesim mode: two independent matmuls take twice as long", "[executor]") {
  HwConfig hw = load_hw_config(kDefaultPreset, {"mxu.count=1", "mxu.timing=scalesim"});
  const Cycle mxu = SystolicTiming(hw.mxu).cycles(128, 128, 128, DType::kBf16);
  CHECK(run(hw, {matmul(0, 0), matmul(1, 1 << 20)}) == 2 * mxu);
}

TEST_CASE("two MXUs run two independent matmuls at once", "[executor]") {
  HwConfig hw = load_hw_config(kDefaultPreset, {"mxu.count=2"});
  const Cycle mxu = SystolicTiming(hw.mxu).cycles(128, 128, 128, DType::kBf16);
  // Both start at cycle 0 on separate arrays; their SRAM traffic (96 KiB each) fits in the
  // first 24 cycles even when serialised on the banks, so neither is delayed.
  CHECK(run(hw, {matmul(0, 0), matmul(1, 1 << 20)}) == mxu);
}

namespace {

// Ten matmuls on one B, each after the previous one's exp: a dependent chain. With
// `exp_over_b` each exp writes its 256 KiB to [0, 256 KiB), over B at [64 KiB, 96 KiB).
std::vector<Instruction> matmul_exp_chain(bool exp_over_b) {
  std::vector<Instruction> v;
  for (std::uint64_t i = 0; i < 20; i += 2) {
    v.push_back(matmul(i, 0, i ? std::vector<std::uint64_t>{i - 1} : std::vector<std::uint64_t>{}));
    v.push_back(vexp(i + 1, 1 << 20, {i}));
    if (exp_over_b) v.back().dst = {Space::kSram, 0};
  }
  return v;
}

Cycle matmul_plus_exp(const HwConfig& hw) {
  return SystolicTiming(hw.mxu).cycles(128, 128, 128, DType::kBf16) +
         VpuTiming(hw.vpu).cycles(vexp(1, 0));
}

}  // namespace

TEST_CASE("a long chain of dependent instructions is the sum of its parts", "[executor]") {
  HwConfig hw = one_mxu();
  // Nothing writes B: the first matmul loads it and the nine after it find it still in the
  // array (mxu.hold_weights), so each skips the R = 128-cycle load.
  CHECK(run(hw, matmul_exp_chain(false)) == 10 * matmul_plus_exp(hw) - 9 * hw.mxu.rows);
}

TEST_CASE("a dependent chain is the sum of its parts when arrays never hold weights",
          "[executor]") {
  HwConfig hw = load_hw_config(kDefaultPreset, {"mxu.count=1", "mxu.hold_weights=false"});
  CHECK(run(hw, matmul_exp_chain(false)) == 10 * matmul_plus_exp(hw));
}

TEST_CASE("an array reloads weights that were written since it loaded them", "[executor]") {
  HwConfig hw = one_mxu();
  // Every exp overwrites B, so every matmul after it loads B again: nothing is saved.
  CHECK(run(hw, matmul_exp_chain(true)) == 10 * matmul_plus_exp(hw));
}

TEST_CASE("a window of one instruction still finishes (no deadlock by construction)",
          "[executor]") {
  HwConfig hw = one_mxu();
  std::vector<Instruction> v = {matmul(0, 0), vexp(1, 1 << 20), matmul(2, 0, {1}),
                                vexp(3, 1 << 20, {0})};
  TagTable tags;
  VectorSource src(v);
  SimOptions opts;
  opts.window = 1;
  RunResult r = simulate(hw, src, tags, opts);
  CHECK(r.stats.instructions == 4);
}

// Issue window (exec.issue_window = W): a free unit takes the oldest ready instruction among the
// next W of its kind. M = one 128^3 matmul (509 cycles in scalesim mode, which runs matmuls
// one after another, so the window's order shows in whole M's), V = one vexp (264 cycles < M).

TEST_CASE("issue window 1 is in-order: a blocked head holds back an independent matmul",
          "[executor]") {
  HwConfig hw =
      load_hw_config(kDefaultPreset, {"mxu.count=1", "mxu.timing=scalesim", "exec.issue_window=1"});
  const Cycle M = SystolicTiming(hw.mxu).cycles(128, 128, 128, DType::kBf16);
  const Cycle V = VpuTiming(hw.vpu).cycles(vexp(0, 0));
  REQUIRE(V < M);
  // 0 = vexp; 1 = matmul after 0; 2 = independent matmul. In order, 1 starts at V and 2 after
  // it: V + 2M.
  std::vector<Instruction> v = {vexp(0, 1 << 21), matmul(1, 0, {0}), matmul(2, 1 << 20)};
  CHECK(run(hw, v) == V + 2 * M);
}

TEST_CASE("issue window 2 lets a ready matmul pass a blocked one", "[executor]") {
  HwConfig hw =
      load_hw_config(kDefaultPreset, {"mxu.count=1", "mxu.timing=scalesim", "exec.issue_window=2"});
  const Cycle M = SystolicTiming(hw.mxu).cycles(128, 128, 128, DType::kBf16);
  const Cycle V = VpuTiming(hw.vpu).cycles(vexp(0, 0));
  REQUIRE(V < M);
  // Same stream: 2 is ready at cycle 0 and runs [0, M); 1 is ready at V < M and runs [M, 2M).
  std::vector<Instruction> v = {vexp(0, 1 << 21), matmul(1, 0, {0}), matmul(2, 1 << 20)};
  CHECK(run(hw, v) == 2 * M);
}

namespace {

// 0 = vexp; 1 and 2 = matmuls after 0; 3 = independent matmul, third of its kind.
std::vector<Instruction> blocked_pair_then_free() {
  return {vexp(0, 1 << 21), matmul(1, 0, {0}), matmul(2, 0, {0}), matmul(3, 1 << 20)};
}

}  // namespace

TEST_CASE("the issue window is bounded: an instruction beyond it waits", "[executor]") {
  HwConfig hw =
      load_hw_config(kDefaultPreset, {"mxu.count=1", "mxu.timing=scalesim", "exec.issue_window=2"});
  const Cycle M = SystolicTiming(hw.mxu).cycles(128, 128, 128, DType::kBf16);
  const Cycle V = VpuTiming(hw.vpu).cycles(vexp(0, 0));
  REQUIRE(V < M);
  // W = 2 sees {1, 2}, both blocked until V; then 1, 2, and only then 3: V + 3M.
  CHECK(run(hw, blocked_pair_then_free()) == V + 3 * M);
}

TEST_CASE("a window reaching the free instruction starts it first", "[executor]") {
  HwConfig hw =
      load_hw_config(kDefaultPreset, {"mxu.count=1", "mxu.timing=scalesim", "exec.issue_window=3"});
  const Cycle M = SystolicTiming(hw.mxu).cycles(128, 128, 128, DType::kBf16);
  const Cycle V = VpuTiming(hw.vpu).cycles(vexp(0, 0));
  REQUIRE(V < M);
  // W = 3 sees 3 as well: it runs [0, M), then 1 and 2 (ready at V < M): 3M.
  CHECK(run(hw, blocked_pair_then_free()) == 3 * M);
}

TEST_CASE("exec.issue_window outside [1, 4096] is a config error naming the key",
          "[executor][config]") {
  CHECK_THROWS_WITH(load_hw_config(kDefaultPreset, {"exec.issue_window=0"}),
                    Catch::Contains("exec.issue_window"));
  CHECK_THROWS_WITH(load_hw_config(kDefaultPreset, {"exec.issue_window=4097"}),
                    Catch::Contains("exec.issue_window"));
}

TEST_CASE("a write still running when an array takes its weights drops them at retirement",
          "[executor]") {
  // A racy trace: matmul 2 reads B while the 4 MiB load 0 (taken first) is still writing over
  // it, with no dependency between them; matmul 3 waits for the load and multiplies by the same
  // B. Matmul 2 recorded its hold after the load was taken, so only the load's retirement can
  // drop it: matmul 3 must load the new B (no held matmul in the run).
  HwConfig hw = one_mxu();
  Instruction load;
  load.id = 0;
  load.op = Op::kDmaLoad;
  load.src = {Space::kHbm, 0};
  load.dst = {Space::kSram, 0};
  load.bytes = 4 << 20;  // [0, 4 MiB): covers B at [64 KiB, 96 KiB)
  Instruction first = matmul(2, 0, {1});
  first.a = {Space::kSram, 9 << 20};
  first.c = {Space::kSram, 10 << 20};
  Instruction second = first;
  second.id = 3;
  second.deps = {0};
  const std::vector<Instruction> v = {load, vexp(1, 5 << 20), first, second};
  TagTable tags;
  VectorSource src(v);
  const RunResult r = simulate(hw, src, tags, SimOptions{});
  CHECK(r.mxu.instructions == 2);
  CHECK(r.mxu.held_weights == 0);
}

TEST_CASE("of several idle units, the one idle the longest takes the next instruction",
          "[executor]") {
  // Four arrays in scalesim mode (one matmul at a time). At cycle 0 matmuls of 8192, 128, 1024
  // and 2048 streamed rows start, one per array; the three short ones finish in that order, so
  // their arrays fall idle in that order. A vector op waits for the 2048-row one, and three
  // matmuls wait for the vector op. They become ready together when it retires, while the long
  // matmul still runs and no array is finishing (no array asks for work at that instant, so
  // there is no tie for SystemC's order to break). They go to the idle arrays longest idle
  // first: those of the 128-, 1024- and 2048-row matmuls, in that order. Waking every idle
  // array and letting SystemC's run order decide gave the second and third the other way round.
  HwConfig hw = load_hw_config(kDefaultPreset, {"mxu.count=4", "mxu.timing=scalesim"});
  auto rows = [](Instruction in, std::uint64_t m) {
    in.m = m;
    return in;
  };
  const std::vector<Instruction> v = {
      rows(matmul(0, 0), 8192),       rows(matmul(1, 4 << 20), 128),
      rows(matmul(2, 8 << 20), 1024), rows(matmul(3, 12 << 20), 2048),
      vexp(4, 16 << 20, {3}),         matmul(5, 20 << 20, {4}),
      matmul(6, 24 << 20, {4}),       matmul(7, 28 << 20, {4})};
  TagTable tags;
  VectorSource src(v);
  SimOptions opts;
  opts.timeline_limit = 100;
  const RunResult r = simulate(hw, src, tags, opts);
  std::vector<int> unit(v.size(), -1);
  std::vector<Cycle> start(v.size(), 0), end(v.size(), 0);
  for (const TimelineEvent& e : r.stats.timeline) {
    unit[e.id] = e.instance;
    start[e.id] = e.start;
    end[e.id] = e.end;
  }
  INFO("units " << unit[0] << unit[1] << unit[2] << unit[3] << unit[5] << unit[6] << unit[7]);
  // The premise: one first matmul per array, the short ones done in order, the vector op done
  // while the long one runs, and the three matmuls started when it retires.
  CHECK(std::set<int>(unit.begin(), unit.begin() + 4).size() == 4);
  REQUIRE(end[1] < end[2]);
  REQUIRE(end[2] < end[3]);
  REQUIRE(end[4] < end[0]);
  for (std::size_t i = 5; i <= 7; ++i)
    CHECK(start[i] == end[4]);
  CHECK(unit[5] == unit[1]);
  CHECK(unit[6] == unit[2]);
  CHECK(unit[7] == unit[3]);
}

TEST_CASE("the retire horizon: no instruction retiring later starts before it", "[executor]") {
  // The statistics fold busy intervals older than the horizon (sim/stats.h), so a horizon
  // too late would fold an interval that a later one overlaps, and count the overlap twice.
  // Loads of 4 KiB to 1 MiB on two engines with four in flight each complete out of issue
  // order (a small load issued after a big one lands first), and matmuls on two arrays wait
  // for pairs of them: instructions are in flight across many retirements. For each
  // retirement, every later one must start at or after its horizon.
  HwConfig hw =
      load_hw_config(kDefaultPreset, {"mxu.count=2", "dma.engines=2", "dma.max_in_flight=4"});
  std::vector<Instruction> v;
  std::uint64_t id = 0;
  for (std::uint64_t i = 0; i < 48; ++i) {
    Instruction load;
    load.id = id++;
    load.op = Op::kDmaLoad;
    load.bytes = (i % 3 == 0 ? 1 << 20 : i % 3 == 1 ? 4096 : 64 << 10);
    load.src = {Space::kHbm, i << 20};
    load.dst = {Space::kSram, (i % 16) << 20};
    v.push_back(load);
    if (i % 2 == 1) v.push_back(matmul(id++, (16 + i % 8) << 20, {load.id - 1, load.id}));
  }
  struct Retired {
    Cycle start, end, horizon;
  };
  std::vector<Retired> order;
  TagTable tags;
  VectorSource src(v);
  SimOptions opts;
  opts.on_retire = [&order](std::uint64_t, Cycle start, Cycle end, Cycle horizon) {
    order.push_back({start, end, horizon});
  };
  const RunResult r = simulate(hw, src, tags, opts);
  REQUIRE(order.size() == v.size());
  // The earliest start among the retirements after each one, from the back.
  Cycle later_start = r.cycles + 1;
  std::size_t overlapped = 0;  // retirements with a later one that started before their end
  for (std::size_t i = order.size(); i-- > 0;) {
    INFO("retirement " << i << " of " << order.size());
    CHECK(order[i].horizon <= later_start);
    if (later_start < order[i].end) ++overlapped;
    later_start = std::min(later_start, order[i].start);
  }
  // The premise, from the workload alone: most retirements have a later one already running,
  // so a horizon of the retirement's own cycle would fail the check above.
  CHECK(overlapped > order.size() / 2);
}
