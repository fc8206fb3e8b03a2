#include "sim/stats.h"

#include <algorithm>

namespace tpusim {

void IntervalUnion::add(Cycle start, Cycle end, Cycle horizon) {
  if (end > start) {
    Cycle s = start, e = end;
    Cycle merged = 0;  // length of the intervals the new one absorbs
    while (!m_open.empty() && m_open.back().second >= s) {
      s = std::min(s, m_open.back().first);
      e = std::max(e, m_open.back().second);
      merged += m_open.back().second - m_open.back().first;
      m_open.pop_back();
    }
    m_open.emplace_back(s, e);
    m_total += (e - s) - merged;
  }
  // Merging needs back.second >= start, and every later start is >= horizon.
  while (!m_open.empty() && m_open.front().second < horizon)
    m_open.pop_front();
}

void RunStats::on_retire(const Instruction& in, UnitKind kind, int instance, Cycle start, Cycle end,
                         Cycle horizon) {
  const Cycle dur = end - start;
  const std::uint64_t f = instruction_flops(in);
  const std::uint64_t b = hbm_bytes(in);
  last_end = std::max(last_end, end);
  ++instructions;
  // Matmuls of up to 2^61 FLOPs each fit a 1-TiB SRAM, so a short trace can pass what the
  // reports count in. A trace file's first pass refuses one (sim/driver.cpp); this is the
  // backstop for any other stream. The run is failed after it stops (simulate_on_chip):
  // throwing here would unwind a unit thread's coroutine stack. A kernel's count is part of
  // the run's, so this check covers both.
  if (__builtin_add_overflow(flops, f, &flops) && flops_overflow_at == kNoOverflow)
    flops_overflow_at = in.id;
  declared_hbm_bytes += b;
  auto& u = units[static_cast<std::size_t>(kind)];
  ++u.instructions;
  if (static_cast<std::size_t>(instance) >= u.busy.size())
    u.busy.resize(static_cast<std::size_t>(instance) + 1);
  IntervalUnion& busy = u.busy[static_cast<std::size_t>(instance)];
  const Cycle before = busy.total();
  busy.add(start, end, horizon);
  u.busy_cycles += busy.total() - before;

  if (in.tag >= kernels.size()) kernels.resize(in.tag + 1u);
  KernelStats& k = kernels[in.tag];
  ++k.instructions;
  k.busy_cycles += dur;
  k.dram_bytes += b;
  k.flops += f;
  k.activity += m_counter.count(in);
  k.active.add(start, end, horizon);
  m_path.record(in, kind, instance, start, end);

  if (m_timeline_limit > 0) {
    if (timeline.size() < m_timeline_limit)
      timeline.push_back({in.id, in.tag, in.op, kind, instance, start, end, b, f});
    else
      ++timeline_dropped;
  }
}

}  // namespace tpusim
