#include "sim/critical_path.h"

#include <algorithm>
#include <tuple>

namespace tpusim {

void CriticalPath::record(const Instruction& in, UnitKind kind, int instance, Cycle start,
                          Cycle end) {
  if (m_overflow) return;
  if (m_records.size() >= m_max_instructions || instance < 0 || instance > 0xffff) {
    m_overflow = true;
    m_records = {};
    m_dense = {};
    m_at = {};
    return;
  }
  const auto index = static_cast<std::uint32_t>(m_records.size());
  Record r;
  r.id = in.id;
  r.start = start;
  r.end = end;
  r.tag = in.tag;
  r.instance = static_cast<std::uint16_t>(instance);
  r.kind = kind;
  // The dependency that ended last is the one the instruction could not start before (ties:
  // the later id). Its record exists: a dependency retires before its dependants start.
  Cycle latest = 0;
  std::uint64_t latest_id = 0;
  for (std::uint64_t d : in.deps) {
    const std::uint32_t at = find(d);
    if (at == kNone) continue;
    const Cycle e = m_records[at].end;
    if (r.data_pred == kNone || e > latest || (e == latest && d > latest_id)) {
      latest = e;
      latest_id = d;
      r.data_pred = at;
    }
  }
  m_records.push_back(r);
  if (in.id < kDenseIds) {
    if (in.id >= m_dense.size())
      m_dense.resize(std::max<std::size_t>(in.id + 1, 2 * m_dense.size()), kNone);
    m_dense[in.id] = index;
  } else {
    m_at[in.id] = index;
  }
}

void CriticalPath::expect(std::uint64_t n) {
  if (m_overflow || n == 0 || n > m_max_instructions) return;
  m_records.reserve(n);
  // Generated ids are 0 .. n-1: the index never grows.
  m_dense.resize(std::max<std::size_t>(m_dense.size(), std::min<std::uint64_t>(n, kDenseIds)),
                 kNone);
}

std::uint32_t CriticalPath::find(std::uint64_t id) const {
  if (id < kDenseIds) return id < m_dense.size() ? m_dense[id] : kNone;
  const auto it = m_at.find(id);
  return it == m_at.end() ? kNone : it->second;
}

CriticalPathResult CriticalPath::compute(std::size_t tags, std::size_t max_steps) {
  CriticalPathResult out;
  out.tag.assign(tags, 0);
  std::vector<Record> recs;
  recs.swap(m_records);
  m_dense = {};
  m_at = {};
  if (m_overflow || recs.empty()) return out;

  // Each unit instance's records in (start, id) order, and in (end, id) order.
  auto before = [&recs](std::uint32_t a, std::uint32_t b) {
    return std::tie(recs[a].start, recs[a].id) < std::tie(recs[b].start, recs[b].id);
  };
  std::array<std::vector<std::vector<std::uint32_t>>, kUnitKinds> by_start, by_end;
  std::uint32_t last = 0;
  for (std::uint32_t i = 0; i < recs.size(); ++i) {
    const Record& r = recs[i];
    auto& lists = by_start[static_cast<std::size_t>(r.kind)];
    if (r.instance >= lists.size()) lists.resize(r.instance + 1u);
    lists[r.instance].push_back(i);
    const Record& l = recs[last];
    if (r.end > l.end || (r.end == l.end && r.id > l.id)) last = i;
  }
  // unit_pred: the record that took the same instance last before this one (by start).
  std::vector<std::uint32_t> unit_pred(recs.size(), kNone);
  for (std::size_t k = 0; k < kUnitKinds; ++k) {
    by_end[k].resize(by_start[k].size());
    for (std::size_t inst = 0; inst < by_start[k].size(); ++inst) {
      auto& ids = by_start[k][inst];
      std::sort(ids.begin(), ids.end(), before);
      for (std::size_t i = 1; i < ids.size(); ++i)
        unit_pred[ids[i]] = ids[i - 1];
      auto& ends = by_end[k][inst];
      ends = ids;
      std::sort(ends.begin(), ends.end(), [&recs](std::uint32_t a, std::uint32_t b) {
        return std::tie(recs[a].end, recs[a].id) < std::tie(recs[b].end, recs[b].id);
      });
    }
  }
  // The record on cur's instance that ended exactly when cur started and started before it
  // (the one that freed the array or the DMA engine's slot), preferring the later id; or kNone.
  auto freed_by = [&](std::uint32_t cur) -> std::uint32_t {
    const Record& r = recs[cur];
    const auto& ends = by_end[static_cast<std::size_t>(r.kind)][r.instance];
    auto it = std::upper_bound(ends.begin(), ends.end(), r.start,
                               [&recs](Cycle t, std::uint32_t a) { return t < recs[a].end; });
    while (it != ends.begin()) {
      --it;
      if (recs[*it].end != r.start) break;
      if (before(*it, cur)) return *it;
    }
    return kNone;
  };

  // Backwards from the last end. `t` is how far back the path is already explained; the
  // current record explains [start, t). Each step goes to a record earlier in (start, id)
  // order, so the walk ends. What kept the current one from starting earlier, in order:
  //   its data, if the dependency that ended last ended at its start;
  //   its unit, if an earlier record on the same instance ended at its start (it freed the
  //   array or a DMA slot), else if the last to take the instance before it still ran then
  //   (a pipelined array, an engine with transfers in flight);
  //   else the later-ending of the two, with the gap between as waiting to issue.
  out.kept = true;
  out.cycles = recs[last].end;
  Cycle t = out.cycles;
  std::uint32_t cur = last;
  std::vector<CriticalStep> steps;
  while (true) {
    const Record& r = recs[cur];
    const Cycle ran = t - r.start;
    out.unit[static_cast<std::size_t>(r.kind)] += ran;
    if (r.tag < out.tag.size()) out.tag[r.tag] += ran;
    if (ran > 0) {
      ++out.steps;
      if (steps.size() < max_steps)
        steps.push_back({r.id, r.tag, r.kind, r.instance, r.start, t});
      else
        ++out.path_dropped;
    }
    const std::uint32_t dp = r.data_pred, up = unit_pred[cur];
    std::uint32_t pred = kNone;
    if (dp != kNone && recs[dp].end >= r.start) {
      pred = dp;
    } else if (const std::uint32_t f = freed_by(cur); f != kNone) {
      pred = f;
    } else if (up != kNone && recs[up].end >= r.start) {
      pred = up;
    } else if (dp != kNone || up != kNone) {
      pred = dp == kNone || (up != kNone && recs[up].end > recs[dp].end) ? up : dp;
    }
    if (pred == kNone) {
      out.wait += r.start;
      break;
    }
    // A unit predecessor may still run after this one started: it explains only up to this
    // one's start.
    const Cycle next_t = std::min(recs[pred].end, r.start);
    out.wait += r.start - next_t;
    t = next_t;
    cur = pred;
  }
  out.path.assign(steps.rbegin(), steps.rend());
  return out;
}

}  // namespace tpusim
