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
