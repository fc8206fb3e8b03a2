#pragma once
/// Hardware configuration: the TOML file format, presets, `--set` overrides and validation.
/// Only this component knows the file format; models receive their plain config structs.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "models/dma.h"
#include "models/hbm.h"
#include "models/mxu.h"
#include "models/sram.h"
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

/// The whole chip, section by section (DESIGN.md section 6).
struct HwConfig {
  ChipConfig chip;
  MxuConfig mxu;
  VpuConfig vpu;
  TopkConfig topk;
  SramConfig sram;
  HbmConfig hbm;
  DmaConfig dma;
  ExecConfig exec;
  std::string source;  ///< preset name or file it was loaded from

  /// Validates every section; throws ConfigError naming the full key.
  void validate() const;
};

/// One resolved key, for `hw show`, reports and the JSON "hw" object.
struct ConfigEntry {
  std::string key;    ///< "hbm.channels"
  std::string value;  ///< as it would be written in TOML ("16", "\"ws\"", "true")
  std::string help;   ///< one-line description with unit
};

/// Every key with its value, in a stable order (section order, then declaration order).
std::vector<ConfigEntry> config_entries(const HwConfig& cfg);

/// Directory holding the preset TOML files.
std::string presets_dir();
/// Preset names (file stems in presets_dir()), sorted; the default one is "tpu-v5e".
std::vector<std::string> list_presets();
constexpr const char* kDefaultPreset = "tpu-v5e";

/// Loads a preset name or a TOML file path, applies `KEY=VALUE` overrides in order, validates.
HwConfig load_hw_config(const std::string& preset_or_file,
                        const std::vector<std::string>& overrides = {});
/// Parses TOML text (errors name `origin`) on top of the defaults.
HwConfig parse_hw_config(const std::string& toml_text, const std::string& origin);
/// Applies one `section.key=value` override; throws ConfigError naming the key.
void apply_override(HwConfig& cfg, const std::string& assignment);
/// The resolved config as TOML text (round-trips through parse_hw_config).
std::string to_toml(const HwConfig& cfg);

}  // namespace tpusim
