#pragma once
/// Vector unit (elementwise ops, row reductions, softmax, top-k) and the optional dedicated
/// top-k unit.

#include <array>
#include <cstdint>

#include <systemc>

#include "models/sram.h"
#include "models/unit_port.h"
#include "sim/common.h"
#include "traces/isa.h"

namespace tpusim {

/// Bytes per vector element in SRAM: the VPU works on fp32 (scores, softmax statistics).
constexpr std::uint64_t kVpuElementBytes = 4;

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

struct TopkConfig {
  bool enabled = false;          ///< topk.enabled: a dedicated top-k unit takes vpu.topk
  double elems_per_cycle = 256;  ///< topk.elems_per_cycle: scores consumed per cycle
  Cycle latency_cycles = 32;     ///< topk.latency_cycles
  void validate() const;
};

struct VpuStats {
  std::uint64_t instructions = 0;
  std::uint64_t elements = 0;
  Cycle busy_cycles = 0;
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

/// Dedicated top-k unit: latency + ceil(rows * n / elems_per_cycle).
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

/// The VPU (kind kVpu) or the top-k unit (kind kTopk): one SystemC thread, one op at a time.
class VpuUnit : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(VpuUnit);
  VpuUnit(sc_core::sc_module_name name, UnitKind kind, const VpuConfig& vcfg,
          const TopkConfig& tcfg, InstructionPort& port, SramTiming& sram);
  const VpuStats& stats() const { return m_stats; }

 private:
  void run();
  void serve();  ///< the instruction loop run() guards
  UnitKind m_kind;
  VpuTiming m_vpu;
  TopkTiming m_topk;
  InstructionPort& m_port;
  SramTiming& m_sram;
  VpuStats m_stats;
};

}  // namespace tpusim
