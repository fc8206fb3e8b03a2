// The command line as users and outside checks drive it (README "Command line", 8, 10).
#include <unistd.h>
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_util.h"

using tpusim_test::run_tpusim;
using Json = nlohmann::json;

TEST_CASE("cli: run with no flags prints the dense-vs-DSA table", "[cli]") {
  auto r = run_tpusim("run");
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("dense") != std::string::npos);
  CHECK(r.out.find("dsa") != std::string::npos);
  CHECK(r.out.find("L = 32k, k = 2k") != std::string::npos);
  CHECK(r.out.find("DSA speedup over dense") != std::string::npos);
  // Neither the SystemC banner nor anything else reaches the user.
  CHECK(r.err.empty());
  CHECK(r.out.find("SystemC") == std::string::npos);
}

TEST_CASE("cli: --format json prints exactly one object with the documented report keys", "[cli]") {
  auto r = run_tpusim("run --format json");
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.empty());
  Json j = Json::parse(r.out);  // throws on anything but one JSON document
  REQUIRE(j["tpusim_compare"] == 1);
  CHECK(j["speedup"].get<double>() > 1.0);
  CHECK(j["dram_read_ratio"].get<double>() > 1.0);
  for (const char* v : {"dense", "dsa"}) {
    const Json& rep = j[v];
    CHECK(rep["tpusim_report"] == 1);
    for (const char* k :
         {"model", "phase", "attention", "seq", "topk", "batch", "chunk", "residency"})
      CHECK(rep["workload"].contains(k));
    CHECK(rep["workload"]["seq"] == 32768);
    CHECK(rep["workload"]["attention"] == v);
    for (const char* s : {"chip", "mxu", "vpu", "sram", "hbm", "dma"})
      CHECK(rep["hw"].contains(s));
    CHECK(rep["cycles"].get<std::uint64_t>() > 0);
    CHECK(rep["time_s"].get<double>() > 0);
    CHECK(rep["flops"].get<std::uint64_t>() > 0);
    for (const char* k : {"read_bytes", "write_bytes", "achieved_gbs", "row_hits", "row_misses"})
      CHECK(rep["dram"].contains(k));
    for (const char* k : {"read_bytes", "write_bytes", "conflict_cycles", "peak_bytes"})
      CHECK(rep["sram"].contains(k));
    for (const char* u : {"mxu", "vpu", "dma"}) {
      CHECK(rep["units"][u].contains("busy_cycles"));
      CHECK(rep["units"][u].contains("utilization"));
    }
    REQUIRE(rep["kernels"].is_array());
    for (const auto& k : rep["kernels"])
      for (const char* f : {"tag", "cycles", "dram_bytes", "flops"})
        CHECK(k.contains(f));
    for (const char* k : {"key_cache_bytes", "resident_bytes", "resident_fraction"})
      CHECK(rep["indexer"].contains(k));
  }
}

TEST_CASE("cli: trace gen then trace run gives the cycles of run", "[cli]") {
  tpusim_test::TempDir scratch;
  const std::string& dir = scratch.path();
  for (const char* att : {"dense", "dsa"}) {
    INFO(att);
    std::string flags = std::string("--seq 8k --topk 1024 --attention ") + att;
    auto gen = run_tpusim("trace gen " + flags + " -o " + dir + "/t.trace");
    REQUIRE(gen.exit_code == 0);
    auto tr = run_tpusim("trace run " + dir + "/t.trace --format json");
    REQUIRE(tr.exit_code == 0);
    auto run = run_tpusim("run " + flags + " --format json");
    REQUIRE(run.exit_code == 0);
    Json a = Json::parse(tr.out), b = Json::parse(run.out);
    CHECK(a["cycles"] == b["cycles"]);
    CHECK(a["dram"]["read_bytes"] == b["dram"]["read_bytes"]);
    CHECK(a["workload"]["attention"] == att);
    CHECK(a["workload"]["seq"] == 8192);
  }
}

TEST_CASE("cli: trace gen writes every residency's trace, and it runs back", "[cli]") {
  // Each residency adds its own meta lines; every value must be one the reader takes back
  // (share's split was once written as words, which trace gen refused with an internal error).
  tpusim_test::TempDir scratch;
  const std::string& dir = scratch.path();
  for (const char* res : {"stream", "pin", "auto", "share", "prefetch"}) {
    INFO(res);
    // 4k: pin needs every layer's keys in the residency budget.
    const std::string flags =
        std::string("--seq 4k --attention dsa --kv-row-cache --residency ") + res;
    auto gen = run_tpusim("trace gen " + flags + " -o " + dir + "/r.trace");
    INFO(gen.err);
    REQUIRE(gen.exit_code == 0);
    // "-o -" writes the same text to stdout (it goes through the same piecewise writer).
    auto to_stdout = run_tpusim("trace gen " + flags + " -o -");
    REQUIRE(to_stdout.exit_code == 0);
    CHECK(to_stdout.out == tpusim_test::slurp(dir + "/r.trace"));
    auto tr = run_tpusim("trace run " + dir + "/r.trace --format json");
    REQUIRE(tr.exit_code == 0);
    auto run = run_tpusim("run " + flags + " --format json");
    REQUIRE(run.exit_code == 0);
    CHECK(Json::parse(tr.out)["cycles"] == Json::parse(run.out)["cycles"]);
  }
}

TEST_CASE("cli: generated prefill traces (wide joins included) run back", "[cli]") {
  // Dense MHA prefill waits for every decompression store before attention: thousands of
  // dependencies, which the builder joins in batches the reader accepts.
  tpusim_test::TempDir scratch;
  const std::string& dir = scratch.path();
  for (const char* att : {"dense", "dsa"}) {
    INFO(att);
    std::string flags = std::string("--phase prefill --chunk 1k --seq 16k --attention ") + att;
    REQUIRE(run_tpusim("trace gen " + flags + " -o " + dir + "/p.trace").exit_code == 0);
    auto tr = run_tpusim("trace run " + dir + "/p.trace --format json");
    REQUIRE(tr.exit_code == 0);
    auto run = run_tpusim("run " + flags + " --format json");
    REQUIRE(run.exit_code == 0);
    CHECK(Json::parse(tr.out)["cycles"] == Json::parse(run.out)["cycles"]);
  }
}

TEST_CASE("cli: a malformed trace is exit 2 naming file and line", "[cli]") {
  tpusim_test::TempDir scratch;
  const std::string& dir = scratch.path();
  {
    std::ofstream f(dir + "/bad.trace");
    f << "tpusim-trace 1\n0 dma.load src=hbm:0 dst=sram:0 bytes=64\n1 mxu.matmul m=4 n=4 k=four "
         "dtype=bf16 a=sram:0 b=sram:64 c=sram:128\n";
  }
  auto r = run_tpusim("trace run " + dir + "/bad.trace");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find(dir + "/bad.trace:3:") != std::string::npos);
  CHECK(r.out.empty());
}

TEST_CASE("cli: a trace beyond SRAM capacity is exit 2 naming the line and key", "[cli]") {
  tpusim_test::TempDir scratch;
  const std::string& dir = scratch.path();
  {
    std::ofstream f(dir + "/big.trace");
    f << "tpusim-trace 1\n0 dma.load src=hbm:0 dst=sram:134217700 bytes=64\n";
  }
  auto r = run_tpusim("trace run " + dir + "/big.trace");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("big.trace:2:") != std::string::npos);
  CHECK(r.err.find("sram.capacity_mib") != std::string::npos);
}

TEST_CASE("cli: config mistakes are exit 2 naming the key", "[cli]") {
  auto r = run_tpusim("run --set hbm.channels=0");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("hbm.channels") != std::string::npos);
  r = run_tpusim("run --set hbm.chanels=4");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("hbm.chanels") != std::string::npos);
  tpusim_test::TempDir scratch;
  const std::string& dir = scratch.path();
  {
    std::ofstream f(dir + "/hw.toml");
    f << "[sram]\nbanks = 0\n";
  }
  r = run_tpusim("run --hw " + dir + "/hw.toml");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("sram.banks") != std::string::npos);
}

TEST_CASE("cli: usage errors are exit 2", "[cli]") {
  CHECK(run_tpusim("run --no-such-flag").exit_code == 2);
  CHECK(run_tpusim("run --phase sideways").exit_code == 2);
  CHECK(run_tpusim("run --seq lots").exit_code == 2);
  CHECK(run_tpusim("").exit_code == 2);
  auto help = run_tpusim("--help");
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("run") != std::string::npos);
  auto run_help = run_tpusim("run --help");
  CHECK(run_help.exit_code == 0);
  for (const char* f :
       {"--seq", "--topk", "--residency", "--format", "--timeline", "--set", "--hw"})
    CHECK(run_help.out.find(f) != std::string::npos);
}

TEST_CASE("cli: hw list, show and selftest", "[cli]") {
  auto l = run_tpusim("hw list");
  REQUIRE(l.exit_code == 0);
  CHECK(l.out.find("tpu-v5e") != std::string::npos);
  auto s = run_tpusim("hw show --set hbm.channels=8");
  REQUIRE(s.exit_code == 0);
  CHECK(s.out.find("channels = 8") != std::string::npos);
  auto t = run_tpusim("hw selftest");
  REQUIRE(t.exit_code == 0);
  CHECK(t.out.find("sequential read") != std::string::npos);
}

TEST_CASE("cli: -o writes the report atomically and csv has two rows for both", "[cli]") {
  tpusim_test::TempDir scratch;
  const std::string& dir = scratch.path();
  auto r = run_tpusim("run --seq 4k --format csv -o " + dir + "/r.csv");
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.empty());
  std::string csv = tpusim_test::slurp(dir + "/r.csv");
  int lines = 0;
  for (char c : csv)
    lines += c == '\n';
  CHECK(lines == 3);  // header, dense, dsa
  CHECK(csv.find("workload.attention") != std::string::npos);
  CHECK(csv.find("dram.read_bytes") != std::string::npos);
  CHECK(csv.find("kernel.attn.qk.cycles") != std::string::npos);
  // No temporary file is left beside the output.
  CHECK(system(("ls " + dir + " | grep -q tmp").c_str()) != 0);
}
