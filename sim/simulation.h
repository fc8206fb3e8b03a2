#pragma once
/// One simulation: validate the instruction stream against the chip, elaborate the chip, run it
/// to completion, and collect every model's statistics. SystemC allows this once per process.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "models/dma.h"
#include "models/hbm.h"
#include "models/mxu.h"
#include "models/sram.h"
#include "models/vpu.h"
#include "sim/config.h"
#include "sim/instruction_source.h"
#include "sim/stats.h"

namespace tpusim {

struct SimOptions {
  std::size_t timeline_limit = 0;  ///< keep at most this many timeline slices (0: none)
  std::size_t window = 16384;      ///< instructions held by the scoreboard at once
  /// Called with the number of retired instructions every kProgressEvery retirements (a
  /// progress line; sim/progress.h). Empty: not called.
  std::function<void(std::uint64_t retired)> on_progress;
  static constexpr std::uint64_t kProgressEvery = 1024;
  /// Called at every retirement with the instruction's id, its start and end, and the horizon
  /// the executor passes the statistics (no instruction retiring later starts before it; tests
  /// check that promise). Empty: not called.
  std::function<void(std::uint64_t id, Cycle start, Cycle end, Cycle horizon)> on_retire;
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
/// Calls the installed simulator (set_simulator_loader), loading it on first use.
RunResult simulate(const HwConfig& hw, InstructionSource& source, const TagTable& tags,
                   const SimOptions& opts);

/// The SystemC simulation itself (sim/chip_run.cpp). Only the simulator library
/// (sim/simulator_entry.cpp) and the tests link it: the tpusim executable loads that library when
/// it first simulates, so commands that only list, show or validate never load SystemC.
RunResult simulate_on_chip(const HwConfig& hw, InstructionSource& source, const TagTable& tags,
                           const SimOptions& opts);

using Simulator = RunResult (*)(const HwConfig&, InstructionSource&, const TagTable&,
                                const SimOptions&);
/// Says how to get the simulator: called once, on the first simulate() or prepare_simulator().
void set_simulator_loader(Simulator (*loader)());
/// Loads the simulator now (a parent does this before forking, so its children share one
/// load). Throws SimError when it cannot be loaded.
void prepare_simulator();
/// True once this process has run a simulation (elaborated a SystemC model). Such a process
/// leaves with _exit after flushing its output, as the forked simulations do: SystemC's static
/// teardown is slow and, by design, leaves its modules to the OS (a leak checker would report
/// them).
bool simulated_in_this_process();

}  // namespace tpusim
