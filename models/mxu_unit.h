#pragma once
/// One MXU instance as a SystemC module: takes mxu.matmul from the executor and waits out the
/// end cycle its core (models/mxu.h) computes.

#include <systemc>

#include "models/mxu.h"
#include "models/unit_port.h"

namespace tpusim {

class MxuUnit : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(MxuUnit);
  MxuUnit(sc_core::sc_module_name name, const MxuConfig& cfg, int instance, InstructionPort& port,
          SramTiming& sram);
  const MxuStats& stats() const { return m_core.stats(); }

 private:
  void run();
  void serve();  ///< the instruction loop run() guards
  MxuCore m_core;
  int m_instance;
  InstructionPort& m_port;
};

}  // namespace tpusim
