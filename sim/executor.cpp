#include "sim/executor.h"

#include <algorithm>
#include <functional>

#include <fmt/format.h>

#include "models/sim_time.h"

namespace tpusim {

Scoreboard::Scoreboard(InstructionSource& source, bool topk_unit, std::size_t window,
                       std::size_t issue_window)
    : m_source(source),
      m_topk_unit(topk_unit),
      m_window(std::max<std::size_t>(window, 1)),
      m_issue_window(std::max<std::size_t>(issue_window, 1)) {
  refill();
}

void Scoreboard::refill() {
  while (!m_source_done && m_slots.size() < m_window) {
    m_slots.emplace_back();
    Slot& s = m_slots.back();
    if (!m_source.next(s.in)) {
      m_slots.pop_back();
      m_source_done = true;
      break;
    }
    s.seq = m_next_seq++;
    m_queues[static_cast<std::size_t>(unit_kind_of(s.in.op, m_topk_unit))].push_back(&s);
    // Slots that named this one before it arrived (a forward dependency, which only a
    // hand-built stream has: readers reject them).
    if (!m_forward.empty()) {
      if (auto it = m_forward.find(s.in.id); it != m_forward.end()) {
        s.dependants = std::move(it->second);
        m_forward.erase(it);
      }
    }
    for (std::uint64_t dep : s.in.deps) {
      // Itself for a self-dependency, which never becomes ready.
      bool missing = false;
      Slot* d = dep > s.in.id ? nullptr : lookup(dep, missing);
      if (dep > s.in.id || missing) {
        // Not (yet) in the window: only a later slot can release it, and an id the stream
        // skipped never will (the deadlock diagnostic names it). No SIM_CHECK here: refill
        // also runs after the simulation has stopped.
        m_forward[dep].push_back(&s);
        ++s.pending;
        continue;
      }
      if (d == nullptr || d->done) continue;
      d->dependants.push_back(&s);
      ++s.pending;
    }
    if (s.pending == 0) push_ready(s);
  }
}

void Scoreboard::push_ready(Slot& s) {
  auto& heap = m_ready[static_cast<std::size_t>(unit_kind_of(s.in.op, m_topk_unit))];
  heap.push_back({s.seq, &s});
  std::push_heap(heap.begin(), heap.end(), std::greater<>());
}

Scoreboard::Slot* Scoreboard::lookup(std::uint64_t dep, bool& missing) {
  missing = false;
  // Everything older than the window's front has retired, hence finished.
  if (m_slots.empty() || dep < m_slots.front().in.id) return nullptr;
  // IDs are usually consecutive, so the slot is at dep - front: check there before searching.
  const std::uint64_t guess = dep - m_slots.front().in.id;
  if (guess < m_slots.size() && m_slots[guess].in.id == dep) return &m_slots[guess];
  auto it = std::lower_bound(m_slots.begin(), m_slots.end(), dep,
                             [](const Slot& s, std::uint64_t id) { return s.in.id < id; });
  if (it != m_slots.end() && it->in.id == dep) return &*it;
  missing = true;
  return nullptr;
}

Scoreboard::Slot* Scoreboard::find_slot(std::uint64_t dep) {
  bool missing = false;
  Slot* s = lookup(dep, missing);
  // A dependency the validated stream does not contain cannot be waited for.
  SIM_CHECK("executor", !missing,
            fmt::format("dependency {} is not in the instruction window", dep));
  return s;
}

const Instruction* Scoreboard::ready_head(UnitKind kind) {
  auto& q = m_queues[static_cast<std::size_t>(kind)];
  if (q.empty()) refill();
  const auto& heap = m_ready[static_cast<std::size_t>(kind)];
  if (heap.empty()) return nullptr;
  // The oldest ready slot; if it lies beyond the first W untaken of its kind, so does every
  // other ready one.
  const Slot* oldest = heap.front().slot;
  const auto it = std::lower_bound(q.begin(), q.end(), oldest->seq,
                                   [](const Slot* s, std::uint64_t seq) { return s->seq < seq; });
  const auto pos = static_cast<std::size_t>(it - q.begin());
  SIM_CHECK("executor", it != q.end() && *it == oldest, "a ready instruction left its queue");
  if (pos >= m_issue_window) return nullptr;
  m_pick[static_cast<std::size_t>(kind)] = pos;
  return &oldest->in;
}

void Scoreboard::take(UnitKind kind, Cycle now) {
  auto& q = m_queues[static_cast<std::size_t>(kind)];
  auto& heap = m_ready[static_cast<std::size_t>(kind)];
  const auto pick = q.begin() + static_cast<std::ptrdiff_t>(m_pick[static_cast<std::size_t>(kind)]);
  (*pick)->taken_at = now;
  q.erase(pick);
  std::pop_heap(heap.begin(), heap.end(), std::greater<>());
  heap.pop_back();
}

Cycle Scoreboard::taken_at(const Instruction* in) {
  const Slot* s = find_slot(in->id);
  SIM_CHECK("executor", s != nullptr && &s->in == in, "asked for an unknown instruction");
  return s->taken_at;
}

void Scoreboard::finish(const Instruction* in) {
  Slot* s = find_slot(in->id);
  SIM_CHECK("executor", s != nullptr && &s->in == in, "finished an unknown instruction");
  s->done = true;
  ++m_finished;
  for (Slot* d : s->dependants)
    if (--d->pending == 0) push_ready(*d);
  s->dependants.clear();
  retire_front();
}

void Scoreboard::retire_front() {
  while (!m_slots.empty() && m_slots.front().done)
    m_slots.pop_front();
  refill();
}

bool Scoreboard::exhausted(UnitKind kind) {
  auto& q = m_queues[static_cast<std::size_t>(kind)];
  if (q.empty()) refill();
  return q.empty() && m_source_done;
}

bool Scoreboard::all_done() {
  refill();
  return m_source_done && m_slots.empty();
}

std::string Scoreboard::describe_waiting() {
  std::string out;
  for (int k = 0; k < kUnitKinds; ++k) {
    auto& q = m_queues[static_cast<std::size_t>(k)];
    if (q.empty()) continue;
    const Instruction& in = q.front()->in;
    // No SIM_CHECK here: this builds the message of the error being raised. A dependency on
    // an id the stream never had (a forward one: readers reject them) is named as such.
    std::string waits, missing_deps;
    for (std::uint64_t d : in.deps) {
      bool missing = false;
      const Slot* s = lookup(d, missing);
      if (missing)
        missing_deps += fmt::format("; dependency {} is not in the instruction window", d);
      if (missing || (s != nullptr && !s->done))
        waits += (waits.empty() ? "" : ",") + std::to_string(d);
    }
    out += fmt::format("  {} queue: instruction {} ({}) waits on [{}]; {} queued{}\n",
                       unit_kind_name(static_cast<UnitKind>(k)), in.id, op_name(in.op), waits,
                       q.size(), missing_deps);
  }
  return out;
}

Executor::Executor(sc_core::sc_module_name name, Scoreboard& board, RetireHook hook)
    : sc_core::sc_module(name), m_board(board), m_hook(std::move(hook)) {}

std::size_t Executor::thread_index() {
  const void* me = sc_core::sc_get_current_process_handle().get_process_object();
  auto [it, fresh] = m_thread_of.try_emplace(me, m_wake.size());
  if (fresh) m_wake.emplace_back();
  return it->second;
}

void Executor::wake_longest_idle(std::size_t k) {
  if (m_idle[k].empty()) return;
  m_wake[m_idle[k].front()].notify(sc_core::SC_ZERO_TIME);
  m_idle[k].pop_front();
}

void Executor::wake_all_idle(std::size_t k) {
  for (std::size_t t : m_idle[k])
    m_wake[t].notify(sc_core::SC_ZERO_TIME);
  m_idle[k].clear();
}

const Instruction* Executor::acquire(UnitKind kind) {
  const auto k = static_cast<std::size_t>(kind);
  for (;;) {
    if (const Instruction* in = m_board.ready_head(kind)) {
      const Cycle now = now_cycles();
      m_board.take(kind, now);
      if (m_taken.empty() || m_taken.back().first != now) m_taken.emplace_back(now, 0);
      ++m_taken.back().second;
      // Another idle unit of this kind may take the next one in the same cycle.
      if (!m_idle[k].empty() && m_board.ready_head(kind) != nullptr) wake_longest_idle(k);
      return in;
    }
    if (m_board.exhausted(kind)) {
      wake_all_idle(k);
      return nullptr;
    }
    // Woken by the one who removes it from the queue, so a unit is never woken twice.
    const std::size_t me = thread_index();
    m_idle[k].push_back(me);
    sc_core::wait(m_wake[me]);
  }
}

void Executor::retire(const Instruction* in, UnitKind kind, int instance, Cycle start, Cycle end) {
  // The horizon is the earliest start among the other instructions still running, or now.
  const Cycle taken = m_board.taken_at(in);
  const auto at = std::lower_bound(
      m_taken.begin(), m_taken.end(), taken,
      [](const std::pair<Cycle, std::uint64_t>& e, Cycle c) { return e.first < c; });
  SIM_CHECK("executor", at != m_taken.end() && at->first == taken && at->second > 0,
            "retired an instruction that was not taken");
  --at->second;
  while (!m_taken.empty() && m_taken.front().second == 0)
    m_taken.pop_front();
  const Cycle now = now_cycles();
  const Cycle horizon = m_taken.empty() ? now : std::min(now, m_taken.front().first);
  if (m_hook) m_hook(*in, kind, instance, start, end, horizon);
  m_board.finish(in);
  wake_ready_kinds();
}

void Executor::fail(std::exception_ptr error) {
  if (m_error) return;  // the first error stops the run; SystemC warns about a second sc_stop
  m_error = error;
  sc_core::sc_stop();
}

void Executor::wake_ready_kinds() {
  for (std::size_t k = 0; k < kUnitKinds; ++k) {
    if (m_idle[k].empty()) continue;
    auto kind = static_cast<UnitKind>(k);
    if (m_board.ready_head(kind) != nullptr)
      wake_longest_idle(k);
    else if (m_board.exhausted(kind))
      wake_all_idle(k);
  }
}

}  // namespace tpusim
