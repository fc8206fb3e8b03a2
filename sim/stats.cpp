#include "sim/stats.h"

#include <algorithm>

namespace tpusim {

Cycle KernelStats::active_cycles() const {
  Cycle total = closed_cycles;
  for (const auto& [s, e] : active)
    total += e - s;
  return total;
}

void RunStats::on_retire(const Instruction& in, UnitKind kind, int instance, Cycle start, Cycle end,
                         Cycle horizon) {
  const Cycle dur = end - start;
  const std::uint64_t f = instruction_flops(in);
  const std::uint64_t b = hbm_bytes(in);
  last_end = std::max(last_end, end);
  ++instructions;
  flops += f;
  declared_hbm_bytes += b;
  auto& u = units[static_cast<std::size_t>(kind)];
  ++u.instructions;
  u.busy_cycles += dur;

  if (in.tag >= kernels.size()) kernels.resize(in.tag + 1u);
  KernelStats& k = kernels[in.tag];
  ++k.instructions;
  k.busy_cycles += dur;
  k.dram_bytes += b;
  k.flops += f;
  k.activity += m_counter.count(in);
  if (dur > 0) {
    Cycle s = start;
    while (!k.active.empty() && k.active.back().second >= s) {
      s = std::min(s, k.active.back().first);
      k.active.pop_back();
    }
    k.active.emplace_back(s, end);
  }
  // Merging needs back.second >= start, and every later start is >= horizon.
  while (!k.active.empty() && k.active.front().second < horizon) {
    k.closed_cycles += k.active.front().second - k.active.front().first;
    k.active.pop_front();
  }

  if (m_timeline_limit > 0) {
    if (timeline.size() < m_timeline_limit)
      timeline.push_back({in.id, in.tag, in.op, kind, instance, start, end, b, f});
    else
      ++timeline_dropped;
  }
}

}  // namespace tpusim
