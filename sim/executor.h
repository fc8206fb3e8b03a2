#pragma once
/// The executor: a dependency scoreboard over a sliding window of the instruction stream, and
/// the SystemC module that hands ready instructions to unit threads (docs/ARCHITECTURE.md).

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include <systemc>

#include "base/cycle.h"
#include "base/error.h"
#include "models/unit_port.h"
#include "sim/instruction_source.h"
#include "traces/isa.h"

namespace tpusim {

/// Plain C++ dependency tracking. Instructions enter a window in stream order and wait in one
/// queue per unit kind, in stream order. Issue policy (`exec.issue_window` = W): a unit of a
/// kind may take the oldest instruction whose dependencies are done among the first W
/// not-yet-taken instructions of its kind; W = 1 is strict in-order issue per kind. This is
/// what a unit front end with W reservation slots filled in program order does; the choice is a
/// pure function of the stream and the finished set, so runs are deterministic.
///
/// No deadlock, for any W >= 1 and any window >= 1: dependencies name earlier instructions
/// only, so the oldest instruction not yet taken has every dependency either finished or
/// running (running ones finish); it is the first of its kind's queue, which is always inside
/// the issue window and inside the scoreboard window (everything older was taken). So some
/// instruction can always start. The scoreboard window only bounds memory for huge streamed
/// traces.
///
/// Readiness is tracked, not scanned for: each instruction counts its unfinished dependencies
/// and each finished instruction decrements its dependants' counts, so the ready instructions
/// of a kind sit in a heap by stream order. The oldest ready one is the policy's pick if it is
/// among the first W of its queue, and then no other is; so a pick costs O(log n) whatever W is
/// (a chip with 132 arrays needs a window of hundreds).
class Scoreboard {
 public:
  Scoreboard(InstructionSource& source, bool topk_unit, std::size_t window = 16384,
             std::size_t issue_window = 1);

  /// The instruction of `kind` the issue policy would start now (the oldest ready one among
  /// the first issue_window of its queue), or null.
  const Instruction* ready_head(UnitKind kind);
  /// Removes that instruction from the queue of `kind` (right after ready_head returned it),
  /// taken at cycle `now`.
  void take(UnitKind kind, Cycle now);
  /// The cycle a taken, unfinished instruction was taken at.
  Cycle taken_at(const Instruction* in);
  /// Marks an instruction finished; retires finished instructions from the window's front.
  void finish(const Instruction* in);
  /// True once no instruction of `kind` remains to be taken, now or later.
  bool exhausted(UnitKind kind);
  bool all_done();
  std::uint64_t finished() const { return m_finished; }
  /// For deadlock reports: which heads wait on which dependencies.
  std::string describe_waiting();

 private:
  struct Slot {
    Instruction in;
    std::uint64_t seq = 0;      ///< position in the stream (the heaps' order)
    std::uint32_t pending = 0;  ///< dependencies not yet finished
    bool done = false;
    Cycle taken_at = 0;             ///< when a unit took it
    std::vector<Slot*> dependants;  ///< slots that counted this one as pending
  };
  /// Min-heap entry of a kind's ready, untaken slots.
  struct Ready {
    std::uint64_t seq;
    Slot* slot;
    bool operator>(const Ready& o) const { return seq > o.seq; }
  };
  void refill();
  void retire_front();
  /// The slot of `dep` if it is in the window, null if it is older (retired, so finished) or,
  /// with `missing` set, not in the window at all.
  Slot* lookup(std::uint64_t dep, bool& missing);
  /// lookup(), with a missing dependency a SIM_CHECK failure.
  Slot* find_slot(std::uint64_t dep);
  void push_ready(Slot& s);

  InstructionSource& m_source;
  bool m_topk_unit;
  std::size_t m_window;
  std::size_t m_issue_window;
  bool m_source_done = false;
  std::deque<Slot> m_slots;  // stream order; references stay valid across push_back/pop_front
  std::array<std::deque<Slot*>, kUnitKinds> m_queues;  ///< untaken slots, stream order
  std::array<std::vector<Ready>, kUnitKinds> m_ready;  ///< heaps (std::greater)
  std::array<std::size_t, kUnitKinds> m_pick{};        ///< queue position ready_head last returned
  std::uint64_t m_finished = 0;
  std::uint64_t m_next_seq = 0;
  /// Slots waiting on an id not in the window when they arrived, by that id.
  std::unordered_map<std::uint64_t, std::vector<Slot*>> m_forward;
};

/// Called at every retirement (stats, timeline). `instance` indexes units of one kind.
/// `horizon`: every instruction that retires later starts at or after it (the earliest start
/// among those still running, or now), so bookkeeping older than it can be folded away.
using RetireHook = std::function<void(const Instruction&, UnitKind kind, int instance, Cycle start,
                                      Cycle end, Cycle horizon)>;

/// The SystemC face of the scoreboard: unit threads block in acquire() until their kind's head
/// is ready. Only kinds whose head became ready (or that ran out) are woken, so an idle unit
/// costs nothing. A ready instruction wakes the idle unit of its kind that has waited longest;
/// a unit asking in the same cycle may take it first (docs/ARCHITECTURE.md, the life of an
/// instruction, "Held").
class Executor : public sc_core::sc_module, public InstructionPort {
 public:
  Executor(sc_core::sc_module_name name, Scoreboard& board, RetireHook hook);
  const Instruction* acquire(UnitKind kind) override;
  void retire(const Instruction* in, UnitKind kind, int instance, Cycle start, Cycle end) override;
  /// Keeps the first error and stops the simulation (sc_stop).
  void fail(std::exception_ptr error) override;
  /// The first error a unit reported, or null.
  std::exception_ptr error() const { return m_error; }

 private:
  void wake_ready_kinds();
  /// Wakes the unit of kind k idle the longest (none if none is idle).
  void wake_longest_idle(std::size_t k);
  /// Wakes every idle unit of kind k (its instructions are exhausted: each thread ends).
  void wake_all_idle(std::size_t k);
  /// The calling unit thread's index (its wake-up event), assigned on its first acquire().
  std::size_t thread_index();
  Scoreboard& m_board;
  RetireHook m_hook;
  /// Idle unit threads of each kind, longest idle first. Each has its own event, so an
  /// instruction that becomes ready wakes one unit, not every idle unit of its kind.
  std::array<std::deque<std::size_t>, kUnitKinds> m_idle;
  std::unordered_map<const void*, std::size_t> m_thread_of;  // by SystemC process object
  std::deque<sc_core::sc_event> m_wake;                      // per thread index
  std::exception_ptr m_error;
  /// How many instructions taken at each cycle are not yet retired, in cycle order (takes come
  /// in time order): the earliest start still running is the first entry with a count, found
  /// without a walk over everything in flight (a DMA engine may have 256 instructions at once).
  std::deque<std::pair<Cycle, std::uint64_t>> m_taken;
};

}  // namespace tpusim
