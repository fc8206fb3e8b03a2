#include "models/hw_config.h"

#include <fmt/format.h>

#include <cmath>

#include "base/error.h"
#include "base/json.h"

namespace tpusim {
namespace {

void require_config(bool ok, const std::string& msg) {
  if (!ok) throw ConfigError(msg);
}

bool printable_utf8(const std::string& s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  try {
    (void)Json(s).dump();
  } catch (const Json::exception&) {
    return false;
  }
  return true;
}

}  // namespace

void ChipConfig::validate() const {
  require_config(!name.empty(), "chip.name must not be empty");
  require_config(printable_utf8(name) && name.size() <= 256,
                 "chip.name must be printable UTF-8 text of at most 256 bytes");
  // 1 MHz and up: below it times and energies run to 1e294 s and the selftest to inf.
  require_config(std::isfinite(clock_ghz) && clock_ghz >= 1e-3 && clock_ghz <= 100,
                 fmt::format("chip.clock_ghz must be in [0.001, 100] (got {})", clock_ghz));
}

void ExecConfig::validate() const {
  // The window is scanned at every issue: thousands would only slow the simulation.
  require_config(issue_window >= 1 && issue_window <= 4096,
                 fmt::format("exec.issue_window must be in [1, 4096] (got {})", issue_window));
}

void HwConfig::validate() const {
  chip.validate();
  mxu.validate();
  vpu.validate();
  topk.validate();
  sram.validate();
  hbm.validate();
  dma.validate();
  exec.validate();
  energy.validate();
  // Requests end at multiples of request_bytes in HBM; unless those are burst boundaries a burst
  // cut in two crosses the bus twice, and a request of a few bytes makes every byte streamed a
  // simulated request of its own.
  require_config(dma.request_bytes % hbm.burst_bytes == 0,
                 fmt::format("dma.request_bytes ({}) must be a multiple of hbm.burst_bytes ({}): "
                             "a request moves whole bursts",
                             dma.request_bytes, hbm.burst_bytes));
  // load_hw_config shrinks a budget the user did not set with the SRAM, so this names the budget.
  require_config(sram.residency_mib <= sram.capacity_mib,
                 fmt::format("sram.residency_mib ({} MiB of pinned indexer keys) must be <= "
                             "sram.capacity_mib ({} MiB)",
                             sram.residency_mib, sram.capacity_mib));
}

}  // namespace tpusim
