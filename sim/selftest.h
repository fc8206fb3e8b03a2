#pragma once
/// `tpusim hw selftest`: micro-benchmarks that an architect runs first to trust a config. Each
/// one is a small trace simulated on the configured chip in its own child process, so what it
/// measures is what every workload sees.

#include <string>
#include <vector>

#include "base/json.h"
#include "sim/config.h"

namespace tpusim {

struct SelftestRow {
  std::string name;      ///< "sequential read"
  std::string measured;  ///< "801 GB/s"
  std::string expected;  ///< "819 GB/s peak" or a first-principles bound
  double fraction = 0;   ///< measured / expected, when meaningful (else 0)
};

/// Runs every micro-benchmark for the given config (preset or file plus overrides).
std::vector<SelftestRow> run_selftest(const std::string& hw, const std::vector<std::string>& sets);
std::string format_selftest(const HwConfig& cfg, const std::vector<SelftestRow>& rows);
/// The same rows for scripts (`hw selftest --format json`): each benchmark's text, the leading
/// number of its measured and reference text with the unit that follows, and the ratio.
Json selftest_json(const HwConfig& cfg, const std::vector<SelftestRow>& rows);

}  // namespace tpusim
