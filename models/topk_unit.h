#pragma once
/// The dedicated top-k unit as a SystemC module, timed by its core (models/topk.h).

#include <systemc>

#include "models/topk.h"
#include "models/unit_port.h"

namespace tpusim {

class TopkUnit : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(TopkUnit);
  TopkUnit(sc_core::sc_module_name name, const TopkConfig& cfg, InstructionPort& port,
           SramTiming& sram);
  const VpuStats& stats() const { return m_core.stats(); }

 private:
  void run();
  void serve();  ///< the instruction loop run() guards
  TopkCore m_core;
  InstructionPort& m_port;
};

}  // namespace tpusim
