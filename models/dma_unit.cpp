#include "models/dma_unit.h"

#include <fmt/format.h>

#include "models/sim_time.h"

namespace tpusim {

DmaUnit::DmaUnit(sc_core::sc_module_name name, const DmaConfig& cfg, int instance,
                 InstructionPort& port, HbmTiming& hbm, SramTiming& sram)
    : sc_core::sc_module(name),
      m_timing(cfg, hbm, sram),
      m_instance(instance),
      m_port(port),
      m_max_zero_time_steps(std::uint64_t{cfg.max_outstanding} + 16) {
  SC_THREAD(run);
}

void DmaUnit::run() {
  run_unit_thread(m_port, [this] { serve(); });
}

void DmaUnit::serve() {
  for (;;) {
    const Instruction* in = m_port.acquire(UnitKind::kDma);
    if (in == nullptr) return;
    const Cycle t0 = now_cycles();
    m_timing.begin(*in, t0);
    Cycle resume_at = t0;
    // Livelock guard: every zero-time step issues a group into a free slot, so at most
    // max_outstanding of them can follow each other before a slot frees in the future.
    std::uint64_t zero_time_steps = 0;
    while (m_timing.step(now_cycles(), resume_at)) {
      // A group that issued without waiting yields for one delta cycle, so other engines
      // stepping at the same cycle take their turn (no simulated time passes).
      if (resume_at <= now_cycles()) {
        SIM_CHECK("dma", ++zero_time_steps <= m_max_zero_time_steps,
                  fmt::format("instruction {} made no progress in simulated time for {} steps "
                              "at cycle {} (livelock)",
                              in->id, zero_time_steps - 1, now_cycles()));
        sc_core::wait(sc_core::SC_ZERO_TIME);
      } else {
        zero_time_steps = 0;
        wait_until_cycle(resume_at);
      }
    }
    wait_until_cycle(resume_at);
    m_port.retire(in, UnitKind::kDma, m_instance, t0, resume_at);
  }
}

}  // namespace tpusim
