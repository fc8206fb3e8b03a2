// The sweep CSV's kernel columns and `run --format csv`'s come from the one tag list the
// lowering owns (workloads/kernel_tags.h), so a new kernel shows up in both with no other edit.
#include <catch2/catch.hpp>

#include <algorithm>
#include <sstream>

#include "sim/report.h"
#include "tests/cli/cli_util.h"
#include "workloads/kernel_tags.h"

using namespace tpusim;

namespace {

std::vector<std::string> header_of(const std::string& csv) {
  std::vector<std::string> cols;
  std::stringstream line(csv.substr(0, csv.find('\n')));
  for (std::string c; std::getline(line, c, ',');)
    cols.push_back(c);
  return cols;
}

}  // namespace

TEST_CASE("kernel columns: run csv and sweep csv both list kernels from kKernelTags", "[cli]") {
  auto r = tpusim_test::run_tpusim(
      "run --phase prefill --seq 8k --model tiny --scope layer "
      "--format json");
  REQUIRE(r.exit_code == 0);
  const Json compare = Json::parse(r.out);
  const std::vector<std::string> sweep_cols = standard_csv_columns(compare["dsa"]);
  // Every tag of the list has its three sweep columns, even ones this report did not run.
  for (const auto& tag : kernel_tags())
    for (const char* field : {".cycles", ".dram_bytes", ".flops"})
      CHECK(std::count(sweep_cols.begin(), sweep_cols.end(), "kernel." + tag + field) == 1);
  // Every kernel column `run --format csv` prints is one of them: no tag outside the list.
  auto csv = tpusim_test::run_tpusim(
      "run --phase prefill --seq 8k --model tiny --scope layer "
      "--format csv");
  REQUIRE(csv.exit_code == 0);
  int kernel_cols = 0;
  for (const auto& c : header_of(csv.out)) {
    if (c.rfind("kernel.", 0) != 0) continue;
    ++kernel_cols;
    CHECK(std::count(sweep_cols.begin(), sweep_cols.end(), c) == 1);
  }
  CHECK(kernel_cols > 0);
}
