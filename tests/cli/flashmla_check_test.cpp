// scripts/flashmla_check.py: the FlashMLA shapes on h800-like, rated as FlashMLA's tests rate
// them. The script is the record behind tests/bench/RESULTS.md's cross-check table, so it must
// keep running against the binary, and its memory-bound rate must be FlashMLA's byte count over
// the simulated time, not the simulator's own counters.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "tests/cli/cli_util.h"
#include "tests/cli/script_util.h"

using Json = nlohmann::json;

TEST_CASE("flashmla_check.py prints the four shapes and rates them as FlashMLA does", "[scripts]") {
  tpusim_test::ScratchDir dir;
  const std::string out = dir / "out.txt";
  const std::string cmd = std::string("/usr/bin/python3 ") + TPUSIM_SOURCE_DIR +
                          "/scripts/flashmla_check.py --quick --tpusim " + TPUSIM_BINARY +
                          " -j 2 > " + out + " 2>&1";
  REQUIRE(tpusim_test::sh(cmd) == 0);
  const std::string text = tpusim_test::read_text(out);
  INFO(text);
  for (const char* shape : {"dense decode, memory-bound", "dense decode, compute-bound",
                            "sparse decode", "sparse prefill"})
    CHECK(text.find(shape) != std::string::npos);

  // The memory-bound row (--quick: its first length, 4k): FlashMLA's bytes for 32 sequences of
  // 4,096 BF16 rows of 576 values and 16 heads of query (576) and output (512) per sequence,
  // 2 B each, over the run's time.
  auto r = tpusim_test::run_tpusim(
      "run --hw h800-like --model " + std::string(TPUSIM_SOURCE_DIR) +
      "/tests/bench/models/deepseek-v3.2-h16.toml --phase decode --seq 4k --batch 32 "
      "--attention dense --kv-format bf16 --format json");
  REQUIRE(r.exit_code == 0);
  const double bytes = 2.0 * (32 * 16 * 576 + 32 * 4096 * 576 + 32 * 16 * 512);
  const double gbs = bytes / Json::parse(r.out)["time_s"].get<double>() / 1e9;
  std::istringstream lines(text);
  std::string line;
  bool found = false;
  while (std::getline(lines, line)) {
    if (line.find("memory-bound") == std::string::npos) continue;
    found = true;
    // "... 3000 GB/s <rate> GB/s <ratio>x ...": the second GB/s figure is tpusim's.
    const auto first = line.find("GB/s");
    std::istringstream rest(line.substr(first + 4));
    double rate = 0;
    rest >> rate;
    CHECK(rate == Approx(gbs).epsilon(0.001));
  }
  CHECK(found);
}
