#include "models/sram.h"
#include "base/math.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace tpusim {
namespace {}  // namespace

void SramConfig::validate() const {
  if (!std::isfinite(capacity_mib) || capacity_mib <= 0)
    throw ConfigError(fmt::format("sram.capacity_mib must be > 0 (got {})", capacity_mib));
  if (banks == 0) throw ConfigError("sram.banks must be > 0 (got 0)");
  // Per-bank tables are allocated from these; 1 TiB of SRAM is far beyond any chip.
  require_at_most("sram.capacity_mib", capacity_mib, 1 << 20);
  require_at_most("sram.banks", banks, 1 << 16);
  if (bank_bytes_per_cycle == 0) throw ConfigError("sram.bank_bytes_per_cycle must be > 0 (got 0)");
  if (!is_pow2(interleave_bytes))
    throw ConfigError(
        fmt::format("sram.interleave_bytes must be a power of two (got {})", interleave_bytes));
  if (capacity_bytes() < interleave_bytes)
    throw ConfigError(
        fmt::format("sram.capacity_mib ({}) must hold at least one interleave "
                    "granule of sram.interleave_bytes ({})",
                    capacity_mib, interleave_bytes));
  if (!std::isfinite(residency_mib) || residency_mib < 0)
    throw ConfigError(fmt::format("sram.residency_mib must be >= 0 (got {})", residency_mib));
  // The pinned indexer keys live in SRAM, so their budget cannot exceed it.
  if (residency_mib > capacity_mib)
    throw ConfigError(fmt::format("sram.residency_mib ({}) must be <= sram.capacity_mib ({})",
                                  residency_mib, capacity_mib));
}

SramTiming::SramTiming(const SramConfig& cfg)
    : m_cfg(cfg),
      m_capacity(cfg.capacity_bytes()),
      m_granule(cfg.interleave_bytes),
      m_banks(cfg.banks),
      m_per_cycle(cfg.bank_bytes_per_cycle),
      m_bank_free(cfg.banks, 0),
      m_granule_busy(
          m_per_cycle.div(std::uint64_t{cfg.interleave_bytes} + cfg.bank_bytes_per_cycle - 1)),
      m_scratch_bytes(cfg.banks, 0) {}

Cycle SramTiming::access(Cycle start, std::uint64_t addr, std::uint64_t bytes, bool write) {
  return access_repeat(start, addr, bytes, 1, write);
}

Cycle SramTiming::access_repeat(Cycle start, std::uint64_t addr, std::uint64_t bytes,
                                std::uint64_t repeat, bool write) {
  if (bytes == 0 || repeat == 0) return start;
  const std::uint64_t capacity = m_capacity;
  SIM_CHECK("sram", addr <= capacity && bytes <= capacity - addr,
            fmt::format("access [{}, {}) at cycle {} is outside the {} B capacity", addr,
                        addr + bytes, start, capacity));
  ++m_stats.accesses;
  (write ? m_stats.write_bytes : m_stats.read_bytes) += bytes * repeat;

  const std::uint64_t granule = m_cfg.interleave_bytes;
  const std::uint64_t banks = m_cfg.banks;
  const std::uint64_t per_cycle = m_cfg.bank_bytes_per_cycle;
  const std::uint64_t end = addr + bytes;
  const std::uint64_t first_g = m_granule.div(addr);
  const std::uint64_t last_g = m_granule.div(end - 1);
  const std::uint64_t touched = last_g - first_g + 1;
  Cycle done = start;

  auto serve = [&](std::uint64_t bank, std::uint64_t bank_bytes) {
    const Cycle busy = m_per_cycle.div(bank_bytes * repeat + per_cycle - 1);
    const Cycle begin = std::max(start, m_bank_free[bank]);
    m_stats.conflict_cycles += begin - start;
    m_bank_free[bank] = begin + busy;
    done = std::max(done, begin + busy);
  };

  if (touched <= banks) {
    // Small access: every granule lands on its own bank, so no per-bank sum is needed and the
    // cost is proportional to the access, not to the bank count. The bank advances by one per
    // granule, so only the first needs a division.
    std::uint64_t bank = m_banks.mod(first_g);
    if (touched == 1) {
      serve(bank, bytes);
      return done;
    }
    serve(bank, (first_g + 1) * granule - addr);
    if (++bank == banks) bank = 0;
    // The whole granules between the first and the last (a DMA request's SRAM write is mostly
    // these) all take the same time: one loop over contiguous banks without a division, in at
    // most two runs when the banks wrap around.
    const Cycle busy =
        repeat == 1 ? m_granule_busy : m_per_cycle.div(granule * repeat + per_cycle - 1);
    std::uint64_t full = touched - 2;
    Cycle latest = start;
    std::uint64_t waited = 0;
    while (full > 0) {
      const std::uint64_t run = std::min(full, banks - bank);
      Cycle* f = m_bank_free.data() + bank;
      for (std::uint64_t i = 0; i < run; ++i) {
        // Whether a bank is still busy is data, not a pattern: a mask, not a branch.
        const Cycle wait = (f[i] - start) & (Cycle{0} - static_cast<Cycle>(f[i] > start));
        waited += wait;
        latest = std::max(latest, start + wait);
        f[i] = start + wait + busy;
      }
      full -= run;
      bank += run;
      if (bank == banks) bank = 0;
    }
    m_stats.conflict_cycles += waited;
    if (touched > 2) done = std::max(done, latest + busy);
    serve(bank, end - last_g * granule);
    return done;
  }

  // Large access: count each bank's bytes arithmetically (whole rounds over the banks plus a
  // remainder), so the cost is O(banks) however many granules are touched.
  std::fill(m_scratch_bytes.begin(), m_scratch_bytes.end(), 0);
  m_scratch_bytes[m_banks.mod(first_g)] += (first_g + 1) * granule - addr;
  m_scratch_bytes[m_banks.mod(last_g)] += end - last_g * granule;
  const std::uint64_t full = touched - 2;  // granules strictly between the first and the last
  const std::uint64_t rounds = m_banks.div(full);
  const std::uint64_t rest = m_banks.mod(full);
  for (std::uint64_t b = 0; b < banks; ++b)
    m_scratch_bytes[b] += rounds * granule;
  // The remainder's banks follow on from the first granule's, wrapping once at most (a
  // division per granule here was a tenth of the SRAM model's time).
  std::uint64_t bank = m_banks.mod(first_g + 1);
  for (std::uint64_t j = 0; j < rest; ++j) {
    m_scratch_bytes[bank] += granule;
    if (++bank == banks) bank = 0;
  }
  for (std::uint64_t b = 0; b < banks; ++b)
    if (m_scratch_bytes[b] != 0) serve(b, m_scratch_bytes[b]);
  return done;
}

}  // namespace tpusim
