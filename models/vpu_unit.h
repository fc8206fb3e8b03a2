#pragma once
/// The vector unit as a SystemC module: one op at a time, timed by its core (models/vpu.h).

#include <systemc>

#include "models/unit_port.h"
#include "models/vpu.h"

namespace tpusim {

class VpuUnit : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(VpuUnit);
  VpuUnit(sc_core::sc_module_name name, const VpuConfig& cfg, InstructionPort& port,
          SramTiming& sram);
  const VpuStats& stats() const { return m_core.stats(); }

 private:
  void run();
  void serve();  ///< the instruction loop run() guards
  VpuCore m_core;
  InstructionPort& m_port;
};

}  // namespace tpusim
