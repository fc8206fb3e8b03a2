// extrapolate_reports (--steady-state extrapolate) on hand-built reports: every value follows
// the line through the two runs, ratios over time follow their numerator and denominator, and
// counts stay whole and never negative.
#include <catch2/catch.hpp>

#include "sim/report.h"

using namespace tpusim;

namespace {

// A report of a run at x: cycles, a counter, a falling count, a time ratio and a per-kernel
// figure, in the shape make_report gives them.
Json report(std::uint64_t cycles, std::uint64_t bytes, std::uint64_t falling, double busy,
            double kernel_flops) {
  Json r;
  r["cycles"] = cycles;
  r["time_s"] = static_cast<double>(cycles) * 1e-9;
  r["dram"] = {{"read_bytes", bytes}, {"row_empty", falling}};
  r["units"] = {{"mxu", {{"instances", 4}, {"utilization", busy / static_cast<double>(cycles)}}}};
  r["sram"] = {{"peak_bytes", 1000}};
  r["kernels"] = Json::array({Json{{"tag", "attn.qk"}, {"flops", kernel_flops}}});
  r["workload"] = {{"chunk", 1}};
  return r;
}

}  // namespace

TEST_CASE("extrapolate_reports follows the line through two runs", "[report][steady_state]") {
  // Runs at x = 1 and x = 2; the point at x = 4 is three steps of (b - a) beyond a.
  const Json a = report(100, 1000, 10, 50, 7.0);
  const Json b = report(150, 1600, 4, 90, 9.5);
  const Json e = extrapolate_reports(a, 1, b, 2, 4);
  CHECK(e["cycles"] == 250);                // 100 + 3 x 50
  CHECK(e["dram"]["read_bytes"] == 2800);   // 1000 + 3 x 600
  CHECK(e["kernels"][0]["flops"] == 14.5);  // 7 + 3 x 2.5
  CHECK(e["time_s"].get<double>() == Approx(250e-9));
  // Busy cycles 50 and 90 extrapolate to 170 over 250 cycles: the ratio is 0.68, not the line
  // through the two ratios (0.5, 0.6 -> 0.8).
  CHECK(e["units"]["mxu"]["utilization"].get<double>() == Approx(0.68));
  CHECK(e["units"]["mxu"]["instances"] == 4);  // the same in both runs
  // 10 - 3 x 6 = -8: a count never goes below zero.
  CHECK(e["dram"]["row_empty"] == 0);
  // What the runs do not extrapolate is the first run's, for the caller to replace.
  CHECK(e["workload"]["chunk"] == 1);
  CHECK(e["sram"]["peak_bytes"] == 1000);
}

TEST_CASE("extrapolate_reports rounds counts to whole ones and interpolates too",
          "[report][steady_state]") {
  const Json a = report(100, 1000, 10, 50, 7.0);
  const Json b = report(151, 1001, 4, 90, 9.0);
  // x = 1.5 lies between the runs: half of each.
  const Json mid = extrapolate_reports(a, 1, b, 2, 1.5);
  CHECK(mid["cycles"] == 126);  // 125.5 rounds to 126 (half away from zero)
  CHECK(mid["cycles"].is_number_unsigned());
  CHECK(mid["kernels"][0]["flops"] == 8.0);
  // At x = xa the first run comes back unchanged.
  const Json at_a = extrapolate_reports(a, 1, b, 2, 1);
  CHECK(at_a["cycles"] == 100);
  CHECK(at_a["dram"]["read_bytes"] == 1000);
  CHECK(at_a["units"]["mxu"]["utilization"].get<double>() == Approx(0.5));
}

TEST_CASE("extrapolate_reports matches kernels by tag, a missing one counting as zero",
          "[report][steady_state]") {
  Json a = report(100, 1000, 10, 50, 7.0);
  Json b = report(150, 1600, 4, 90, 9.0);
  b["kernels"].push_back(Json{{"tag", "indexer.topk"}, {"flops", 4.0}});
  const Json e = extrapolate_reports(a, 1, b, 2, 3);
  REQUIRE(e["kernels"].size() == 2);
  CHECK(e["kernels"][0]["tag"] == "attn.qk");
  CHECK(e["kernels"][0]["flops"] == 11.0);  // 7 + 2 x 2
  CHECK(e["kernels"][1]["tag"] == "indexer.topk");
  CHECK(e["kernels"][1]["flops"] == 8.0);  // 0 + 2 x 4
}
