// scripts/readme_numbers.py on a scratch README: it rewrites only the text between its markers
// with the binary's own numbers, --check says which blocks would change and changes nothing,
// and a malformed or unknown block is a usage error. Only the cheap group-size block is run.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/cli/script_util.h"

namespace {

using tpusim_test::read_text;
using tpusim_test::ScratchDir;
using tpusim_test::sh;

const std::string kTpusim = TPUSIM_BINARY;
const std::string kScript =
    std::string("/usr/bin/python3 ") + TPUSIM_SOURCE_DIR + "/scripts/readme_numbers.py";

std::string with_commas(std::uint64_t n) {
  std::string s = std::to_string(n), out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}

}  // namespace

TEST_CASE("readme_numbers.py rewrites its blocks only, --check reports and changes nothing",
          "[scripts]") {
  ScratchDir dir;
  const std::string readme = dir / "README.md";
  const std::string prose_before = "# t\n\nProse with 1,234 stays.\n\n";
  const std::string prose_after = "\n\nAfter the block, 5.6 us stays too.\n";
  {
    std::ofstream f(readme);
    f << prose_before
      << "<!-- generated:group-size -->\nstale 88,3xx\n<!-- /generated:group-size -->"
      << prose_after;
  }
  const std::string cmd = "TPUSIM=" + kTpusim + " " + kScript + " --readme " + readme;
  const std::string stale = read_text(readme);

  CHECK(sh(cmd + " --only group-size --check >" + (dir / "out.txt") + " 2>/dev/null") == 1);
  CHECK(read_text(dir / "out.txt") == "group-size: would change\n");
  CHECK(read_text(readme) == stale);

  REQUIRE(sh(cmd + " --only group-size >/dev/null 2>&1") == 0);
  std::string text = read_text(readme);
  CHECK(text.rfind(prose_before, 0) == 0);
  CHECK(text.size() > prose_after.size());
  CHECK(text.compare(text.size() - prose_after.size(), prose_after.size(), prose_after) == 0);
  CHECK(text.find("88,3xx") == std::string::npos);
  // The table holds the runs' own cycles: group 1 of dense decode at 32k, as `run` reports it.
  auto r = nlohmann::json::parse([&] {
    REQUIRE(sh(kTpusim +
               " run --attention dense --seq 32k --set dma.group_requests=1 --format json >" +
               (dir / "r.json")) == 0);
    return read_text(dir / "r.json");
  }());
  std::filesystem::remove(dir / "r.json");
  CHECK(text.find("| dense decode, L = 32k | " + with_commas(r["cycles"].get<std::uint64_t>()) +
                  " |") != std::string::npos);

  // Regenerated again, nothing differs.
  CHECK(sh(cmd + " --only group-size --check >" + (dir / "out.txt") + " 2>/dev/null") == 0);
  CHECK(read_text(dir / "out.txt") == "nothing would change\n");

  // Usage errors: an unknown --only, a block nothing makes, a marker without its end.
  CHECK(sh(cmd + " --only bogus 2>" + (dir / "err.txt")) == 2);
  CHECK(read_text(dir / "err.txt").find("--only bogus") != std::string::npos);
  { std::ofstream(readme, std::ios::app) << "<!-- generated:nope -->x<!-- /generated:nope -->\n"; }
  CHECK(sh(cmd + " --only group-size --check 2>" + (dir / "err.txt")) == 2);
  CHECK(read_text(dir / "err.txt").find("'nope'") != std::string::npos);
  { std::ofstream(readme) << "<!-- generated:group-size -->\nno end\n"; }
  CHECK(sh(cmd + " --only group-size 2>" + (dir / "err.txt")) == 2);
  CHECK(read_text(dir / "err.txt").find("has no <!-- /generated:group-size -->") !=
        std::string::npos);

  // No temporary file beside the README.
  std::set<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    names.insert(e.path().filename().string());
  CHECK(names == std::set<std::string>{"README.md", "out.txt", "err.txt"});
}
