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
  require_non_negative("hbm.latency_ns", latency_ns);
  require_non_negative("hbm.row_miss_ns", row_miss_ns);
  require_positive("hbm.capacity_gib", capacity_gib);
  // Per-bank tables are allocated from these, and burst and latency times are ticks in 64 bits.
  require_at_most("hbm.channels", channels, 4096);
  require_at_most("hbm.banks_per_channel", banks_per_channel, 4096);
  require_at_most("hbm.channels * hbm.banks_per_channel",
                  static_cast<double>(channels) * banks_per_channel, 1 << 20);
  require_at_least("hbm.bandwidth_gbs", bandwidth_gbs, 1);
  require_at_most("hbm.burst_bytes", burst_bytes, 1 << 16);
  require_at_most("hbm.row_bytes", row_bytes, 1 << 24);
  require_at_most("hbm.interleave_bytes", interleave_bytes, 1 << 30);
  require_at_most("hbm.bandwidth_gbs", bandwidth_gbs, 1e9);
  require_at_most("hbm.latency_ns", latency_ns, 1e9);
  require_at_most("hbm.row_miss_ns", row_miss_ns, 1e9);
  require_at_most("hbm.capacity_gib", capacity_gib, 1 << 20);
}

HbmTiming::HbmTiming(const HbmConfig& cfg, double clock_ghz)
    : m_cfg(cfg),
      m_capacity(cfg.capacity_bytes()),
      m_granule(cfg.interleave_bytes),
      m_channels(cfg.channels),
      m_row_bytes(cfg.row_bytes),
      m_burst(cfg.burst_bytes),
      m_banks(cfg.banks_per_channel),
      m_bus_free(cfg.channels, 0),
      m_bank_free(static_cast<std::size_t>(cfg.channels) * cfg.banks_per_channel, 0),
      m_open_row(static_cast<std::size_t>(cfg.channels) * cfg.banks_per_channel, kClosedRow) {
  // One channel moves bandwidth/channels bytes per second; a burst therefore takes
  // burst_bytes * channels / (bandwidth_gbs * 1e9) s = that * clock_ghz * 1e9 cycles.
  const double burst_cycles =
      static_cast<double>(cfg.burst_bytes) * cfg.channels * clock_ghz / cfg.bandwidth_gbs;
  m_burst_ticks = std::max<Tick>(
      1, static_cast<Tick>(std::llround(burst_cycles * static_cast<double>(kTicksPerCycle))));
  m_latency_ticks = ns_to_ticks(cfg.latency_ns, clock_ghz);
  m_row_miss_ticks = ns_to_ticks(cfg.row_miss_ns, clock_ghz);
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

Tick HbmTiming::access(Tick issue, std::uint64_t addr, std::uint32_t bytes, bool write) {
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
    Tick ready = std::max(issue, m_bank_free[bank]);
    if (m_open_row[bank] == row) {
      m_stats.row_hits += n_bursts;
    } else {
      // Open-row policy: the first burst pays precharge + activate; the rest of the segment
      // then hits the row it opened.
      ready += m_row_miss_ticks;
      m_open_row[bank] = row;
      ++m_stats.row_misses;
      m_stats.row_hits += n_bursts - 1;
    }
    const Tick bus_time = n_bursts * m_burst_ticks;
    const Tick start = std::max(m_bus_free[channel], ready);
    const Tick bus_end = start + bus_time;
    m_bus_free[channel] = bus_end;
    // The bank cannot switch rows before its column accesses are done.
    m_bank_free[bank] = bus_end;
    m_stats.bus_busy_ticks += bus_time;
    last_bus_end = std::max(last_bus_end, bus_end);
    a += seg;
  }
  return last_bus_end + m_latency_ticks;
}

}  // namespace tpusim
