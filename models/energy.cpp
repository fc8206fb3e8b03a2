#include "models/energy.h"

#include <fmt/format.h>

#include <cmath>

#include "base/error.h"
#include "models/hw_config.h"

namespace tpusim {

void EnergyConfig::validate() const {
  const std::pair<const char*, double> keys[] = {
      {"energy.hbm_read_pj_per_byte", hbm_read_pj_per_byte},
      {"energy.hbm_write_pj_per_byte", hbm_write_pj_per_byte},
      {"energy.sram_read_pj_per_byte", sram_read_pj_per_byte},
      {"energy.sram_write_pj_per_byte", sram_write_pj_per_byte},
      {"energy.mac_bf16_pj", mac_bf16_pj},
      {"energy.mac_fp8_pj", mac_fp8_pj},
      {"energy.vpu_lane_op_pj", vpu_lane_op_pj},
      {"energy.static_w", static_w},
  };
  for (const auto& [key, v] : keys) {
    if (!std::isfinite(v) || v < 0)
      throw ConfigError(fmt::format("{} must be a finite number >= 0 (got {})", key, v));
    // A nanojoule per byte or per op, or a megawatt, is no chip; bound it so sums stay finite.
    require_at_most(key, v, 1e6);
  }
}

EnergyBreakdown energy_of(const EnergyCounts& c, const EnergyConfig& cfg, double static_seconds) {
  constexpr double kPj = 1e-12;
  EnergyBreakdown e;
  e.hbm_j = (static_cast<double>(c.hbm_read_bytes) * cfg.hbm_read_pj_per_byte +
             static_cast<double>(c.hbm_write_bytes) * cfg.hbm_write_pj_per_byte) *
            kPj;
  e.sram_j = (static_cast<double>(c.sram_read_bytes) * cfg.sram_read_pj_per_byte +
              static_cast<double>(c.sram_write_bytes) * cfg.sram_write_pj_per_byte) *
             kPj;
  e.mxu_j = (static_cast<double>(c.macs_bf16) * cfg.mac_bf16_pj +
             static_cast<double>(c.macs_fp8) * cfg.mac_fp8_pj) *
            kPj;
  e.vpu_j = c.vpu_lane_ops * cfg.vpu_lane_op_pj * kPj;
  e.static_j = cfg.static_w * static_seconds;
  return e;
}

double vpu_lane_ops(const Instruction& in, const VpuConfig& cfg) {
  if (in.op == Op::kVpuTopk)
    return static_cast<double>(in.rows) *
           static_cast<double>(topk_lane_ops(in.n, in.k, in.cand, cfg.topk_passes));
  return static_cast<double>(in.elems) * cfg.cost[static_cast<std::size_t>(vpu_op_index(in.op))];
}

double topk_unit_lane_ops(const Instruction& in) {
  return static_cast<double>(in.rows) * static_cast<double>(in.n);
}

ActivityCounter::ActivityCounter(const HwConfig& hw) : ActivityCounter(hw.mxu, hw.vpu, hw.topk) {}

ActivityCounter::ActivityCounter(const MxuConfig& mxu, const VpuConfig& vpu, const TopkConfig& topk)
    : m_mxu(mxu), m_vpu(vpu), m_topk(topk), m_topk_unit(topk.enabled) {}

EnergyCounts ActivityCounter::count(const Instruction& in) const {
  EnergyCounts c;
  switch (in.op) {
    case Op::kDmaLoad:
    case Op::kDmaGather:
      // HBM -> SRAM: every byte read from HBM is written into SRAM.
      c.hbm_read_bytes = hbm_bytes(in);
      c.sram_write_bytes = c.hbm_read_bytes;
      break;
    case Op::kDmaStore:
      c.hbm_write_bytes = hbm_bytes(in);
      c.sram_read_bytes = c.hbm_write_bytes;
      break;
    case Op::kMxuMatmul: {
      const MatmulTraffic t = m_mxu.traffic(in.m, in.n, in.k, in.dtype);
      c.sram_read_bytes = t.a_bytes + t.b_bytes;
      c.sram_write_bytes = t.c_bytes;
      (in.dtype == DType::kFp8 ? c.macs_fp8 : c.macs_bf16) = in.m * in.n * in.k;
      break;
    }
    default:
      if (in.op == Op::kVpuTopk && m_topk_unit) {
        c.sram_read_bytes = m_topk.read_bytes(in);
        c.sram_write_bytes = m_topk.write_bytes(in);
        c.vpu_lane_ops = topk_unit_lane_ops(in);
      } else {
        c.sram_read_bytes = m_vpu.read_bytes(in);
        c.sram_write_bytes = m_vpu.write_bytes(in);
        c.vpu_lane_ops = vpu_lane_ops(in, m_vpu.config());
      }
      break;
  }
  return c;
}

}  // namespace tpusim
