// The binary carries its presets and model files: copied anywhere, away from the source tree,
// it lists the presets and simulates.
#include <catch2/catch.hpp>

#include <filesystem>

#include "tests/cli/cli_util.h"

namespace fs = std::filesystem;
using tpusim_test::TempDir;

TEST_CASE("relocatable: a copied binary runs hw list and run from another directory", "[cli]") {
  TempDir dir;
  const fs::path copy = fs::path(dir.path()) / "tpusim";
  fs::copy_file(TPUSIM_BINARY, copy);
  const std::string cmd = "cd " + dir.path() + " && ./tpusim ";
  auto list = tpusim_test::run_shell(cmd + "hw list");
  CHECK(list.exit_code == 0);
  CHECK_THAT(list.out, Catch::Contains("tpu-v5e") && Catch::Contains("big-sram"));
  auto run = tpusim_test::run_shell(cmd + "run --model tiny --seq 4k --topk 512 --format json");
  INFO(run.err);
  CHECK(run.exit_code == 0);
  CHECK_THAT(run.out, Catch::Contains("\"tpusim_compare\""));
  auto show = tpusim_test::run_shell(cmd + "hw show tpu-v6e");
  CHECK(show.exit_code == 0);
}

// The simulator (and libsystemc with it) is loaded by the first simulation only: listing,
// showing and rejecting bad input stay a small process. The dynamic loader names every library
// it loads under LD_DEBUG=libs; a simulation must name libsystemc, the others must not.
TEST_CASE("commands that do not simulate never load libsystemc", "[cli]") {
  const std::string bin = "LD_DEBUG=libs " + std::string(TPUSIM_BINARY) + " ";
  for (const char* args : {"hw list", "hw show tpu-v5e", "--help", "run --seq 0"}) {
    INFO(args);
    auto r = tpusim_test::run_shell(bin + args);
    CHECK(r.err.find("calling init") != std::string::npos);  // LD_DEBUG took effect
    CHECK(r.err.find("libsystemc") == std::string::npos);
  }
  auto run = tpusim_test::run_shell(bin + "run --model tiny --seq 4k --attention dsa");
  CHECK(run.exit_code == 0);
  CHECK(run.err.find("libsystemc") != std::string::npos);
}
