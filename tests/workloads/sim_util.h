#pragma once
// Simulates a generated workload in a child process (SystemC elaborates once per process).

#include <catch2/catch.hpp>

#include "sim/driver.h"
#include "sim/simulation.h"
#include "tests/workloads/trace_checks.h"
#include "workloads/workload.h"

namespace tpusim::test {

/// Cycles of `p` on `hw`; the trace is checked first.
inline Cycle simulate_cycles(const WorkloadParams& p, const HwConfig& hw) {
  GeneratedTrace t = generate_workload(p, hw);
  REQUIRE(check_trace(t, hw.sram.capacity_bytes()).empty());
  Json out = run_in_child([&] {
    PackedSource src(t.instructions);
    RunResult r = simulate(hw, src, t.tags, SimOptions{});
    return Json{{"cycles", r.cycles}};
  });
  return out.at("cycles").get<Cycle>();
}

}  // namespace tpusim::test
