// The critical path over hand-built retirements: each case's path, unit times and wait are
// derived from the intervals in its comment; unit times plus wait always sum to the run's end.
#include <catch2/catch.hpp>

#include <numeric>

#include "sim/config.h"
#include "sim/critical_path.h"
#include "sim/report.h"
#include "sim/simulation.h"
#include "workloads/workload.h"

using namespace tpusim;

namespace {

struct Retire {
  std::uint64_t id;
  UnitKind kind;
  int instance;
  Cycle start, end;
  std::vector<std::uint64_t> deps;
  std::uint16_t tag = 0;
};

// Feeds retirements in end order, as the executor does.
CriticalPathResult walk(std::vector<Retire> rs, std::size_t tags = 4) {
  std::stable_sort(rs.begin(), rs.end(),
                   [](const Retire& a, const Retire& b) { return a.end < b.end; });
  CriticalPath cp;
  for (const Retire& r : rs) {
    Instruction in;
    in.id = r.id;
    in.deps = r.deps;
    in.tag = r.tag;
    cp.record(in, r.kind, r.instance, r.start, r.end);
  }
  return cp.compute(tags);
}

Cycle on(const CriticalPathResult& r, UnitKind k) {
  return r.unit[static_cast<std::size_t>(k)];
}

Cycle total(const CriticalPathResult& r) {
  return std::accumulate(r.unit.begin(), r.unit.end(), Cycle{0}) + r.wait;
}

}  // namespace

TEST_CASE("critical path follows data dependencies", "[critical_path]") {
  // load [0, 100) -> matmul [100, 300) -> vector [300, 350); an independent matmul [0, 50) on
  // another array is off the path. Path: 100 on DMA, 200 on MXU, 50 on VPU, no wait.
  const auto r = walk({{0, UnitKind::kDma, 0, 0, 100, {}, 1},
                       {1, UnitKind::kMxu, 0, 100, 300, {0}, 2},
                       {2, UnitKind::kVpu, 0, 300, 350, {1}, 3},
                       {3, UnitKind::kMxu, 1, 0, 50, {}, 2}});
  REQUIRE(r.kept);
  CHECK(r.cycles == 350);
  CHECK(r.steps == 3);
  CHECK(on(r, UnitKind::kDma) == 100);
  CHECK(on(r, UnitKind::kMxu) == 200);
  CHECK(on(r, UnitKind::kVpu) == 50);
  CHECK(r.wait == 0);
  CHECK(r.tag[1] == 100);
  CHECK(r.tag[2] == 200);
  CHECK(r.tag[3] == 50);
  CHECK(total(r) == r.cycles);
}

TEST_CASE("critical path follows a busy unit, and counts an overlap once", "[critical_path]") {
  // Two independent matmuls on one array, back to back: [0, 200) then [200, 400). The second
  // waited for the array, so both are on the path: 400 on MXU.
  auto r = walk({{0, UnitKind::kMxu, 0, 0, 200, {}}, {1, UnitKind::kMxu, 0, 200, 400, {}}});
  CHECK(r.steps == 2);
  CHECK(on(r, UnitKind::kMxu) == 400);
  CHECK(total(r) == 400);
  // Pipelined: the second starts at 150 while the first drains until 200. The first explains
  // [0, 150) only: 150 + 200 = 350, the run's end, not 200 + 200.
  r = walk({{0, UnitKind::kMxu, 0, 0, 200, {}}, {1, UnitKind::kMxu, 0, 150, 350, {}}});
  CHECK(on(r, UnitKind::kMxu) == 350);
  CHECK(r.wait == 0);
  // On another array the two would not be linked: the path is the second alone, after a
  // 150-cycle gap from the start.
  r = walk({{0, UnitKind::kMxu, 0, 0, 200, {}}, {1, UnitKind::kMxu, 1, 150, 350, {}}});
  CHECK(r.steps == 1);
  CHECK(on(r, UnitKind::kMxu) == 200);
  CHECK(r.wait == 150);
}

TEST_CASE("critical path prefers the data it waited for over a unit that was free",
          "[critical_path]") {
  // vector A [0, 40); load B [0, 100); vector C [100, 130) needs B. The VPU was free at 40, so
  // C waited for B's data: path B -> C, 100 on DMA and 30 on VPU.
  const auto r = walk({{0, UnitKind::kVpu, 0, 0, 40, {}},
                       {1, UnitKind::kDma, 0, 0, 100, {}},
                       {2, UnitKind::kVpu, 0, 100, 130, {1}}});
  CHECK(on(r, UnitKind::kDma) == 100);
  CHECK(on(r, UnitKind::kVpu) == 30);
  CHECK(r.steps == 2);
}

TEST_CASE("critical path counts an unexplained gap as waiting", "[critical_path]") {
  // load [0, 100); vector [130, 160) needs it; nothing else ran on the VPU. The 30 cycles in
  // between are waiting: 100 + 30 + 30 = 160.
  const auto r = walk({{0, UnitKind::kDma, 0, 0, 100, {}}, {1, UnitKind::kVpu, 0, 130, 160, {0}}});
  CHECK(on(r, UnitKind::kDma) == 100);
  CHECK(on(r, UnitKind::kVpu) == 30);
  CHECK(r.wait == 30);
  CHECK(total(r) == 160);
}

TEST_CASE("critical path is not kept for a run beyond its limit", "[critical_path]") {
  // The cap counts instructions, not ids: sparse ids far apart are kept.
  CriticalPath sparse;
  Instruction in;
  in.id = std::uint64_t{1} << 40;
  sparse.record(in, UnitKind::kDma, 0, 0, 10);
  CHECK(sparse.compute(1).kept);
  // At the limit a path is kept; one instruction more and it is not (a small limit here: the
  // preset's is 8 M instructions).
  auto run = [&in](std::size_t limit, std::size_t n) {
    CriticalPath cp(limit);
    for (std::size_t i = 0; i < n; ++i) {
      in.id = i;
      cp.record(in, UnitKind::kDma, 0, i, i + 1);
    }
    return cp.compute(1);
  };
  const auto at_limit = run(1000, 1000);
  REQUIRE(at_limit.kept);
  CHECK(at_limit.cycles == 1000);  // a chain of 1000 one-cycle loads on one engine
  CHECK_FALSE(run(1000, 1001).kept);

  // Sized in advance (the stream's length known), the same path; a stream announced beyond
  // the limit is not sized for and still not kept.
  CriticalPath sized(1000);
  sized.expect(1000);
  for (std::size_t i = 0; i < 1000; ++i) {
    in.id = i;
    sized.record(in, UnitKind::kDma, 0, i, i + 1);
  }
  const auto s = sized.compute(1);
  CHECK(s.kept);
  CHECK(s.cycles == at_limit.cycles);
  CHECK(s.steps == at_limit.steps);
  CriticalPath over(1000);
  over.expect(1001);
  for (std::size_t i = 0; i < 1001; ++i) {
    in.id = i;
    over.record(in, UnitKind::kDma, 0, i, i + 1);
  }
  CHECK_FALSE(over.compute(1).kept);
}

TEST_CASE("critical path: data before unit when both end at the start", "[critical_path]") {
  // matmul A [0, 100) and load B [0, 100) both end at 100, when matmul C (needs B, same array
  // as A) starts. C waited for both; the data link is taken: 100 on DMA, not on MXU.
  const auto r = walk({{0, UnitKind::kMxu, 0, 0, 100, {}},
                       {1, UnitKind::kDma, 0, 0, 100, {}},
                       {2, UnitKind::kMxu, 0, 100, 150, {1}}});
  CHECK(on(r, UnitKind::kDma) == 100);
  CHECK(on(r, UnitKind::kMxu) == 50);
}

TEST_CASE("critical path: in a gap, the later-ending of data and unit", "[critical_path]") {
  // load B [0, 60), matmul A [0, 90) on array 0, matmul C [100, 150) on array 0 needs B. Neither
  // ended at 100; A ended later, so the path is A then C with 10 cycles waiting: 90 + 10 + 50.
  const auto r = walk({{0, UnitKind::kDma, 0, 0, 60, {}},
                       {1, UnitKind::kMxu, 0, 0, 90, {}},
                       {2, UnitKind::kMxu, 0, 100, 150, {0}}});
  CHECK(on(r, UnitKind::kMxu) == 140);
  CHECK(on(r, UnitKind::kDma) == 0);
  CHECK(r.wait == 10);
}

TEST_CASE("critical path: ties go to the later instruction", "[critical_path]") {
  // Two chains end at 200: load 0 [0, 50) -> vector 2 [50, 200) and load 1 [0, 120) -> matmul
  // 3 [120, 200). The run's last instruction is the later id, 3: 120 on DMA, 80 on MXU.
  auto r = walk({{0, UnitKind::kDma, 0, 0, 50, {}},
                 {1, UnitKind::kDma, 1, 0, 120, {}},
                 {2, UnitKind::kVpu, 0, 50, 200, {0}},
                 {3, UnitKind::kMxu, 0, 120, 200, {1}}});
  CHECK(on(r, UnitKind::kMxu) == 80);
  CHECK(on(r, UnitKind::kDma) == 120);
  CHECK(on(r, UnitKind::kVpu) == 0);
  // Two dependencies ending together: the later id is the data link (its tag is charged).
  r = walk({{0, UnitKind::kDma, 0, 0, 100, {}, 1},
            {1, UnitKind::kDma, 1, 0, 100, {}, 2},
            {2, UnitKind::kMxu, 0, 100, 150, {0, 1}, 3}});
  CHECK(r.tag[2] == 100);
  CHECK(r.tag[1] == 0);
}

TEST_CASE("critical path: a transfer waits for the one that freed the engine's slot",
          "[critical_path]") {
  // One engine with two transfers in flight: 0 [0, 100) and 1 [10, 300) hold both slots, so 2
  // starts when 0 ends, at 100, and ends at 150; 3 (a vector op on 2's data) ends the run at
  // 400 after waiting for 2. Path: 0 [0, 100), 2 [100, 150), gap, 3. Transfer 1, the last to
  // start before 2 and still running, is not what 2 waited for.
  const auto r = walk({{0, UnitKind::kDma, 0, 0, 100, {}, 1},
                       {1, UnitKind::kDma, 0, 10, 300, {}, 2},
                       {2, UnitKind::kDma, 0, 100, 150, {}, 3},
                       {3, UnitKind::kVpu, 0, 150, 400, {2}, 0}});
  CHECK(r.tag[1] == 100);
  CHECK(r.tag[2] == 0);
  CHECK(r.tag[3] == 50);
  CHECK(on(r, UnitKind::kVpu) == 250);
}

TEST_CASE("critical path of a decode step sums to the step and names its unit",
          "[critical_path][e2e]") {
  HwConfig hw = load_hw_config(kDefaultPreset);
  WorkloadParams p;
  p.attention = Attention::kDense;
  p.seq = 32768;
  GeneratedTrace g = generate_workload(p, hw);
  PackedSource src(g.instructions);
  RunResult r = simulate(hw, src, g.tags, SimOptions{});
  const CriticalPathResult& cp = r.stats.critical_path;
  REQUIRE(cp.kept);
  CHECK(cp.cycles == r.cycles);
  CHECK(total(cp) == r.cycles);
  Cycle tags = 0;
  for (Cycle c : cp.tag)
    tags += c;
  CHECK(tags + cp.wait == r.cycles);
  // Dense decode at 32k is MXU-bound: 128 heads x 32k rows x (576 + 512) x 2 FLOPs = 9.1
  // GFLOP at 197 TFLOP/s is 46 us of a step of about 54 us, while the 21 MB of cache stream
  // in 26 us. The arrays hold most of the path.
  CHECK(on(cp, UnitKind::kMxu) > r.cycles / 2);
  const Json report = make_report(r, Json::object(), Json::object(), 0);
  REQUIRE(report.contains("critical_path"));
  CHECK(report["critical_path"]["bound_by"] == "mxu");
  CHECK(report["critical_path"]["cycles"].get<Cycle>() == r.cycles);
}
