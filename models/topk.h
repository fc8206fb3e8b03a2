#pragma once
/// The optional dedicated top-k unit: when topk.enabled, it takes every vpu.topk instead of the
/// vector unit, streaming the scores once and keeping its candidates internally.

#include <cstdint>

#include "base/cycle.h"
#include "base/error.h"
#include "models/sram.h"
#include "models/vpu.h"
#include "traces/isa.h"

namespace tpusim {

struct TopkConfig {
  bool enabled = false;          ///< topk.enabled: a dedicated top-k unit takes vpu.topk
  double elems_per_cycle = 256;  ///< topk.elems_per_cycle: scores consumed per cycle
  Cycle latency_cycles = 32;     ///< topk.latency_cycles
  void validate() const;
};

/// Timing core, no SystemC: latency + ceil(rows * n / elems_per_cycle).
class TopkTiming {
 public:
  explicit TopkTiming(const TopkConfig& cfg) : m_cfg(cfg) {}
  Cycle cycles(const Instruction& in) const;
  /// SRAM bytes: the scores are streamed once (rows * n * 4); rows * k indices are written.
  std::uint64_t read_bytes(const Instruction& in) const;
  std::uint64_t write_bytes(const Instruction& in) const;
  const TopkConfig& config() const { return m_cfg; }

 private:
  TopkConfig m_cfg;
};

/// The unit's execution of one vpu.topk with its SRAM traffic. Plain C++; TopkUnit
/// (models/topk_unit.h) wraps it.
class TopkCore {
 public:
  TopkCore(const TopkConfig& cfg, SramTiming& sram) : m_timing(cfg), m_sram(sram) {}
  /// Runs `in` (a vpu.topk) starting at `start`; returns its end cycle and counts it.
  Cycle execute(const Instruction& in, Cycle start);
  const VpuStats& stats() const { return m_stats; }

 private:
  TopkTiming m_timing;
  SramTiming& m_sram;
  VpuStats m_stats;
};

}  // namespace tpusim
