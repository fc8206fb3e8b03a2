#pragma once
/// Banked on-chip SRAM (VMEM): address-interleaved banks with per-bank busy-until contention.

#include <cstdint>
#include <vector>

#include "base/cycle.h"
#include "base/error.h"
#include "base/stat_fields.h"
#include "models/divisor.h"

namespace tpusim {

struct SramConfig {
  double capacity_mib = 128;                ///< sram.capacity_mib
  std::uint32_t banks = 128;                ///< sram.banks
  std::uint32_t bank_bytes_per_cycle = 64;  ///< sram.bank_bytes_per_cycle
  std::uint32_t interleave_bytes = 64;      ///< sram.interleave_bytes
  double residency_mib = 64;  ///< sram.residency_mib: budget for pinned indexer keys (workloads)

  std::uint64_t capacity_bytes() const {
    // Saturating: validate() may not have bounded capacity_mib yet (casting an out-of-range
    // double is undefined behaviour).
    const double b = capacity_mib * 1024.0 * 1024.0;
    return b >= 0x1p64 ? ~std::uint64_t{0} : b > 0 ? static_cast<std::uint64_t>(b) : 0;
  }
  std::uint64_t peak_bytes_per_cycle() const {
    return static_cast<std::uint64_t>(banks) * bank_bytes_per_cycle;
  }
  /// Throws ConfigError naming the key.
  void validate() const;
};

struct SramStats {
  std::uint64_t read_bytes = 0;
  std::uint64_t write_bytes = 0;
  std::uint64_t accesses = 0;
  std::uint64_t conflict_cycles = 0;  ///< bank-cycles an access waited behind another client
};

inline constexpr StatField<SramStats> kSramStatFields[] = {
    {"read_bytes", "B", &SramStats::read_bytes},
    {"write_bytes", "B", &SramStats::write_bytes},
    {"accesses", "accesses", &SramStats::accesses},
    {"conflict_cycles", "bank-cycles", &SramStats::conflict_cycles},
};

/// Timing core: each bank serves bank_bytes_per_cycle; an access of `bytes` at `addr` starting
/// at `start` occupies each bank it touches for (its share of the bytes)/bank_bytes_per_cycle
/// cycles, after that bank's previous reservation. Returns when the last bank is done.
class SramTiming {
 public:
  explicit SramTiming(const SramConfig& cfg);

  /// Reserves the banks for one access and returns its completion cycle (>= start + 1 for a
  /// non-empty access). Counts bytes and conflict cycles. `addr + bytes` must be within capacity
  /// (checked by the caller's validation; a violation here is a SIM_CHECK).
  Cycle access(Cycle start, std::uint64_t addr, std::uint64_t bytes, bool write);
  /// Like access(), for an operand streamed `repeat` times (an MXU re-reading A once per column
  /// fold, a radix select re-reading its scores once per pass): each bank's share is multiplied
  /// by `repeat`, so re-reads cost bandwidth without a call per pass. Counts one access.
  Cycle access_repeat(Cycle start, std::uint64_t addr, std::uint64_t bytes, std::uint64_t repeat,
                      bool write);

  const SramStats& stats() const { return m_stats; }
  const SramConfig& config() const { return m_cfg; }

 private:
  SramConfig m_cfg;
  std::uint64_t m_capacity;  ///< capacity_bytes(), computed once (it goes through a double)
  Divisor m_granule, m_banks, m_per_cycle;
  std::vector<Cycle> m_bank_free;              ///< per bank: first cycle it is free
  Cycle m_granule_busy;                        ///< a bank's time for one whole granule
  std::vector<std::uint64_t> m_scratch_bytes;  ///< per-bank byte counts of the current access
  SramStats m_stats;
};

}  // namespace tpusim
