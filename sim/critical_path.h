#pragma once
/// The run's critical path: the chain of instructions that ends with the last one to finish, in
/// which each instruction waited for the one before it, either for its data (a dependency) or
/// for its unit (an earlier instruction on the same unit instance). The speed-of-light bounds
/// say how far a run is from the chip's limits; the path's time per unit kind and per kernel
/// says what held it back (docs/ARCHITECTURE.md, "Critical path"). Plain C++, no SystemC: the
/// executor's retirements feed it, and it is walked once when the run ends.

#include <array>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "base/cycle.h"
#include "traces/isa.h"

namespace tpusim {

/// One instruction on the path, with the cycles it is charged: [from, to) (its start, up to
/// where the next instruction on the path took over).
struct CriticalStep {
  std::uint64_t id = 0;
  std::uint16_t tag = 0;
  UnitKind kind = UnitKind::kDma;
  int instance = 0;
  Cycle from = 0, to = 0;
};

struct CriticalPathResult {
  bool kept = false;        ///< false: not computed (no instruction, or too many to keep)
  Cycle cycles = 0;         ///< the path's span, the run's end: unit + wait sum to it
  std::uint64_t steps = 0;  ///< instructions on the path charged at least one cycle
  /// Path time spent running on each unit kind (indexed by UnitKind).
  std::array<Cycle, kUnitKinds> unit{};
  /// Path time in which the next instruction on the path had its data and its unit but had
  /// not started (issue order, or a unit's own start-up), and any gap before the first.
  Cycle wait = 0;
  std::vector<Cycle> tag;          ///< path time per kernel tag id (wait excluded)
  std::vector<CriticalStep> path;  ///< the last steps, first to last (see compute())
  std::uint64_t path_dropped = 0;  ///< earlier steps not listed in `path`
};

class CriticalPath {
 public:
  /// Instructions kept at most (40 B each, 4 B more per id for the index while recording, and
  /// 12 B more while the path is walked); a longer run gets no critical path, so a streamed
  /// trace of any length keeps bounded memory. The largest generated run on a preset, h800-like's
  /// 4k prefill chunk at 128k, fits.
  static constexpr std::size_t kMaxInstructions = std::size_t{1} << 23;

  explicit CriticalPath(std::size_t max_instructions = kMaxInstructions)
      : m_max_instructions(max_instructions) {}

  /// The run will retire about `n` instructions: sizes the records once (no doubling, whose
  /// copy would hold two arrays at once), if `n` is within the limit.
  void expect(std::uint64_t n);
  /// At retirement; every dependency of `in` has retired before it (it started after they
  /// ended).
  void record(const Instruction& in, UnitKind kind, int instance, Cycle start, Cycle end);
  /// Walks the path back from the last instruction to finish (ties: the later id) and frees
  /// the records. `tags`: the size of the result's per-tag vector; `max_steps`: list at most
  /// this many of the path's last steps in `path` (for the timeline; 0: none).
  CriticalPathResult compute(std::size_t tags, std::size_t max_steps = 0);

 private:
  static constexpr std::uint32_t kNone = ~std::uint32_t{0};
  struct Record {
    std::uint64_t id = 0;
    Cycle start = 0;
    Cycle end = 0;
    std::uint32_t data_pred = kNone;  ///< record of the dependency that ended last
    std::uint16_t tag = 0;
    std::uint16_t instance = 0;
    UnitKind kind = UnitKind::kDma;
  };
  /// The record of instruction `id`, or kNone.
  std::uint32_t find(std::uint64_t id) const;

  /// Ids below this are indexed by a vector (a trace's ids are usually 0, 1, 2, ...); sparse
  /// ids beyond it by a hash map.
  static constexpr std::uint64_t kDenseIds = std::uint64_t{1} << 22;
  std::vector<Record> m_records;                          ///< in retirement order
  std::vector<std::uint32_t> m_dense;                     ///< id -> record, or kNone
  std::unordered_map<std::uint64_t, std::uint32_t> m_at;  ///< sparse id -> record
  std::size_t m_max_instructions;
  bool m_overflow = false;
};

}  // namespace tpusim
