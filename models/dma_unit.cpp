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
  SC_THREAD(run_retire);
}

void DmaUnit::run() {
  run_unit_thread(m_port, [this] { serve(); });
}

void DmaUnit::run_retire() {
  run_unit_thread(m_port, [this] { serve_retire(); });
}

void DmaUnit::serve() {
  for (;;) {
    while (!m_timing.can_begin())
      sc_core::wait(m_freed);
    const Instruction* in = m_port.acquire(UnitKind::kDma);
    if (in == nullptr) {
      m_issue_done = true;
      m_issued.notify(sc_core::SC_ZERO_TIME);
      return;
    }
    m_timing.begin(*in, now_cycles());
    Cycle resume_at = now_cycles();
    // Livelock guard: every zero-time step issues a group into a free slot, so at most
    // max_outstanding of them can follow each other before a slot frees in the future.
    std::uint64_t zero_time_steps = 0;
    while (m_timing.issue(now_cycles(), resume_at)) {
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
    m_issued.notify();
  }
}

void DmaUnit::serve_retire() {
  for (;;) {
    Cycle at = 0;
    if (!m_timing.next_completion(now_cycles(), at)) {
      if (m_issue_done) return;
      sc_core::wait(m_issued);
      continue;
    }
    if (at > now_cycles()) {
      // A later instruction may finish issuing and complete before `at`: wake for it too.
      sc_core::wait(cycles_to_sc_time(at - now_cycles()), m_issued);
      continue;
    }
    Cycle start = 0, end = 0;
    bool retired = false;
    while (const Instruction* in = m_timing.retire(now_cycles(), start, end)) {
      m_port.retire(in, UnitKind::kDma, m_instance, start, end);
      retired = true;
    }
    SIM_CHECK("dma", retired,
              fmt::format("no instruction completed at cycle {}, its predicted completion",
                          now_cycles()));
    // Immediate: the issue thread takes its next instruction in this delta cycle, as one thread
    // running retire-then-acquire did.
    m_freed.notify();
  }
}

}  // namespace tpusim
