#pragma once
/// HBM-style DRAM: channels with a data bus each, banks with one open row each, idle latency,
/// row-miss penalty. Contention by busy-until reservations in sub-cycle ticks.

#include <cstdint>
#include <vector>

#include "base/cycle.h"
#include "base/error.h"
#include "base/stat_fields.h"
#include "models/divisor.h"

namespace tpusim {

struct HbmConfig {
  double bandwidth_gbs = 819;            ///< hbm.bandwidth_gbs: total peak, all channels
  std::uint32_t channels = 16;           ///< hbm.channels
  std::uint32_t banks_per_channel = 16;  ///< hbm.banks_per_channel
  std::uint32_t row_bytes = 1024;        ///< hbm.row_bytes
  std::uint32_t burst_bytes = 64;        ///< hbm.burst_bytes
  std::uint32_t interleave_bytes = 256;  ///< hbm.interleave_bytes: channel interleave granule
  double latency_ns = 250;               ///< hbm.latency_ns: idle read latency
  double row_miss_ns = 30;               ///< hbm.row_miss_ns: precharge + activate
  double capacity_gib = 16;              ///< hbm.capacity_gib: addresses beyond are errors

  std::uint64_t capacity_bytes() const {
    // Saturating, like SramConfig::capacity_bytes (a double out of range is undefined to cast).
    const double b = capacity_gib * 1024.0 * 1024.0 * 1024.0;
    return b >= 0x1p64 ? ~std::uint64_t{0} : b > 0 ? static_cast<std::uint64_t>(b) : 0;
  }
  void validate() const;
};

struct HbmStats {
  std::uint64_t read_bytes = 0;
  std::uint64_t write_bytes = 0;
  std::uint64_t requests = 0;
  std::uint64_t row_hits = 0;    ///< bursts that found their row open
  std::uint64_t row_misses = 0;  ///< bursts that had to open a row
  Tick bus_busy_ticks = 0;       ///< sum over channels of data-bus busy time
};

/// HbmStats' reported counters (bus_busy_ticks is internal, in 1/1024-cycle ticks).
inline constexpr StatField<HbmStats> kHbmStatFields[] = {
    {"read_bytes", "B", &HbmStats::read_bytes},      {"write_bytes", "B", &HbmStats::write_bytes},
    {"requests", "requests", &HbmStats::requests},   {"row_hits", "bursts", &HbmStats::row_hits},
    {"row_misses", "bursts", &HbmStats::row_misses},
};

/// Timing core. Address mapping: channel = (addr / interleave_bytes) % channels; within a
/// channel, consecutive rows of row_bytes rotate over the banks (XOR-permuted, see hbm.cpp). Each
/// burst occupies its channel's data bus for burst_bytes / (bandwidth / channels) after the bus is
/// free and its bank's row is open (a miss costs row_miss_ns on that bank). A request completes
/// when its last burst has crossed the bus plus the idle latency.
class HbmTiming {
 public:
  HbmTiming(const HbmConfig& cfg, double clock_ghz);

  /// Serves one request issued at tick `issue`; returns the tick its data is complete
  /// (for a read: arrived at the requester; for a write: accepted by the DRAM).
  Tick access(Tick issue, std::uint64_t addr, std::uint32_t bytes, bool write);

  const HbmStats& stats() const { return m_stats; }
  const HbmConfig& config() const { return m_cfg; }
  Tick latency_ticks() const { return m_latency_ticks; }
  Tick burst_ticks() const { return m_burst_ticks; }

 private:
  HbmConfig m_cfg;
  std::uint64_t m_capacity;  ///< capacity_bytes(), computed once (it goes through a double)
  Divisor m_granule, m_channels, m_row_bytes, m_burst, m_banks;
  Tick m_burst_ticks;                     ///< data-bus time of one burst on one channel
  Tick m_latency_ticks;                   ///< idle latency
  Tick m_row_miss_ticks;                  ///< precharge + activate
  std::vector<Tick> m_bus_free;           ///< per channel
  std::vector<Tick> m_bank_free;          ///< per channel*bank
  std::vector<std::uint64_t> m_open_row;  ///< per channel*bank; ~0 = closed
  HbmStats m_stats;
};

}  // namespace tpusim
