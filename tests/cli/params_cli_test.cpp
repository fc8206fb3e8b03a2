// Every workload flag reaches the report the same way through `run` and through `trace gen`
// then `trace run`: the trace's meta lines carry the whole workload.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_util.h"
#include "workloads/params.h"

using Json = nlohmann::json;
using tpusim_test::run_tpusim;

namespace {

Json workload_of_run(const std::string& flags) {
  auto r = run_tpusim("run " + flags + " --attention dsa --format json");
  INFO(flags << "\n" << r.err);
  REQUIRE(r.exit_code == 0);
  return Json::parse(r.out)["workload"];
}

Json workload_of_trace(const std::string& flags, const std::string& dir) {
  const std::string trace = dir + "/w.trace";
  auto g = run_tpusim("trace gen " + flags + " -o " + trace);
  INFO(flags << "\n" << g.err);
  REQUIRE(g.exit_code == 0);
  auto r = run_tpusim("trace run " + trace + " --format json");
  REQUIRE(r.exit_code == 0);
  Json w = Json::parse(r.out)["workload"];
  CHECK(w["trace"] == trace);
  w.erase("trace");
  return w;
}

}  // namespace

TEST_CASE("params: each flag gives the same workload through run and trace gen/run", "[cli]") {
  tpusim_test::TempDir dir;
  // Small and quick: a 4k decode step (prefill where the row only applies there).
  for (const auto& row : tpusim::workload_params()) {
    std::string flags;
    if (row.flag != "seq") flags += " --seq 4k";
    if (row.flag != "topk") flags += " --topk 512";
    if (row.flag == "chunk" || row.flag == "dense-mode") flags += " --phase prefill";
    if (row.flag != "model") flags += " --model tiny";
    if (row.kind == tpusim::ParamKind::kBool)
      flags += " --" + std::string(row.flag);
    else
      flags += " --" + std::string(row.flag) + " " + std::string(row.example);
    INFO(flags);
    const Json via_run = workload_of_run(flags);
    CHECK(via_run == workload_of_trace(flags, dir.path()));
    CHECK(via_run.contains(std::string(row.key)));
  }
}

TEST_CASE("params: trace gen --seed 9 then trace run reports seed 9", "[cli]") {
  tpusim_test::TempDir dir;
  CHECK(workload_of_trace("--seq 4k --seed 9", dir.path())["seed"] == 9);
}
