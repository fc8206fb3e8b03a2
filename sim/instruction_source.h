#pragma once
/// Where a simulation's instructions come from. Apart from the executor (SystemC) so that code
/// which only prepares or reports simulations does not pull SystemC in (sim/simulation.h).

#include <cstddef>
#include <cstdint>
#include <vector>

#include "traces/isa.h"
#include "traces/packed_trace.h"

namespace tpusim {

/// Where instructions come from: a trace file read as a stream, a generated workload or a vector.
class InstructionSource {
 public:
  virtual ~InstructionSource() = default;
  /// Fills `out` with the next instruction; false at the end.
  virtual bool next(Instruction& out) = 0;
  /// How many instructions the stream holds, if known (0: unknown). The statistics size what
  /// they keep per instruction from it once, rather than growing by doubling.
  virtual std::uint64_t size_hint() const { return 0; }
};

/// Serves a vector of instructions (the selftest's and the tests' own) without copying it.
class VectorSource : public InstructionSource {
 public:
  explicit VectorSource(const std::vector<Instruction>& v) : m_v(v) {}
  bool next(Instruction& out) override {
    if (m_i >= m_v.size()) return false;
    out = m_v[m_i++];
    return true;
  }
  std::uint64_t size_hint() const override { return m_v.size(); }

 private:
  const std::vector<Instruction>& m_v;
  std::size_t m_i = 0;
};

/// Serves a generated workload's packed instructions, decoding one at a time.
class PackedSource : public InstructionSource {
 public:
  explicit PackedSource(const PackedTrace& t) : m_reader(t), m_size(t.size()) {}
  bool next(Instruction& out) override { return m_reader.next(out); }
  std::uint64_t size_hint() const override { return m_size; }

 private:
  PackedTrace::Reader m_reader;
  std::uint64_t m_size;
};

}  // namespace tpusim
