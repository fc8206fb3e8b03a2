#include "models/mxu_unit.h"

#include "models/sim_time.h"

namespace tpusim {

MxuUnit::MxuUnit(sc_core::sc_module_name name, const MxuConfig& cfg, int instance,
                 InstructionPort& port, SramTiming& sram)
    : sc_core::sc_module(name), m_core(cfg, sram), m_instance(instance), m_port(port) {
  SC_THREAD(run);
}

void MxuUnit::run() {
  run_unit_thread(m_port, [this] { serve(); });
}

void MxuUnit::serve() {
  for (;;) {
    const Instruction* in = m_port.acquire(UnitKind::kMxu);
    if (in == nullptr) return;
    const Cycle t0 = now_cycles();
    const Cycle end = m_core.execute(*in, t0);
    wait_until_cycle(end);
    m_port.retire(in, UnitKind::kMxu, m_instance, t0, end);
  }
}

}  // namespace tpusim
