#pragma once
// Instructions the HBM and DMA timing tests build by hand.

#include <cstdint>

#include "traces/isa.h"

namespace tpusim_test {

/// A linear dma.load of `bytes` from HBM address `hbm` to SRAM address `sram`.
inline tpusim::Instruction load(std::uint64_t hbm, std::uint64_t sram, std::uint64_t bytes) {
  tpusim::Instruction in;
  in.op = tpusim::Op::kDmaLoad;
  in.src = {tpusim::Space::kHbm, hbm};
  in.dst = {tpusim::Space::kSram, sram};
  in.bytes = bytes;
  return in;
}

}  // namespace tpusim_test
