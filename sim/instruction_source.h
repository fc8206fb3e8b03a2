#pragma once
/// Where a simulation's instructions come from. Apart from the executor (SystemC) so that code
/// which only prepares or reports simulations does not pull SystemC in (sim/simulation.h).

#include <cstddef>
#include <vector>

#include "traces/isa.h"

namespace tpusim {

/// Where instructions come from: a trace file read as a stream, or a generated vector.
class InstructionSource {
 public:
  virtual ~InstructionSource() = default;
  /// Fills `out` with the next instruction; false at the end.
  virtual bool next(Instruction& out) = 0;
};

/// Serves a vector of instructions (a generated workload) without copying it.
class VectorSource : public InstructionSource {
 public:
  explicit VectorSource(const std::vector<Instruction>& v) : m_v(v) {}
  bool next(Instruction& out) override {
    if (m_i >= m_v.size()) return false;
    out = m_v[m_i++];
    return true;
  }

 private:
  const std::vector<Instruction>& m_v;
  std::size_t m_i = 0;
};

}  // namespace tpusim
