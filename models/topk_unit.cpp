#include "models/topk_unit.h"

#include "models/sim_time.h"

namespace tpusim {

TopkUnit::TopkUnit(sc_core::sc_module_name name, const TopkConfig& cfg, InstructionPort& port,
                   SramTiming& sram)
    : sc_core::sc_module(name), m_core(cfg, sram), m_port(port) {
  SC_THREAD(run);
}

void TopkUnit::run() {
  run_unit_thread(m_port, [this] { serve(); });
}

void TopkUnit::serve() {
  for (;;) {
    const Instruction* in = m_port.acquire(UnitKind::kTopk);
    if (in == nullptr) return;
    const Cycle t0 = now_cycles();
    const Cycle end = m_core.execute(*in, t0);
    wait_until_cycle(end);
    m_port.retire(in, UnitKind::kTopk, 0, t0, end);
  }
}

}  // namespace tpusim
