#pragma once
/// One systolic array as a SystemC module. The array takes its next matmul as soon as the
/// current one's last fold streams (MxuCore::Issue::accept_next), so consecutive matmuls
/// overlap their weight preload and drain; a second thread retires each matmul when its results
/// are out. All timing lives in MxuCore (models/mxu.h), which tests call without SystemC.

#include <cstdint>
#include <deque>
#include <systemc>

#include "models/mxu.h"
#include "models/sram.h"
#include "models/unit_port.h"

namespace tpusim {

class MxuUnit : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(MxuUnit);
  /// Array `instance` of the chip; `held` is shared by all arrays (null: a lone array).
  MxuUnit(sc_core::sc_module_name name, const MxuConfig& cfg, int instance, InstructionPort& port,
          SramTiming& sram, HeldWeights* held = nullptr);
  const MxuStats& stats() const { return m_core.stats(); }

 private:
  struct InFlight {
    const Instruction* in;
    Cycle start, end;
  };
  void run();
  void serve();  ///< the issue loop run() guards
  void run_retire();
  void serve_retire();  ///< the completion loop run_retire() guards

  MxuCore m_core;
  std::deque<InFlight> m_in_flight;  ///< taken, not yet retired; ends non-decreasing
  sc_core::sc_event m_issued;        ///< a matmul was taken (or the trace ran out)
  bool m_issue_done = false;         ///< the executor has no more matmuls
  int m_instance;
  InstructionPort& m_port;
};

}  // namespace tpusim
