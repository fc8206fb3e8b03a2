#pragma once
/// A DMA engine's request completions, kept for two questions: which of its request slots frees
/// first (a new request takes it), and which loaded data has arrived and is due to be written
/// into SRAM, in (arrival cycle, issue order).
///
/// Completions live in a calendar: one bucket per cycle of arrival, over a ring that covers the
/// cycles from the last drain to the furthest completion (it grows when a completion lies beyond
/// it), with a bitmap of the buckets in use. A bucket holds its completions in tick order. An
/// insert is an append to a short list; a drain walks the buckets in cycle order and hands out
/// each bucket's writes in issue order. A sorted array of every completion (the structure this
/// replaced) cost a search and a memory shift of dozens of entries per request.
///
/// Slots are taken in completion order (a request takes the earliest-freeing slot), so the taken
/// completions are always the earliest ones. Once the drain has passed a slot's completion, only
/// "free by now" matters: the caller issues at max(now, slot_free()) with now no earlier than the
/// last drain, so those slots are counted, not kept. The earliest completion still ahead is the
/// slot cursor: it moves forward through the calendar as slots are taken.

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
      : m_stale_free(slots), m_head(kInitialRing, kNil), m_used(kInitialRing / 64, 0) {}

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
    if (now <= m_drained) return;
    if (m_live == 0) {
      m_drained = now;
      return;
    }
    const std::size_t mask = m_head.size() - 1;
    // Every bucket in use lies in (m_drained, m_drained + ring]; the walk stops at now.
    const Cycle last = std::min<Cycle>(now, m_drained + m_head.size());
    for (Cycle c = next_used(m_drained + 1, last); c <= last; c = next_used(c + 1, last)) {
      const std::size_t b = static_cast<std::size_t>(c) & mask;
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
        e = next;
      }
      m_head[b] = kNil;
      m_used[b / 64] &= ~(std::uint64_t{1} << (b % 64));
      for (std::uint32_t e : m_batch) {
        apply(c, m_entries[e].write);
        release(e);
      }
    }
    m_drained = now;
    if (m_stale_free > 0) m_cursor = kNil;
  }

 private:
  static constexpr std::uint32_t kNil = ~std::uint32_t{0};
  static constexpr std::size_t kInitialRing = 4096;  ///< cycles; a power of two, >= 64
  struct Entry {
    Tick tick = 0;
    std::uint64_t seq = 0;  ///< issue order
    Write write;
    std::uint32_t next = kNil;  ///< the next entry of its bucket (tick order), or the free list
    bool has_write = false;
    bool taken = false;
  };

  void take_and_insert(Tick done, bool has_write, const Write& write) {
    take();
    const Cycle c = ticks_to_cycles_ceil(done);
    SIM_CHECK("dma", c > m_drained,
              "a request completes at a cycle the engine's completion queue has drained");
    if (c - m_drained > m_head.size()) grow(c - m_drained);
    const std::uint32_t e = allocate();
    Entry& en = m_entries[e];
    en.tick = done;
    en.seq = m_next_seq++;
    en.write = write;
    en.has_write = has_write;
    en.taken = false;
    // After every tick <= done in the bucket (equal ticks stay in issue order).
    const std::size_t b = static_cast<std::size_t>(c) & (m_head.size() - 1);
    std::uint32_t* link = &m_head[b];
    while (*link != kNil && m_entries[*link].tick <= done)
      link = &m_entries[*link].next;
    en.next = *link;
    *link = e;
    m_used[b / 64] |= std::uint64_t{1} << (b % 64);
    // The new completion is the earliest one ahead when it precedes the cursor (taken ones are
    // all earlier than it, since it is no earlier than the slot just taken).
    if (m_stale_free == 0 && (m_cursor == kNil || done < m_entries[m_cursor].tick)) {
      m_cursor = e;
      m_cursor_cycle = c;
    }
  }

  void take() {
    if (m_stale_free > 0) {
      if (--m_stale_free == 0) {
        // No completion ahead was taken while a drained slot was free: the first is the earliest.
        m_cursor = kNil;
        const Cycle last = m_drained + m_head.size();
        const Cycle c = next_used(m_drained + 1, last);
        if (c <= last) set_cursor_to_head(c);
      }
      return;
    }
    Entry& en = m_entries[m_cursor];
    en.taken = true;
    if (en.next != kNil) {
      m_cursor = en.next;
      return;
    }
    m_cursor = kNil;
    const Cycle last = m_drained + m_head.size();
    const Cycle c = next_used(m_cursor_cycle + 1, last);
    if (c <= last) set_cursor_to_head(c);
  }

  void set_cursor_to_head(Cycle c) {
    m_cursor = m_head[static_cast<std::size_t>(c) & (m_head.size() - 1)];
    m_cursor_cycle = c;
  }

  /// The first cycle in [from, last] whose bucket is in use, or last + 1.
  Cycle next_used(Cycle from, Cycle last) const {
    const std::size_t mask = m_head.size() - 1;
    while (from <= last) {
      const std::size_t b = static_cast<std::size_t>(from) & mask;
      const std::uint64_t word = m_used[b / 64] >> (b % 64);
      if (word != 0) {
        const Cycle c = from + static_cast<Cycle>(__builtin_ctzll(word));
        return c <= last ? c : last + 1;
      }
      from += 64 - b % 64;  // the next word (the ring's size is a multiple of 64)
    }
    return last + 1;
  }

  /// Widens the ring to cover `span` cycles past the last drain, keeping every bucket.
  void grow(Cycle span) {
    std::size_t size = m_head.size();
    while (size < span)
      size *= 2;
    std::vector<std::uint32_t> head(size, kNil);
    std::vector<std::uint64_t> used(size / 64, 0);
    const std::size_t old_mask = m_head.size() - 1;
    for (Cycle c = m_drained + 1; c <= m_drained + m_head.size(); ++c) {
      const std::uint32_t h = m_head[static_cast<std::size_t>(c) & old_mask];
      if (h == kNil) continue;
      const std::size_t b = static_cast<std::size_t>(c) & (size - 1);
      head[b] = h;
      used[b / 64] |= std::uint64_t{1} << (b % 64);
    }
    m_head.swap(head);
    m_used.swap(used);
  }

  std::uint32_t allocate() {
    ++m_live;
    if (m_free != kNil) {
      const std::uint32_t e = m_free;
      m_free = m_entries[e].next;
      return e;
    }
    m_entries.emplace_back();
    return static_cast<std::uint32_t>(m_entries.size() - 1);
  }
  void release(std::uint32_t e) {
    --m_live;
    m_entries[e].next = m_free;
    m_free = e;
  }

  std::uint64_t m_stale_free;          ///< untaken slots freed by the last drain's cycle
  Cycle m_drained = 0;                 ///< the last drain's cycle: every bucket up to it is empty
  std::vector<std::uint32_t> m_head;   ///< per bucket (cycle mod ring): first entry, tick order
  std::vector<std::uint64_t> m_used;   ///< one bit per bucket in use
  std::vector<Entry> m_entries;        ///< pool
  std::uint32_t m_free = kNil;         ///< unused pool entries
  std::uint64_t m_live = 0;            ///< pool entries in use
  std::uint32_t m_cursor = kNil;       ///< the earliest untaken completion (when none is stale)
  Cycle m_cursor_cycle = 0;            ///< its bucket's cycle
  std::vector<std::uint32_t> m_batch;  ///< one bucket's writes, in issue order
  std::uint64_t m_next_seq = 0;
};

}  // namespace tpusim
