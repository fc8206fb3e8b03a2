// --index-share end to end: the report is the mean layer of one simulated F and one simulated S
// layer (docs/DSA.md section 7), sharing never loses to F, and at L <= k it saves only the
// indexer.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_util.h"
#include "tests/cli/report_util.h"

using tpusim_test::run_tpusim;
using Json = nlohmann::json;

namespace {

Json run_dsa(const std::string& flags) {
  return tpusim_test::run_report("--attention dsa " + flags);
}

const Json* kernel(const Json& report, const std::string& tag) {
  for (const auto& k : report["kernels"])
    if (k["tag"] == tag) return &k;
  return nullptr;
}

}  // namespace

TEST_CASE("index-share FSSS at decode 128k never loses to F and reports the mean layer",
          "[cli][index_share]") {
  const Json f = run_dsa("--seq 128k");
  const Json s = run_dsa("--seq 128k --index-share FSSS");
  const Json& is = s["index_share"];
  CHECK(is["f_layers"] == 16);
  CHECK(is["s_layers"] == 45);
  // The F layer is the plain DSA layer; the S layer is faster (no indexer).
  CHECK(is["f_layer_cycles"] == f["cycles"]);
  CHECK(is["s_layer_cycles"].get<double>() < f["cycles"].get<double>());
  // cycles = (16 F + 45 S) / 61, the exact mean layer.
  const double mean =
      (16.0 * is["f_layer_cycles"].get<double>() + 45.0 * is["s_layer_cycles"].get<double>()) /
      61.0;
  CHECK(s["cycles"].get<double>() == Approx(mean).epsilon(1e-12));
  CHECK(s["cycles"].get<double>() <= f["cycles"].get<double>());
  // Only 16 of 61 layers hold indexer keys.
  CHECK(s["indexer"]["key_cache_bytes"].get<double>() ==
        16.0 / 61.0 * f["indexer"]["key_cache_bytes"].get<double>());
}

TEST_CASE("index-share never loses to F, decode and prefill", "[cli][index_share]") {
  for (const char* w : {"--seq 8k", "--seq 32k", "--seq 64k --mtp 2", "--seq 32k --batch 2",
                        "--phase prefill --seq 8k", "--seq 32k --scope layer"}) {
    INFO(w);
    const Json f = run_dsa(w);
    const Json fs = run_dsa(std::string(w) + " --index-share FS");
    const Json fsss = run_dsa(std::string(w) + " --index-share FSSS");
    CHECK(fsss["index_share"]["s_layer_cycles"].get<double>() <
          fsss["index_share"]["f_layer_cycles"].get<double>());
    CHECK(fs["cycles"].get<double>() <= f["cycles"].get<double>());
    CHECK(fsss["cycles"].get<double>() <= fs["cycles"].get<double>());
  }
}

TEST_CASE("index-share at L <= k saves only the indexer", "[cli][index_share]") {
  const Json f = run_dsa("--seq 2048");
  const Json s = run_dsa("--seq 2048 --index-share FSSS");
  CHECK(s["cycles"].get<double>() <= f["cycles"].get<double>());
  // The attention kernels move the same bytes and do the same FLOPs in every layer. At L <= k
  // every row is selected and streamed (attn.load), so there is no gather in either.
  CHECK(kernel(f, "attn.gather") == nullptr);
  CHECK(kernel(s, "attn.gather") == nullptr);
  for (const char* tag : {"attn.load", "attn.qk", "attn.pv"}) {
    const Json* a = kernel(f, tag);
    const Json* b = kernel(s, tag);
    INFO(tag);
    REQUIRE(a);
    REQUIRE(b);
    CHECK((*a)["dram_bytes"] == (*b)["dram_bytes"]);
    CHECK((*a)["flops"] == (*b)["flops"]);
  }
  // The indexer's FLOPs fall to the F layers' share: 16/61 of F's.
  const double idx_f = (*kernel(f, "indexer.scores"))["flops"].get<double>();
  const double idx_s = (*kernel(s, "indexer.scores"))["flops"].get<double>();
  CHECK(std::abs(idx_s - idx_f * 16.0 / 61.0) <= 1.0);
  // The whole FLOP saving is the indexer's: 45/61 of its FLOPs.
  CHECK(std::abs((f["flops"].get<double>() - s["flops"].get<double>()) - idx_f * 45.0 / 61.0) <=
        1.0);
}

TEST_CASE("index-share and the row-cache flags name themselves on bad input",
          "[cli][index_share]") {
  for (const char* bad : {"--index-share SF", "--index-share FQ", "--step-overlap 2",
                          "--phase prefill --kv-row-cache", "--phase prefill --topk-algo guess",
                          "--topk-algo greedy"}) {
    auto r = run_tpusim(std::string("run ") + bad);
    INFO(bad << ": " << r.err);
    CHECK(r.exit_code == 2);
    const std::string flag =
        std::string(bad).find("kv-row-cache") != std::string::npos   ? "--kv-row-cache"
        : std::string(bad).find("topk-algo") != std::string::npos    ? "--topk-algo"
        : std::string(bad).find("step-overlap") != std::string::npos ? "--step-overlap"
                                                                     : "--index-share";
    CHECK(r.err.find(flag) != std::string::npos);
  }
}

TEST_CASE("row cache reports its hit fraction and the HBM bytes it saved", "[cli][row_cache]") {
  const Json off = run_dsa("--seq 32k");
  const Json on = run_dsa("--seq 32k --kv-row-cache --step-overlap 0.6");
  const Json& rc = on["indexer"]["row_cache"];
  // 49 of 61 sets fit in 64 MiB; h = round(0.6 x 2048 x 49 / 61) = 987 rows.
  CHECK(rc["cached_pairs"] == 49);
  CHECK(rc["hit_rows"] == 987);
  CHECK(rc["bytes_saved"] == 987 * 656);
  CHECK(off["dram"]["read_bytes"].get<double>() - on["dram"]["read_bytes"].get<double>() ==
        987.0 * 656);
  CHECK(on["cycles"].get<double>() <= off["cycles"].get<double>());
}

TEST_CASE("the table says what the DSA column is made of", "[cli][index_share]") {
  auto r = run_tpusim("run --seq 8k --index-share FSSS --kv-row-cache --residency share");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("note: --index-share FSSS: 16 F layers of ") != std::string::npos);
  CHECK(r.out.find("45 S layers of ") != std::string::npos);
  CHECK(r.out.find("note: row cache holds ") != std::string::npos);
  CHECK(r.out.find("note: --residency share split the budget: ") != std::string::npos);
  // Nothing of the kind without the features.
  auto plain = run_tpusim("run --seq 8k");
  CHECK(plain.out.find("note:") == std::string::npos);
}
