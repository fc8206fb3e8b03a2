// SramTiming: banks, interleaving, conflicts, the O(banks) path against a brute-force count.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "models/sram.h"

using namespace tpusim;

namespace {

// The expectations below are derived for 64 banks x 32 B/cycle with 64 B interleave (peak
// 2048 B/cycle), independent of the preset's defaults.
SramConfig test_sram() {
  SramConfig c;
  c.banks = 64;
  c.bank_bytes_per_cycle = 32;
  c.interleave_bytes = 64;
  return c;
}

}  // namespace

TEST_CASE("sram disjoint banks run at full rate", "[sram]") {
  SramTiming s(test_sram());  // 64 banks x 32 B/cycle, 64 B interleave: peak 2048 B/cycle
  // 64 B on bank 0 takes 64/32 = 2 cycles; 64 B on bank 1 at the same time also 2.
  CHECK(s.access(10, 0, 64, false) == 12);
  CHECK(s.access(10, 64, 64, false) == 12);
  CHECK(s.stats().conflict_cycles == 0);
  // 4096 B from 64*64: one granule per bank, all 64 in parallel (banks 0 and 1 are busy until
  // 12, so start this one at 12): 2 cycles = 4096 / 2048.
  CHECK(s.access(12, 4096, 4096, true) == 14);
  // 1 MiB: 16384 granules = 256 per bank = 16 KiB per bank / 32 = 512 cycles = 1 MiB / 2048.
  CHECK(s.access(100, 1 << 20, 1 << 20, false) == 612);
  CHECK(s.stats().conflict_cycles == 0);
  CHECK(s.stats().read_bytes == 64 + 64 + (1 << 20));
  CHECK(s.stats().write_bytes == 4096);
  CHECK(s.stats().accesses == 4);
}

TEST_CASE("sram clients on the same bank serialise", "[sram]") {
  SramTiming s(test_sram());
  // addr 0 and addr 64*64 = 4096 both map to bank 0: the second waits the first's 2 cycles.
  CHECK(s.access(0, 0, 64, false) == 2);
  CHECK(s.access(0, 4096, 64, false) == 4);
  CHECK(s.stats().conflict_cycles == 2);
  // A partial granule still occupies its bank for a whole cycle: ceil(1/32) = 1.
  CHECK(s.access(4, 8192 + 5, 1, true) == 5);
}

TEST_CASE("sram repeated operand costs its share times the repeat count", "[sram]") {
  SramTiming s(test_sram());
  // 4096 B (one granule per bank) read 3 times: each bank 3*64 B = 6 cycles.
  CHECK(s.access_repeat(0, 0, 4096, 3, false) == 6);
  CHECK(s.stats().read_bytes == 3 * 4096);
  CHECK(s.access_repeat(0, 0, 0, 3, false) == 0);  // empty: no time
}

TEST_CASE("sram bank arithmetic matches a per-granule brute force", "[sram]") {
  SramConfig cfg;
  cfg.banks = 12;  // not a power of two: remainders wrap unevenly
  cfg.bank_bytes_per_cycle = 16;
  cfg.interleave_bytes = 32;
  SramTiming fast(cfg);
  std::vector<Cycle> bank_free(cfg.banks, 0);
  std::uint64_t conflicts = 0;
  std::uint64_t x = 12345;
  for (int i = 0; i < 2000; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    const std::uint64_t addr = (x >> 20) % 100000;
    // Small accesses (up to every bank once, wrapping past the last) and large ones, some
    // read several times, some overlapping the previous ones' banks in time.
    const std::uint64_t bytes = 1 + (x >> 40) % (i % 2 ? 12 * 32 : 5000);
    const std::uint64_t repeat = (x >> 33) % 4 == 0 ? 3 : 1;
    const Cycle start = static_cast<Cycle>(i * 7) + (x >> 61);
    // Reference: walk every byte range granule by granule.
    std::vector<std::uint64_t> per_bank(cfg.banks, 0);
    for (std::uint64_t a = addr; a < addr + bytes;) {
      const std::uint64_t g = a / cfg.interleave_bytes;
      const std::uint64_t hi = std::min(addr + bytes, (g + 1) * cfg.interleave_bytes);
      per_bank[g % cfg.banks] += hi - a;
      a = hi;
    }
    Cycle done = start;
    for (std::uint32_t b = 0; b < cfg.banks; ++b) {
      if (per_bank[b] == 0) continue;
      const Cycle begin = std::max(start, bank_free[b]);
      conflicts += begin - start;
      bank_free[b] = begin + (per_bank[b] * repeat + 15) / 16;
      done = std::max(done, bank_free[b]);
    }
    INFO("access " << i << " addr " << addr << " bytes " << bytes);
    REQUIRE(fast.access_repeat(start, addr, bytes, repeat, false) == done);
    REQUIRE(fast.stats().conflict_cycles == conflicts);
  }
}

TEST_CASE("sram access outside capacity is a simulation error", "[sram]") {
  SramConfig cfg = test_sram();
  cfg.capacity_mib = 1;
  SramTiming s(cfg);
  CHECK(s.access(0, (1 << 20) - 64, 64, false) == 2);
  CHECK_THROWS_AS(s.access(0, (1 << 20) - 64, 65, false), SimError);
}
