#pragma once
/// DMA engines: linear, 2-D strided and gather transfers between HBM and SRAM, with a bounded
/// number of outstanding requests per engine: the timing core (no SystemC); models/dma_unit.h
/// wraps it in a SystemC module that advances time once per request group.

#include <cstdint>
#include <vector>

#include "base/cycle.h"
#include "base/error.h"
#include "base/stat_fields.h"
#include "models/divisor.h"
#include "models/hbm.h"
#include "models/sorted_queue.h"
#include "models/sram.h"
#include "traces/isa.h"

namespace tpusim {

struct DmaConfig {
  std::uint32_t engines = 4;            ///< dma.engines
  std::uint32_t max_outstanding = 256;  ///< dma.max_outstanding: requests in flight per engine
  std::uint32_t request_bytes = 512;    ///< dma.request_bytes: largest single request
  std::uint32_t group_requests = 8;     ///< dma.group_requests: requests issued per time step
  bool gather_sort = true;              ///< dma.gather_sort: issue gathered rows in address order
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
/// written to (or was read from) SRAM. The caller steps it group by group so that concurrent
/// engines interleave their requests in simulated-time order.
class DmaEngineTiming {
 public:
  DmaEngineTiming(const DmaConfig& cfg, HbmTiming& hbm, SramTiming& sram);

  /// Starts an instruction at cycle `now`.
  void begin(const Instruction& in, Cycle now);
  /// Issues the next group of up to group_requests requests (none before `now`). Returns true
  /// while requests remain; `resume_at` is the cycle to advance to before the next step (the
  /// issue cycle of the group's last request, or, when no slot is free at `now`, the cycle the
  /// first slot frees, with nothing issued). When it returns false, `resume_at` is the
  /// instruction's completion cycle.
  bool step(Cycle now, Cycle& resume_at);

  const DmaStats& stats() const { return m_stats; }
  /// True between begin() and the step() that returns false.
  bool busy() const { return m_in != nullptr; }

 private:
  /// Loaded data waiting to be written into SRAM once simulated time reaches `ready`.
  struct PendingWrite {
    Cycle ready;
    std::uint64_t sram_addr;
    std::uint64_t bytes;
  };
  void drain(Cycle now);
  struct TickKey {
    Tick operator()(Tick t) const { return t; }
  };
  struct ReadyKey {
    Cycle operator()(const PendingWrite& w) const { return w.ready; }
  };

  DmaConfig m_cfg;
  HbmTiming& m_hbm;
  SramTiming& m_sram;
  DmaStats m_stats;
  Divisor m_request;  ///< request_bytes
  // Current transfer state (no allocation per request).
  const Instruction* m_in = nullptr;
  std::vector<std::uint64_t> m_rows;              ///< gather row indices
  SortedQueue<Tick, TickKey> m_slot_free;         ///< completion tick of each outstanding slot
  std::uint64_t m_row = 0;                        ///< next row (2-D and gather)
  std::uint64_t m_row_offset = 0;                 ///< bytes already issued within the current row
  std::uint64_t m_sram_cursor = 0;                ///< next SRAM byte offset
  Tick m_last_done = 0;                           ///< latest completion so far
  std::uint64_t m_num_rows = 0;                   ///< rows of the transfer (linear: 1)
  std::uint64_t m_row_len = 0;                    ///< bytes per row
  std::uint64_t m_last_row_len = 0;               ///< bytes of the last row (takes any remainder)
  SortedQueue<PendingWrite, ReadyKey> m_pending;  ///< by ready, then issue order
  Cycle m_pending_last = 0;                       ///< latest ready among pending writes
  Cycle m_begin_cycle = 0;                        ///< for busy_cycles
};

}  // namespace tpusim
