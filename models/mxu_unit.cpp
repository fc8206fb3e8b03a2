#include "models/mxu_unit.h"

#include "models/sim_time.h"

namespace tpusim {

MxuUnit::MxuUnit(sc_core::sc_module_name name, const MxuConfig& cfg, int instance,
                 InstructionPort& port, SramTiming& sram, HeldWeights* held)
    : sc_core::sc_module(name),
      m_core(held ? MxuCore(cfg, sram, *held, static_cast<std::uint32_t>(instance))
                  : MxuCore(cfg, sram)),
      m_instance(instance),
      m_port(port) {
  SC_THREAD(run);
  SC_THREAD(run_retire);
}

void MxuUnit::run() {
  run_unit_thread(m_port, [this] { serve(); });
}

void MxuUnit::run_retire() {
  run_unit_thread(m_port, [this] { serve_retire(); });
}

void MxuUnit::serve() {
  for (;;) {
    const Instruction* in = m_port.acquire(UnitKind::kMxu);
    if (in == nullptr) {
      m_issue_done = true;
      m_issued.notify();
      return;
    }
    const Cycle t0 = now_cycles();
    const MxuCore::Issue r = m_core.issue(*in, t0);
    m_in_flight.push_back({in, t0, r.end});
    m_issued.notify();
    wait_until_cycle(r.accept_next);
  }
}

void MxuUnit::serve_retire() {
  for (;;) {
    if (m_in_flight.empty()) {
      if (m_issue_done) return;
      sc_core::wait(m_issued);
      continue;
    }
    const InFlight f = m_in_flight.front();
    // Ends are non-decreasing, so nothing taken later can retire before the front.
    if (f.end > now_cycles()) {
      wait_until_cycle(f.end);
      continue;
    }
    m_in_flight.pop_front();
    m_port.retire(f.in, UnitKind::kMxu, m_instance, f.start, f.end);
  }
}

}  // namespace tpusim
