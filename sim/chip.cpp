#include "sim/chip.h"

#include <string>

namespace tpusim {

Chip::Chip(sc_core::sc_module_name name, const HwConfig& cfg, InstructionPort& port)
    : sc_core::sc_module(name), m_cfg(cfg), m_sram(cfg.sram), m_hbm(cfg.hbm, cfg.chip.clock_ghz) {
  for (std::uint32_t i = 0; i < cfg.mxu.count; ++i) {
    std::string n = "mxu" + std::to_string(i);
    m_mxus.push_back(
        std::make_unique<MxuUnit>(n.c_str(), cfg.mxu, static_cast<int>(i), port, m_sram));
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
