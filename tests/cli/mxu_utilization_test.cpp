// The table's "MXU utilization": the arrays' MAC work over their capacity in the run. DSA
// prefill runs its indexer's logits in fp8 at mxu.fp8_rate MACs per cell-cycle, and counting
// those MACs as bf16 ones reported more than 100% of the chip.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_util.h"

using tpusim_test::run_tpusim;
using Json = nlohmann::json;

TEST_CASE("MXU utilization counts an fp8 MAC as 1 / fp8_rate of a cell-cycle", "[cli][report]") {
  auto r = run_tpusim("run --attention dsa --phase prefill --seq 8k --format json");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const Json j = Json::parse(r.out);
  const Json& mxu = j["units"]["mxu"];
  const Json& hw = j["hw"]["mxu"];
  const double bf16 = mxu["macs_bf16"].get<double>(), fp8 = mxu["macs_fp8"].get<double>();
  REQUIRE(fp8 > 0);  // the indexer's logits
  // Capacity: rows x cols cells per array, mxu.count arrays, every cycle of the run.
  const double capacity = hw["rows"].get<double>() * hw["cols"].get<double>() *
                          hw["count"].get<double>() * j["cycles"].get<double>();
  const double util = (bf16 + fp8 / hw["fp8_rate"].get<double>()) / capacity;
  CHECK(mxu["utilization"].get<double>() == Approx(util));
  // No array does more than one cell-cycle of work per cell per cycle.
  CHECK(mxu["utilization"].get<double>() <= 1.0);
  // Nor more than its busy time allows.
  CHECK(mxu["utilization"].get<double>() <= mxu["busy_fraction"].get<double>() + 1e-12);
}
