// Differential test of the DMA engine's completion queue (models/completion_queue.h) against
// the sorted-array queue it replaced (commit 6e7e2f8's, copied below as the reference), driven
// by the random operation sequences the engine can produce: groups of takes at max(now, slot
// free), loads and stores, exact tick ties, completions from one tick to millions of cycles out
// and right at the calendar's edge, time jumps, with and without a drain before each group. It
// compares max(now, slot_free()) before every take, the exact slot_free() whenever it is in the
// future, and the (ready, write) sequence of every drain. Written by a review of the calendar
// queue; it caught four planted bugs where the reference-queue test in
// address_mapping_test.cpp caught two.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <utility>
#include <vector>

#include "base/splitmix64.h"
#include "models/completion_queue.h"

namespace tpusim {
namespace old_cq {

class OldCompletionQueue {
 public:
  /// Loaded data to write into SRAM once it has arrived.
  struct Write {
    std::uint64_t sram_addr = 0;
    std::uint64_t bytes = 0;
    std::uint32_t flight = 0;  ///< the engine's in-flight instruction entry it belongs to
  };

  /// `slots` request slots, all free from tick 0.
  explicit OldCompletionQueue(std::uint32_t slots)
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

}  // namespace old_cq
}  // namespace tpusim

using namespace tpusim;

namespace {

using Out = std::vector<std::pair<Cycle, std::uint64_t>>;

struct Stats {
  std::uint64_t takes = 0, drains = 0, writes = 0, waits = 0;
};

// One random life. Returns false (with CHECKs failed) on the first mismatch.
bool run_one(std::uint32_t slots, std::uint64_t seed, int ops, Stats& st) {
  SplitMix64 r(seed);
  CompletionQueue q(slots);
  old_cq::OldCompletionQueue o(slots);
  // The "profile" of this life: how far completions land, how time moves, how big groups are.
  const int spread = static_cast<int>(r.below(5));  // completion distance class
  const int clock = static_cast<int>(r.below(4));   // time step class
  const std::uint64_t group_max = 1 + r.below(r.below(2) ? 8 : 300);
  const bool engine_mode = r.below(3) != 0;  // always drain(now) right before a group
  std::vector<Tick> recent;                  // recent done ticks, to make exact ties
  Cycle now = 0;
  std::uint64_t seq = 0;
  Out got_new, got_old;
  auto drain_both = [&](Cycle t) {
    got_new.clear();
    got_old.clear();
    q.drain(t, [&](Cycle ready, const CompletionQueue::Write& w) {
      got_new.emplace_back(ready, w.sram_addr);
    });
    o.drain(t, [&](Cycle ready, const old_cq::OldCompletionQueue::Write& w) {
      got_old.emplace_back(ready, w.sram_addr);
    });
    ++st.drains;
    st.writes += got_new.size();
    if (got_new != got_old) {
      FAIL_CHECK("drain(" << t << ") differs: new " << got_new.size() << " writes, old "
                          << got_old.size() << " (slots " << slots << ", seed " << seed << ")");
      return false;
    }
    return true;
  };
  auto advance = [&]() -> Cycle {
    switch (clock) {
      case 0:
        return r.below(3);  // 0..2 cycles
      case 1:
        return r.below(300);
      case 2:
        return r.below(8) == 0 ? r.below(20000) : r.below(50);  // sometimes beyond 4096
      default:
        return r.below(16) == 0 ? 4096 * (1 + r.below(1000)) + r.below(5) : r.below(10);
    }
  };
  auto distance = [&](Tick issue) -> Tick {
    // >= 1 tick after issue (an HBM access is at least one burst tick).
    if (!recent.empty() && r.below(6) == 0) {
      const Tick t = recent[r.below(recent.size())];
      if (t > issue) return t - issue;  // an exact tie with an earlier completion
    }
    if (r.below(40) == 0) {
      // Exactly at the edge of a ring of 4096 << k cycles past now (the last drain in engine
      // mode): the bucket that aliases the last drained cycle.
      const Tick edge = cycles_to_ticks(now + (Cycle{4096} << r.below(4))) - r.below(1024);
      if (edge > issue) return edge - issue;
    }
    switch (spread) {
      case 0:
        return 1 + r.below(2048);  // within a couple of cycles
      case 1:
        return 1 + r.below(400 * 1024);  // a few hundred cycles
      case 2:
        return 1 + (r.below(4) == 0 ? r.below(Tick{5000} * 1024) : r.below(1024 * 64));
      case 3:
        return 1 + r.below(Tick{60000} * 1024);  // far beyond the 4096-cycle ring
      default:
        // mostly close, rarely very far (grow() with the cursor set), quantised to make ties
        return r.below(64) == 0 ? 1 + r.below(Tick{3000000} * 1024)
                                : 1 + r.below(64) * 512 + (r.below(2) ? 0 : 511);
    }
  };
  for (int op = 0; op < ops; ++op) {
    const std::uint64_t kind = r.below(10);
    if (kind < 3) {  // time passes, the engine drains (next_completion / retire)
      now += advance();
      if (!drain_both(now)) return false;
      continue;
    }
    if (kind == 3) {  // time passes without a drain (contract: takes at now >= last drain)
      now += advance();
      if (engine_mode) continue;
    }
    // issue(): drain(now), then a group
    if (engine_mode && !drain_both(now)) return false;
    const Tick now_ticks = cycles_to_ticks(now);
    if (std::max(now_ticks, q.slot_free()) != std::max(now_ticks, o.slot_free())) {
      FAIL_CHECK("max(now, slot_free) differs before a group at "
                 << now << ": new " << q.slot_free() << " old " << o.slot_free());
      return false;
    }
    if (o.slot_free() > now_ticks) {
      if (q.slot_free() != o.slot_free()) {
        FAIL_CHECK("future slot_free differs");
        return false;
      }
      ++st.waits;
      // The engine waits for the slot: resume_at = ceil(slot free).
      if (r.below(2)) now = std::max(now, ticks_to_cycles_ceil(o.slot_free()));
      continue;
    }
    const std::uint64_t g = 1 + r.below(group_max);
    for (std::uint64_t i = 0; i < g; ++i) {
      const Tick sn = q.slot_free(), so = o.slot_free();
      if (std::max(now_ticks, sn) != std::max(now_ticks, so) || (so > now_ticks && sn != so)) {
        FAIL_CHECK("slot_free differs in a group at " << now << " take " << i << ": new " << sn
                                                      << " old " << so << " (slots " << slots
                                                      << ", seed " << seed << ")");
        return false;
      }
      const Tick issue = std::max(now_ticks, so);
      Tick done;
      const bool store = r.below(4) == 0;
      if (store) {
        // SRAM read from ceil(issue) for 0..3 cycles, then an HBM write >= 1 tick.
        const Cycle read_done = ticks_to_cycles_ceil(issue) + r.below(4);
        done = cycles_to_ticks(read_done) + distance(cycles_to_ticks(read_done));
        q.take_slot(done);
        o.take_slot(done);
      } else {
        done = issue + distance(issue);
        q.take_slot(done, CompletionQueue::Write{seq, 64, 0});
        o.take_slot(done, old_cq::OldCompletionQueue::Write{seq, 64, 0});
      }
      ++seq;
      ++st.takes;
      if (recent.size() < 64)
        recent.push_back(done);
      else
        recent[r.below(64)] = done;
    }
  }
  // Finally drain everything.
  now += Cycle{1} << 32;
  return drain_both(now);
}

}  // namespace

TEST_CASE("CompletionQueue equals the sorted-array queue on random engine histories",
          "[models][dma]") {
  Stats st;
  int lives = 0;
  // TPUSIM_CQ_TEST_SCALE: percent of the full operation count (59.6 M takes, about 9 s in a
  // release build); the suite runs a fifth of it.
  const char* scale_env = std::getenv("TPUSIM_CQ_TEST_SCALE");
  const int scale = scale_env ? std::atoi(scale_env) : 20;
  for (std::uint32_t slots : {1u, 2u, 3u, 16u, 256u, 1024u}) {
    for (std::uint64_t seed = 1; seed <= 60; ++seed) {
      ++lives;
      const bool ok =
          run_one(slots, seed * 7919 + slots, (slots >= 1024 ? 8000 : 20000) * scale / 100, st);
      REQUIRE(ok);
    }
  }
  INFO("lives " << lives << " takes " << st.takes << " drains " << st.drains << " writes "
                << st.writes << " waits " << st.waits);
  CHECK(st.writes > 0);
}

// One slot, one completion far beyond the calendar, then ordinary requests a few hundred
// cycles apart: every take finds nothing else ahead (the case that once scanned the whole
// calendar per request). The issue times must match the reference's.
template <class Q>
Cycle one_slot_after_far(Tick far_cycles, int requests) {
  Q q(1);
  Cycle now = 0;
  auto sink = [](Cycle, const typename Q::Write&) {};
  for (int i = 0; i < requests; ++i) {
    q.drain(now, sink);
    const Tick issue = std::max(cycles_to_ticks(now), q.slot_free());
    const Tick done = issue + (i == 0 ? far_cycles * kTicksPerCycle : 300 * kTicksPerCycle + 5);
    q.take_slot(done, typename Q::Write{0, 64, 0});
    now = ticks_to_cycles_ceil(std::max(cycles_to_ticks(now), q.slot_free()));
  }
  q.drain(now + 1, sink);
  return now;
}

TEST_CASE("CompletionQueue with one slot after a far completion issues as the reference does",
          "[models][dma]") {
  for (Tick far : {Tick{1000}, Tick{100000}, Tick{4000000}, Tick{60000000}}) {
    INFO("far completion " << far << " cycles out");
    CHECK(one_slot_after_far<CompletionQueue>(far, 20000) ==
          one_slot_after_far<old_cq::OldCompletionQueue>(far, 20000));
  }
}
