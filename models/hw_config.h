#pragma once
/// The whole chip's configuration as plain structs, one section per unit. No SystemC and no
/// file format: workloads size their tiles from it, the models are built from it, and only
/// sim/config knows how it is written in TOML.

#include <string>

#include "models/dma.h"
#include "models/energy.h"
#include "models/hbm.h"
#include "models/mxu.h"
#include "models/sram.h"
#include "models/topk.h"
#include "models/vpu.h"

namespace tpusim {

struct ChipConfig {
  std::string name = "tpu-v5e-like";  ///< chip.name
  double clock_ghz = 1.5;             ///< chip.clock_ghz: the single core clock
  void validate() const;
};

/// How the executor issues instructions (sim/executor.h).
struct ExecConfig {
  /// exec.issue_window: a unit may start the oldest ready instruction among the next W of its
  /// kind; 1 = strict in-order issue per unit kind.
  std::uint64_t issue_window = 32;
  void validate() const;
};

/// The whole chip, section by section.
struct HwConfig {
  ChipConfig chip;
  MxuConfig mxu;
  VpuConfig vpu;
  TopkConfig topk;
  SramConfig sram;
  HbmConfig hbm;
  DmaConfig dma;
  ExecConfig exec;
  EnergyConfig energy;
  std::string source;  ///< preset name or file it was loaded from

  /// Validates every section; throws ConfigError naming the full key.
  void validate() const;
};

}  // namespace tpusim
