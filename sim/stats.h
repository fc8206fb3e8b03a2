#pragma once
/// Run statistics gathered at instruction retirement: per kernel tag and per unit kind.
/// The hot path only adds; ratios are computed when reporting.

#include <array>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "base/cycle.h"
#include "base/error.h"
#include "models/energy.h"
#include "sim/critical_path.h"
#include "traces/isa.h"

namespace tpusim {

/// Length of the union of [start, end) intervals added as instructions retire. Retirements come
/// in time order (ends never decrease), so merging from the back is exact. Intervals that end
/// before every instruction still running started can never merge again; they leave the list
/// (their length stays in `total`), so a streamed trace of millions of instructions keeps a few.
class IntervalUnion {
 public:
  /// Adds [start, end); `horizon`: no later interval starts before it.
  void add(Cycle start, Cycle end, Cycle horizon);
  Cycle total() const { return m_total; }

 private:
  std::deque<std::pair<Cycle, Cycle>> m_open;
  Cycle m_total = 0;
};

struct KernelStats {
  std::uint64_t instructions = 0;
  Cycle busy_cycles = 0;         ///< sum of its instructions' durations (unit-cycles)
  std::uint64_t dram_bytes = 0;  ///< HBM bytes its instructions declare
  std::uint64_t flops = 0;
  /// Its instructions' accesses, MACs and lane-ops (ActivityCounter), for its energy.
  EnergyCounts activity;
  /// Union of its instructions' [start, end) intervals: the kernel's span.
  IntervalUnion active;
  Cycle active_cycles() const { return active.total(); }
};

struct UnitKindStats {
  int instances = 0;
  std::uint64_t instructions = 0;
  /// Summed over instances; per instance the union of its instructions' intervals (a DMA
  /// engine has several instructions in flight; other units one at a time).
  Cycle busy_cycles = 0;
  std::vector<IntervalUnion> busy;  ///< per instance
};

/// One slice of the timeline (Chrome trace events).
struct TimelineEvent {
  std::uint64_t id;
  std::uint16_t tag;
  Op op;
  UnitKind kind;
  int instance;
  Cycle start;
  Cycle end;
  std::uint64_t hbm_bytes;
  std::uint64_t flops;
};

class RunStats {
 public:
  explicit RunStats(std::size_t timeline_limit = 0, ActivityCounter counter = {})
      : m_timeline_limit(timeline_limit), m_counter(counter) {}
  /// `horizon`: no instruction retiring later started before it (0: unknown, fold nothing).
  void on_retire(const Instruction& in, UnitKind kind, int instance, Cycle start, Cycle end,
                 Cycle horizon = 0);
  /// The stream holds `n` instructions (InstructionSource::size_hint; 0: unknown).
  void expect_instructions(std::uint64_t n) { m_path.expect(n); }
  /// Once every instruction has retired: computes `critical_path` (`tags`: the tag table's
  /// size; with a timeline, its last steps too, as many as the timeline keeps instruction
  /// slices) and frees what it kept for it.
  void finish(std::size_t tags) { critical_path = m_path.compute(tags, m_timeline_limit); }

  Cycle last_end = 0;
  std::uint64_t instructions = 0;
  std::uint64_t flops = 0;
  /// The instruction whose matmul took `flops` past 2^64 (the count wrapped), or kNoOverflow.
  static constexpr std::uint64_t kNoOverflow = ~std::uint64_t{0};
  std::uint64_t flops_overflow_at = kNoOverflow;
  std::uint64_t declared_hbm_bytes = 0;
  std::array<UnitKindStats, kUnitKinds> units{};  ///< indexed by UnitKind: use unit()
  UnitKindStats& unit(UnitKind k) { return units[static_cast<std::size_t>(k)]; }
  const UnitKindStats& unit(UnitKind k) const { return units[static_cast<std::size_t>(k)]; }
  std::vector<KernelStats> kernels;  ///< indexed by tag id
  std::vector<TimelineEvent> timeline;
  std::uint64_t timeline_dropped = 0;
  CriticalPathResult critical_path;  ///< after finish()

 private:
  CriticalPath m_path;
  std::size_t m_timeline_limit;
  ActivityCounter m_counter;
};

}  // namespace tpusim
