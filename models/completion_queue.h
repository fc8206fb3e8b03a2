#pragma once
/// A DMA engine's request completions, kept for two questions: which of its request slots frees
/// first (a new request takes it), and which loaded data has arrived and is due to be written
/// into SRAM. Both are asked of the same completion times, so one array sorted by completion tick
/// answers both through two cursors: the slot cursor takes the earliest completion for each new
/// request, the drain cursor walks forward over the completions that have happened and hands out
/// their SRAM writes. A request costs one sorted insert, where two queues (slot ticks, pending
/// writes) cost two searches and two memory shifts.
///
/// Inserts land behind both cursors: a request completes after it issues, it issues no earlier
/// than the slot it takes frees, and no earlier than the cycle the last drain covered. A gather's
/// completions land a few dozen places from the back at random, where a branchy binary search
/// mispredicts at every level, and a binary heap's sifts measured slower than this array's one
/// memmove; the search below has no data-dependent branch.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/cycle.h"

namespace tpusim {

class CompletionQueue {
 public:
  /// Loaded data to write into SRAM once it has arrived.
  struct Write {
    std::uint64_t sram_addr = 0;
    std::uint64_t bytes = 0;
    std::uint32_t flight = 0;  ///< the engine's in-flight instruction entry it belongs to
  };

  /// `slots` request slots, all free from tick 0.
  explicit CompletionQueue(std::uint32_t slots)
      : m_ticks(std::max<std::size_t>(16, 2 * std::size_t{slots}), 0),
        m_entry_writes(m_ticks.size(), kNoWrite) {
    m_tail = slots;
  }

  /// The tick the earliest-freeing slot frees.
  Tick slot_free() const { return m_ticks[m_slot]; }
  /// A request takes the earliest-freeing slot and gives it back at tick `done` (>= the slot's
  /// free tick and >= the cycle of the last drain).
  void take_slot(Tick done) { insert(done, kNoWrite); }
  /// The same for a load, whose `write` drain() hands out once time reaches ceil(done) cycles.
  void take_slot(Tick done, const Write& write) {
    if (m_free.empty()) {
      m_free.push_back(static_cast<std::uint32_t>(m_writes.size()));
      m_writes.emplace_back();
    }
    const std::uint32_t w = m_free.back();
    m_free.pop_back();
    m_writes[w] = Pending{write, m_next_seq++};
    insert(done, w);
  }

  /// Calls apply(ready_cycle, write) for each write whose data has arrived by cycle `now`
  /// (ready_cycle = its completion tick rounded up to a cycle), each once, in ready_cycle order
  /// and then issue order. `now` never decreases between calls.
  template <class Apply>
  void drain(Cycle now, Apply&& apply) {
    const Tick limit = cycles_to_ticks(now);  // ceil(t / kTicksPerCycle) <= now  <=>  t <= limit
    m_batch.clear();
    for (; m_drain < m_tail && m_ticks[m_drain] <= limit; ++m_drain) {
      const std::uint32_t write = m_entry_writes[m_drain];
      if (write == kNoWrite) continue;
      // Tick order is ready order, except that one cycle's ticks may be out of issue order:
      // insertion by (ready, seq) fixes that, and is linear on what is nearly sorted.
      const Ready r{ticks_to_cycles_ceil(m_ticks[m_drain]), m_writes[write].seq, write};
      std::size_t i = m_batch.size();
      m_batch.push_back(r);
      for (; i > 0 && (r.ready < m_batch[i - 1].ready ||
                       (r.ready == m_batch[i - 1].ready && r.seq < m_batch[i - 1].seq));
           --i)
        m_batch[i] = m_batch[i - 1];
      m_batch[i] = r;
    }
    for (const Ready& r : m_batch) {
      m_free.push_back(r.write);
      apply(r.ready, m_writes[r.write].write);
    }
  }

 private:
  static constexpr std::uint32_t kNoWrite = ~std::uint32_t{0};
  static constexpr std::size_t kCountWindow = 32;
  struct Pending {
    Write write;
    std::uint64_t seq = 0;  ///< issue order
  };
  struct Ready {
    Cycle ready;
    std::uint64_t seq;
    std::uint32_t write;
  };

  void insert(Tick done, std::uint32_t write) {
    ++m_slot;  // the slot taken (its entry stays until the drain cursor has passed it too)
    if (m_tail == m_ticks.size()) make_room();
    const std::size_t from = std::max(m_slot, m_drain);
    std::size_t pos = m_tail;
    if (pos > from && done < m_ticks[pos - 1]) pos = upper_bound_before_last(from, done);
    // Equal ticks stay in issue order: the new entry goes after every tick <= done.
    shift_up(m_ticks, pos, m_tail);
    shift_up(m_entry_writes, pos, m_tail);
    m_ticks[pos] = done;
    m_entry_writes[pos] = write;
    ++m_tail;
  }

  /// The first position in [from, tail - 1] whose tick is > t, knowing the last one's is. Probes
  /// at distances 1, 2, 4, ... from the back are independent loads whose results are only
  /// summed; their count brackets the place, and a search halving by a multiply finishes inside.
  std::size_t upper_bound_before_last(std::size_t from, Tick t) const {
    const Tick* b = m_ticks.data();
    const std::size_t last = m_tail - 1;
    const std::size_t n = last - from;  // candidates before the last
    std::size_t c = 0;                  // probes whose tick is > t: the first c
    for (std::size_t d = 1; d <= n; d *= 2)
      c += static_cast<std::size_t>(b[last - d] > t);
    // The place is at most the last probe above t, and past the first one not above it.
    const std::size_t hi = c == 0 ? last : last - (std::size_t{1} << (c - 1));
    const std::size_t lo =
        c < 64 && (std::size_t{1} << c) <= n ? last - (std::size_t{1} << c) + 1 : from;
    // A short bracket (the usual insert, a few dozen places back) is counted rather than
    // halved: its compares are independent, where each halving step waits for the last load.
    if (hi - lo <= kCountWindow) {
      std::size_t above = 0;
      for (std::size_t i = lo; i < hi; ++i)
        above += static_cast<std::size_t>(b[i] > t);
      return hi - above;
    }
    const Tick* first = b + lo;
    std::size_t len = hi - lo;
    while (len > 1) {
      const std::size_t half = len / 2;
      // A multiply, not a ?: (which GCC turns back into a branch here).
      first += static_cast<std::size_t>(first[half - 1] <= t) * half;
      len -= half;
    }
    if (len == 1 && *first <= t) ++first;
    return static_cast<std::size_t>(first - b);
  }

  /// Moves [pos, tail) one place up (tail < size).
  template <class T>
  static void shift_up(std::vector<T>& v, std::size_t pos, std::size_t tail) {
    std::copy_backward(v.begin() + static_cast<std::ptrdiff_t>(pos),
                       v.begin() + static_cast<std::ptrdiff_t>(tail),
                       v.begin() + static_cast<std::ptrdiff_t>(tail + 1));
  }
  /// Moves [head, tail) to the front, into a buffer twice as large when `grow`.
  template <class T>
  static void compact(std::vector<T>& v, std::size_t head, std::size_t tail, bool grow) {
    if (grow) {
      std::vector<T> next(2 * v.size());
      std::copy(v.begin() + static_cast<std::ptrdiff_t>(head),
                v.begin() + static_cast<std::ptrdiff_t>(tail), next.begin());
      v.swap(next);
    } else {
      std::copy(v.begin() + static_cast<std::ptrdiff_t>(head),
                v.begin() + static_cast<std::ptrdiff_t>(tail), v.begin());
    }
  }

  void make_room() {
    const std::size_t head = std::min(m_slot, m_drain);
    const std::size_t n = m_tail - head;
    // Grow while more than half full, so compactions stay amortised O(1) per insert.
    compact(m_ticks, head, m_tail, 2 * n >= m_ticks.size());
    compact(m_entry_writes, head, m_tail, 2 * n >= m_entry_writes.size());
    m_slot -= head;
    m_drain -= head;
    m_tail = n;
  }

  // The entries [min(slot, drain), tail), sorted by tick, as two arrays: the searches read only
  // the ticks, and an insert shifts 12 B per entry instead of a padded 16.
  std::vector<Tick> m_ticks;                  ///< each entry's completion tick
  std::vector<std::uint32_t> m_entry_writes;  ///< its index into m_writes, or kNoWrite (a store,
                                              ///< or a slot's initial 0)
  std::size_t m_slot = 0;                     ///< first entry not yet taken as a free slot
  std::size_t m_drain = 0;                    ///< first entry not yet passed by drain()
  std::size_t m_tail = 0;                     ///< one past the last entry
  std::vector<Pending> m_writes;              ///< payloads of the entries' writes
  std::vector<std::uint32_t> m_free;          ///< unused m_writes entries
  std::vector<Ready> m_batch;                 ///< drain()'s writes, sorted
  std::uint64_t m_next_seq = 0;
};

}  // namespace tpusim
