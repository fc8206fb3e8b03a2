// A smaller top-k cannot make a DSA decode step slower. The indexer scores every cached key
// whatever k is, and its top-k's radix passes read all L scores (only the final compaction of
// the k survivors grows with k), while the attention's FLOPs and gathered bytes are
// proportional to k. The indexer's key slots used to follow the attention's split-KV partitions, so
// k = 128 (one partition) left the key stream 8 slots where k >= 512 had 32: DSA decode at 8k took
// 11,464 cycles at k = 128 and 7,463 at k = 512. Each point is a real `tpusim run`.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_util.h"

using tpusim_test::run_tpusim;
using Json = nlohmann::json;

TEST_CASE("DSA decode is not slower with a smaller top-k", "[trend][dsa]") {
  for (const char* hw : {"", " --hw h800-like"}) {
    for (const char* seq : {"8k", "32k"}) {
      std::uint64_t previous = 0;
      for (int k : {128, 256, 512, 1024, 2048}) {
        auto r = run_tpusim("run --phase decode --attention dsa --seq " + std::string(seq) +
                            " --topk " + std::to_string(k) + " --format json" + hw);
        REQUIRE(r.exit_code == 0);
        const auto cycles = Json::parse(r.out)["cycles"].get<std::uint64_t>();
        INFO("hw '" << hw << "' L = " << seq << " k = " << k << ": " << cycles
                    << " cycles, k / 2: " << previous);
        CHECK(cycles >= previous);
        previous = cycles;
      }
    }
  }
}
