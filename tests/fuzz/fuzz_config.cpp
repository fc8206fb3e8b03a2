// libFuzzer target: the hardware config loader (built by scripts/fuzz.sh, not by CMake).
// Input: TOML text, optionally followed by a line "%%" and one `--set` assignment per line.
// Every input must either load (parse, overrides, validate) or throw ConfigError; a config that
// validates must build the timing cores that size their tables from it, and print as TOML that
// loads back to the same config. Anything else is a bug.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/hbm.h"
#include "models/mxu.h"
#include "models/sram.h"
#include "models/vpu.h"
#include "sim/config.h"

namespace {

using namespace tpusim;

[[noreturn]] void bug(const std::string& what) {
  std::fprintf(stderr, "fuzz_config: %s\n", what.c_str());
  std::abort();
}

}  // namespace

// libsystemc (linked for the models' SystemC modules, never run here) refers to sc_main, which
// SystemC declares extern "C" (sc_externs.h).
extern "C" int sc_main(int, char**) {
  return 1;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::string toml = input;
  std::vector<std::string> sets;
  const std::size_t split = input.find("\n%%\n");
  if (split != std::string::npos) {
    toml = input.substr(0, split + 1);
    std::string rest = input.substr(split + 4);
    std::size_t pos = 0;
    while (pos <= rest.size()) {
      std::size_t nl = rest.find('\n', pos);
      if (nl == std::string::npos) nl = rest.size();
      if (nl > pos) sets.push_back(rest.substr(pos, nl - pos));
      pos = nl + 1;
    }
  }
  HwConfig cfg;
  try {
    cfg = parse_hw_config(toml, "fuzz.toml");
    for (const auto& s : sets)
      apply_override(cfg, s);
    cfg.validate();
  } catch (const ConfigError& e) {
    if (std::string(e.what()).empty()) bug("empty ConfigError message");
    return 0;
  }
  // A valid config must be usable: the timing cores size per-bank tables from it.
  HbmTiming hbm(cfg.hbm, cfg.chip.clock_ghz);
  SramTiming sram(cfg.sram);
  hbm.access(0, 0, cfg.hbm.burst_bytes, false);
  sram.access(0, 0, cfg.sram.interleave_bytes, false);
  // The cycle laws must not overflow (UBSan checks the double-to-integer casts) on ops that fit.
  SystolicTiming mxu(cfg.mxu);
  mxu.cycles(4096, 4096, 4096, DType::kFp8);
  VpuTiming vpu(cfg.vpu);
  TopkTiming topk(cfg.topk);
  Instruction op;
  op.op = Op::kVpuExp;
  op.elems = 1 << 20;
  vpu.cycles(op);
  op.op = Op::kVpuTopk;
  op.rows = 64;
  op.n = 1 << 17;
  op.k = 2048;
  vpu.cycles(op);
  topk.cycles(op);
  // Every value goes into JSON reports; dumping throws on text JSON cannot hold.
  nlohmann::json j;
  for (const auto& e : config_entries(cfg))
    j[e.key] = e.value;
  try {
    (void)j.dump();
  } catch (const nlohmann::json::exception& e) {
    bug(std::string("config does not serialise to JSON: ") + e.what());
  }
  const std::string text = to_toml(cfg);
  HwConfig back;
  try {
    back = parse_hw_config(text, "again.toml");
    back.validate();
  } catch (const ConfigError& e) {
    bug(std::string("to_toml output does not load back: ") + e.what() + "\n" + text);
  }
  if (to_toml(back) != text) bug("to_toml does not round-trip:\n" + text);
  return 0;
}
