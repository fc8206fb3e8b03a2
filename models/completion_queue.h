#pragma once
/// A DMA engine's request completions, kept for two questions: which of its request slots frees
/// first (a new request takes it), and which loaded data has arrived and is due to be written
/// into SRAM, in (arrival cycle, issue order).
///
/// Completions within kRing cycles of the last drain live in a calendar: one bucket per cycle of
/// arrival on a fixed ring, with a bitmap of the buckets in use; a bucket holds its completions
/// in tick order. An insert is an append to a short list; a drain walks the buckets in cycle
/// order and hands out each bucket's writes in issue order. A sorted array of every completion
/// (the structure this replaced) cost a search and a memory shift of dozens of entries per
/// request. Completions further out (a huge latency, a starved bandwidth) wait in a sorted list
/// and move onto the ring as the drains approach them, so memory stays bounded by the entries.
///
/// Slots are taken in completion order (a request takes the earliest-freeing slot), so the taken
/// completions are always the earliest ones. Once the drain has passed a slot's completion, only
/// "free by now" matters: the caller issues at max(now, slot_free()) with now no earlier than the
/// last drain, so those slots are counted, not kept. The earliest completion still ahead is the
/// slot cursor: it moves forward through the calendar (then the far list) as slots are taken.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/cycle.h"
#include "base/error.h"

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
      : m_stale_free(slots), m_head(kRing, kNil), m_used(kRing / 64, 0) {}

  /// The tick the earliest-freeing slot frees; when a slot has freed by the cycle of the last
  /// drain(), that cycle's tick (which of those slots a request takes cannot change its issue).
  Tick slot_free() const {
    return m_stale_free > 0 ? cycles_to_ticks(m_drained) : m_entries[m_cursor].tick;
  }
  /// A request takes the earliest-freeing slot and gives it back at tick `done` (later than the
  /// last drain's cycle and no earlier than the slot's free tick).
  void take_slot(Tick done) { take_and_insert(done, false, Write{}); }
  /// The same for a load, whose `write` drain() hands out once time reaches ceil(done) cycles.
  void take_slot(Tick done, const Write& write) { take_and_insert(done, true, write); }

  /// Calls apply(ready_cycle, write) for each write whose data has arrived by cycle `now`
  /// (ready_cycle = its completion tick rounded up to a cycle), each once, in ready_cycle order
  /// and then issue order. `now` never decreases between calls.
  template <class Apply>
  void drain(Cycle now, Apply&& apply) {
    while (m_drained < now) {
      if (m_ring_live == 0) {
        // Nothing on the ring: jump to where the first far completion comes onto it.
        const Cycle far = m_far_head < m_far.size() ? cycle_of(m_far[m_far_head]) : kNever;
        if (far > now + kRing) {
          m_drained = now;
          break;
        }
        m_drained = std::max(m_drained, far - kRing);
        migrate();
        if (m_ring_live == 0) continue;
      }
      // The ring holds every completion up to m_drained + kRing; walk it up to now.
      const Cycle last = std::min<Cycle>(now, m_drained + kRing);
      for (Cycle c = next_used(m_drained + 1, last); c <= last; c = next_used(c + 1, last))
        drain_bucket(c, apply);
      m_drained = last;
      migrate();
    }
    if (m_stale_free > 0) m_cursor = kNil;
  }

 private:
  static constexpr std::uint32_t kNil = ~std::uint32_t{0};
  static constexpr Cycle kNever = ~Cycle{0};
  /// Cycles the calendar covers past the last drain (a power of two, a multiple of 64): a DMA
  /// request's completion lies a few hundred to a few thousand cycles out.
  static constexpr Cycle kRing = 4096;
  struct Entry {
    Tick tick = 0;
    std::uint64_t seq = 0;  ///< issue order
    Write write;
    std::uint32_t next = kNil;  ///< the next entry of its bucket (tick order), or the free list
    bool has_write = false;
    bool taken = false;
  };

  static std::size_t bucket_of(Cycle c) { return static_cast<std::size_t>(c & (kRing - 1)); }
  Cycle cycle_of(std::uint32_t e) const { return ticks_to_cycles_ceil(m_entries[e].tick); }

  template <class Apply>
  void drain_bucket(Cycle c, Apply& apply) {
    const std::size_t b = bucket_of(c);
    m_batch.clear();
    for (std::uint32_t e = m_head[b]; e != kNil;) {
      Entry& en = m_entries[e];
      const std::uint32_t next = en.next;
      if (!en.taken) ++m_stale_free;  // freed by now, and not yet taken
      if (en.has_write) {
        // Issue order within the cycle: the list is in tick order; the writes are few.
        std::size_t i = m_batch.size();
        m_batch.push_back(e);
        for (; i > 0 && m_entries[m_batch[i - 1]].seq > en.seq; --i)
          m_batch[i] = m_batch[i - 1];
        m_batch[i] = e;
      } else {
        release(e);
      }
      --m_ring_live;
      e = next;
    }
    m_head[b] = kNil;
    m_used[b / 64] &= ~(std::uint64_t{1} << (b % 64));
    for (std::uint32_t e : m_batch) {
      apply(c, m_entries[e].write);
      release(e);
    }
  }

  void take_and_insert(Tick done, bool has_write, const Write& write) {
    take();
    const Cycle c = ticks_to_cycles_ceil(done);
    SIM_CHECK("dma", c > m_drained,
              "a request completes at a cycle the engine's completion queue has drained");
    const std::uint32_t e = allocate();
    Entry& en = m_entries[e];
    en.tick = done;
    en.seq = m_next_seq++;
    en.write = write;
    en.has_write = has_write;
    en.taken = false;
    if (c <= m_drained + kRing) {
      put_on_ring(e, c);
    } else {
      // After every far tick <= done (equal ticks stay in issue order). The taken far entries
      // are the first ones, all no later than done, so the cursor's index keeps its meaning
      // unless the new entry lands right on it.
      auto at =
          std::upper_bound(m_far.begin() + static_cast<std::ptrdiff_t>(m_far_head), m_far.end(),
                           done, [this](Tick t, std::uint32_t x) { return t < m_entries[x].tick; });
      m_far.insert(at, e);
    }
    // The new completion is the earliest one ahead when it precedes the cursor (taken ones are
    // all earlier than it, since it is no earlier than the slot just taken).
    if (m_stale_free == 0 && (m_cursor == kNil || done < m_entries[m_cursor].tick)) m_cursor = e;
  }

  /// Links entry e into its bucket after every tick <= its own.
  void put_on_ring(std::uint32_t e, Cycle c) {
    const Tick t = m_entries[e].tick;
    const std::size_t b = bucket_of(c);
    std::uint32_t* link = &m_head[b];
    while (*link != kNil && m_entries[*link].tick <= t)
      link = &m_entries[*link].next;
    m_entries[e].next = *link;
    *link = e;
    m_used[b / 64] |= std::uint64_t{1} << (b % 64);
    ++m_ring_live;
    m_ring_last = std::max(m_ring_last, c);
  }

  /// Moves the far completions the ring now covers onto it, earliest first (none of their
  /// cycles has had a direct insert yet, so each bucket stays in (tick, issue) order).
  void migrate() {
    while (m_far_head < m_far.size() && cycle_of(m_far[m_far_head]) <= m_drained + kRing) {
      const std::uint32_t e = m_far[m_far_head++];
      put_on_ring(e, cycle_of(e));
    }
    if (m_far_head == m_far.size()) {
      m_far.clear();
      m_far_head = 0;
    } else if (m_far_head >= 64 && 2 * m_far_head >= m_far.size()) {
      m_far.erase(m_far.begin(), m_far.begin() + static_cast<std::ptrdiff_t>(m_far_head));
      m_far_head = 0;
    }
  }

  void take() {
    if (m_stale_free > 0) {
      // No completion ahead was taken while a drained slot was free: once none is left, the
      // earliest completion ahead is the first on the ring, or the first far one.
      if (--m_stale_free == 0) m_cursor = first_after(m_drained);
      return;
    }
    Entry& en = m_entries[m_cursor];
    en.taken = true;
    const Cycle c = ticks_to_cycles_ceil(en.tick);
    if (c > m_drained + kRing) {
      // A far entry: the far list is in tick order and its taken entries come first.
      std::size_t i = m_far_head;
      while (m_far[i] != m_cursor)
        ++i;
      m_cursor = i + 1 < m_far.size() ? m_far[i + 1] : kNil;
    } else {
      m_cursor = en.next != kNil ? en.next : first_after(c);
    }
  }

  /// The first entry of the first bucket in use after cycle `c` (ring order is cycle order over
  /// the covered cycles), else the first untaken far entry, else none.
  std::uint32_t first_after(Cycle c) const {
    const Cycle last = std::min<Cycle>(m_ring_last, m_drained + kRing);
    const Cycle u = next_used(c + 1, last);
    if (u <= last) return m_head[bucket_of(u)];
    for (std::size_t i = m_far_head; i < m_far.size(); ++i)
      if (!m_entries[m_far[i]].taken) return m_far[i];
    return kNil;
  }

  /// The first cycle in [from, last] whose bucket is in use, or last + 1 (last - from < kRing).
  Cycle next_used(Cycle from, Cycle last) const {
    while (from <= last) {
      const std::size_t b = bucket_of(from);
      const std::uint64_t word = m_used[b / 64] >> (b % 64);
      if (word != 0) {
        const Cycle c = from + static_cast<Cycle>(__builtin_ctzll(word));
        return c <= last ? c : last + 1;
      }
      from += 64 - b % 64;  // the next word (the ring's size is a multiple of 64)
    }
    return last + 1;
  }

  std::uint32_t allocate() {
    if (m_free != kNil) {
      const std::uint32_t e = m_free;
      m_free = m_entries[e].next;
      return e;
    }
    m_entries.emplace_back();
    return static_cast<std::uint32_t>(m_entries.size() - 1);
  }
  void release(std::uint32_t e) {
    m_entries[e].next = m_free;
    m_free = e;
  }

  std::uint64_t m_stale_free;         ///< untaken slots freed by the last drain's cycle
  Cycle m_drained = 0;                ///< the last drain's cycle: every bucket up to it is empty
  std::vector<std::uint32_t> m_head;  ///< per bucket (cycle mod kRing): first entry, tick order
  std::vector<std::uint64_t> m_used;  ///< one bit per bucket in use
  std::uint64_t m_ring_live = 0;      ///< entries on the ring
  Cycle m_ring_last = 0;              ///< no entry on the ring lies beyond this cycle
  std::vector<std::uint32_t> m_far;   ///< [m_far_head, end): beyond the ring, (tick, issue) order
  std::size_t m_far_head = 0;
  std::vector<Entry> m_entries;        ///< pool
  std::uint32_t m_free = kNil;         ///< unused pool entries
  std::uint32_t m_cursor = kNil;       ///< the earliest untaken completion (when none is stale)
  std::vector<std::uint32_t> m_batch;  ///< one bucket's writes, in issue order
  std::uint64_t m_next_seq = 0;
};

}  // namespace tpusim
