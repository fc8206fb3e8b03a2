// The documented ways of spreading a sweep over processes or machines, run end to end: GNU
// parallel with the merge recipe of `sweep --help` and the README, and the Slurm array script
// with the array variables set by hand, then scripts/merge_shards.sh. Each must give exactly
// the rows of the unsharded sweep (as a set: rows come in completion order).
#include <catch2/catch.hpp>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "tests/cli/script_util.h"

namespace {

using tpusim_test::data_lines;
using tpusim_test::first_line;
using tpusim_test::read_text;
using tpusim_test::ScratchDir;
using tpusim_test::sh;

const std::string kTpusim = TPUSIM_BINARY;
const std::string kSource = TPUSIM_SOURCE_DIR;
// 3 L x 4 k = 12 decode points of the tiny model, 24 rows (dense and DSA): with 12 shards,
// shards 10 to 12 hold rows, which the old recipe (part[2-9]*.csv) dropped.
const std::string kGrid = " --model tiny --phase decode --seq 1k,2k,4k --topk 32,64,128,256";
// The merge recipe exactly as `sweep --help` and the README print it.
const std::string kRecipe =
    "head -n 1 part1.csv > all.csv; for f in part*.csv; do tail -n +2 \"$f\" >> all.csv; done";

std::set<std::string> entries(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    out.insert(e.path().filename().string());
  return out;
}

}  // namespace

TEST_CASE("shards: GNU parallel and the documented merge recipe reproduce the sweep",
          "[scripts][shard]") {
  ScratchDir dir;
  REQUIRE(sh(kTpusim + " sweep" + kGrid + " -j 2 -q -o " + (dir / "whole.csv")) == 0);
  REQUIRE(data_lines(dir / "whole.csv").size() == 24);

  // The recipe run below is the one the user reads.
  REQUIRE(sh(kTpusim + " sweep --help >" + (dir / "help.txt")) == 0);
  CHECK(read_text(dir / "help.txt").find(kRecipe) != std::string::npos);
  CHECK(read_text(kSource + "/README.md").find(kRecipe) != std::string::npos);
  std::filesystem::remove(dir / "help.txt");

  if (sh("command -v parallel >/dev/null 2>&1") != 0) {
    WARN("skipped: GNU parallel is not on PATH (Debian package parallel)");
    return;
  }
  // TMPDIR keeps parallel's own temporary files inside the scratch directory.
  std::string shards;
  for (int i = 1; i <= 12; ++i)
    shards += " " + std::to_string(i);
  REQUIRE(sh("cd " + dir.path() + " && TMPDIR=" + dir.path() + " parallel --will-cite -j 2 " +
             kTpusim + " sweep" + kGrid + " -j 1 -q --shard {}/12 -o part{}.csv :::" + shards) ==
          0);
  for (int i = 1; i <= 12; ++i)  // one point, two rows each
    CHECK(data_lines(dir / ("part" + std::to_string(i) + ".csv")).size() == 2);
  REQUIRE(sh("cd " + dir.path() + " && " + kRecipe) == 0);
  CHECK(first_line(dir / "all.csv") == first_line(dir / "whole.csv"));
  CHECK(data_lines(dir / "all.csv") == data_lines(dir / "whole.csv"));

  // The checked merge gives the same rows.
  REQUIRE(sh("cd " + dir.path() + " && " + kSource +
             "/scripts/merge_shards.sh -o merged.csv part*.csv 2>/dev/null") == 0);
  CHECK(read_text(dir / "merged.csv") == read_text(dir / "all.csv"));

  // Nothing but the CSVs: no temporary file of parallel, tpusim or the merge is left.
  std::set<std::string> expected = {"whole.csv", "all.csv", "merged.csv"};
  for (int i = 1; i <= 12; ++i)
    expected.insert("part" + std::to_string(i) + ".csv");
  CHECK(entries(dir.path()) == expected);
}

TEST_CASE("shards: the Slurm array script, tasks run by hand, merges to the sweep",
          "[scripts][shard]") {
  ScratchDir dir;
  REQUIRE(sh(kTpusim + " sweep" + kGrid + " -j 2 -q -o " + (dir / "whole.csv")) == 0);
  // As Slurm would run task ID of an --array=1-4 job (with no Slurm variables inherited from
  // a test run that happens to be inside a Slurm job).
  auto task_with = [&](const std::string& id, const std::string& count, const std::string& flags,
                       const std::string& min = "") {
    return sh("cd " + dir.path() +
              " && env -u SLURM_SUBMIT_DIR -u SLURM_CPUS_PER_TASK -u SLURM_ARRAY_TASK_MIN " +
              (min.empty() ? "" : "SLURM_ARRAY_TASK_MIN=" + min + " ") +
              "SLURM_ARRAY_TASK_ID=" + id + " SLURM_ARRAY_TASK_COUNT=" + count +
              " TPUSIM=" + kTpusim + " TPUSIM_PARTS=" + (dir / "parts") + " bash " + kSource +
              "/scripts/slurm/sweep_array.sbatch" + flags + " 2>>" + (dir / "err.txt"));
  };
  auto task = [&](const std::string& id, const std::string& count, const std::string& min = "") {
    return task_with(id, count, kGrid, min);
  };
  for (int id = 1; id <= 4; ++id)
    REQUIRE(task(std::to_string(id), "4") == 0);
  // Task I of 4 holds the points i with i % 4 == I-1: 3 points, 6 rows.
  for (int i = 1; i <= 4; ++i)
    CHECK(data_lines(dir / ("parts/part" + std::to_string(i) + ".csv")).size() == 6);
  REQUIRE(sh(kSource + "/scripts/merge_shards.sh -o " + (dir / "merged.csv") + " " +
             (dir / "parts") + "/part*.csv 2>>" + (dir / "err.txt")) == 0);
  CHECK(first_line(dir / "merged.csv") == first_line(dir / "whole.csv"));
  CHECK(data_lines(dir / "merged.csv") == data_lines(dir / "whole.csv"));

  // A requeued task finds its part and resumes it: nothing is run twice.
  std::string part2 = read_text(dir / "parts/part2.csv");
  REQUIRE(task("2", "4") == 0);
  CHECK(read_text(dir / "parts/part2.csv") == part2);

  // An array numbered from 0 (--array=0-3) maps to the same shards.
  REQUIRE(sh("mv " + (dir / "parts") + " " + (dir / "one")) == 0);
  for (int id = 0; id <= 3; ++id)
    REQUIRE(task(std::to_string(id), "4", "0") == 0);
  for (int i = 1; i <= 4; ++i) {
    std::string p = "/part" + std::to_string(i) + ".csv";
    CHECK(data_lines(dir / ("parts" + p)) == data_lines(dir / ("one" + p)));
  }
  // A task outside its array, or flags the script sets itself, are errors before anything
  // runs; a -j of the user's replaces the script's own (tpusim takes -j once).
  REQUIRE(sh("rm -r " + (dir / "parts")) == 0);
  CHECK(task("5", "4") == 2);
  CHECK(read_text(dir / "err.txt").find("task 5 is not in") != std::string::npos);
  CHECK(task_with("1", "4", kGrid + " -o x.csv") == 2);
  CHECK(read_text(dir / "err.txt").find("-o is set by this script") != std::string::npos);
  CHECK(!tpusim_test::file_exists(dir / "parts"));
  CHECK(task_with("1", "4", kGrid + " -j 2") == 0);
  CHECK(data_lines(dir / "parts/part1.csv") == data_lines(dir / "one/part1.csv"));
}

TEST_CASE("shards: merge_shards.sh refuses parts that would give a wrong sweep",
          "[scripts][shard]") {
  ScratchDir dir;
  const std::string merge = kSource + "/scripts/merge_shards.sh -o " + (dir / "m.csv") + " ";
  REQUIRE(sh(kTpusim + " sweep" + kGrid + " -q --shard 1/2 -o " + (dir / "p1.csv")) == 0);
  REQUIRE(sh(kTpusim + " sweep" + kGrid + " -q --shard 2/2 -o " + (dir / "p2.csv")) == 0);
  auto refused = [&](const std::string& files, const std::string& why) {
    INFO(files);
    CHECK(sh(merge + files + " 2>" + (dir / "err.txt")) == 2);
    std::string err = read_text(dir / "err.txt");
    INFO(err);
    CHECK(err.rfind("merge_shards.sh: error: ", 0) == 0);
    CHECK(err.find(why) != std::string::npos);
    CHECK(!tpusim_test::file_exists(dir / "m.csv"));
  };
  // A part given twice duplicates its rows.
  refused((dir / "p1.csv") + " " + (dir / "p1.csv"), "appears twice");
  // A shard killed mid-write ends in a partial line.
  REQUIRE(sh("head -c 200 " + (dir / "p2.csv") + " >" + (dir / "cut.csv")) == 0);
  refused((dir / "p1.csv") + " " + (dir / "cut.csv"), "partial line");
  // Parts of another sweep (another column set) do not mix.
  REQUIRE(sh("sed '1s/^point.key,point.attention,/point.key,point.attention,x,/' " +
             (dir / "p2.csv") + " >" + (dir / "other.csv")) == 0);
  refused((dir / "p1.csv") + " " + (dir / "other.csv"), "header differs");
  refused((dir / "p1.csv") + " " + (dir / "missing.csv"), "no such file");
  // The good pair merges; no temporary file is left beside the output.
  REQUIRE(sh(merge + (dir / "p1.csv") + " " + (dir / "p2.csv") + " 2>/dev/null") == 0);
  CHECK(data_lines(dir / "m.csv").size() == 24);
  CHECK(entries(dir.path()) ==
        std::set<std::string>{"p1.csv", "p2.csv", "cut.csv", "other.csv", "err.txt", "m.csv"});
}
