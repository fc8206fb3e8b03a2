#pragma once
// `tpusim run FLAGS --format json` as the report tests use it: the parsed report, or the test
// fails there with the flags and the run's stderr.

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/cli/cli_util.h"

namespace tpusim_test {

inline nlohmann::json run_report(const std::string& flags) {
  auto r = run_tpusim("run " + flags + " --format json");
  INFO(flags << "\n" << r.err);
  REQUIRE(r.exit_code == 0);
  return nlohmann::json::parse(r.out);
}

}  // namespace tpusim_test
