// Guards that stop a simulation which cannot finish: a deadlock (work left when SystemC runs
// out of events) is a SimError naming which instruction waits on what; a dependency outside the
// window is a SimError too, and a runaway duration a UserError; never a hang or a crash. The reader
// rejects such streams (forward, unknown and self deps), so these tests hand-build them. Each
// TEST_CASE elaborates SystemC once, in its own process (ctest).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "sim/config.h"
#include "sim/simulation.h"

using namespace tpusim;

namespace {

Instruction vexp(std::uint64_t id, std::vector<std::uint64_t> deps = {}) {
  Instruction in;
  in.id = id;
  in.op = Op::kVpuExp;
  in.elems = 1024;
  in.src = {Space::kSram, 0};
  in.dst = {Space::kSram, 1 << 20};
  in.deps = std::move(deps);
  return in;
}

std::string sim_error_of(const HwConfig& hw, const std::vector<Instruction>& v) {
  TagTable tags;
  VectorSource src(v);
  try {
    simulate(hw, src, tags, SimOptions{});
  } catch (const SimError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("a deadlocked stream stops with a diagnostic naming the waits", "[executor][watchdog]") {
  // 1 waits on 2, which queues behind 1 on the single VPU: with in-order issue neither can ever
  // start (a wider issue window would let 2 pass 1; the reader rejects such streams anyway).
  HwConfig hw = load_hw_config(kDefaultPreset, {"exec.issue_window=1"});
  const std::string msg = sim_error_of(hw, {vexp(0), vexp(1, {2}), vexp(2)});
  INFO(msg);
  CHECK(msg.find("deadlock") != std::string::npos);
  CHECK(msg.find("1 instructions finished") != std::string::npos);
  CHECK(msg.find("vpu queue: instruction 1 (vpu.exp) waits on [2]") != std::string::npos);
}

TEST_CASE("a self-dependency deadlocks with a diagnostic, not a hang", "[executor][watchdog]") {
  HwConfig hw = load_hw_config(kDefaultPreset);
  const std::string msg = sim_error_of(hw, {vexp(0, {0})});
  INFO(msg);
  CHECK(msg.find("instruction 0 (vpu.exp) waits on [0]") != std::string::npos);
}

TEST_CASE("a dependency that is not in the stream is a SimError", "[executor][watchdog]") {
  HwConfig hw = load_hw_config(kDefaultPreset);
  const std::string msg = sim_error_of(hw, {vexp(0), vexp(5, {9})});
  INFO(msg);
  CHECK(msg.find("dependency 9 is not in the instruction window") != std::string::npos);
}

TEST_CASE("a runaway duration stops at the simulated-time bound", "[executor][watchdog]") {
  // An op latency of 1e9 cycles is allowed, but 2^21 chained ops would take 2^51 cycles: past
  // the 2^50 bound, where SystemC's picosecond time would soon wrap.
  HwConfig hw = load_hw_config(kDefaultPreset, {"vpu.op_latency_cycles=1000000000"});
  std::vector<Instruction> v;
  for (std::uint64_t i = 0; i < (1u << 21); ++i)
    v.push_back(vexp(i, i ? std::vector<std::uint64_t>{i - 1} : std::vector<std::uint64_t>{}));
  // The user's to change (the config or the trace asks for it), so a UserError (exit 2), not
  // a SimError (exit 1, which reads as a bug of tpusim).
  std::string msg;
  TagTable tags;
  VectorSource src(v);
  try {
    simulate(hw, src, tags, SimOptions{});
  } catch (const UserError& e) {
    msg = e.what();
  }
  INFO(msg);
  CHECK(msg.find("2^50 cycles") != std::string::npos);
  CHECK(msg.find("vpu.lanes") != std::string::npos);
}
