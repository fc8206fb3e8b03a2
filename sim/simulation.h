#pragma once
/// One simulation: validate the instruction stream against the chip, elaborate the chip, run it
/// to completion, and collect every model's statistics. SystemC allows this once per process.

#include <cstdint>
#include <string>
#include <vector>

#include "models/dma.h"
#include "models/hbm.h"
#include "models/mxu.h"
#include "models/sram.h"
#include "models/vpu.h"
#include "sim/config.h"
#include "sim/executor.h"
#include "sim/stats.h"

namespace tpusim {

struct SimOptions {
  std::size_t timeline_limit = 0;  ///< keep at most this many timeline slices (0: none)
  std::size_t window = 16384;      ///< instructions held by the scoreboard at once
};

struct RunResult {
  HwConfig hw;
  Cycle cycles = 0;
  RunStats stats;
  HbmStats hbm;
  SramStats sram;
  MxuStats mxu;  ///< summed over arrays
  VpuStats vpu;
  VpuStats topk;
  DmaStats dma;  ///< summed over engines
  std::vector<std::string> tag_names;
  double seconds() const { return static_cast<double>(cycles) / (hw.chip.clock_ghz * 1e9); }
};

/// Checks one instruction against the chip (SRAM and HBM ranges, operand sizes); throws
/// TraceError naming `origin:line` (or the instruction id for generated streams).
void validate_instruction(const Instruction& in, const HwConfig& hw, const std::string& origin);
/// Highest SRAM byte an instruction touches (exclusive end), for the SRAM high-water mark.
std::uint64_t sram_extent(const Instruction& in);

/// Runs the stream on the chip. Throws SimError on a deadlock (with the waiting instructions).
RunResult simulate(const HwConfig& hw, InstructionSource& source, const TagTable& tags,
                   const SimOptions& opts);

}  // namespace tpusim
