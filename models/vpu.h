#pragma once
/// Vector unit: elementwise ops, row reductions, softmax and the radix-select top-k.

#include <array>
#include <cstdint>

#include "base/cycle.h"
#include "base/error.h"
#include "base/stat_fields.h"
#include "models/sram.h"
#include "traces/isa.h"

namespace tpusim {

struct VpuConfig {
  std::uint32_t lanes = 1024;  ///< vpu.lanes: elements per cycle (8 sublanes x 128 lanes)
  /// vpu.cost_<op>: element-passes per element for each vector op, indexed by vpu_op_index.
  /// topk's entry is unused (it has its own law).
  std::array<double, kVpuOpCount> cost{};
  std::uint32_t topk_passes = 4;  ///< vpu.topk_passes: radix-select passes over n (8-bit digits)
  Cycle op_latency_cycles = 8;    ///< vpu.op_latency_cycles: pipeline fill per instruction
  VpuConfig();                    ///< fills `cost` with the defaults
  void validate() const;
};

struct VpuStats {
  std::uint64_t instructions = 0;
  std::uint64_t elements = 0;
  double lane_ops = 0;  ///< element-passes (models/energy.h vpu_lane_ops), for energy
  Cycle busy_cycles = 0;
};

/// VpuStats' counters (also the top-k unit's).
inline constexpr StatField<VpuStats> kVpuStatFields[] = {
    {"instructions", "instructions", &VpuStats::instructions},
    {"busy_cycles", "cycles", &VpuStats::busy_cycles},
    {"elements", "elements", &VpuStats::elements},
};

/// Timing core, no SystemC. Elementwise/reduction op over E elements:
///   op_latency + ceil(E * cost / lanes).
/// topk over `rows` rows of n scores keeping k: op_latency +
///   ceil(rows * (topk_passes * n + k) / lanes)   (radix select, then one compaction over k).
class VpuTiming {
 public:
  explicit VpuTiming(const VpuConfig& cfg) : m_cfg(cfg) {}
  Cycle cycles(const Instruction& in) const;
  /// SRAM bytes read and written by the op.
  std::uint64_t read_bytes(const Instruction& in) const;
  std::uint64_t write_bytes(const Instruction& in) const;
  const VpuConfig& config() const { return m_cfg; }

 private:
  VpuConfig m_cfg;
};

/// The vector unit's execution of one op with its SRAM traffic: it ends no sooner than its
/// lanes finish and no sooner than SRAM has streamed the source (a top-k re-reads it once per
/// radix pass) and taken the result. Plain C++; VpuUnit (models/vpu_unit.h) wraps it.
class VpuCore {
 public:
  VpuCore(const VpuConfig& cfg, SramTiming& sram) : m_timing(cfg), m_sram(sram) {}
  /// Runs `in` (a vector op) starting at `start`; returns its end cycle and counts it.
  Cycle execute(const Instruction& in, Cycle start);
  const VpuStats& stats() const { return m_stats; }

 private:
  VpuTiming m_timing;
  SramTiming& m_sram;
  VpuStats m_stats;
};

}  // namespace tpusim
