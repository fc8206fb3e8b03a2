#pragma once
/// The SystemC top module: builds one module per hardware unit from the config and binds them
/// to the executor. It only instantiates and wires; behaviour lives in the models.

#include <memory>
#include <vector>

#include <systemc>

#include "models/core_unit.h"
#include "models/dma_unit.h"
#include "models/hbm.h"
#include "models/hw_config.h"
#include "models/mxu_unit.h"
#include "models/sram.h"

namespace tpusim {

/// The port the units see: the executor's, plus the one thing every unit's instruction means for
/// the arrays: its SRAM write drops any weights an array holds there. It is reported when the
/// instruction is taken and again when it retires, so a hold recorded while the write was still
/// running (a trace that leaves the write and a read of the same bytes unordered) is dropped too.
class SramWritePort : public InstructionPort {
 public:
  SramWritePort(InstructionPort& inner, HeldWeights& held) : m_inner(inner), m_held(held) {}
  const Instruction* acquire(UnitKind kind) override;
  void retire(const Instruction* in, UnitKind kind, int instance, Cycle start, Cycle end) override;
  void fail(std::exception_ptr error) override { m_inner.fail(std::move(error)); }

 private:
  InstructionPort& m_inner;
  HeldWeights& m_held;
};

class Chip : public sc_core::sc_module {
 public:
  Chip(sc_core::sc_module_name name, const HwConfig& cfg, InstructionPort& port);

  const HwConfig& config() const { return m_cfg; }
  SramTiming& sram() { return m_sram; }
  HbmTiming& hbm() { return m_hbm; }
  const std::vector<std::unique_ptr<MxuUnit>>& mxus() const { return m_mxus; }
  const std::vector<std::unique_ptr<DmaUnit>>& dmas() const { return m_dmas; }
  const VpuUnit& vpu() const { return *m_vpu; }
  const TopkUnit* topk() const { return m_topk.get(); }

 private:
  HwConfig m_cfg;
  SramTiming m_sram;   // shared by every unit: all operand traffic goes through it
  HbmTiming m_hbm;     // shared by the DMA engines
  HeldWeights m_held;  // what each array's weights are, shared by the arrays
  SramWritePort m_port;
  std::vector<std::unique_ptr<MxuUnit>> m_mxus;
  std::vector<std::unique_ptr<DmaUnit>> m_dmas;
  std::unique_ptr<VpuUnit> m_vpu;
  std::unique_ptr<TopkUnit> m_topk;
};

}  // namespace tpusim
