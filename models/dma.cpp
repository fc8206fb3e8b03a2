#include "models/dma.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <unordered_set>

#include "base/splitmix64.h"

namespace tpusim {
namespace {

void shuffle(std::vector<std::uint64_t>& v, std::size_t from, SplitMix64& rng) {
  for (std::size_t i = v.size(); i > from + 1; --i) {
    const std::size_t j = from + static_cast<std::size_t>(rng.below(i - from));
    std::swap(v[i - 1], v[j]);
  }
}

// Floyd's algorithm needs a set of the values drawn so far. A bitmap over the range is a far
// cheaper set than a hash table and, read word by word, yields the sample in ascending order
// without a sort; it is used while its scan (range / 64 words) stays within a small multiple of
// the draws and its size stays modest. Beyond that (a few rows of a huge table) a hash set.
bool bitmap_fits(std::uint64_t range, std::uint64_t count) {
  const std::uint64_t words = (range + 63) / 64;
  return range <= (std::uint64_t{1} << 26) && words <= 16 * count + 4096;
}

// Floyd's algorithm (Bentley & Floyd 1987): for j = range - count .. range - 1, draw t in
// [0, j]; take t unless already taken, else j (never taken before: every earlier draw is < j).
// Exactly `count` draws, each value set equally likely. `take` receives the picks in draw order.
template <class Seen, class Take>
void floyd(std::uint64_t range, std::uint64_t count, SplitMix64& rng, Seen&& seen_insert,
           Take&& take) {
  for (std::uint64_t j = range - count; j < range; ++j) {
    const std::uint64_t t = rng.below(j + 1);
    const std::uint64_t pick = seen_insert(t) ? t : j;
    if (pick == j && pick != t) seen_insert(j);
    take(pick);
  }
}

std::vector<std::uint64_t>& bitmap_words(std::uint64_t range) {
  // Kept all-zero between calls (each caller clears the bits it set), so a gather costs no
  // allocation and no clearing beyond its own rows.
  static thread_local std::vector<std::uint64_t> bits;
  const std::size_t words = static_cast<std::size_t>((range + 63) / 64);
  if (bits.size() < words) bits.resize(words, 0);
  return bits;
}

bool test_and_set(std::vector<std::uint64_t>& bits, std::uint64_t i) {
  std::uint64_t& w = bits[static_cast<std::size_t>(i >> 6)];
  const std::uint64_t m = std::uint64_t{1} << (i & 63);
  const bool was_clear = (w & m) == 0;
  w |= m;
  return was_clear;
}

/// Appends `count` distinct values of [0, range) (count <= range) to `out`. Unsorted (`sorted`
/// false): in a uniformly random order. Sorted: ascending, and the same set the unsorted call
/// with the same generator state gives (only the shuffle's draws are skipped).
void sample_distinct(std::uint64_t range, std::uint64_t count, SplitMix64& rng, bool sorted,
                     std::vector<std::uint64_t>& out) {
  const std::size_t from = out.size();
  if (count * 2 >= range) {
    // Dense: selection sampling (Knuth's algorithm S) walks the range once, in ascending order,
    // and needs no set.
    std::uint64_t needed = count;
    for (std::uint64_t i = 0; i < range && needed > 0; ++i) {
      if (rng.below(range - i) < needed) {
        out.push_back(i);
        --needed;
      }
    }
  } else if (bitmap_fits(range, count)) {
    auto& bits = bitmap_words(range);
    const auto insert = [&bits](std::uint64_t v) { return test_and_set(bits, v); };
    if (sorted) {
      floyd(range, count, rng, insert, [](std::uint64_t) {});
      // Read the set back in ascending order, clearing it for the next call.
      const std::size_t words = static_cast<std::size_t>((range + 63) / 64);
      for (std::size_t w = 0; w < words; ++w) {
        std::uint64_t x = bits[w];
        if (x == 0) continue;
        bits[w] = 0;
        do {
          out.push_back(std::uint64_t{w} * 64 + static_cast<std::uint64_t>(__builtin_ctzll(x)));
          x &= x - 1;
        } while (x != 0);
      }
      return;
    }
    floyd(range, count, rng, insert, [&out](std::uint64_t v) { out.push_back(v); });
    for (std::size_t i = from; i < out.size(); ++i)
      bits[static_cast<std::size_t>(out[i] >> 6)] = 0;
  } else {
    static thread_local std::unordered_set<std::uint64_t> seen;
    seen.clear();
    seen.reserve(static_cast<std::size_t>(count) * 2);
    floyd(
        range, count, rng, [](std::uint64_t v) { return seen.insert(v).second; },
        [&out](std::uint64_t v) { out.push_back(v); });
    if (sorted) std::sort(out.begin() + static_cast<std::ptrdiff_t>(from), out.end());
  }
  if (sorted) return;  // algorithm S is ascending already
  // Both algorithms leave a biased order (S: ascending; Floyd: late j's late); the unsorted
  // "draw order" should be a uniform permutation.
  shuffle(out, from, rng);
}

}  // namespace

void DmaConfig::validate() const {
  if (engines == 0) throw ConfigError("dma.engines must be > 0 (got 0)");
  if (max_outstanding == 0) throw ConfigError("dma.max_outstanding must be > 0 (got 0)");
  if (request_bytes == 0) throw ConfigError("dma.request_bytes must be > 0 (got 0)");
  if (group_requests == 0) throw ConfigError("dma.group_requests must be > 0 (got 0)");
  if (max_in_flight == 0) throw ConfigError("dma.max_in_flight must be > 0 (got 0)");
  // Each engine is a SystemC module and keeps max_outstanding + group_requests slots.
  require_at_most("dma.engines", engines, 1024);
  require_at_most("dma.max_outstanding", max_outstanding, 1 << 20);
  // A group reserves the HBM ahead of the other engines (see README, "Simulation granularity":
  // 64 is already a coarse step). Thousands of requests in one step also arrive out of order at
  // the completion queue, whose far list then costs quadratic time (tests/bench/RESULTS.md,
  // "Whole runs of valid configs").
  require_at_most("dma.group_requests", group_requests, 4096);
  // Completion scans the in-flight entries; a real engine's descriptor queue is short too.
  require_at_most("dma.max_in_flight", max_in_flight, 256);
}

// Patterns (every one yields exactly min(rows, span) distinct indices < span):
//   uniform      a uniform sample of the span.
//   recent:W     a uniform sample of the last max(min(W, span), rows) rows: the window widens
//                to `rows` when W is too small, so the byte count stays what the trace declares.
//   clustered:C  ceil(rows/C) non-overlapping runs of C adjacent rows (the last run shorter),
//                placed uniformly: choose run gaps as distinct points of a shrunken range
//                (stars and bars), so runs never overlap and are never clipped.
//   strided:S    0, S, 2S, ... then 1, 1+S, ... when one pass over the span is not enough; the
//                seed is not used.
// Draw order: uniform/recent in a random permutation, clustered runs in random order (each run
// ascending), strided in stride order.
void gather_rows(const GatherPattern& pattern, std::uint64_t span, std::uint64_t rows,
                 std::uint64_t seed, bool sort, std::vector<std::uint64_t>& out) {
  out.clear();
  if (span == 0 || rows == 0) return;
  if (rows >= span) {
    out.reserve(static_cast<std::size_t>(span));
    for (std::uint64_t i = 0; i < span; ++i)
      out.push_back(i);
    return;
  }
  out.reserve(static_cast<std::size_t>(rows));
  SplitMix64 rng(seed);
  switch (pattern.kind) {
    case PatternKind::kUniform:
      sample_distinct(span, rows, rng, sort, out);
      return;
    case PatternKind::kRecent: {
      const std::uint64_t window = std::max(std::min(pattern.param, span), rows);
      sample_distinct(window, rows, rng, sort, out);
      for (auto& r : out)
        r += span - window;
      return;
    }
    case PatternKind::kClustered: {
      // A run longer than the rows is one run (and rows + run - 1 below cannot wrap).
      const std::uint64_t run = std::clamp<std::uint64_t>(pattern.param, 1, rows);
      const std::uint64_t runs = (rows + run - 1) / run;
      static thread_local std::vector<std::uint64_t> starts;
      starts.clear();
      // Shrink every run to one point; distinct points in [0, span - rows + runs) map back to
      // non-overlapping runs inside [0, span).
      // Unsorted, then sorted here, so the shuffle's draws come before the run order's below.
      sample_distinct(span - rows + runs, runs, rng, false, starts);
      std::sort(starts.begin(), starts.end());
      for (std::uint64_t i = 0; i < runs; ++i)
        starts[i] += i * (run - 1);
      const std::uint64_t last_len = rows - (runs - 1) * run;
      // Remember which run is the short one (the last in address order) before shuffling.
      const std::uint64_t short_start = starts[runs - 1];
      if (!sort) shuffle(starts, 0, rng);
      for (std::uint64_t s : starts) {
        const std::uint64_t len = s == short_start ? last_len : run;
        for (std::uint64_t j = 0; j < len; ++j)
          out.push_back(s + j);
      }
      break;
    }
    case PatternKind::kStrided: {
      // A stride beyond the span picks one row per offset, as the span itself does (and
      // r + stride below cannot wrap).
      const std::uint64_t stride = std::clamp<std::uint64_t>(pattern.param, 1, span);
      for (std::uint64_t offset = 0; offset < stride && out.size() < rows; ++offset)
        for (std::uint64_t r = offset; r < span && out.size() < rows; r += stride)
          out.push_back(r);
      break;
    }
  }
  // Uniform and recent returned above in order; clustered runs are ascending once their starts
  // are (short run last, runs apart).
  if (sort && pattern.kind == PatternKind::kStrided) std::sort(out.begin(), out.end());
}

DmaEngineTiming::DmaEngineTiming(const DmaConfig& cfg, HbmTiming& hbm, SramTiming& sram)
    : m_cfg(cfg),
      m_hbm(hbm),
      m_sram(sram),
      m_request(cfg.request_bytes),
      m_flights(cfg.max_in_flight),
      // Every slot is free from the start; the issue time is max(now, slot free).
      m_completions(cfg.max_outstanding) {}

void DmaEngineTiming::begin(const Instruction& in, Cycle now) {
  SIM_CHECK("dma", can_begin(),
            fmt::format("instruction {} begins at cycle {} while the engine cannot take it ({} in "
                        "flight{})",
                        in.id, now, m_in_flight, m_issuing == kNone ? "" : ", one being issued"));
  SIM_CHECK("dma", is_dma_op(in.op),
            fmt::format("instruction {} is not a DMA op (cycle {})", in.id, now));
  std::uint32_t f = 0;
  while (m_flights[f].in != nullptr)
    ++f;
  m_flights[f] = Flight{&in, now, cycles_to_ticks(now), now, 0, false};
  if (m_in_flight++ == 0) m_busy_since = now;
  m_issuing = f;
  m_row = 0;
  m_row_offset = 0;
  m_sram_cursor = 0;
  ++m_stats.instructions;

  if (in.op == Op::kDmaGather) {
    gather_rows(in.pattern, in.span, in.rows, in.seed, m_cfg.gather_sort, m_rows);
    m_num_rows = m_rows.size();
    m_row_len = in.row_bytes;
    m_last_row_len = in.row_bytes;
    m_stats.gathered_rows += m_num_rows;
  } else if (in.rows > 1) {
    m_num_rows = in.rows;
    m_row_len = in.bytes / in.rows;
    // A byte count that does not divide evenly puts the remainder on the last row, so the
    // bytes moved are exactly the bytes declared.
    m_last_row_len = in.bytes - m_row_len * (in.rows - 1);
  } else {
    m_num_rows = in.bytes > 0 ? 1 : 0;
    m_row_len = in.bytes;
    m_last_row_len = in.bytes;
  }
  if (m_row_len == 0 && m_last_row_len == 0) m_num_rows = 0;
}

void DmaEngineTiming::drain(Cycle now) {
  // SRAM writes of loaded data happen when their data has arrived; they are applied here, in
  // arrival order, once simulated time has reached them. Reserving SRAM banks far in the
  // future (at issue) would block the other units' earlier accesses to the same banks.
  m_completions.drain(now, [this](Cycle ready, const CompletionQueue::Write& w) {
    const Cycle done = m_sram.access(ready, w.sram_addr, w.bytes, true);
    Flight& f = m_flights[w.flight];
    f.last_done = std::max(f.last_done, cycles_to_ticks(done));
    --f.pending;
  });
}

bool DmaEngineTiming::issue(Cycle now, Cycle& resume_at) {
  SIM_CHECK("dma", m_issuing != kNone,
            fmt::format("issue at cycle {} without an instruction being issued", now));
  drain(now);
  Flight& flight = m_flights[m_issuing];
  const Instruction& in = *flight.in;
  if (m_row >= m_num_rows) {
    flight.issued = true;
    m_issuing = kNone;
    resume_at = now;
    return false;
  }
  const Tick now_ticks = cycles_to_ticks(now);
  // The group may reach into the future (each request waits for a slot), but it must start
  // now: jumping ahead to a far slot-free time before the other engines have caught up
  // would reserve the HBM bus out of time order and leave gaps nobody can fill.
  if (m_completions.slot_free() > now_ticks) {
    resume_at = ticks_to_cycles_ceil(m_completions.slot_free());
    return true;
  }
  Tick last_issue = now_ticks;
  for (std::uint32_t issued = 0; issued < m_cfg.group_requests && m_row < m_num_rows;) {
    const std::uint64_t row_len = m_row + 1 == m_num_rows ? m_last_row_len : m_row_len;
    if (row_len == 0) {
      ++m_row;
      continue;
    }
    std::uint64_t hbm_row_base = 0;
    std::uint64_t sram_base = 0;
    switch (in.op) {
      case Op::kDmaGather:
        hbm_row_base = in.src.offset + m_rows[m_row] * in.row_bytes;
        sram_base = in.dst.offset;
        break;
      case Op::kDmaLoad:
        hbm_row_base = in.src.offset + m_row * in.stride;
        sram_base = in.dst.offset;
        break;
      default:  // store
        hbm_row_base = in.dst.offset + m_row * in.stride;
        sram_base = in.src.offset;
        break;
    }
    const std::uint64_t hbm_addr = hbm_row_base + m_row_offset;
    // Requests break at absolute request_bytes boundaries of HBM, as an engine's address
    // generator aligns them: with burst-aligned boundaries a row then costs exactly the bursts
    // that cover it, whatever the request size (row-relative splits fetched the burst at each
    // split point twice).
    const std::uint64_t to_boundary = m_request.value() - m_request.mod(hbm_addr);
    const std::uint64_t len = std::min<std::uint64_t>(to_boundary, row_len - m_row_offset);
    const std::uint64_t sram_addr = sram_base + m_sram_cursor;

    // Take the earliest-free slot; the request issues when both it and the engine are ready.
    const Tick issue = std::max(now_ticks, m_completions.slot_free());
    Tick slot_done = 0;
    if (in.op == Op::kDmaStore) {
      const Cycle read_done = m_sram.access(ticks_to_cycles_ceil(issue), sram_addr, len, false);
      slot_done = m_hbm.access(cycles_to_ticks(read_done), hbm_addr,
                               static_cast<std::uint32_t>(len), true, now_ticks);
      m_stats.write_bytes += len;
      m_completions.take_slot(slot_done);
    } else {
      slot_done = m_hbm.access(issue, hbm_addr, static_cast<std::uint32_t>(len), false, now_ticks);
      m_stats.read_bytes += len;
      const Cycle ready = ticks_to_cycles_ceil(slot_done);
      m_completions.take_slot(slot_done, CompletionQueue::Write{sram_addr, len, m_issuing});
      ++flight.pending;
      flight.pending_last = std::max(flight.pending_last, ready);
    }
    flight.last_done = std::max(flight.last_done, slot_done);
    ++m_stats.requests;
    ++issued;
    last_issue = issue;

    m_sram_cursor += len;
    m_row_offset += len;
    if (m_row_offset == row_len) {
      ++m_row;
      m_row_offset = 0;
    }
  }
  // Advance only to the group's last issue, so another engine's requests that issue before
  // ours complete are interleaved with ours in the HBM's reservations.
  resume_at = ticks_to_cycles_ceil(last_issue);
  return true;
}

bool DmaEngineTiming::next_completion(Cycle now, Cycle& at) {
  drain(now);
  bool any = false;
  for (const Flight& f : m_flights) {
    if (f.in == nullptr || !f.issued) continue;
    // Until its data has been written to SRAM the completion is unknown; the last write's
    // arrival is the earliest it can be.
    const Cycle t = f.pending > 0 ? f.pending_last : ticks_to_cycles_ceil(f.last_done);
    at = any ? std::min(at, t) : t;
    any = true;
  }
  if (any) at = std::max(at, now);
  return any;
}

const Instruction* DmaEngineTiming::retire(Cycle now, Cycle& start, Cycle& end) {
  drain(now);
  Flight* done = nullptr;
  for (Flight& f : m_flights) {
    if (f.in == nullptr || !f.issued || f.pending > 0 || ticks_to_cycles_ceil(f.last_done) > now)
      continue;
    if (done == nullptr || f.last_done < done->last_done ||
        (f.last_done == done->last_done && f.begin < done->begin))
      done = &f;
  }
  if (done == nullptr) return nullptr;
  const Instruction* in = done->in;
  start = done->begin;
  end = std::max(start, ticks_to_cycles_ceil(done->last_done));
  done->in = nullptr;
  if (--m_in_flight == 0) m_stats.busy_cycles += end - m_busy_since;
  return in;
}

bool DmaEngineTiming::step(Cycle now, Cycle& resume_at) {
  if (m_issuing != kNone && issue(now, resume_at)) return true;
  Cycle at = now;
  SIM_CHECK("dma", next_completion(now, at),
            fmt::format("step at cycle {} without an instruction", now));
  Cycle start = 0;
  if (at <= now && retire(now, start, resume_at) != nullptr) return false;
  resume_at = std::max(at, now);
  return true;
}

}  // namespace tpusim
