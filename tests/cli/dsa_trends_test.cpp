// What the simulator must say about DSA on the default chip (issue 4): its advantage grows with
// the context length at fixed k, and when L <= k nothing is skipped, so the indexer is pure
// overhead and DSA cannot beat dense. Each point is a real `tpusim run` (own processes).
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_util.h"

using tpusim_test::run_tpusim;
using Json = nlohmann::json;

namespace {

double speedup_at(const std::string& seq) {
  auto r = run_tpusim("run --seq " + seq + " --topk 2048 --format json");
  REQUIRE(r.exit_code == 0);
  return Json::parse(r.out)["speedup"].get<double>();
}

}  // namespace

TEST_CASE("trend: DSA's decode speedup grows with L at fixed k", "[trend]") {
  double prev = 0;
  for (const char* seq : {"4k", "8k", "16k", "32k", "64k", "128k"}) {
    double s = speedup_at(seq);
    INFO("L = " << seq << ", speedup " << s << ", previous " << prev);
    CHECK(s > prev);
    prev = s;
  }
}

TEST_CASE("trend: at L <= k DSA is not faster than dense", "[trend]") {
  for (const char* seq : {"1k", "2k"}) {
    double s = speedup_at(seq);
    INFO("L = " << seq << ", speedup " << s);
    CHECK(s <= 1.0);
  }
}
