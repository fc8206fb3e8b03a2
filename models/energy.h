#pragma once
/// Energy: per-access costs of the chip ([energy] section) and the plain functions that turn
/// activity counts into joules. No SystemC; docs/ENERGY.md gives the model and the sources.

#include <cstdint>

#include "models/mxu.h"
#include "models/topk.h"
#include "models/vpu.h"
#include "traces/isa.h"

namespace tpusim {

struct HwConfig;

/// Dynamic energy per access, in picojoules, and static power. Defaults are tpu-v5e.toml's.
struct EnergyConfig {
  double hbm_read_pj_per_byte = 31.2;     ///< energy.hbm_read_pj_per_byte
  double hbm_write_pj_per_byte = 31.2;    ///< energy.hbm_write_pj_per_byte
  double sram_read_pj_per_byte = 3.125;   ///< energy.sram_read_pj_per_byte
  double sram_write_pj_per_byte = 3.125;  ///< energy.sram_write_pj_per_byte
  double mac_bf16_pj = 0.5;               ///< energy.mac_bf16_pj: one bf16 multiply, fp32 add
  double mac_fp8_pj = 0.275;              ///< energy.mac_fp8_pj: one fp8 multiply, fp32 add
  /// energy.vpu_lane_op_pj: one element-pass of one lane (the unit of vpu.cost_<op>, so an op
  /// over E elements costs E * cost lane-ops, the same work its cycle law divides by the lanes).
  double vpu_lane_op_pj = 1.15;
  double static_w = 40;  ///< energy.static_w: leakage and always-on power, watts
  void validate() const;
};

/// What a run (or one kernel) did, in the units the costs are given in.
struct EnergyCounts {
  std::uint64_t hbm_read_bytes = 0;
  std::uint64_t hbm_write_bytes = 0;
  std::uint64_t sram_read_bytes = 0;
  std::uint64_t sram_write_bytes = 0;
  std::uint64_t macs_bf16 = 0;
  std::uint64_t macs_fp8 = 0;
  double vpu_lane_ops = 0;  ///< element-passes (fractional op costs are allowed)
  EnergyCounts& operator+=(const EnergyCounts& o) {
    hbm_read_bytes += o.hbm_read_bytes;
    hbm_write_bytes += o.hbm_write_bytes;
    sram_read_bytes += o.sram_read_bytes;
    sram_write_bytes += o.sram_write_bytes;
    macs_bf16 += o.macs_bf16;
    macs_fp8 += o.macs_fp8;
    vpu_lane_ops += o.vpu_lane_ops;
    return *this;
  }
};

/// Joules by part.
struct EnergyBreakdown {
  double hbm_j = 0;
  double sram_j = 0;
  double mxu_j = 0;
  double vpu_j = 0;
  double static_j = 0;
  double total_j() const { return hbm_j + sram_j + mxu_j + vpu_j + static_j; }
};

/// hbm = rd * hbm_read + wr * hbm_write; sram likewise; mxu = macs_bf16 * mac_bf16 +
/// macs_fp8 * mac_fp8; vpu = lane_ops * vpu_lane_op; static = static_w * static_seconds.
EnergyBreakdown energy_of(const EnergyCounts& c, const EnergyConfig& cfg, double static_seconds);

/// The counts of one instruction from its own operands and the same laws the units charge
/// (SystolicTiming::traffic, VpuTiming and TopkTiming bytes, the DMA's bytes), so per-kernel
/// counts add up to the units' totals. Plain C++, allocation-free: RunStats calls it per
/// retired instruction.
class ActivityCounter {
 public:
  ActivityCounter() : ActivityCounter(MxuConfig{}, VpuConfig{}, TopkConfig{}) {}
  explicit ActivityCounter(const HwConfig& hw);
  ActivityCounter(const MxuConfig& mxu, const VpuConfig& vpu, const TopkConfig& topk);
  EnergyCounts count(const Instruction& in) const;

 private:
  SystolicTiming m_mxu;
  VpuTiming m_vpu;
  TopkTiming m_topk;
  bool m_topk_unit;
};

/// Element-passes of one vector op on the vector unit: E * cost, or for a radix-select top-k
/// rows * (topk_passes * n + k) (VpuTiming's work before dividing by the lanes).
double vpu_lane_ops(const Instruction& in, const VpuConfig& cfg);
/// Element-passes of one top-k on the dedicated unit: rows * n (it streams the scores once).
double topk_unit_lane_ops(const Instruction& in);

}  // namespace tpusim
