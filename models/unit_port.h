#pragma once
/// The narrow interface between the executor and a unit module (cf. ONNXim's can_issue/issue):
/// a unit thread asks for its next instruction and reports when it is done.

#include <exception>
#include <utility>

#include <systemc>

#include "base/cycle.h"
#include "base/error.h"
#include "traces/isa.h"

namespace tpusim {

class InstructionPort {
 public:
  virtual ~InstructionPort() = default;
  /// Blocks the calling SystemC thread until an instruction of `kind` has all its dependencies
  /// done and is the oldest of its kind not yet taken; returns nullptr once the trace is
  /// exhausted for that kind (the unit's thread then ends).
  virtual const Instruction* acquire(UnitKind kind) = 0;
  /// Reports that `in` ran on instance `instance` of its kind from cycle `start` to `end`.
  virtual void retire(const Instruction* in, UnitKind kind, int instance, Cycle start,
                      Cycle end) = 0;
  /// A unit's thread hit an error (a broken invariant, a runaway time). SystemC would turn an
  /// exception leaving a thread into a generic report and lose its type and message layout, so
  /// units hand it here instead; the executor stops the simulation and simulate() rethrows it.
  /// The default rethrows at once (for ports outside a full simulation).
  virtual void fail(std::exception_ptr error) { std::rethrow_exception(std::move(error)); }
};

/// Body of a unit's SC_THREAD: runs `serve` and hands any error to the port. SystemC's own
/// unwinding of a killed thread must pass through untouched.
template <class Serve>
void run_unit_thread(InstructionPort& port, Serve&& serve) {
  try {
    serve();
  } catch (const sc_core::sc_unwind_exception&) {
    throw;
  } catch (...) {
    port.fail(std::current_exception());
  }
}

}  // namespace tpusim
