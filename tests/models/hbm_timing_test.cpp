// The DRAM laws of HbmTiming (issue 10): activate-bound random reads, refresh-bound streaming,
// idle and serialized latency, bursts per gathered row, activate-rate limits, and the presets'
// random-to-streaming ratios. Every pattern runs through DmaEngineTiming with enough requests in
// flight that Little's law allows more than the law under test (each test says how much), so the
// DMA engines are never the limit.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "models/dma.h"
#include "models/hbm.h"
#include "models/sram.h"
#include "sim/config.h"
#include "tests/models/dma_test_util.h"

using namespace tpusim;

namespace {

constexpr double kClockGhz = 1.5;

using tpusim_test::load;

Instruction gather(std::uint64_t base, std::uint64_t span, std::uint64_t rows,
                   std::uint64_t row_bytes, std::uint64_t seed) {
  Instruction in;
  in.op = Op::kDmaGather;
  in.src = {Space::kHbm, base};
  in.dst = {Space::kSram, 0};
  in.span = span;
  in.rows = rows;
  in.row_bytes = row_bytes;
  in.pattern = {PatternKind::kUniform, 0};
  in.seed = seed;
  return in;
}

struct Run {
  Cycle cycles = 0;
  HbmStats hbm;
};

/// One instruction per engine, all started at 0, always stepping the engine that is earliest in
/// simulated time (as the SystemC kernel would). SRAM is made large and wide so it never limits.
Run run_engines(const HbmConfig& hcfg, const DmaConfig& dcfg, const std::vector<Instruction>& v,
                std::vector<std::pair<std::uint32_t, Tick>>* act_log = nullptr,
                double clock_ghz = kClockGhz) {
  HbmTiming hbm(hcfg, clock_ghz);
  hbm.set_activate_log(act_log);
  SramConfig scfg;
  scfg.capacity_mib = 1024;
  scfg.banks = 1024;
  SramTiming sram(scfg);
  std::vector<std::unique_ptr<DmaEngineTiming>> engines;
  std::vector<Cycle> now(v.size(), 0);
  std::vector<bool> busy(v.size(), true);
  for (std::size_t i = 0; i < v.size(); ++i) {
    engines.push_back(std::make_unique<DmaEngineTiming>(dcfg, hbm, sram));
    engines[i]->begin(v[i], 0);
  }
  Cycle done = 0;
  for (;;) {
    std::size_t next = v.size();
    for (std::size_t i = 0; i < v.size(); ++i)
      if (busy[i] && (next == v.size() || now[i] < now[next])) next = i;
    if (next == v.size()) break;
    Cycle r = 0;
    busy[next] = engines[next]->step(now[next], r);
    now[next] = r;
    if (!busy[next]) done = std::max(done, r);
  }
  return {done, hbm.stats()};
}

/// Bytes per cycle over the run, without the one idle latency of filling the pipeline: a stream
/// of N bytes at rate B takes latency + N/B.
double rate(const Run& r, std::uint64_t bytes, const HbmConfig& h) {
  const double fill = (h.latency_ns + h.trcd_ns) * kClockGhz;
  return static_cast<double>(bytes) / (static_cast<double>(r.cycles) - fill);
}

double peak_bytes_per_cycle(const HbmConfig& h) {
  return h.bandwidth_gbs / kClockGhz;  // 819 GB/s at 1.5 GHz = 546 B/cycle
}

/// Four engines of `per_engine` random rows each, from disjoint 1-GiB-class tables.
std::vector<Instruction> random_rows(std::uint64_t row_bytes, std::uint64_t per_engine) {
  std::vector<Instruction> v;
  const std::uint64_t span = (1ull << 30) / row_bytes;
  for (std::uint64_t e = 0; e < 4; ++e)
    v.push_back(gather(e * span * row_bytes, span, per_engine, row_bytes, 11 + e));
  return v;
}

DmaConfig deep_dma() {
  // 4 engines x 4096 outstanding: even at 64 B per request 1 MiB is in flight, over four times
  // peak (546 B/cycle) x the ~400-cycle latency, so Little's law never binds below peak.
  DmaConfig d;
  d.max_outstanding = 4096;
  return d;
}

}  // namespace

TEST_CASE("hbm idle and serialized read latency", "[hbm]") {
  const HbmConfig cfg;
  HbmTiming h(cfg, kClockGhz);
  // Idle: a closed bank activates (tRCD), one burst crosses the bus, then the path latency.
  // 14 ns * 1.5 * 1024 = 21504 ticks; burst 1920 (see hbm_dma_test.cpp); 234.75 ns = 360576.
  const Tick first = h.access(0, 0, 64, false);
  CHECK(first == 21504 + 1920 + 360576);
  CHECK(h.stats().row_empty == 1);
  // Serialized random read: issued when the first returns, to another row of the same bank.
  // Channel 0's local rows 0 and 17 are both bank 0 (XOR of base-16 digits (1, 1) is 0); local
  // row 17 starts at channel-local byte 17 KiB = granule 68 of channel 0 = address 68*16*256.
  // The row has been open far longer than tRAS, so: precharge (tRP) + activate (tRCD) + burst +
  // latency = 21504 + 21504 + 1920 + 360576.
  const Tick second = h.access(first, 68ull * 16 * 256, 64, false);
  CHECK(second - first == 21504 + 21504 + 1920 + 360576);
  CHECK(h.stats().row_conflicts == 1);
  CHECK(h.stats().row_misses == 2);
  CHECK(h.stats().activates == 2);
  // The same row again is a hit: bus + latency only.
  const Tick third = h.access(second, 68ull * 16 * 256 + 64, 64, false);
  CHECK(third - second == 1920 + 360576);
  CHECK(h.stats().row_hits == 1);
}

// The default HbmConfig's refresh and idle-read times in ticks (1.5 GHz, 1024 ticks a cycle):
// tRFC 260 ns * 1.5 * 1024 = 399360, tREFI 3900 ns = 5990400; the idle read is tRCD 14 ns = 21504
// + one burst 1920 + latency 234.75 ns = 360576 (the idle-latency test above).
constexpr Tick kTrcd = 21504, kBurst = 1920, kTrfc = 399360, kTrefi = 5990400;
constexpr Tick kIdle = kTrcd + kBurst + 360576;

TEST_CASE("hbm.refresh_start puts a channel's first refresh one tREFI after its offset, or at it",
          "[hbm]") {
  // Channel 0's stagger offset is frac(0 * golden ratio) * tREFI = 0, and address 0 is channel 0.
  HbmConfig interval;
  HbmConfig phase;
  phase.refresh_start = RefreshStart::kPhase;
  // At tick 0: "interval" has no refresh until tREFI; "phase" is refreshing until tRFC, and the
  // activate waits for it.
  CHECK(HbmTiming(interval, kClockGhz).access(0, 0, 64, false) == kIdle);
  CHECK(HbmTiming(phase, kClockGhz).access(0, 0, 64, false) == kTrfc + kIdle);
  // At tREFI both refresh: "interval" its first refresh, "phase" its second.
  CHECK(HbmTiming(interval, kClockGhz).access(kTrefi, 0, 64, false) == kTrefi + kTrfc + kIdle);
  CHECK(HbmTiming(phase, kClockGhz).access(kTrefi, 0, 64, false) == kTrefi + kTrfc + kIdle);
  // Between refreshes the two agree.
  CHECK(HbmTiming(phase, kClockGhz).access(kTrfc, 0, 64, false) == kTrfc + kIdle);
}

TEST_CASE(
    "hbm.refresh_postpone: an owed refresh waits for the channel to go idle, not past its "
    "deadline",
    "[hbm]") {
  // Channel 0 (address 0) has stagger offset 0, so with the default "interval" start its first
  // refresh is due at tREFI.
  HbmConfig owe1;
  owe1.refresh_postpone = 1;
  // A read issued 100 ticks before the refresh is due activates at once; its burst would cross
  // the bus inside [tREFI, tREFI + tRFC).
  SECTION("without postponement the refresh goes at its due time and the read waits for it") {
    HbmTiming h(HbmConfig{}, kClockGhz);
    // The activate's row would close at tREFI before the burst: activate after the refresh.
    CHECK(h.access(kTrefi - 100, 0, 64, false) == kTrefi + kTrfc + kIdle);
  }
  SECTION("owed, it waits until the queued read has crossed the bus, then closes the row") {
    HbmTiming h(owe1, kClockGhz);
    CHECK(h.access(kTrefi - 100, 0, 64, false) == kTrefi - 100 + kIdle);
    // The channel went idle when that burst ended; the owed refresh went then and closed the
    // row, so a read of the same row issued later opens it again after the refresh.
    const Tick idle_from = kTrefi - 100 + kTrcd + kBurst;
    const Tick later = idle_from + 1000;
    CHECK(h.access(later, 64, 64, false) == idle_from + kTrfc + kIdle);
    CHECK(h.stats().row_empty == 2);
    CHECK(h.stats().refreshes == 1);
  }
  SECTION("a channel idle for many intervals refreshed each time on time") {
    // Refreshes 1-100 fell due at k tREFI while nothing was queued, so each went at its due
    // time (issued in one step, not one per interval): the 100th still holds the bus when a
    // read arrives 10 ticks after it began, as without postponement.
    HbmTiming owing(owe1, kClockGhz);
    HbmTiming paying(HbmConfig{}, kClockGhz);
    CHECK(owing.access(100 * kTrefi + 10, 0, 64, false) == 100 * kTrefi + kTrfc + kIdle);
    CHECK(paying.access(100 * kTrefi + 10, 0, 64, false) == 100 * kTrefi + kTrfc + kIdle);
  }
  SECTION("owed, it still goes by its deadline, one tREFI late") {
    HbmTiming h(owe1, kClockGhz);
    // A requester whose clock still reads before the due time queues a read that issues just
    // before the deadline 2 tREFI: the channel is busy through the deadline, so the refresh is
    // forced there and the read meets it as it would have met an unpostponed one.
    CHECK(h.access(2 * kTrefi - 100, 0, 64, false, kTrefi - 200) == 2 * kTrefi + kTrfc + kIdle);
  }
}

TEST_CASE("an activate shares its refresh interval with its burst however far the bus is booked",
          "[hbm]") {
  // One channel (refreshes at k tREFI, k >= 1: its stagger offset is 0). A stream issued at tick
  // 0 books the bus for about eight refresh intervals, leaving free only the tRCD after each
  // refresh in which it opens its row again. A read of another row, also issued at 0, cannot use
  // those gaps (its own activate comes tRRD after the stream's), so its burst goes after the
  // stream. Its row must still be open then: no refresh may begin between its activate and the
  // end of its burst. (The controller used to give up after moving the activate past three
  // refreshes, and served the burst from a row a refresh had closed.)
  HbmConfig cfg;
  cfg.channels = 1;
  cfg.queue_depth = 64;  // keeps every interval's stretch: the gap is found only after the stream
  HbmTiming h(cfg, kClockGhz);
  std::vector<std::pair<std::uint32_t, Tick>> acts;
  h.set_activate_log(&acts);
  // One channel carries the whole 819 GB/s: a 1-KiB request is 16 bursts. The stream reads one
  // row (bank 0's row 0) over and over, so it activates once per refresh interval and leaves
  // the activate calendar free for the probe.
  const std::uint64_t request = 1024;
  const Tick per_request = 16 * h.burst_ticks();
  const std::uint64_t n = 8 * kTrefi / per_request;
  Tick stream_end = 0;
  for (std::uint64_t i = 0; i < n; ++i)
    stream_end = std::max(stream_end, h.access(0, 0, request, false));
  REQUIRE(stream_end - h.latency_ticks() > 8 * kTrefi);
  // Local row 1 is bank 1 (the XOR of its base-16 digits), so the probe finds bank 1 closed.
  const std::size_t stream_acts = acts.size();
  const Tick end = h.access(0, request, 64, false) - h.latency_ticks();
  REQUIRE(acts.size() == stream_acts + 1);
  const Tick act = acts.back().second;
  // The stream's bus time is 8 tREFI, and each of the 8 refreshes it meets adds tRFC + tRCD,
  // so it ends inside the ninth interval: the last refresh before it is at 8 tREFI. The probe
  // activates just after it, tRRD (4 ns = 6144 ticks) after the stream opens its row again at
  // 8 tREFI + tRFC, and its burst follows the stream's last one on the bus.
  CHECK(act == 8 * kTrefi + kTrfc + 6144);
  CHECK(end == stream_end - h.latency_ticks() + h.burst_ticks());
  CHECK(end <= 9 * kTrefi);
}

TEST_CASE("random toy controllers keep every refresh law", "[hbm]") {
  // Small queues, short refresh intervals, refreshes owed (0-8) and requests issued up to 3 us
  // ahead of the requester's clock: the cases where a controller's bookkeeping can slip. One
  // channel, whose stagger offset is 0, so refresh e >= 1 is due at e tREFI ("interval") or
  // (e - 1) tREFI ("phase") and must start by P tREFI later. Without postponement each starts
  // when due; with it the model logs each as it is issued, and a last request far ahead (clock
  // included) settles every one up to then. Each access is one burst, so it is one segment: a
  // new entry in the activate log is its own (else it hit the row's last opening), and its burst
  // ends at the returned tick less the latency. The laws:
  //  - refreshes are due-ordered, each within [due, deadline], none overlapping the next;
  //  - no burst crosses the bus during a refresh, and no activate lands inside one;
  //  - a burst, hit or miss, ends before the first refresh after its row's activate.
  std::mt19937_64 rng(20261204);
  auto pick = [&](std::uint64_t n) { return rng() % n; };
  std::uint64_t misses = 0, hits = 0, between = 0, at_deadline = 0;
  for (int run = 0; run < 400; ++run) {
    HbmConfig cfg;
    cfg.channels = 1;
    cfg.banks_per_channel = 1 + static_cast<std::uint32_t>(pick(6));
    cfg.trefi_ns = std::array<double, 3>{200, 500, 1000}[pick(3)];
    cfg.trfc_ns = 20 + static_cast<double>(pick(80));
    cfg.queue_depth = 1 + static_cast<std::uint32_t>(pick(10));
    cfg.refresh_postpone = static_cast<std::uint32_t>(pick(9));
    const bool phase = pick(2) == 0;
    if (phase) cfg.refresh_start = RefreshStart::kPhase;
    HbmTiming h(cfg, kClockGhz);
    // Whole nanoseconds are whole ticks at 1.5 GHz (1,536 a ns), as the model rounds them.
    const auto ticks = [](double ns) { return static_cast<Tick>(ns * kClockGhz * 1024); };
    const Tick trefi = ticks(cfg.trefi_ns), trfc = ticks(cfg.trfc_ns), us = ticks(1000);
    const Tick first = phase ? 0 : trefi;
    std::vector<std::pair<std::uint32_t, Tick>> acts, refreshes;
    h.set_activate_log(&acts);
    h.set_refresh_log(&refreshes);
    struct Burst {
      Tick act;   // the activate that opened its row
      bool miss;  // that activate was its own
      Tick start, end;
    };
    constexpr Tick kNotOpened = ~Tick{0};
    std::vector<Burst> bursts;
    // Dense runs keep requests booked about 1.5 us ahead, so an owed refresh waits for its
    // deadline; sparse ones leave idle gaps (up to 2 tREFI) in which owed refreshes go early.
    const bool sparse = pick(2) == 0;
    std::vector<Tick> opened(64, kNotOpened);  // per row (one channel: row = address / 1 KiB)
    Tick now = 0, last_issue = 0;
    for (int k = 0; k < 300; ++k) {
      now += sparse && pick(4) == 0 ? pick(2 * trefi) : pick(us / 20);
      const Tick issue = now + pick(sparse ? trefi : 3 * us);
      last_issue = std::max(last_issue, issue);
      const std::size_t before = acts.size();
      const std::uint64_t row = pick(sparse ? 4 : 64);
      const Tick end =
          h.access(issue, row * 1024 + pick(16) * 64, 64, pick(2) == 0, now) - h.latency_ticks();
      // A hit is served from the row's last opening; a miss opened it.
      if (acts.size() != before) opened[row] = acts.back().second;
      REQUIRE(opened[row] != kNotOpened);
      bursts.push_back({opened[row], acts.size() != before, end - h.burst_ticks(), end});
    }
    // Far past every booking, a last request (its clock included) settles the refreshes: those
    // due by then are issued, except at most P still owed because the ones before them run
    // back to back past `far`; those start after it, so after every burst.
    Tick far = last_issue;
    for (const Burst& b : bursts)
      far = std::max(far, b.end);
    far += 2 * us + (cfg.refresh_postpone + 2) * trefi;
    h.access(far, 0, 64, false, far);
    std::vector<Tick> starts;  // refresh e at starts[e - 1]
    for (std::uint64_t e = 1; first + (e - 1) * trefi <= far; ++e)
      starts.push_back(first + (e - 1) * trefi);
    if (cfg.refresh_postpone != 0) {
      REQUIRE(refreshes.size() <= starts.size());
      REQUIRE(refreshes.size() + cfg.refresh_postpone >= starts.size());
      for (std::size_t i = 0; i < refreshes.size(); ++i) {
        const Tick due = starts[i], deadline = due + cfg.refresh_postpone * trefi;
        REQUIRE(refreshes[i].second >= due);
        REQUIRE(refreshes[i].second <= deadline);
        if (i > 0) REQUIRE(refreshes[i].second >= refreshes[i - 1].second + trfc);
        between += refreshes[i].second > due && refreshes[i].second < deadline;
        at_deadline += refreshes[i].second == deadline;
        starts[i] = refreshes[i].second;
      }
      starts.resize(refreshes.size());
    }
    for (const Burst& b : bursts) {
      // The last refresh starting before the burst ends must have ended before it began.
      auto r = std::lower_bound(starts.begin(), starts.end(), b.end);
      if (r != starts.begin()) REQUIRE(*(r - 1) + trfc <= b.start);
      // Its row was opened outside a refresh, and no refresh has begun since (a refresh closes
      // every row, so a hit after one would read a closed row).
      auto a = std::upper_bound(starts.begin(), starts.end(), b.act);
      if (a != starts.begin()) REQUIRE(*(a - 1) + trfc <= b.act);
      if (a != starts.end()) REQUIRE(b.end <= *a);
      ++(b.miss ? misses : hits);
    }
  }
  CHECK(misses > 15000);
  CHECK(hits > 10000);
  // Postponement happened both ways: refreshes went early into idle gaps and late to deadlines.
  CHECK(between > 1000);
  CHECK(at_deadline > 1000);
}

TEST_CASE("hbm activates keep tRRD and tFAW per channel and tRC per bank", "[hbm]") {
  // Random 64-B reads, the pattern with one activate per access, through deep DMA engines.
  HbmConfig cfg;
  std::vector<std::pair<std::uint32_t, Tick>> log;
  const Run r = run_engines(cfg, deep_dma(), random_rows(64, 4096), &log);
  REQUIRE(log.size() == r.hbm.activates);
  REQUIRE(r.hbm.activates >= 16000);
  std::map<std::uint32_t, std::vector<Tick>> per_channel;
  for (const auto& [c, t] : log)
    per_channel[c].push_back(t);
  const Tick trrd = 4 * 1536, tfaw = 30 * 1536;  // ns * 1.5 cycles/ns * 1024 ticks/cycle
  std::size_t violations = 0;
  for (auto& [c, acts] : per_channel) {
    std::sort(acts.begin(), acts.end());
    for (std::size_t i = 1; i < acts.size(); ++i)
      violations += acts[i] - acts[i - 1] < trrd;
    for (std::size_t i = 4; i < acts.size(); ++i)
      violations += acts[i] - acts[i - 4] < tfaw;  // five activates span at least tFAW
  }
  CHECK(violations == 0);
}

TEST_CASE("random 64-B reads reach the activate bound, independent of banks above 16", "[hbm]") {
  // Law: a random 64-B read opens a row for one 64-B burst. A channel activates at most 4 per
  // tFAW (30 ns), one per tRRD (4 ns) and one per tRC = tRAS + tRP = 48 ns per bank, and none
  // during the tRFC of every tREFI. With 16+ banks tFAW binds: 4/30 per ns * (1 - 260/3900)
  // = 0.1244 activates/ns/channel * 16 channels * 64 B = 127.4 GB/s = 84.9 B/cycle at 1.5 GHz,
  // below the bus peak (546 B/cycle). With 2 banks tRC binds: 2/48 per ns * 0.9333 * 16 * 64 B
  // = 39.8 GB/s. Pattern: 4 engines x 8192 uniform rows of 64 B from 1 GiB tables each; DMA:
  // 4096 outstanding per engine (Little's law allows 1 MiB / ~260 ns, 30x the bound).
  auto bound = [](std::uint32_t banks) {
    const double per_ns = std::min({1.0 / 4, 4.0 / 30, banks / 48.0}) * (1.0 - 260.0 / 3900);
    return per_ns * 16 * 64 / kClockGhz;  // B/cycle
  };
  std::vector<double> ratios;
  for (std::uint32_t banks : {2u, 16u, 32u, 64u, 256u}) {
    HbmConfig cfg;
    cfg.banks_per_channel = banks;
    const Run r = run_engines(cfg, deep_dma(), random_rows(64, 8192));
    const double got = rate(r, 4 * 8192 * 64, cfg);
    INFO("banks " << banks << ": " << got << " B/cycle, bound " << bound(banks));
    CHECK(got <= bound(banks) * 1.0);
    CHECK(got >= bound(banks) * 0.85);
    if (banks >= 16) ratios.push_back(got / bound(banks));
  }
  // Above 16 banks the channel's activate window, not the banks, is the limit.
  const auto [lo, hi] = std::minmax_element(ratios.begin(), ratios.end());
  CHECK(*hi - *lo <= 0.03);
}

TEST_CASE("with every DRAM timing zero any pattern reaches 97% of the bus peak", "[hbm]") {
  // No tRCD/tRP/tRAS, no activate limits, no refresh: only the bus and Little's law remain, and
  // 4 engines x 4096 outstanding (>= 1 MiB in flight) exceed peak x latency (546 B/cycle x 352
  // cycles = 192 KiB) several times over. Bus utilisation = busy time / (channels x run time)
  // must reach 97% (random rows spread unevenly over 16 channels by about 1%).
  HbmConfig cfg;
  cfg.trcd_ns = cfg.trp_ns = cfg.tras_ns = cfg.trrd_ns = cfg.tfaw_ns = cfg.trfc_ns = 0;
  struct Pattern {
    const char* name;
    std::vector<Instruction> v;
  };
  std::vector<Instruction> stream;
  for (std::uint64_t e = 0; e < 4; ++e)
    stream.push_back(load(e << 30, 0, 16ull << 20));
  for (auto& [name, v] : std::vector<Pattern>{{"random 64 B", random_rows(64, 32768)},
                                              {"random 656 B", random_rows(656, 8192)},
                                              {"stream", stream}}) {
    const Run r = run_engines(cfg, deep_dma(), v);
    const double fill = cfg.latency_ns * kClockGhz;
    const double busy = static_cast<double>(r.hbm.bus_busy_ticks) / kTicksPerCycle;
    const double util = busy / (cfg.channels * (static_cast<double>(r.cycles) - fill));
    INFO(name << ": bus utilisation " << util);
    CHECK(util >= 0.97);
    CHECK(util <= 1.0);
  }
}

TEST_CASE("streaming reaches 1 - tRFC/tREFI of peak", "[hbm]") {
  // Law: a stream opens each row once and its activates overlap other banks' bursts, so only
  // refresh (tRFC = 260 ns every tREFI = 3900 ns per channel) takes bus time: 1 - 1/15 = 0.9333
  // of 546 B/cycle. Pattern: 4 engines each loading 16 MiB from its own GiB; DMA: 4096 x 512 B
  // outstanding per engine (8 MiB in flight, Little's law far above peak).
  const HbmConfig cfg;
  std::vector<Instruction> v;
  for (std::uint64_t e = 0; e < 4; ++e)
    v.push_back(load(e << 30, 0, 16ull << 20));
  const Run r = run_engines(cfg, deep_dma(), v);
  const double got = rate(r, 64ull << 20, cfg) / peak_bytes_per_cycle(cfg);
  INFO("streaming at " << got << " of peak");
  CHECK(got == Approx(1.0 - 260.0 / 3900).epsilon(0.01));
  // 64 MiB at ~510 B/cycle is ~87 us: every channel refreshed about 22 times.
  CHECK(r.hbm.refreshes >= 16 * 20);
  CHECK(r.hbm.row_misses == r.hbm.activates);
  CHECK(r.hbm.row_misses == r.hbm.row_empty + r.hbm.row_conflicts);
}

TEST_CASE("a stream that never idles owes refresh_postpone refreshes and pays the rest", "[hbm]") {
  // The pattern of the streaming test. Per channel, refreshes are due at offset + e tREFI for
  // e >= 1 ("interval" start); a channel that never idles issues each at its deadline, P tREFI
  // late, so over a run of T it pays about T / tREFI - 1 - P of them. With T0 = the bytes at
  // peak: T = T0 + (T / tREFI - 1 - P) tRFC, so T = (T0 - (1 + P) tRFC) / (1 - tRFC / tREFI).
  // (Each refresh also closes the rows, which the streaming test's 1% tolerance covers.)
  std::vector<Instruction> v;
  for (std::uint64_t e = 0; e < 4; ++e)
    v.push_back(load(e << 30, 0, 16ull << 20));
  const double t0 = static_cast<double>(64ull << 20) / peak_bytes_per_cycle(HbmConfig{});
  const double trfc = 260 * kClockGhz, ratio = 260.0 / 3900;
  std::uint64_t unpostponed = 0;
  for (std::uint32_t p : {0u, 4u, 8u}) {
    HbmConfig cfg;
    cfg.refresh_postpone = p;
    const Run r = run_engines(cfg, deep_dma(), v);
    const double law = t0 / ((t0 - (1 + p) * trfc) / (1 - ratio));
    const double got = rate(r, 64ull << 20, cfg) / peak_bytes_per_cycle(cfg);
    INFO("postpone " << p << ": streaming at " << got << " of peak, law " << law << "; "
                     << r.hbm.refreshes << " refreshes");
    CHECK(got == Approx(law).epsilon(0.01));
    if (p == 0) {
      // 64 MiB at ~510 B/cycle is ~87 us, about 22 tREFI: 16 channels refresh ~21 times each.
      CHECK(r.hbm.refreshes >= 16 * 20);
      unpostponed = r.hbm.refreshes;
    } else {
      // Each channel pays P fewer, give or take the one its shorter run no longer reaches.
      CHECK(r.hbm.refreshes + 16 * (p - 1) <= unpostponed);
      CHECK(r.hbm.refreshes + 16 * (p + 1) >= unpostponed);
    }
  }
}

TEST_CASE("a 656-B row costs the 11 bursts that cover it at any request size", "[hbm][dma]") {
  // Rows sit at multiples of 656 = 10.25 x 64 B, so they start 0, 16, 32 or 48 B into a burst
  // and cover ceil((offset + 656) / 64) = 11 bursts in every case. Requests split at multiples of
  // request_bytes (64, 512 or 1024, all burst-aligned) never cut a burst in two, so the bus
  // carries exactly 11 bursts per row (row-relative splitting carried 18.5 at 64, 11.75 at 512).
  for (std::uint32_t req : {64u, 512u, 1024u}) {
    HbmConfig cfg;
    DmaConfig d;
    d.request_bytes = req;
    const Run r = run_engines(cfg, d, {gather(0, 32768, 2048, 656, 7)});
    const Tick burst = HbmTiming(cfg, kClockGhz).burst_ticks();
    INFO("request_bytes " << req);
    CHECK(r.hbm.bus_busy_ticks == 11 * 2048 * burst);
    CHECK(r.hbm.read_bytes == 2048 * 656);
  }
}

TEST_CASE("presets: streaming, random reads and gathers against their laws", "[hbm][presets]") {
  // Bands of issue 10 for the presets' cited timings (HBM2e: pseudo channels of 32-B bursts,
  // tFAW 30 ns, tRFC/tREFI = 260/3900). Activate bound of random 64-B reads: 4/30 per ns x
  // 0.9333 x 64 B per pseudo channel = 7.96 GB/s, x 32 = 255 GB/s on tpu-v5e = 0.33 of its
  // 764 GB/s stream (x 64 on tpu-v6e: the same ratio). Expected: random 64 B 0.25-0.40 of
  // streaming, unsorted 656-B gathers 0.45-0.95, sorted within 1.3x of unsorted. Streaming uses
  // the preset's own DMA engines (>= 90% of peak); the random patterns use 4096 outstanding.
  for (const char* preset : {"tpu-v5e", "tpu-v6e", "big-sram"}) {
    const HwConfig hw = load_hw_config(preset, {});
    std::vector<Instruction> stream;
    for (std::uint64_t e = 0; e < hw.dma.engines; ++e)
      stream.push_back(load(e << 30, 0, 16ull << 20));
    const Run s = run_engines(hw.hbm, hw.dma, stream, nullptr, hw.chip.clock_ghz);
    const double stream_bw = static_cast<double>(hw.dma.engines * (16ull << 20)) / s.cycles;
    const double peak = hw.hbm.bandwidth_gbs / hw.chip.clock_ghz;
    DmaConfig deep = hw.dma;
    deep.max_outstanding = 4096;
    deep.gather_sort = false;  // sorted 64-B rows of a small table could share DRAM rows
    const Run r64 = run_engines(hw.hbm, deep, random_rows(64, 8192), nullptr, hw.chip.clock_ghz);
    const double bw64 = 4.0 * 8192 * 64 / r64.cycles;
    deep.gather_sort = false;
    const Run r656 = run_engines(hw.hbm, deep, random_rows(656, 4096), nullptr, hw.chip.clock_ghz);
    deep.gather_sort = true;
    const Run r656s = run_engines(hw.hbm, deep, random_rows(656, 4096), nullptr, hw.chip.clock_ghz);
    const double bw656 = 4.0 * 4096 * 656 / r656.cycles;
    const double bw656s = 4.0 * 4096 * 656 / r656s.cycles;
    INFO(preset << ": stream " << stream_bw / peak << " of peak; random 64 B " << bw64 / stream_bw
                << ", 656 B " << bw656 / stream_bw << ", sorted " << bw656s / stream_bw
                << " of streaming");
    CHECK(stream_bw >= 0.90 * peak);
    CHECK(bw64 / stream_bw >= 0.25);
    CHECK(bw64 / stream_bw <= 0.40);
    CHECK(bw656 / stream_bw >= 0.45);
    CHECK(bw656 / stream_bw <= 0.95);
    CHECK(bw656s / bw656 <= 1.3);
    CHECK(bw656s / bw656 >= 1 / 1.3);
  }
}

TEST_CASE("hbm.row_miss_ns is rejected with the keys that replace it", "[hbm][config]") {
  // From --set: the message names the flag's key and every replacement.
  try {
    load_hw_config("tpu-v5e", {"hbm.row_miss_ns=30"});
    FAIL("hbm.row_miss_ns was accepted");
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    CHECK(msg.find("--set") != std::string::npos);
    for (const char* key : {"hbm.trcd_ns", "hbm.trp_ns", "hbm.tras_ns", "hbm.latency_ns"})
      CHECK(msg.find(key) != std::string::npos);
  }
  // From a TOML file: the message names file:line.
  try {
    parse_hw_config("[hbm]\nchannels = 16\nrow_miss_ns = 30\n", "old.toml");
    FAIL("hbm.row_miss_ns was accepted");
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    CHECK(msg.find("old.toml:3") != std::string::npos);
    CHECK(msg.find("hbm.trcd_ns") != std::string::npos);
  }
  // The refresh pair must leave time between refreshes: at least half the interval (tpu-v5e's
  // tREFI is 3900 ns). Just above tRFC, bursts straddled refreshes and a stream ran at 40x
  // the refresh-derated peak.
  CHECK_THROWS_AS(load_hw_config("tpu-v5e", {"hbm.trfc_ns=4000"}).validate(), ConfigError);
  CHECK_THROWS_AS(load_hw_config("tpu-v5e", {"hbm.trefi_ns=260.001"}), ConfigError);
  CHECK_THROWS_AS(load_hw_config("tpu-v5e", {"hbm.trfc_ns=1951"}), ConfigError);
  CHECK_NOTHROW(load_hw_config("tpu-v5e", {"hbm.trfc_ns=1950"}));
  CHECK_THROWS_AS(load_hw_config("tpu-v5e", {"hbm.queue_depth=0"}).validate(), ConfigError);
}
