// dma.group_requests is a simulation knob, not hardware: a DMA engine issues that many requests
// per step of simulated time. The finest setting, 1, issues every request in time order against
// the other engines; larger groups trade accuracy for fewer SystemC context switches. These
// tests pin the default's error against that limit and the convergence the README asks
// for, on every example trace and on decode and prefill, dense and DSA (gathers included).
// Cycles are in tests/bench/RESULTS.md ("dma.group_requests convergence").
#include <catch2/catch.hpp>

#include <cmath>
#include <nlohmann/json.hpp>

#include "tests/cli/cli_util.h"

using tpusim_test::run_tpusim;
using Json = nlohmann::json;

namespace {

// `window` is exec.issue_window. In-order issue (1) keeps the example traces' runs differing
// only in DMA stepping: with a wider window the engines take loads in a different order as
// stepping shifts completions, which on these few-thousand-cycle traces adds up to 1.9%
// (double_buffer, group 4 vs 64). The lowered runs use the default window: in order, the 16
// split-KV partitions of DSA decode turned a shifted gather completion into a different
// assignment of matmuls to arrays (group 8 came out 1.9% from group 1 while groups 2, 4 and 16
// stayed within 0.2%; with the default window every group is within 0.3%).
double cycles(const std::string& args, int group, int window) {
  std::string set = " --set dma.group_requests=" + std::to_string(group);
  if (window > 0) set += " --set exec.issue_window=" + std::to_string(window);
  auto r = run_tpusim(args + " --format json" + set);
  REQUIRE(r.exit_code == 0);
  return Json::parse(r.out)["cycles"].get<double>();
}

std::string example(const char* name) {
  return std::string("trace run ") + TPUSIM_SOURCE_DIR + "/traces/examples/" + name;
}

}  // namespace

TEST_CASE("convergence: the default group (8) is within 1% of per-request stepping",
          "[convergence]") {
  // Prefill at 4k with 256-token chunks and k = 512 keeps the per-query gathers of DSA prefill
  // (and the dense MHA stream) while running in about a second at group 1.
  for (std::string args :
       {std::string("run --attention dense"), std::string("run --attention dsa"),
        std::string("run --attention dsa --seq 128k"),
        std::string("run --phase prefill --seq 4k --chunk 256 --topk 512 --attention dense"),
        std::string("run --phase prefill --seq 4k --chunk 256 --topk 512 --attention dsa"),
        example("gather_matmul.trace"), example("double_buffer.trace"), example("indexer.trace"),
        example("strided_dma.trace")}) {
    INFO(args);
    const int window = args.rfind("run ", 0) == 0 ? 0 : 1;  // 0: the default
    const double fine = cycles(args, 1, window), dflt = cycles(args, 8, window);
    CHECK(std::fabs(dflt - fine) / fine < 0.01);
  }
}

TEST_CASE("convergence: group 4 and group 64 agree within 1% on mixed streaming traces",
          "[convergence]") {
  // Loads overlapping matmuls and vector ops, streamed from HBM (no scattered gathers).
  for (std::string args : {std::string("run --attention dense"), example("double_buffer.trace"),
                           example("strided_dma.trace")}) {
    INFO(args);
    const int window = args.rfind("run ", 0) == 0 ? 0 : 1;
    const double g4 = cycles(args, 4, window), g64 = cycles(args, 64, window);
    CHECK(std::fabs(g4 - g64) / g4 < 0.01);
  }
}
