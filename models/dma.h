#pragma once
/// DMA engines: linear, 2-D strided and gather transfers between HBM and SRAM, with a bounded
/// number of outstanding requests per engine: the timing core (no SystemC); models/dma_unit.h
/// wraps it in a SystemC module that advances time once per request group.

#include <cstdint>
#include <vector>

#include "base/cycle.h"
#include "base/error.h"
#include "base/stat_fields.h"
#include "models/completion_queue.h"
#include "models/divisor.h"
#include "models/hbm.h"
#include "models/sram.h"
#include "traces/isa.h"

namespace tpusim {

struct DmaConfig {
  std::uint32_t engines = 4;            ///< dma.engines
  std::uint32_t max_outstanding = 256;  ///< dma.max_outstanding: requests in flight per engine
  std::uint32_t request_bytes = 512;    ///< dma.request_bytes: largest single request
  std::uint32_t group_requests = 8;     ///< dma.group_requests: requests issued per time step
  bool gather_sort = true;              ///< dma.gather_sort: issue gathered rows in address order
  /// dma.max_in_flight: instructions in flight per engine. The engine's address generator works
  /// on one instruction at a time, but starts the next one as soon as the previous one's
  /// requests are all issued; the requests of all of them share the max_outstanding slots.
  std::uint32_t max_in_flight = 8;
  void validate() const;
};

struct DmaStats {
  std::uint64_t instructions = 0;
  std::uint64_t requests = 0;
  std::uint64_t read_bytes = 0;   ///< from HBM
  std::uint64_t write_bytes = 0;  ///< to HBM
  std::uint64_t gathered_rows = 0;
  Cycle busy_cycles = 0;
};

/// DmaStats' counters, summed over engines for the report.
inline constexpr StatField<DmaStats> kDmaStatFields[] = {
    {"instructions", "instructions", &DmaStats::instructions},
    {"busy_cycles", "cycles", &DmaStats::busy_cycles},
    {"requests", "requests", &DmaStats::requests},
    {"read_bytes", "B", &DmaStats::read_bytes},
    {"write_bytes", "B", &DmaStats::write_bytes},
    {"gathered_rows", "rows", &DmaStats::gathered_rows},
};

/// Row indices a gather picks: `rows` distinct rows out of `span`, drawn by `pattern` from
/// `seed` (reproducible), sorted ascending when `sort` is set. Writes into `out` (reused).
void gather_rows(const GatherPattern& pattern, std::uint64_t span, std::uint64_t rows,
                 std::uint64_t seed, bool sort, std::vector<std::uint64_t>& out);

/// Timing core of one engine (no SystemC). An instruction is split into requests that end at
/// multiples of request_bytes in HBM (gathers: each row its own request(s)); a request issues when
/// one of the max_outstanding slots is free and completes when HBM says so; the data is then
/// written to (or was read from) SRAM. The caller steps the issue of the current instruction
/// group by group, so that concurrent engines interleave their requests in simulated-time order.
///
/// Up to max_in_flight instructions are in flight: one being issued, the others fully issued and
/// waiting for their requests. An instruction completes when its last request has completed and
/// its data is in SRAM; instructions complete in whatever order their data arrives (a DMA engine
/// signals each transfer's semaphore on its own).
class DmaEngineTiming {
 public:
  DmaEngineTiming(const DmaConfig& cfg, HbmTiming& hbm, SramTiming& sram);

  /// True when a new instruction may begin: none is being issued and fewer than max_in_flight
  /// are in flight.
  bool can_begin() const { return m_issuing == kNone && m_in_flight < m_flights.size(); }
  /// True while an instruction is being issued (between begin() and the issue() returning false).
  bool issuing() const { return m_issuing != kNone; }
  /// Starts issuing an instruction at cycle `now` (requires can_begin()).
  void begin(const Instruction& in, Cycle now);
  /// Issues the next group of up to group_requests requests of the instruction being issued (none
  /// before `now`). Returns true if it issued (or waited for a slot): `resume_at` is the cycle to
  /// advance to before the next call (the issue cycle of the group's last request, or, when no
  /// slot is free at `now`, the cycle the first slot frees, with nothing issued). Returns false
  /// once every request is issued; the instruction then waits for completion and a new one may
  /// begin.
  bool issue(Cycle now, Cycle& resume_at);
  /// The earliest cycle (>= now) at which a fully issued instruction may complete; false when
  /// none is fully issued.
  bool next_completion(Cycle now, Cycle& at);
  /// Retires one fully issued instruction that has completed by `now` (the earliest such), or
  /// returns null. `start` and `end` are its begin and completion cycles.
  const Instruction* retire(Cycle now, Cycle& start, Cycle& end);

  /// For callers that run one instruction at a time (tests): issue() until done, then wait for
  /// completion. Returns true while the instruction runs, with the cycle to advance to; false
  /// with its completion cycle in `resume_at` once it is retired.
  bool step(Cycle now, Cycle& resume_at);

  const DmaStats& stats() const { return m_stats; }
  /// True while any instruction is in flight.
  bool busy() const { return m_in_flight > 0; }

 private:
  static constexpr std::uint32_t kNone = ~std::uint32_t{0};
  /// One instruction in flight.
  struct Flight {
    const Instruction* in = nullptr;  ///< null: the entry is free
    Cycle begin = 0;
    Tick last_done = 0;         ///< latest completion of its requests and SRAM writes so far
    Cycle pending_last = 0;     ///< latest ready among its pending SRAM writes
    std::uint64_t pending = 0;  ///< SRAM writes not yet applied
    bool issued = false;        ///< every request issued
  };
  void drain(Cycle now);

  DmaConfig m_cfg;
  HbmTiming& m_hbm;
  SramTiming& m_sram;
  DmaStats m_stats;
  Divisor m_request;                ///< request_bytes
  std::vector<Flight> m_flights;    ///< max_in_flight entries
  std::uint32_t m_in_flight = 0;    ///< entries in use
  std::uint32_t m_issuing = kNone;  ///< the entry being issued
  Cycle m_busy_since = 0;           ///< when m_in_flight last rose from 0 (busy_cycles)
  /// Request slots' free ticks and loaded data waiting for SRAM.
  CompletionQueue m_completions;
  // Issue state of the instruction being issued (no allocation per request).
  std::vector<std::uint64_t> m_rows;  ///< gather row indices
  std::uint64_t m_row = 0;            ///< next row (2-D and gather)
  std::uint64_t m_row_offset = 0;     ///< bytes already issued within the current row
  std::uint64_t m_sram_cursor = 0;    ///< next SRAM byte offset
  std::uint64_t m_num_rows = 0;       ///< rows of the transfer (linear: 1)
  std::uint64_t m_row_len = 0;        ///< bytes per row
  std::uint64_t m_last_row_len = 0;   ///< bytes of the last row (takes any remainder)
};

}  // namespace tpusim
