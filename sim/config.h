#pragma once
/// Hardware configuration: the TOML file format, presets, `--set` overrides and validation.
/// Only this component knows the file format; models receive their plain config structs.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/embedded.h"
#include "models/hw_config.h"

namespace tpusim {

/// One resolved key, for `hw show`, reports and the JSON "hw" object.
struct ConfigEntry {
  std::string key;    ///< "hbm.channels"
  std::string value;  ///< as it would be written in TOML ("16", "\"ws\"", "true")
  std::string help;   ///< one-line description with unit
};

/// Every key with its value, in a stable order (section order, then declaration order).
std::vector<ConfigEntry> config_entries(const HwConfig& cfg);

/// Preset names (models/presets/*.toml, embedded in the binary), sorted; the default one is
/// "tpu-v5e".
std::vector<std::string> list_presets();
/// The preset files compiled into the binary (generated from models/presets/*.toml).
const EmbeddedFiles& embedded_presets();
constexpr const char* kDefaultPreset = "tpu-v5e";

/// Loads a preset name or a TOML file path, applies `KEY=VALUE` overrides in order, validates.
/// Errors about the name itself name `flag` (`hw show`'s argument is PRESET, not --hw).
HwConfig load_hw_config(const std::string& preset_or_file,
                        const std::vector<std::string>& overrides = {},
                        const std::string& flag = "--hw");
/// Parses TOML text (errors name `origin`) on top of the defaults.
HwConfig parse_hw_config(const std::string& toml_text, const std::string& origin);
/// Applies one `section.key=value` override; throws ConfigError naming the key.
void apply_override(HwConfig& cfg, const std::string& assignment);
/// The resolved config as TOML text (round-trips through parse_hw_config).
std::string to_toml(const HwConfig& cfg);

}  // namespace tpusim
