#pragma once
/// The SystemC module of a unit whose whole instruction is timed by a plain-C++ core
/// (`Cycle execute(const Instruction&, Cycle start)`): the vector unit and the top-k unit (the
/// MXU arrays overlap consecutive matmuls and have their own module, models/mxu_unit.h). It takes
/// instructions of its kind from the executor, asks the core for the end cycle, waits once until
/// then and retires the instruction. All timing lives in the cores (models/mxu.h, vpu.h, topk.h),
/// which tests call without SystemC.

#include <systemc>

#include "models/sim_time.h"
#include "models/sram.h"
#include "models/topk.h"
#include "models/unit_port.h"
#include "models/vpu.h"

namespace tpusim {

template <class Core, UnitKind kKind>
class CoreUnit : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(CoreUnit);
  template <class Config>
  CoreUnit(sc_core::sc_module_name name, const Config& cfg, int instance, InstructionPort& port,
           SramTiming& sram)
      : sc_core::sc_module(name), m_core(cfg, sram), m_instance(instance), m_port(port) {
    SC_THREAD(run);
  }
  const auto& stats() const { return m_core.stats(); }

 private:
  void run() {
    run_unit_thread(m_port, [this] { serve(); });
  }
  void serve() {
    for (;;) {
      const Instruction* in = m_port.acquire(kKind);
      if (in == nullptr) return;
      const Cycle t0 = now_cycles();
      const Cycle end = m_core.execute(*in, t0);
      wait_until_cycle(end);
      m_port.retire(in, kKind, m_instance, t0, end);
    }
  }

  Core m_core;
  int m_instance;
  InstructionPort& m_port;
};

using VpuUnit = CoreUnit<VpuCore, UnitKind::kVpu>;
using TopkUnit = CoreUnit<TopkCore, UnitKind::kTopk>;

}  // namespace tpusim
