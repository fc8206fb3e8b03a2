#pragma once
/// One DMA engine as a SystemC module: takes DMA instructions from the executor and steps the
/// engine's timing core (models/dma.h) group by group, so concurrent engines interleave. Two
/// threads: one issues instructions (up to dma.max_in_flight of them in flight), the other
/// retires them as their data arrives.

#include <cstdint>

#include <systemc>

#include "models/dma.h"
#include "models/unit_port.h"

namespace tpusim {

/// One DMA engine as a SystemC module.
class DmaUnit : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(DmaUnit);
  DmaUnit(sc_core::sc_module_name name, const DmaConfig& cfg, int instance, InstructionPort& port,
          HbmTiming& hbm, SramTiming& sram);
  const DmaStats& stats() const { return m_timing.stats(); }

 private:
  void run();
  void serve();  ///< the issue loop run() guards
  void run_retire();
  void serve_retire();  ///< the completion loop run_retire() guards
  DmaEngineTiming m_timing;
  sc_core::sc_event m_issued;  ///< an instruction finished issuing (or the trace ran out)
  sc_core::sc_event m_freed;   ///< an instruction retired: the engine may take another
  bool m_issue_done = false;   ///< the executor has no more DMA instructions
  int m_instance;
  InstructionPort& m_port;
  std::uint64_t m_max_zero_time_steps;
};

}  // namespace tpusim
