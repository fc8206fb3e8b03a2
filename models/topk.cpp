#include "models/topk.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "models/energy.h"

namespace tpusim {
namespace {

Cycle ceil_cycles(double work_elems, double per_cycle) {
  return static_cast<Cycle>(std::ceil(work_elems / per_cycle));
}

}  // namespace

void TopkConfig::validate() const {
  if (!std::isfinite(elems_per_cycle) || elems_per_cycle <= 0)
    throw ConfigError(fmt::format("topk.elems_per_cycle must be > 0 (got {})", elems_per_cycle));
  require_at_least("topk.elems_per_cycle", elems_per_cycle, 1.0 / 1024);
  require_at_most("topk.latency_cycles", static_cast<double>(latency_cycles), 1e9);
}

Cycle TopkTiming::cycles(const Instruction& in) const {
  return m_cfg.latency_cycles +
         ceil_cycles(static_cast<double>(in.rows) * static_cast<double>(in.n),
                     m_cfg.elems_per_cycle);
}

// The dedicated unit streams the scores once (it keeps its candidate set internally).
std::uint64_t TopkTiming::read_bytes(const Instruction& in) const {
  return in.rows * in.n * kVectorElementBytes;
}

std::uint64_t TopkTiming::write_bytes(const Instruction& in) const {
  return in.rows * in.k * kVectorElementBytes;
}

Cycle TopkCore::execute(const Instruction& in, Cycle t0) {
  Cycle end = t0 + m_timing.cycles(in);
  end = std::max(end, m_sram.access_repeat(t0, in.src.offset, m_timing.read_bytes(in), 1, false));
  end = std::max(end, m_sram.access(t0, in.dst.offset, m_timing.write_bytes(in), true));
  ++m_stats.instructions;
  m_stats.elements += in.rows * in.n;
  m_stats.lane_ops += topk_unit_lane_ops(in);
  m_stats.busy_cycles += end - t0;
  return end;
}

}  // namespace tpusim
