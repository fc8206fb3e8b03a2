#include "sim/critical_path.h"

#include <algorithm>
#include <tuple>

namespace tpusim {

void CriticalPath::record(const Instruction& in, UnitKind kind, int instance, Cycle start,
                          Cycle end) {
  if (m_overflow) return;
  if (in.id >= kMaxInstructions || instance < 0 || instance > 0xffff) {
    m_overflow = true;
    m_records = {};
    return;
  }
  const auto id = static_cast<std::size_t>(in.id);
  if (id >= m_records.size())
    m_records.resize(
        std::min<std::size_t>(std::max(id + 1, 2 * m_records.size()), kMaxInstructions));
  Record& r = m_records[id];
  r.start = start;
  r.end = end;
  r.tag = in.tag;
  r.instance = static_cast<std::uint16_t>(instance);
  r.kind = kind;
  r.present = true;
  // The dependency that ended last is the one the instruction could not start before. Its
  // record exists: a dependency retires before its dependants start.
  Cycle latest = 0;
  for (std::uint64_t d : in.deps) {
    if (d >= m_records.size() || !m_records[d].present) continue;
    const Cycle e = m_records[d].end;
    if (r.data_pred == kNone || e > latest || (e == latest && d > r.data_pred)) {
      latest = e;
      r.data_pred = static_cast<std::uint32_t>(d);
    }
  }
}

CriticalPathResult CriticalPath::compute(std::size_t tags, bool keep_steps) {
  CriticalPathResult out;
  out.tag.assign(tags, 0);
  std::vector<Record> recs;
  recs.swap(m_records);
  if (m_overflow) return out;

  // Each unit instance's instructions in (start, id) order: an instruction's unit predecessor
  // is the one before it there, the last to take the unit before it did.
  std::array<std::vector<std::vector<std::uint32_t>>, kUnitKinds> by_unit;
  std::uint32_t last = kNone;
  for (std::uint32_t id = 0; id < recs.size(); ++id) {
    const Record& r = recs[id];
    if (!r.present) continue;
    auto& lists = by_unit[static_cast<std::size_t>(r.kind)];
    if (r.instance >= lists.size()) lists.resize(r.instance + 1u);
    lists[r.instance].push_back(id);
    if (last == kNone || r.end >= recs[last].end) last = id;
  }
  if (last == kNone) return out;
  std::vector<std::uint32_t> unit_pred(recs.size(), kNone);
  for (auto& lists : by_unit)
    for (auto& ids : lists) {
      std::sort(ids.begin(), ids.end(), [&recs](std::uint32_t a, std::uint32_t b) {
        return std::tie(recs[a].start, a) < std::tie(recs[b].start, b);
      });
      for (std::size_t i = 1; i < ids.size(); ++i)
        unit_pred[ids[i]] = ids[i - 1];
    }

  // Backwards from the last end. `t` is how far back the path is already explained; the
  // current instruction explains [start, t). Each step goes to an instruction earlier in
  // (start, id) order, so the walk ends.
  out.valid = true;
  out.cycles = recs[last].end;
  Cycle t = out.cycles;
  std::uint32_t cur = last;
  while (true) {
    const Record& r = recs[cur];
    const Cycle ran = t - r.start;
    out.unit[static_cast<std::size_t>(r.kind)] += ran;
    if (r.tag < out.tag.size()) out.tag[r.tag] += ran;
    if (ran > 0) {
      ++out.steps;
      if (keep_steps) out.path.push_back({cur, r.tag, r.kind, r.instance, r.start, t});
    }
    const std::uint32_t dp = r.data_pred, up = unit_pred[cur];
    std::uint32_t pred = kNone;
    if (dp != kNone && recs[dp].end >= r.start) {
      pred = dp;  // waited for its data
    } else if (up != kNone && recs[up].end >= r.start) {
      pred = up;  // waited for its unit (still busy, or accepting it only now)
    } else if (dp != kNone || up != kNone) {
      // Neither kept it waiting to its start: the later of the two, and a gap.
      pred = dp == kNone || (up != kNone && recs[up].end > recs[dp].end) ? up : dp;
    }
    if (pred == kNone) {
      out.wait += r.start;
      break;
    }
    // A unit predecessor may still run after this one started (a pipelined array, a DMA
    // engine with several transfers in flight): it explains only up to this one's start.
    const Cycle next_t = std::min(recs[pred].end, r.start);
    out.wait += r.start - next_t;
    t = next_t;
    cur = pred;
  }
  std::reverse(out.path.begin(), out.path.end());
  return out;
}

}  // namespace tpusim
