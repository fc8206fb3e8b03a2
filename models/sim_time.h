#pragma once
/// The one place where cycles meet sc_time. One cycle is carried as one SystemC nanosecond,
/// whatever the clock: sc_time is only the carrier (docs/ARCHITECTURE.md); seconds are computed
/// from cycles and chip.clock_ghz when reporting.

#include <systemc>

#include "base/cycle.h"
#include "base/error.h"

namespace tpusim {

inline Cycle now_cycles() {
  // Default time resolution is 1 ps, so a cycle is 1000 units of the kernel's integer time.
  return sc_core::sc_time_stamp().value() / 1000;
}

inline sc_core::sc_time cycles_to_sc_time(Cycle c) {
  return sc_core::sc_time::from_value(c * 1000);
}

/// Advances the calling SystemC thread by `c` cycles (no-op for 0). Going past kMaxSimCycles
/// is a SimError: SystemC time would wrap and the run would never end sensibly.
inline void wait_cycles(Cycle c) {
  if (c == 0) return;
  const Cycle now = now_cycles();
  // Not a bug of tpusim but a request beyond what it simulates (a lane count of 1 with a
  // costly op, a matmul of 2^50 MACs on one cell): the user's to change, so a UserError.
  if (c > kMaxSimCycles - now)
    throw UserError(
        "simulated time would pass 2^50 cycles (13 days at 1 GHz): at cycle " +
        std::to_string(now) + " an instruction would run " + std::to_string(c) +
        " cycles more; the config's rates and sizes (vpu.lanes, vpu.cost_*, mxu.rows, mxu.cols, "
        "mxu.count, hbm.bandwidth_gbs, dma.*) or the trace's sizes ask for more time than "
        "tpusim simulates");
  sc_core::wait(cycles_to_sc_time(c));
}

/// Advances the calling thread until absolute cycle `t` (no-op if already there).
inline void wait_until_cycle(Cycle t) {
  Cycle now = now_cycles();
  if (t > now) wait_cycles(t - now);
}

}  // namespace tpusim
