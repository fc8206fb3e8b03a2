// Address mapping on the per-request hot paths: the shift/mask fast path (power-of-two configs)
// and the division path (any other value) must agree with a brute-force reference, and a
// one-bank HBM must terminate (its XOR bank permutation once looped forever dividing by 1).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "models/completion_queue.h"
#include "models/divisor.h"
#include "models/hbm.h"
#include "models/sram.h"

using namespace tpusim;

TEST_CASE("Divisor matches / and % for powers of two and other values", "[models][divisor]") {
  for (std::uint64_t d : {1ull, 2ull, 3ull, 6ull, 12ull, 16ull, 96ull, 128ull, 1000ull}) {
    Divisor q(d);
    CHECK(q.pow2() == ((d & (d - 1)) == 0));
    for (std::uint64_t x : {0ull, 1ull, 5ull, 63ull, 64ull, 1023ull, 123456789ull, ~0ull}) {
      CHECK(q.div(x) == x / d);
      CHECK(q.mod(x) == x % d);
    }
  }
}

TEST_CASE("HBM with one bank per channel terminates and serves every request", "[models][hbm]") {
  HbmConfig cfg;
  cfg.banks_per_channel = 1;
  HbmTiming hbm(cfg, 1.5);
  // Rows far from 0 used to spin in the bank permutation (row / 1 never reaches 0).
  const Tick done = hbm.access(0, 1ull << 30, 4096, false);
  CHECK(done > hbm.latency_ticks());
  CHECK(hbm.stats().read_bytes == 4096);
  // One bank: every new row is a miss, the same row again a hit.
  CHECK(hbm.stats().row_misses > 0);
}

TEST_CASE("HBM timing is the same whatever the divisor path, on equivalent streams",
          "[models][hbm]") {
  // 12 channels x 6 banks takes the division path; a long linear stream must still reach the
  // bus-limited rate: every byte crosses exactly one channel bus once.
  HbmConfig cfg;
  cfg.channels = 12;
  cfg.banks_per_channel = 6;
  HbmTiming hbm(cfg, 1.5);
  Tick t = 0;
  for (std::uint64_t a = 0; a < (1u << 22); a += 512)
    t = std::max(t, hbm.access(0, a, 512, false));
  CHECK(hbm.stats().read_bytes == (1u << 22));
  CHECK(hbm.stats().bus_busy_ticks == (1u << 22) / cfg.burst_bytes * hbm.burst_ticks());
}

TEST_CASE("SRAM bank walk with a non-power-of-two bank count matches a reference",
          "[models][sram]") {
  SramConfig cfg;
  cfg.banks = 96;  // not a power of two: bank = granule % 96
  SramTiming sram(cfg);
  // One 8 KiB access touches 128 granules: 32 banks get two, 64 banks get one; at 64 B/cycle
  // per bank that is 2 cycles for the busiest bank.
  CHECK(sram.access(0, 64 * 50, 8192, false) == 2);
  // A small access (<= banks granules) right after starts on bank 50 again, which is busy
  // until 2 (it had two granules), so it waits: 2 + 1.
  CHECK(sram.access(0, 64 * 50, 64, false) == 3);
}

TEST_CASE("CompletionQueue frees slots and drains writes like two separate queues",
          "[models][dma]") {
  // An engine's life in miniature: requests take the earliest-free slot at
  // max(now, slot free) and complete a random time later (loads carry a write, stores none);
  // time moves on and drains now and then. The reference keeps the slots' free ticks in a plain
  // vector (take the minimum) and the pending writes in another, drained by (ready, issue order).
  // The jitter's width decides how far apart completions land: a few per cycle, spread over
  // hundreds of cycles, or beyond the calendar's first 4,096 cycles (it grows).
  const Tick jitter = GENERATE(Tick{4000}, Tick{400000}, Tick{40000000});
  // 256 slots (the preset's) keep enough entries behind an insert for the counted search.
  const std::uint32_t n_slots = GENERATE(16u, 256u);
  CompletionQueue q(n_slots);
  std::vector<Tick> slots(n_slots, 0);
  struct Pending {
    Cycle ready;
    std::uint64_t seq, addr;
  };
  std::vector<Pending> pending;
  std::vector<std::pair<Cycle, std::uint64_t>> got, want;
  std::uint64_t x = 12345, seq = 0;
  Cycle now = 0;
  for (int step = 0; step < 20000; ++step) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    auto min_slot = std::min_element(slots.begin(), slots.end());
    // A slot freed by the last drain's cycle (now) may be reported as that cycle: a request
    // issues at max(now, slot free) either way. A slot that frees later is exact.
    const Tick now_ticks = cycles_to_ticks(now);
    REQUIRE(std::max(now_ticks, q.slot_free()) == std::max(now_ticks, *min_slot));
    if ((x >> 40) % 4 == 0) {
      now += (x >> 50) % 300;
      q.drain(now, [&got](Cycle ready, const CompletionQueue::Write& w) {
        got.emplace_back(ready, w.sram_addr);
      });
      std::stable_sort(pending.begin(), pending.end(), [](const Pending& a, const Pending& b) {
        return a.ready < b.ready || (a.ready == b.ready && a.seq < b.seq);
      });
      auto due = std::find_if(pending.begin(), pending.end(),
                              [now](const Pending& p) { return p.ready > now; });
      for (auto it = pending.begin(); it != due; ++it)
        want.emplace_back(it->ready, it->addr);
      pending.erase(pending.begin(), due);
      REQUIRE(got == want);
      continue;
    }
    const Tick issue = std::max(cycles_to_ticks(now), *min_slot);
    // Some completions tie on one tick, many on one cycle.
    const Tick done = issue + 300 * kTicksPerCycle + (x >> 20) % jitter / 512 * 512;
    *min_slot = done;
    if ((x >> 30) % 5 == 0) {
      q.take_slot(done);
    } else {
      q.take_slot(done, CompletionQueue::Write{seq, 64, 0});
      pending.push_back({ticks_to_cycles_ceil(done), seq, seq});
    }
    ++seq;
  }
  // With the widest jitter most completions lie beyond the last drain: fewer writes come due.
  CHECK(want.size() > (jitter > 1000000 ? 300u : 1000u));
}
