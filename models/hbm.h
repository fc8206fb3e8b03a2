#pragma once
/// HBM-style DRAM: channels with a data bus each, banks with one open row each, the DRAM core
/// timings that bound activates (tRCD, tRP, tRAS, tRRD, tFAW) and all-bank refresh (tRFC every
/// tREFI). Contention by reservations in sub-cycle ticks, one call per request.

#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "base/cycle.h"
#include "base/error.h"
#include "base/stat_fields.h"
#include "models/divisor.h"

namespace tpusim {

/// hbm.refresh_start: when each channel's first refresh comes, relative to the run's start.
enum class RefreshStart {
  kInterval,  ///< one tREFI after the channel's stagger offset: the first tREFI is refresh-free
  kPhase,     ///< at the stagger offset: refreshes overlap the run from its start (steady state)
};

// Defaults: the geometry of the tpu-v5e preset before pseudo channels (16 channels of 64-B bursts,
// which the unit tests derive their numbers from) with HBM2 core timings
// (models/presets/tpu-v5e.toml cites them).
struct HbmConfig {
  double bandwidth_gbs = 819;            ///< hbm.bandwidth_gbs: total peak, all channels
  std::uint32_t channels = 16;           ///< hbm.channels
  std::uint32_t banks_per_channel = 16;  ///< hbm.banks_per_channel
  std::uint32_t row_bytes = 1024;        ///< hbm.row_bytes
  std::uint32_t burst_bytes = 64;        ///< hbm.burst_bytes
  std::uint32_t interleave_bytes = 256;  ///< hbm.interleave_bytes: channel interleave granule
  /// hbm.latency_ns: fixed path latency outside the DRAM core (PHY, NoC, controller); the idle
  /// read latency is latency_ns + trcd_ns + one burst (250 ns with these defaults).
  double latency_ns = 234.75;
  double trcd_ns = 14;     ///< hbm.trcd_ns: activate to column access
  double trp_ns = 14;      ///< hbm.trp_ns: precharge
  double tras_ns = 34;     ///< hbm.tras_ns: activate to precharge, at least
  double trrd_ns = 4;      ///< hbm.trrd_ns: activate to activate, same channel
  double tfaw_ns = 30;     ///< hbm.tfaw_ns: at most four activates per channel in this window
  double trfc_ns = 260;    ///< hbm.trfc_ns: all-bank refresh time (0: no refresh)
  double trefi_ns = 3900;  ///< hbm.trefi_ns: refresh interval (0: no refresh)
  RefreshStart refresh_start = RefreshStart::kInterval;  ///< hbm.refresh_start
  /// hbm.refresh_postpone: refreshes a channel may owe while requests are queued (JEDEC DRAMs
  /// allow up to 8); an owed refresh is issued as soon as the channel goes idle, and at the
  /// latest refresh_postpone tREFI after it was due. 0: each refresh at its due time.
  std::uint32_t refresh_postpone = 0;
  std::uint32_t queue_depth = 32;  ///< hbm.queue_depth: busy stretches a burst may slot between
  double capacity_gib = 16;        ///< hbm.capacity_gib: addresses beyond are errors

  std::uint64_t capacity_bytes() const {
    // Saturating, like SramConfig::capacity_bytes (a double out of range is undefined to cast).
    const double b = capacity_gib * 1024.0 * 1024.0 * 1024.0;
    return b >= 0x1p64 ? ~std::uint64_t{0} : b > 0 ? static_cast<std::uint64_t>(b) : 0;
  }
  bool refresh() const { return trfc_ns > 0 && trefi_ns > 0; }
  void validate() const;
};

struct HbmStats {
  std::uint64_t read_bytes = 0;
  std::uint64_t write_bytes = 0;
  std::uint64_t requests = 0;
  std::uint64_t row_hits = 0;       ///< bursts that found their row open
  std::uint64_t row_misses = 0;     ///< accesses that had to open a row (row_empty + row_conflicts)
  std::uint64_t row_empty = 0;      ///< misses on a closed bank (tRCD)
  std::uint64_t row_conflicts = 0;  ///< misses on a bank with another row open (tRP + tRCD)
  std::uint64_t activates = 0;
  std::uint64_t refreshes = 0;  ///< all-bank refreshes that began while a channel was in use
  Tick bus_busy_ticks = 0;      ///< sum over channels of data-bus busy time (refresh excluded)
};

/// HbmStats' reported counters (bus_busy_ticks is internal, in 1/1024-cycle ticks).
inline constexpr StatField<HbmStats> kHbmStatFields[] = {
    {"read_bytes", "B", &HbmStats::read_bytes},
    {"write_bytes", "B", &HbmStats::write_bytes},
    {"requests", "requests", &HbmStats::requests},
    {"row_hits", "bursts", &HbmStats::row_hits},
    {"row_misses", "accesses", &HbmStats::row_misses},
    {"row_empty", "accesses", &HbmStats::row_empty},
    {"row_conflicts", "accesses", &HbmStats::row_conflicts},
    {"activates", "activates", &HbmStats::activates},
    {"refreshes", "refreshes", &HbmStats::refreshes},
};

/// Timing core. Address mapping: channel = (addr / interleave_bytes) % channels; within a
/// channel, consecutive rows of row_bytes rotate over the banks (XOR-permuted, see hbm.cpp).
///
/// A request is cut into segments (one channel granule within one DRAM row); a segment is a run
/// of back-to-back bursts from one bank. Banks serve their segments in arrival order: a hit needs
/// the row's activate tRCD old; a closed bank activates; a conflict precharges once the row has
/// been open tRAS and its last burst is done, then activates tRP later. Each channel keeps a
/// window of recent activates (at most one per tRRD, four per tFAW) and a calendar of reserved
/// data-bus stretches: a segment takes the earliest gap, at or after its bank is ready, among the
/// channel's last queue_depth stretches (an FR-FCFS controller serving other banks' ready
/// requests while one bank opens a row). All-bank refresh takes each channel's bus for tRFC every
/// tREFI (staggered over channels) and closes its rows; with refresh_postpone = P a channel may
/// owe up to P of them while requests are queued, issuing an owed one as soon as no reserved
/// stretch ends later, and at the latest P tREFI after it was due. A request completes when its
/// last burst has crossed the bus plus latency_ns.
///
/// Refresh decisions are made per channel when a request reaches it, up to the requester's clock
/// `now`: every later request issues at or after `now`, so a channel found with nothing queued
/// (no reserved stretch ending later) at an instant before `now` really was idle then. A
/// request reserved ahead of its issue counts as queued from its call, so a refresh may wait a
/// little longer than on the chip, never less. Until a refresh is issued its deadline is the only
/// certain window, and requests keep out of it.
class HbmTiming {
 public:
  HbmTiming(const HbmConfig& cfg, double clock_ghz);

  /// Serves one request issued at tick `issue`; returns the tick its data is complete
  /// (for a read: arrived at the requester; for a write: accepted by the DRAM).
  Tick access(Tick issue, std::uint64_t addr, std::uint32_t bytes, bool write) {
    return access(issue, addr, bytes, write, issue);
  }
  /// As above, from a requester whose clock reads `now` <= issue: no later call issues before
  /// `now`, so the controller's refresh decisions up to `now` are final (requests that issue in
  /// order may use the overload above).
  Tick access(Tick issue, std::uint64_t addr, std::uint32_t bytes, bool write, Tick now);

  const HbmStats& stats() const { return m_stats; }
  const HbmConfig& config() const { return m_cfg; }
  Tick latency_ticks() const { return m_latency_ticks; }
  Tick burst_ticks() const { return m_burst_ticks; }
  Tick trcd_ticks() const { return m_trcd; }
  /// Tests: every activate (channel, tick) is appended here while set (nullptr: off).
  void set_activate_log(std::vector<std::pair<std::uint32_t, Tick>>* log) { m_act_log = log; }
  /// Tests: with refresh_postpone > 0, every refresh (channel, start tick) as it is issued, in
  /// order per channel (without postponement each starts when due: nothing is logged).
  void set_refresh_log(std::vector<std::pair<std::uint32_t, Tick>>* log) { m_refresh_log = log; }

 private:
  static constexpr Tick kNever = std::numeric_limits<Tick>::max();
  struct Interval {
    Tick start, end;
  };
  struct Bank {
    std::uint64_t row;  ///< open row; kClosedRow before the first activate
    Tick act = 0;       ///< its activate
    Tick last_use = 0;  ///< end of its last burst
    Tick close = 0;     ///< start of the refresh that closes it (kNever without refresh)
  };
  /// A sorted window of at most `cap` entries stored in [head, tail) of a 2*cap slice; dropping
  /// the oldest is a head increment, compaction happens once per cap drops.
  struct Window {
    std::uint32_t head = 0, tail = 0;
    Tick floor = 0;  ///< nothing may be placed before this (the dropped entries' horizon)
    std::uint64_t refresh_epoch = 0;
  };
  /// A channel's refresh controller. Refresh e (e >= 1) is due at refresh_begin(e); refreshes
  /// before `next` have been issued, the last of them ending at `busy_end`. A refresh not yet
  /// issued is certain to start by its deadline, refresh_begin(e + postpone): those deadlines
  /// are the windows a request must avoid.
  struct Refresh {
    std::uint64_t next = 1;
    Tick next_due = 0;  ///< refresh_begin(next)
    Tick forced = 0;    ///< refresh_begin(next + postpone): the first deadline
    Tick busy_end = 0;  ///< end of the last issued refresh
    Tick last_end = 0;  ///< end of the channel's last reserved bus stretch
  };

  // The timing functions below come in two instantiations: kOwed = refresh_postpone > 0. The
  // default's (false) is the fixed refresh schedule with none of the owed-refresh bookkeeping.
  template <bool kOwed>
  Tick serve_segment(std::uint32_t channel, std::size_t bank, std::uint64_t row, Tick issue,
                     std::uint64_t n_bursts);
  /// Issues the channel's owed refreshes whose time came by `now`: each at the first instant
  /// at or after its due time when the channel has no queued request, or at its deadline.
  void settle_refresh(std::uint32_t channel, Tick now) {
    if (m_refresh[channel].next_due <= now) issue_refreshes(channel, now);
  }
  void issue_refreshes(std::uint32_t channel, Tick now);
  // Refresh e >= 1 of a channel occupies [refresh_begin(e), refresh_begin(e) + tRFC).
  Tick refresh_begin(std::uint32_t channel, std::uint64_t e) const {
    return m_first_refresh[channel] + (e - 1) * m_trefi;
  }
  std::uint64_t refresh_epoch(std::uint32_t channel, Tick t) const;
  /// The refresh epoch holding t: refresh `e` (none for e = 0) starts at `begin`, the next at
  /// `end`. Cached per channel: time mostly moves forward, so the division is rare.
  struct Epoch {
    std::uint64_t e = 0;
    Tick begin = 0, end = 0;
  };
  const Epoch& epoch_at(std::uint32_t channel, Tick t) const;
  /// Earliest s >= t at which [s, s + len) overlaps no refresh of the channel.
  template <bool kOwed>
  Tick skip_refresh(std::uint32_t channel, Tick t, Tick len) const;
  /// Start of the first refresh after t that a row opened at t meets (kNever without refresh).
  template <bool kOwed>
  Tick next_refresh(std::uint32_t channel, Tick t) const;
  /// Earliest start >= t of a bus gap of `len` in the channel's calendar (not reserved).
  template <bool kOwed>
  Tick find_gap(std::uint32_t channel, Tick t, Tick len, std::uint32_t& pos) const;
  template <bool kOwed>
  void reserve_bus(std::uint32_t channel, std::uint32_t pos, Tick start, Tick end);
  /// Earliest activate time >= t that keeps tRRD and tFAW in the channel (not recorded).
  template <bool kOwed>
  Tick place_activate(std::uint32_t channel, Tick t, std::uint32_t& pos) const;
  void record_activate(std::uint32_t channel, std::uint32_t pos, Tick t);

  HbmConfig m_cfg;
  std::uint64_t m_capacity;  ///< capacity_bytes(), computed once (it goes through a double)
  Divisor m_granule, m_channels, m_row_bytes, m_burst, m_banks;
  Tick m_burst_ticks;    ///< data-bus time of one burst on one channel
  Tick m_latency_ticks;  ///< fixed path latency
  Tick m_trcd, m_trp, m_tras, m_trrd, m_tfaw, m_trfc, m_trefi;
  bool m_act_limits;                   ///< tRRD or tFAW nonzero
  std::uint32_t m_cap;                 ///< bus stretches kept per channel (queue_depth)
  std::uint32_t m_act_cap;             ///< activates kept per channel
  std::vector<Bank> m_bank;            ///< per channel*bank
  std::vector<Window> m_bus_win;       ///< per channel
  std::vector<Interval> m_bus;         ///< per channel, 2*m_cap entries
  std::vector<Window> m_act_win;       ///< per channel
  std::vector<Tick> m_acts;            ///< per channel, 2*m_cap entries
  std::vector<Tick> m_first_refresh;   ///< per channel: start of refresh 1
  std::uint64_t m_postpone;            ///< refresh_postpone
  std::vector<Refresh> m_refresh;      ///< per channel
  mutable std::vector<Epoch> m_epoch;  ///< per channel, the last epoch_at()
  HbmStats m_stats;
  std::vector<std::pair<std::uint32_t, Tick>>* m_act_log = nullptr;
  std::vector<std::pair<std::uint32_t, Tick>>* m_refresh_log = nullptr;
};

}  // namespace tpusim
