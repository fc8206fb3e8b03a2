#pragma once
/// A unit's counters, registered once: each stats struct lists its fields (name, unit, member)
/// beside its definition, and reports, sums over instances and docs iterate that list, so a new
/// counter is one field and one list entry, and nothing indexes a struct by position.

#include <cstdint>

namespace tpusim {

template <class Stats>
struct StatField {
  const char* name;  ///< report key: "row_hits"
  const char* unit;  ///< "B", "cycles", "bursts", ...
  std::uint64_t Stats::*member;
};

/// a += b, field by field, for every registered counter.
template <class Stats, std::size_t N>
void add_stats(Stats& a, const Stats& b, const StatField<Stats> (&fields)[N]) {
  for (const auto& f : fields)
    a.*(f.member) += b.*(f.member);
}

}  // namespace tpusim
