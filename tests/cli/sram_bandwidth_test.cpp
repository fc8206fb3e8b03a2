// The report's SRAM bandwidth: bytes through the banks over the run against the pool's peak
// (sram.banks x sram.bank_bytes_per_cycle per cycle). On a chip whose arrays and vector unit
// outrun its SRAM (h800-like's pool is its shared memory's bandwidth) the pool is what holds a
// run back, and without this line no number in the report said so.
#include <catch2/catch.hpp>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/cli/cli_util.h"
#include "tests/cli/report_util.h"

using tpusim_test::run_tpusim;
using Json = nlohmann::json;

TEST_CASE("SRAM bandwidth of a vector pass that only SRAM limits is the pool's peak",
          "[cli][report]") {
  tpusim_test::TempDir scratch;
  const std::string trace = scratch.path() + "/relu.trace";
  // relu over 1 Mi fp32 elements: 4 MiB read and 4 MiB written. With 16 banks of 64 B per cycle
  // the pool moves 1 KiB per cycle, so the pass needs 8 MiB / 1 KiB = 8192 cycles of SRAM; its
  // lanes need only 1 Mi / 1024 = 1024 (+ 8 of latency). The pool is busy every cycle of the run.
  {
    std::ofstream f(trace);
    f << "tpusim-trace 1\n"
         "0 vpu.relu elems=1048576 src=sram:0 dst=sram:4194304 tag=attn.softmax\n";
  }
  auto r = run_tpusim("trace run " + trace + " --set sram.banks=16 --format json");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const Json j = Json::parse(r.out);
  CHECK(j["cycles"].get<double>() == 8192);
  // Peak: 16 banks x 64 B x 1.5 GHz (tpu-v5e's clock) = 1536 GB/s.
  CHECK(j["sram"]["peak_gbs"].get<double>() == Approx(1536.0));
  CHECK(j["sram"]["achieved_gbs"].get<double>() == Approx(1536.0));

  auto t = run_tpusim("trace run " + trace + " --set sram.banks=16");
  REQUIRE(t.exit_code == 0);
  CHECK(t.out.find("SRAM bandwidth") != std::string::npos);
  CHECK(t.out.find("(100%)") != std::string::npos);
}

namespace {

// A tpu-v5e run's SRAM section: achieved_gbs is its SRAM bytes over its time, the peak is
// 128 banks x 64 B per cycle at 1.5 GHz, and the run stays below it.
void check_sram_section(const std::string& flags) {
  const Json j = tpusim_test::run_report(flags);
  const Json& s = j["sram"];
  const double bytes = s["read_bytes"].get<double>() + s["write_bytes"].get<double>();
  CHECK(s["achieved_gbs"].get<double>() ==
        Approx(bytes / j["time_s"].get<double>() / 1e9).epsilon(1e-6));
  CHECK(s["peak_gbs"].get<double>() == Approx(128 * 64 * 1.5));
  CHECK(s["achieved_gbs"].get<double>() > 0);
  CHECK(s["achieved_gbs"].get<double>() <= s["peak_gbs"].get<double>());
}

}  // namespace

TEST_CASE("SRAM bandwidth is the run's SRAM bytes over its time, below the pool's peak",
          "[cli][report]") {
  check_sram_section("--attention dense --seq 4k");
}

TEST_CASE("SRAM bandwidth of an index-sharing run is its mean bytes over its mean time",
          "[cli][report]") {
  // The report of --index-share FS is the layer-count-weighted mean of an F and an S layer;
  // achieved_gbs, a ratio over time, is weighted by each layer kind's time, so it must equal the
  // mean bytes over the mean time (the total over the total), and the peak stays the chip's.
  check_sram_section("--attention dsa --seq 8k --index-share FS");
}
