#include "sim/chip.h"

#include <string>

namespace tpusim {

const Instruction* SramWritePort::acquire(UnitKind kind) {
  const Instruction* in = m_inner.acquire(kind);
  std::uint64_t offset = 0, bytes = 0;
  if (in != nullptr && sram_write_extent(*in, offset, bytes)) m_held.written(offset, bytes);
  return in;
}

void SramWritePort::retire(const Instruction* in, UnitKind kind, int instance, Cycle start,
                           Cycle end) {
  std::uint64_t offset = 0, bytes = 0;
  if (sram_write_extent(*in, offset, bytes)) m_held.written(offset, bytes);
  m_inner.retire(in, kind, instance, start, end);
}

Chip::Chip(sc_core::sc_module_name name, const HwConfig& cfg, InstructionPort& executor)
    : sc_core::sc_module(name),
      m_cfg(cfg),
      m_sram(cfg.sram),
      m_hbm(cfg.hbm, cfg.chip.clock_ghz),
      m_held(cfg.mxu.count),
      m_port(executor, m_held) {
  InstructionPort& port = m_port;
  for (std::uint32_t i = 0; i < cfg.mxu.count; ++i) {
    std::string n = "mxu" + std::to_string(i);
    m_mxus.push_back(
        std::make_unique<MxuUnit>(n.c_str(), cfg.mxu, static_cast<int>(i), port, m_sram, &m_held));
  }
  for (std::uint32_t i = 0; i < cfg.dma.engines; ++i) {
    std::string n = "dma" + std::to_string(i);
    m_dmas.push_back(
        std::make_unique<DmaUnit>(n.c_str(), cfg.dma, static_cast<int>(i), port, m_hbm, m_sram));
  }
  m_vpu = std::make_unique<VpuUnit>("vpu", cfg.vpu, 0, port, m_sram);
  if (cfg.topk.enabled) m_topk = std::make_unique<TopkUnit>("topk", cfg.topk, 0, port, m_sram);
}

}  // namespace tpusim
