#include "models/vpu_unit.h"

#include "models/sim_time.h"

namespace tpusim {

VpuUnit::VpuUnit(sc_core::sc_module_name name, const VpuConfig& cfg, InstructionPort& port,
                 SramTiming& sram)
    : sc_core::sc_module(name), m_core(cfg, sram), m_port(port) {
  SC_THREAD(run);
}

void VpuUnit::run() {
  run_unit_thread(m_port, [this] { serve(); });
}

void VpuUnit::serve() {
  for (;;) {
    const Instruction* in = m_port.acquire(UnitKind::kVpu);
    if (in == nullptr) return;
    const Cycle t0 = now_cycles();
    const Cycle end = m_core.execute(*in, t0);
    wait_until_cycle(end);
    // One VPU per chip: always instance 0.
    m_port.retire(in, UnitKind::kVpu, 0, t0, end);
  }
}

}  // namespace tpusim
