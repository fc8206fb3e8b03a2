// SystemC scenarios: the MXU, VPU and DMA modules driven by a minimal instruction port
// finish when their timing cores say (each test case elaborates, so it needs its own process).
#include <catch2/catch.hpp>

#include <systemc>
#include <vector>

#include "models/core_unit.h"
#include "models/dma_unit.h"
#include "models/mxu_unit.h"

using namespace tpusim;

namespace {

/// Hands out each kind's instructions in order, with no dependencies, and records retirements.
class QueuePort : public InstructionPort {
 public:
  struct Retired {
    std::uint64_t id;
    int instance;
    Cycle start, end;
  };
  std::vector<Instruction> queue[kUnitKinds];
  std::size_t next[kUnitKinds] = {};
  std::vector<Retired> retired;

  const Instruction* acquire(UnitKind kind) override {
    auto k = static_cast<std::size_t>(kind);
    return next[k] < queue[k].size() ? &queue[k][next[k]++] : nullptr;
  }
  void retire(const Instruction* in, UnitKind, int instance, Cycle start, Cycle end) override {
    retired.push_back({in->id, instance, start, end});
  }
  const Retired& find(std::uint64_t id) const {
    for (const auto& r : retired)
      if (r.id == id) return r;
    FAIL("instruction " << id << " never retired");
    return retired.front();
  }
};

}  // namespace

TEST_CASE("systemc units retire at their timing cores' cycles", "[systemc]") {
  QueuePort port;
  Instruction mm;
  mm.id = 1;
  mm.op = Op::kMxuMatmul;
  mm.m = mm.n = mm.k = 128;
  mm.a = {Space::kSram, 0};
  mm.b = {Space::kSram, 1 << 20};
  mm.c = {Space::kSram, 2 << 20};
  port.queue[static_cast<int>(UnitKind::kMxu)].push_back(mm);

  Instruction relu;
  relu.id = 2;
  relu.op = Op::kVpuRelu;
  relu.elems = 1024;
  relu.src = {Space::kSram, 3 << 20};
  relu.dst = {Space::kSram, 4 << 20};
  port.queue[static_cast<int>(UnitKind::kVpu)].push_back(relu);

  Instruction ld;
  ld.id = 3;
  ld.op = Op::kDmaLoad;
  ld.src = {Space::kHbm, 0};
  ld.dst = {Space::kSram, 8 << 20};
  ld.bytes = 64 << 10;
  port.queue[static_cast<int>(UnitKind::kDma)].push_back(ld);

  const double clock_ghz = 1.5;
  SramTiming sram{SramConfig{}};
  HbmTiming hbm{HbmConfig{}, clock_ghz};
  MxuUnit mxu("mxu0", MxuConfig{}, 0, port, sram);
  VpuUnit vpu("vpu", VpuConfig{}, 0, port, sram);
  DmaUnit dma("dma0", DmaConfig{}, 0, port, hbm, sram);
  sc_core::sc_start();

  REQUIRE(port.retired.size() == 3);
  // MXU: 128^3 on 128x128 WS pipelined = 128 + 128 + 254 = 510 cycles; its 3 x 32 KiB of
  // operands keep every SRAM bank busy for 3 x 16 = 48 cycles (plus at most 4 behind the
  // VPU), far below 510, so the array is the limit.
  CHECK(port.find(1).end == 510);
  CHECK(mxu.stats().busy_cycles == 510);
  CHECK(mxu.stats().compute_cycles == 510);
  CHECK(mxu.stats().macs == 128ull * 128 * 128);
  // VPU: 8 + 1024/1024 = 9 cycles of compute; 4 KiB in and out may queue behind the MXU's
  // operands on the same banks (at most 48 cycles).
  CHECK(port.find(2).end >= 9);
  CHECK(port.find(2).end <= 9 + 48 + 4);
  CHECK(vpu.stats().elements == 1024);
  // DMA: the same load on a fresh plain-C++ engine gives the same completion: its SRAM writes
  // land hundreds of cycles after the MXU and VPU have released the banks.
  SramTiming sram2{SramConfig{}};
  HbmTiming hbm2{HbmConfig{}, clock_ghz};
  DmaEngineTiming replica(DmaConfig{}, hbm2, sram2);
  replica.begin(ld, 0);
  Cycle now = 0, resume = 0;
  while (replica.step(now, resume))
    now = resume;
  CHECK(port.find(3).end == resume);
  CHECK(dma.stats().read_bytes == 64u << 10);
  CHECK(hbm.stats().read_bytes == 64u << 10);
}

TEST_CASE("systemc MXU takes the next matmul when the last fold streams", "[systemc]") {
  QueuePort port;
  for (std::uint64_t i = 1; i <= 3; ++i) {
    Instruction mm;
    mm.id = i;
    mm.op = Op::kMxuMatmul;
    mm.m = mm.n = mm.k = 128;
    mm.a = {Space::kSram, (3 * i) << 20};
    mm.b = {Space::kSram, (3 * i + 1) << 20};
    mm.c = {Space::kSram, (3 * i + 2) << 20};
    port.queue[static_cast<int>(UnitKind::kMxu)].push_back(mm);
  }
  SramTiming sram{SramConfig{}};
  MxuUnit mxu("mxu0", MxuConfig{}, 0, port, sram);
  sc_core::sc_start();

  REQUIRE(port.retired.size() == 3);
  // 128^3 on 128x128 WS pipelined is one fold with S = R = 128: alone, 128 (weights) + 128
  // (stream) + 254 (drain) = 510. Each next matmul is taken when the previous fold starts
  // streaming (128 cycles after the previous was taken), loads its weights meanwhile and
  // streams right after: starts at 0, 128, 256; ends at 510, 638, 766, in order.
  CHECK(port.retired[0].id == 1);
  CHECK(port.retired[1].id == 2);
  CHECK(port.retired[2].id == 3);
  CHECK(port.find(1).start == 0);
  CHECK(port.find(1).end == 510);
  CHECK(port.find(2).start == 128);
  CHECK(port.find(2).end == 638);
  CHECK(port.find(3).start == 256);
  CHECK(port.find(3).end == 766);
  // Busy is the union of the overlapping intervals, not their sum (1,530).
  CHECK(mxu.stats().busy_cycles == 766);
  CHECK(mxu.stats().instructions == 3);
}
