// --steady-state extrapolate end to end: a long prefill chunk is the affine extrapolation
// of three shorter runs of the same tile plan (dense along L, DSA along the chunk;
// docs/ARCHITECTURE.md "Steady-state extrapolation"). Each case reruns the samples as plain
// runs, so the extrapolation is checked against the line through them, and the point against
// its exact run.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/cli/cli_util.h"
#include "tests/cli/report_util.h"

using tpusim_test::run_report;
using tpusim_test::run_tpusim;
using Json = nlohmann::json;

namespace {

double cycles(const Json& r) {
  return r["cycles"].get<double>();
}

// The line through (xa, ca) and (xb, cb) at x, rounded as the report rounds counts.
double line_at(double xa, double ca, double xb, double cb, double x) {
  return static_cast<double>(std::llround(ca + (cb - ca) * (x - xa) / (xb - xa)));
}

// The work of the point itself (closed forms), whichever way it was simulated.
void check_same_roofline(const Json& e, const Json& exact) {
  for (const char* key : {"flops", "hbm_bytes", "vpu_ops", "bound_cycles"})
    CHECK(e["roofline"][key] == exact["roofline"][key]);
  CHECK(e["workload"] == exact["workload"]);
  CHECK(e["sram"]["peak_bytes"] == exact["sram"]["peak_bytes"]);
}

}  // namespace

TEST_CASE("DSA prefill extrapolates along the chunk from three centred samples",
          "[cli][steady_state]") {
  // L = 24k, T = 4k: every query sees at least 20k > k keys, so each gathers k rows.
  const std::uint64_t L = 24576, T = 4096;
  const std::string point = "--attention dsa --phase prefill --seq 24k --chunk 4k";
  const Json e = run_report(point + " --steady-state extrapolate");
  const Json& ss = e["lowering"]["steady_state"];
  REQUIRE(ss["axis"] == "chunk");
  CHECK(e["steady_state"] == "extrapolated");
  // Samples of one, two and three times four indexer query tiles (at least 128 queries).
  const auto tq = e["lowering"]["tile.indexer_query_tokens"].get<std::uint64_t>();
  const std::uint64_t step = (std::max<std::uint64_t>(128, 4 * tq) + tq - 1) / tq * tq;
  double c[3];
  for (int i = 0; i < 3; ++i) {
    const std::uint64_t t = step * static_cast<std::uint64_t>(i + 1);
    REQUIRE(ss["samples"][i] == t);
    // Each sample is the chunk of its size centred on the point's: it ends at L - (T - T') / 2.
    const Json s = run_report("--attention dsa --phase prefill --seq " +
                              std::to_string(L - (T - t) / 2) + " --chunk " + std::to_string(t));
    c[i] = cycles(s);
    CHECK(ss["sample_cycles"][i] == s["cycles"]);
  }
  // Steady: the cost per query over the second interval is within 2% of the first's.
  const double change = (c[2] - c[1]) / (c[1] - c[0]) - 1;
  CHECK(ss["slope_change"].get<double>() == Approx(change));
  CHECK(std::abs(change) <= 0.02);
  // The point: the line through the shortest and the longest sample.
  CHECK(cycles(e) == line_at(double(step), c[0], double(3 * step), c[2], double(T)));
  // Against the whole chunk simulated: the standard sweep's largest difference is about 1%
  // (tests/bench/RESULTS.md); 3% leaves room for other machines' libm, not for a wrong line.
  const Json exact = run_report(point);
  CHECK(exact["steady_state"] == "exact");
  CHECK(cycles(e) == Approx(cycles(exact)).epsilon(0.03));
  CHECK(e["dram"]["read_bytes"].get<double>() ==
        Approx(exact["dram"]["read_bytes"].get<double>()).epsilon(0.01));
  check_same_roofline(e, exact);
}

TEST_CASE("dense prefill extrapolates along L from three shorter contexts", "[cli][steady_state]") {
  // T = 1k: samples at L = T + 4k, T + 8k and T + 12k; the point needs L >= twice the longest.
  const std::string point = "--attention dense --phase prefill --seq 48k --chunk 1k";
  const Json e = run_report(point + " --steady-state extrapolate");
  const Json& ss = e["lowering"]["steady_state"];
  REQUIRE(ss["axis"] == "seq");
  double c[3];
  for (int i = 0; i < 3; ++i) {
    const std::uint64_t l = 1024 + 4096 * static_cast<std::uint64_t>(i + 1);
    REQUIRE(ss["samples"][i] == l);
    const Json s =
        run_report("--attention dense --phase prefill --chunk 1k --seq " + std::to_string(l));
    c[i] = cycles(s);
    CHECK(ss["sample_cycles"][i] == s["cycles"]);
  }
  CHECK(cycles(e) == line_at(5120, c[0], 13312, c[2], 49152));
  // Dense streams every KV tile through the same pipeline: the line is within 0.01% on the
  // standard sweep; 0.5% here.
  const Json exact = run_report(point);
  CHECK(cycles(e) == Approx(cycles(exact)).epsilon(0.005));
  // Bytes read are affine in L exactly (every visible key once per query tile).
  CHECK(e["dram"]["read_bytes"].get<double>() ==
        Approx(exact["dram"]["read_bytes"].get<double>()).epsilon(1e-6));
  check_same_roofline(e, exact);
}

TEST_CASE("steady-state extrapolation runs exact where it does not apply, and says why",
          "[cli][steady_state]") {
  // A decode step: simulated as without the flag.
  const Json d = run_report("--attention dsa --seq 8k --steady-state extrapolate");
  CHECK(d["steady_state"] == "exact");
  CHECK(d["lowering"]["steady_state"]["axis"] == "none");
  CHECK(d["lowering"]["steady_state"]["why"] == "decode steps run exact");
  CHECK(d["cycles"] == run_report("--attention dsa --seq 8k")["cycles"]);
  // A chunk shorter than eight times the shortest sample.
  const Json p = run_report(
      "--attention dsa --phase prefill --seq 8k --chunk 512 "
      "--steady-state extrapolate");
  CHECK(p["steady_state"] == "exact");
  CHECK(p["lowering"]["steady_state"]["why"].get<std::string>().find("chunk 512") !=
        std::string::npos);
  // The table says which way each column was made.
  auto t = run_tpusim("run --phase prefill --seq 48k --chunk 1k --steady-state extrapolate");
  REQUIRE(t.exit_code == 0);
  CHECK(t.out.find("note: dense extrapolated from runs at L = 5k, 9k and 13k") !=
        std::string::npos);
  CHECK(t.out.find("note: dsa ran exact (chunk 1024 is shorter") != std::string::npos);
}

TEST_CASE("steady-state extrapolation runs exact when the cost per unit is not steady",
          "[cli][steady_state]") {
  // h800-like dense prefill with a 1k chunk costs about a tenth more per key between L = 9k and
  // 13k than between 5k and 9k (tests/bench/RESULTS.md): a line through them would not hold at
  // 27k. The point then runs exact, as without the flag (the decode case above compares).
  const Json e = run_report(
      "--hw h800-like --attention dense --phase prefill --seq 27k --chunk 1k --steady-state "
      "extrapolate");
  CHECK(e["steady_state"] == "exact");
  CHECK(e["lowering"]["steady_state"]["why"].get<std::string>().rfind("not steady: ", 0) == 0);
}

TEST_CASE("steady-state flag: bad values and a timeline are errors before any work",
          "[cli][steady_state]") {
  auto bad = run_tpusim("run --steady-state sometimes");
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("--steady-state: 'sometimes' is not one of exact, extrapolate") !=
        std::string::npos);
  auto tl = run_tpusim(
      "run --phase prefill --seq 64k --steady-state extrapolate --timeline "
      "/tmp/tpusim_steady_timeline.json");
  CHECK(tl.exit_code == 2);
  CHECK(tl.err.find("--timeline: an extrapolated run has no timeline") != std::string::npos);
  auto sweep = run_tpusim("sweep --seq 4k --steady-state maybe -o /tmp/tpusim_steady_sweep.csv");
  CHECK(sweep.exit_code == 2);
  CHECK(sweep.err.find("--steady-state: 'maybe'") != std::string::npos);
}
