#include "models/hbm.h"
#include "base/math.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace tpusim {
namespace {

void require_positive(const char* key, double v) {
  if (!std::isfinite(v) || v <= 0)
    throw ConfigError(fmt::format("{} must be > 0 (got {})", key, v));
}

void require_non_negative(const char* key, double v) {
  if (!std::isfinite(v) || v < 0)
    throw ConfigError(fmt::format("{} must be >= 0 (got {})", key, v));
}

void require_pow2(const char* key, std::uint64_t v) {
  if (!is_pow2(v)) throw ConfigError(fmt::format("{} must be a power of two (got {})", key, v));
}

/// Nanoseconds (or any real number of cycles * 1e-9 s) to ticks, rounded to nearest.
Tick ns_to_ticks(double ns, double clock_ghz) {
  return static_cast<Tick>(std::llround(ns * clock_ghz * static_cast<double>(kTicksPerCycle)));
}

constexpr std::uint64_t kClosedRow = std::numeric_limits<std::uint64_t>::max();

}  // namespace

void HbmConfig::validate() const {
  require_positive("hbm.bandwidth_gbs", bandwidth_gbs);
  if (channels == 0) throw ConfigError("hbm.channels must be > 0 (got 0)");
  if (banks_per_channel == 0) throw ConfigError("hbm.banks_per_channel must be > 0 (got 0)");
  require_pow2("hbm.row_bytes", row_bytes);
  require_pow2("hbm.burst_bytes", burst_bytes);
  require_pow2("hbm.interleave_bytes", interleave_bytes);
  // A burst must not straddle a channel granule or a DRAM row: it is one column access.
  if (burst_bytes > interleave_bytes)
    throw ConfigError(fmt::format("hbm.burst_bytes ({}) must be <= hbm.interleave_bytes ({})",
                                  burst_bytes, interleave_bytes));
  if (burst_bytes > row_bytes)
    throw ConfigError(
        fmt::format("hbm.burst_bytes ({}) must be <= hbm.row_bytes ({})", burst_bytes, row_bytes));
  const std::pair<const char*, double> times[] = {
      {"hbm.latency_ns", latency_ns}, {"hbm.trcd_ns", trcd_ns},  {"hbm.trp_ns", trp_ns},
      {"hbm.tras_ns", tras_ns},       {"hbm.trrd_ns", trrd_ns},  {"hbm.tfaw_ns", tfaw_ns},
      {"hbm.trfc_ns", trfc_ns},       {"hbm.trefi_ns", trefi_ns}};
  for (const auto& [key, v] : times) {
    require_non_negative(key, v);
    require_at_most(key, v, 1e9);
  }
  // A refresh that never ends would block the channel forever; one that takes most of the
  // interval leaves bursts no window between refreshes, and the law that lets a burst longer
  // than the window straddle one (HbmTiming) would then outrun the refresh-derated peak. Real
  // parts refresh for a few percent of the time (HBM2: 260 of 3900 ns).
  if (refresh() && 2 * trfc_ns > trefi_ns)
    throw ConfigError(
        fmt::format("hbm.trfc_ns ({}) must be at most half of hbm.trefi_ns ({}) (0 in either "
                    "turns refresh off)",
                    trfc_ns, trefi_ns));
  if (queue_depth == 0) throw ConfigError("hbm.queue_depth must be > 0 (got 0)");
  require_at_most("hbm.queue_depth", queue_depth, 4096);
  // JEDEC DRAMs let a controller owe at most eight refreshes (9 tREFI between two).
  require_at_most("hbm.refresh_postpone", refresh_postpone, 8);
  require_positive("hbm.capacity_gib", capacity_gib);
  // Per-bank tables are allocated from these, and burst and latency times are ticks in 64 bits.
  require_at_most("hbm.channels", channels, 4096);
  require_at_most("hbm.banks_per_channel", banks_per_channel, 4096);
  require_at_most("hbm.channels * hbm.banks_per_channel",
                  static_cast<double>(channels) * banks_per_channel, 1 << 20);
  require_at_most("hbm.channels * hbm.queue_depth", static_cast<double>(channels) * queue_depth,
                  1 << 20);
  require_at_least("hbm.bandwidth_gbs", bandwidth_gbs, 1);
  require_at_most("hbm.burst_bytes", burst_bytes, 1 << 16);
  require_at_most("hbm.row_bytes", row_bytes, 1 << 24);
  require_at_most("hbm.interleave_bytes", interleave_bytes, 1 << 30);
  require_at_most("hbm.bandwidth_gbs", bandwidth_gbs, 1e9);
  require_at_most("hbm.capacity_gib", capacity_gib, 1 << 20);
}

HbmTiming::HbmTiming(const HbmConfig& cfg, double clock_ghz)
    : m_cfg(cfg),
      m_capacity(cfg.capacity_bytes()),
      m_granule(cfg.interleave_bytes),
      m_channels(cfg.channels),
      m_row_bytes(cfg.row_bytes),
      m_burst(cfg.burst_bytes),
      m_banks(cfg.banks_per_channel) {
  // One channel moves bandwidth/channels bytes per second; a burst therefore takes
  // burst_bytes * channels / (bandwidth_gbs * 1e9) s = that * clock_ghz * 1e9 cycles.
  const double burst_cycles =
      static_cast<double>(cfg.burst_bytes) * cfg.channels * clock_ghz / cfg.bandwidth_gbs;
  m_burst_ticks = std::max<Tick>(
      1, static_cast<Tick>(std::llround(burst_cycles * static_cast<double>(kTicksPerCycle))));
  m_latency_ticks = ns_to_ticks(cfg.latency_ns, clock_ghz);
  m_trcd = ns_to_ticks(cfg.trcd_ns, clock_ghz);
  m_trp = ns_to_ticks(cfg.trp_ns, clock_ghz);
  m_tras = ns_to_ticks(cfg.tras_ns, clock_ghz);
  m_trrd = ns_to_ticks(cfg.trrd_ns, clock_ghz);
  m_tfaw = ns_to_ticks(cfg.tfaw_ns, clock_ghz);
  const bool refresh = cfg.refresh() && ns_to_ticks(cfg.trfc_ns, clock_ghz) > 0;
  m_trfc = refresh ? ns_to_ticks(cfg.trfc_ns, clock_ghz) : 0;
  m_trefi = refresh ? ns_to_ticks(cfg.trefi_ns, clock_ghz) : 0;
  m_act_limits = m_trrd > 0 || m_tfaw > 0;
  m_cap = std::max<std::uint32_t>(cfg.queue_depth, 1);
  m_act_cap = std::max<std::uint32_t>(cfg.queue_depth, 8);
  m_bank.assign(static_cast<std::size_t>(cfg.channels) * cfg.banks_per_channel,
                Bank{kClosedRow, 0, 0, kNever});
  m_bus_win.assign(cfg.channels, Window{});
  m_bus.assign(static_cast<std::size_t>(cfg.channels) * 2 * m_cap, Interval{0, 0});
  m_act_win.assign(cfg.channels, Window{});
  m_acts.assign(static_cast<std::size_t>(cfg.channels) * 2 * m_act_cap, 0);
  // Channels refresh independently, staggered over tREFI (as controllers do) so the memory never
  // stalls as a whole. Channel c's refreshes are tREFI apart from its offset frac(c * golden
  // ratio) * tREFI: staggering in channel order (c/channels) put consecutive channels one request
  // latency apart, and a serial stream that walks the channels in order then met every refresh
  // head-on. With hbm.refresh_start = "interval" (the default) the first comes one tREFI after
  // the offset, so a run sees about one refresh per channel fewer than a chip in steady state
  // ("phase"). A refresh is postponed only with hbm.refresh_postpone > 0 (default 0). Which
  // pair describes a chip depends on what keeps its HBM busy around the step
  // (tests/bench/RESULTS.md, issue 11, eighteenth round).
  m_first_refresh.resize(cfg.channels);
  m_epoch.assign(cfg.channels, Epoch{});
  const Tick first_delay = cfg.refresh_start == RefreshStart::kInterval ? m_trefi : 0;
  m_postpone = cfg.refresh_postpone;
  m_refresh.assign(cfg.channels, Refresh{});
  for (std::uint32_t c = 0; c < cfg.channels; ++c) {
    const double phase = std::fmod(c * 0.6180339887498949, 1.0);
    m_first_refresh[c] = static_cast<Tick>(phase * static_cast<double>(m_trefi)) + first_delay;
    m_refresh[c].next_due = m_trefi == 0 ? kNever : m_first_refresh[c];
    m_refresh[c].forced = m_trefi == 0 ? kNever : refresh_begin(c, 1 + m_postpone);
  }
}

namespace {

// Permutation-based bank interleaving (Zhang, Zhu and Zhang, MICRO 2000), as DRAM controllers
// do: the row's low digit (base `banks`) is XORed with its higher digits. Consecutive rows still
// rotate over all banks, but streams a multiple of banks*row_bytes apart (several DMA engines
// each copying one slice of a large tensor) land on different banks instead of evicting each
// other's open row on every request.
std::uint64_t bank_of_row(std::uint64_t row, const Divisor& banks) {
  // One bank has only digit 0 (and dividing by 1 would never reach 0 below).
  if (banks.value() == 1) return 0;
  std::uint64_t h = 0;
  if (banks.pow2()) {
    // Digits are bit fields; their XOR is already below `banks`.
    const std::uint64_t mask = banks.value() - 1;
    for (std::uint64_t r = row; r != 0; r >>= banks.shift())
      h ^= r & mask;
    return h;
  }
  for (std::uint64_t r = row; r != 0; r /= banks.value())
    h ^= r % banks.value();
  return h % banks.value();
}

}  // namespace

std::uint64_t HbmTiming::refresh_epoch(std::uint32_t channel, Tick t) const {
  const Tick first = m_first_refresh[channel];
  return t < first ? 0 : (t - first) / m_trefi + 1;
}

const HbmTiming::Epoch& HbmTiming::epoch_at(std::uint32_t channel, Tick t) const {
  Epoch& c = m_epoch[channel];
  if (t < c.begin || t >= c.end) {
    c.e = refresh_epoch(channel, t);
    c.begin = c.e == 0 ? 0 : refresh_begin(channel, c.e);
    c.end = refresh_begin(channel, c.e + 1);
  }
  return c;
}

template <bool kOwed>
Tick HbmTiming::skip_refresh(std::uint32_t channel, Tick t, Tick len) const {
  if (m_trefi == 0) return t;
  // With refreshes owed, the issued ones reach past a requester's clock at most up to busy_end
  // (settle_refresh issues them at or before that clock, back to back at most), and those not
  // yet issued may still move earlier (into an idle stretch) but none past its deadline: the
  // deadlines from `forced` on are certain, and a request keeps out of them. Without, refresh
  // e >= 1 starts at refresh_begin(e): every one is on a deadline.
  if constexpr (kOwed) t = std::max(t, m_refresh[channel].busy_end);
  const Epoch& ep = epoch_at(channel, t);
  if constexpr (kOwed) {
    const Tick forced = m_refresh[channel].forced;
    if (ep.e >= 1 && ep.begin >= forced && t < ep.begin + m_trfc) t = ep.begin + m_trfc;
    const Tick next = std::max(ep.end, forced);
    if (t + len > next && len + m_trfc <= m_trefi) t = next + m_trfc;
    return t;
  }
  if (ep.e >= 1 && t < ep.begin + m_trfc) t = ep.begin + m_trfc;
  // A stretch longer than a refresh interval could never fit; it then overlaps one refresh.
  if (t + len > ep.end && len + m_trfc <= m_trefi) t = ep.end + m_trfc;
  return t;
}

template <bool kOwed>
Tick HbmTiming::next_refresh(std::uint32_t channel, Tick t) const {
  if (m_trefi == 0) return kNever;
  const Tick next = epoch_at(channel, t).end;
  if constexpr (kOwed) return std::max(next, m_refresh[channel].forced);
  return next;
}

void HbmTiming::issue_refreshes(std::uint32_t channel, Tick now) {
  Refresh& r = m_refresh[channel];
  while (r.next_due <= now) {
    // Owed refreshes go as soon as no request is queued (no reserved stretch ends later) and
    // the previous refresh is done, but never past their deadline.
    const Tick start = std::min(std::max({r.next_due, r.last_end, r.busy_end}), r.forced);
    if (start > now) return;  // requests are queued beyond now: keep owing it
    // Runs of refreshes go in closed form, so a long gap between requests (or a tiny tREFI)
    // costs one step, not one per interval: a channel busy through this deadline is busy
    // through every later one up to its last stretch's end, and each goes at its deadline; a
    // channel idle from this due time stays idle up to now, and each goes at its due time
    // (tRFC < tREFI, so each ends before the next is due). Otherwise this one alone: it was
    // owed and the channel has just gone idle.
    std::uint64_t n = 1;
    if (start == r.forced && r.last_end >= r.forced)
      n = (std::min(now, r.last_end) - start) / m_trefi + 1;
    else if (start == r.next_due)
      n = (now - start) / m_trefi + 1;
    r.busy_end = start + (n - 1) * m_trefi + m_trfc;
    if (m_refresh_log != nullptr)
      for (std::uint64_t i = 0; i < n; ++i)
        m_refresh_log->emplace_back(channel, start + i * m_trefi);
    r.next += n;
    r.next_due = refresh_begin(channel, r.next);
    r.forced = refresh_begin(channel, r.next + m_postpone);
    // An all-bank refresh closes every row opened before it. Rows opened between the refreshes
    // of a run were opened after a deadline, and already close at the next one.
    Bank* b = &m_bank[static_cast<std::size_t>(channel) * m_banks.value()];
    for (std::uint64_t i = 0; i < m_banks.value(); ++i)
      if (b[i].row != kClosedRow && b[i].act < start && b[i].close > start) b[i].close = start;
  }
}

template <bool kOwed>
Tick HbmTiming::find_gap(std::uint32_t channel, Tick t, Tick len, std::uint32_t& pos) const {
  const Window& w = m_bus_win[channel];
  const Interval* iv = &m_bus[static_cast<std::size_t>(channel) * 2 * m_cap];
  Tick s = skip_refresh<kOwed>(channel, std::max(t, w.floor), len);
  // Streaming appends behind the last stretch: the common case costs one compare.
  if (w.tail == w.head || iv[w.tail - 1].end <= s) {
    pos = w.tail;
    return s;
  }
  // First stretch ending after s, then the first gap of `len` from there.
  std::uint32_t lo = w.head, hi = w.tail;
  while (lo < hi) {
    const std::uint32_t mid = lo + (hi - lo) / 2;
    if (iv[mid].end <= s)
      lo = mid + 1;
    else
      hi = mid;
  }
  std::uint32_t i = lo;
  while (i < w.tail) {
    if (iv[i].end <= s) {
      ++i;
      continue;
    }
    if (iv[i].start >= s + len) break;
    s = skip_refresh<kOwed>(channel, iv[i].end, len);
    ++i;
  }
  pos = i;
  return s;
}

template <bool kOwed>
void HbmTiming::reserve_bus(std::uint32_t channel, std::uint32_t pos, Tick start, Tick end) {
  Window& w = m_bus_win[channel];
  Interval* iv = &m_bus[static_cast<std::size_t>(channel) * 2 * m_cap];
  const bool join_prev = pos > w.head && iv[pos - 1].end == start;
  const bool join_next = pos < w.tail && iv[pos].start == end;
  // Back-to-back stretches merge (no gap left between them to fill), which keeps the calendar
  // of a streaming channel at one entry.
  if (join_prev && join_next) {
    iv[pos - 1].end = iv[pos].end;
    std::copy(iv + pos + 1, iv + w.tail, iv + pos);
    --w.tail;
  } else if (join_prev) {
    iv[pos - 1].end = end;
  } else if (join_next) {
    iv[pos].start = start;
  } else {
    if (w.tail == 2 * m_cap) {
      std::copy(iv + w.head, iv + w.tail, iv);
      pos -= w.head;
      w.tail -= w.head;
      w.head = 0;
    }
    std::copy_backward(iv + pos, iv + w.tail, iv + w.tail + 1);
    iv[pos] = Interval{start, end};
    ++w.tail;
    // Beyond queue_depth stretches the oldest gap is given up: the controller's queue has
    // moved past it.
    if (w.tail - w.head > m_cap) {
      w.floor = std::max(w.floor, iv[w.head].end);
      ++w.head;
    }
  }
  m_stats.bus_busy_ticks += end - start;
  if (m_trefi != 0) {
    // Refreshes begun by `end`: those issued, or all up to the last deadline at or before it
    // (deadlines are certain), whichever is more.
    std::uint64_t e = epoch_at(channel, end).e;
    if constexpr (kOwed) {
      Refresh& r = m_refresh[channel];
      r.last_end = std::max(r.last_end, end);
      e = std::max(r.next - 1, e > m_postpone ? e - m_postpone : 0);
    }
    if (e > w.refresh_epoch) {
      m_stats.refreshes += e - w.refresh_epoch;
      w.refresh_epoch = e;
    }
  }
}

template <bool kOwed>
Tick HbmTiming::place_activate(std::uint32_t channel, Tick t, std::uint32_t& pos) const {
  const Window& w = m_act_win[channel];
  const Tick* a = &m_acts[static_cast<std::size_t>(channel) * 2 * m_act_cap];
  t = std::max(t, w.floor);
  for (;;) {
    t = skip_refresh<kOwed>(channel, t, 0);
    std::uint32_t p = w.tail;  // first activate at or after t (usually none: scan from the back)
    while (p > w.head && a[p - 1] >= t)
      --p;
    if (p > w.head && t - a[p - 1] < m_trrd) {
      t = a[p - 1] + m_trrd;
      continue;
    }
    if (p < w.tail && a[p] - t < m_trrd) {
      t = a[p] + m_trrd;
      continue;
    }
    // tFAW: every five consecutive activates must span at least tFAW. Check each window of five
    // containing t: j activates before it, 4 - j after.
    bool moved = false;
    for (std::uint32_t j = 0; j <= 4; ++j) {
      if (p - w.head < j || w.tail - p < 4 - j) continue;
      const Tick first = j > 0 ? a[p - j] : t;
      const Tick last = j < 4 ? a[p + 3 - j] : t;
      if (last - first < m_tfaw) {
        // Last in its window: wait for the window to pass. Otherwise no later time before the
        // next activate helps either: try just after it.
        t = j == 4 ? a[p - 4] + m_tfaw : a[p] + std::max<Tick>(m_trrd, 1);
        moved = true;
        break;
      }
    }
    if (!moved) {
      pos = p;
      return t;
    }
  }
}

void HbmTiming::record_activate(std::uint32_t channel, std::uint32_t pos, Tick t) {
  Window& w = m_act_win[channel];
  Tick* a = &m_acts[static_cast<std::size_t>(channel) * 2 * m_act_cap];
  if (w.tail == 2 * m_act_cap) {
    std::copy(a + w.head, a + w.tail, a);
    pos -= w.head;
    w.tail -= w.head;
    w.head = 0;
  }
  std::copy_backward(a + pos, a + w.tail, a + w.tail + 1);
  a[pos] = t;
  ++w.tail;
  if (w.tail - w.head > m_act_cap) {
    // Forgetting an activate must not allow a later one to break tRRD or tFAW with it.
    w.floor = std::max(w.floor, a[w.head] + std::max(m_tfaw, m_trrd));
    ++w.head;
  }
}

template <bool kOwed>
Tick HbmTiming::serve_segment(std::uint32_t channel, std::size_t bank, std::uint64_t row,
                              Tick issue, std::uint64_t n_bursts) {
  Bank& b = m_bank[bank];
  const Tick len = n_bursts * m_burst_ticks;
  std::uint32_t pos = 0;
  Tick earliest_act = issue;
  bool conflict = false;
  if (b.row == row) {
    const Tick s = find_gap<kOwed>(channel, std::max(issue, b.act + m_trcd), len, pos);
    if (s + len <= b.close) {
      reserve_bus<kOwed>(channel, pos, s, s + len);
      b.last_use = std::max(b.last_use, s + len);
      m_stats.row_hits += n_bursts;
      return s + len;
    }
    earliest_act = std::max(issue, b.close + m_trfc);  // a refresh closed the row first
  } else if (b.row != kClosedRow) {
    // Precharge once the row has been open tRAS and its last burst is done.
    const Tick pre = std::max({issue, b.last_use, b.act + m_tras});
    if (pre >= b.close) {
      earliest_act = std::max(issue, b.close + m_trfc);
    } else {
      earliest_act = pre + m_trp;
      conflict = true;
    }
  }
  Tick act = earliest_act, s = 0, close = kNever;
  std::uint32_t act_pos = 0;
  // A refresh that would close the row before its burst crosses the bus pushes the activate past
  // the last refresh that begins before the burst ends (a certain one: it is at or after
  // `close`), so the activate and its burst share a refresh interval. Each try moves the
  // activate past at least one refresh, and once it is past the channel's recorded activates and
  // bus stretches (both calendars are bounded) the burst follows it at tRCD, which fits when
  // tRCD + len <= tREFI - tRFC: the loop ends. A burst too long for that could never fit; it
  // keeps its first place and overlaps a refresh, as a bus stretch that long does. (Written
  // without a subtraction, so a config that skipped validation with tRFC > tREFI cannot wrap it.)
  // Usually one try settles it; a bus booked solid many intervals ahead costs one try per
  // interval, at most about queue_depth.
  for (;;) {
    act = m_act_limits ? place_activate<kOwed>(channel, earliest_act, act_pos)
                       : skip_refresh<kOwed>(channel, earliest_act, 0);
    s = find_gap<kOwed>(channel, act + m_trcd, len, pos);
    close = next_refresh<kOwed>(channel, act);
    if (s + len <= close || m_trcd + len + m_trfc > m_trefi) break;
    earliest_act = epoch_at(channel, s + len - 1).begin + m_trfc;
  }
  if (m_act_limits) record_activate(channel, act_pos, act);
  if (m_act_log != nullptr) m_act_log->emplace_back(channel, act);
  reserve_bus<kOwed>(channel, pos, s, s + len);
  b.row = row;
  b.act = act;
  b.last_use = s + len;
  b.close = close;
  ++m_stats.row_misses;
  ++m_stats.activates;
  ++(conflict ? m_stats.row_conflicts : m_stats.row_empty);
  m_stats.row_hits += n_bursts - 1;
  return s + len;
}

Tick HbmTiming::access(Tick issue, std::uint64_t addr, std::uint32_t bytes, bool write, Tick now) {
  ++m_stats.requests;
  (write ? m_stats.write_bytes : m_stats.read_bytes) += bytes;
  if (bytes == 0) return issue;
  const std::uint64_t capacity = m_capacity;
  SIM_CHECK(
      "hbm", addr <= capacity && bytes <= capacity - addr,
      fmt::format("request [{}, {}) is outside the {} B capacity", addr, addr + bytes, capacity));

  const std::uint64_t granule = m_granule.value();
  const std::uint64_t row_bytes = m_row_bytes.value();
  const std::uint64_t banks = m_banks.value();
  const std::uint64_t end = addr + bytes;
  Tick last_bus_end = issue;
  // Owed refreshes are settled first, on every channel the request touches (channels change
  // only at granule boundaries). Without postponement every refresh goes at its due time: the
  // deadlines of the refreshes not yet issued, from the first on, are then all of them, and
  // nothing needs issuing.
  if (m_postpone != 0)
    for (std::uint64_t g = m_granule.div(addr); g <= m_granule.div(end - 1); ++g)
      settle_refresh(static_cast<std::uint32_t>(m_channels.mod(g)), now);

  // Split the request into segments that stay within one channel granule and one DRAM row;
  // each segment is a run of back-to-back bursts on one channel bus from one bank.
  for (std::uint64_t a = addr; a < end;) {
    const std::uint64_t g = m_granule.div(a);
    const std::uint64_t channel = m_channels.mod(g);
    // Channel-local address: the channel's granules packed one after another.
    const std::uint64_t granule_base = m_channels.div(g) * granule;
    const std::uint64_t local = granule_base + m_granule.mod(a);
    const std::uint64_t row = m_row_bytes.div(local);
    const std::uint64_t local_end = std::min(granule_base + granule, (row + 1) * row_bytes);
    const std::uint64_t seg = std::min(end - a, local_end - local);
    // Whole bursts cross the bus even when the request covers only part of one.
    const std::uint64_t n_bursts = m_burst.div(local + seg - 1) - m_burst.div(local) + 1;
    const std::size_t bank = static_cast<std::size_t>(channel * banks + bank_of_row(row, m_banks));
    const auto ch = static_cast<std::uint32_t>(channel);
    const Tick bus_end = m_postpone != 0 ? serve_segment<true>(ch, bank, row, issue, n_bursts)
                                         : serve_segment<false>(ch, bank, row, issue, n_bursts);
    last_bus_end = std::max(last_bus_end, bus_end);
    a += seg;
  }
  return last_bus_end + m_latency_ticks;
}

}  // namespace tpusim
