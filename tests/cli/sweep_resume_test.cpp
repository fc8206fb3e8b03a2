// sweep --resume says what it found, and refuses a CSV whose columns differ from this sweep's.
#include <catch2/catch.hpp>

#include <fstream>
#include <string>

#include "tests/cli/cli_util.h"

using tpusim_test::run_tpusim;
using tpusim_test::slurp;
using tpusim_test::TempDir;

namespace {

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

const std::string kSweep = "sweep --model tiny --seq 1k,2k --topk 256 --attention dsa -q -o ";

}  // namespace

TEST_CASE("sweep --resume says how many rows were done and that it dropped a partial line",
          "[cli][sweep]") {
  TempDir dir;
  const std::string csv = dir.path() + "/s.csv";
  REQUIRE(run_tpusim(kSweep + csv).exit_code == 0);
  const std::string full = slurp(csv);
  // Keep the header and the first row, plus half of the second row (as a kill mid-write would).
  const auto first_end = full.find('\n', full.find('\n') + 1) + 1;
  const std::string partial = full.substr(0, first_end) + full.substr(first_end, 20);
  std::ofstream(csv, std::ios::binary) << partial;
  auto r = run_tpusim(kSweep + csv + " --resume");
  REQUIRE(r.exit_code == 0);
  CHECK(has(r.err, "1 rows already in " + csv));
  CHECK(has(r.err, "dropped a partial last line"));
  CHECK(slurp(csv).size() == full.size());  // the dropped point ran again: two whole rows
  auto again = run_tpusim(kSweep + csv + " --resume");
  CHECK(has(again.err, "2 rows already in " + csv));
  CHECK_FALSE(has(again.err, "partial"));
}

TEST_CASE("sweep --resume refuses a CSV with other columns, naming the first", "[cli][sweep]") {
  TempDir dir;
  const std::string csv = dir.path() + "/s.csv";
  REQUIRE(run_tpusim(kSweep + csv).exit_code == 0);
  std::string text = slurp(csv);
  const auto header_end = text.find('\n');
  std::string header = text.substr(0, header_end);
  // One changed report column in the middle of the header (as another tpusim version might write).
  const auto at = header.find(",cycles,");
  REQUIRE(at != std::string::npos);
  header.replace(at, 8, ",cycels,");
  // Keep one row, so the resumed sweep has a point to run and compare columns with.
  const auto row_end = text.find('\n', header_end + 1);
  const std::string edited = header + text.substr(header_end, row_end - header_end + 1);
  std::ofstream(csv, std::ios::binary) << edited;
  auto r = run_tpusim(kSweep + csv + " --resume");
  CHECK(r.exit_code == 2);
  CHECK(has(r.err, "'cycels' in the file but 'cycles' in this sweep"));
  CHECK(slurp(csv) == edited);  // nothing appended

  // A header that is not a sweep CSV at all names its first column.
  std::ofstream(csv, std::ios::binary) << "a,b\n1,2\n";
  auto other = run_tpusim(kSweep + csv + " --resume");
  CHECK(other.exit_code == 2);
  CHECK(has(other.err, "column 1 is 'a' in the file but 'point.key' in this sweep"));
  CHECK(slurp(csv) == "a,b\n1,2\n");
}

TEST_CASE("sweep --resume of a CSV from a version with other per-kernel columns says so",
          "[cli][sweep]") {
  // As a CSV written before kernels had `critical_cycles`: drop that column of every kernel
  // from the header (rows are left alone; the header is read first).
  TempDir dir;
  const std::string csv = dir.path() + "/s.csv";
  REQUIRE(run_tpusim(kSweep + csv).exit_code == 0);
  std::string text = slurp(csv);
  std::string header = text.substr(0, text.find('\n'));
  for (std::size_t at; (at = header.find(".critical_cycles,")) != std::string::npos ||
                       (at = header.find(".critical_cycles")) != std::string::npos;) {
    const auto begin = header.rfind(',', at);
    header.erase(begin, header.find_first_of(",", at) == std::string::npos
                            ? std::string::npos
                            : header.find_first_of(",", at) - begin);
  }
  const std::string edited = header + text.substr(text.find('\n'));
  std::ofstream(csv, std::ios::binary) << edited;
  auto r = run_tpusim(kSweep + csv + " --resume");
  CHECK(r.exit_code == 2);
  CHECK(has(r.err, "was written by another tpusim version"));
  CHECK(has(r.err,
            "this version writes (cycles dram_bytes flops bound_cycles energy_j "
            "critical_cycles)"));
  CHECK(slurp(csv) == edited);
}

TEST_CASE("sweep --resume matches a point however the grid spells it", "[cli][sweep]") {
  TempDir dir;
  const std::string csv = dir.path() + "/s.csv";
  const std::string base = "sweep --model tiny --topk 256 --attention dsa -q -o " + csv;
  REQUIRE(run_tpusim(base + " --seq 1k").exit_code == 0);
  const std::string first = slurp(csv);
  // The same point: a size in another unit, defaults given explicitly (the default phase,
  // batch and layer count, and a --topk equal to what it was). Each resume finds it done
  // and adds no row; before, each added a duplicate under another key.
  for (const std::string& same :
       {std::string(" --seq 1024"), std::string(" --seq 1k --phase decode --batch 1"),
        std::string(" --seq 1024 --layers 4 --pattern uniform")}) {
    auto r = run_tpusim(base + same + " --resume");
    INFO(same << "\n" << r.err);
    CHECK(r.exit_code == 0);
    CHECK(has(r.err, "1 rows already in"));
    CHECK(slurp(csv) == first);
  }
  // A list naming one point twice is one point.
  auto dry =
      run_tpusim("sweep --model tiny --topk 256 --attention dsa --seq 1k,1024 --dry-run -o " +
                 dir.path() + "/d.csv");
  CHECK(dry.exit_code == 0);
  CHECK(has(dry.out, "grid: 1 points"));
}

TEST_CASE("sweep --resume refuses a line that is not a row of a sweep", "[cli][sweep]") {
  TempDir dir;
  const std::string csv = dir.path() + "/s.csv";
  REQUIRE(run_tpusim(kSweep + csv).exit_code == 0);
  const std::string full = slurp(csv);
  // Once counted as a finished row, and left in the CSV.
  std::ofstream(csv, std::ios::binary | std::ios::app) << "garbage line without commas\n";
  auto r = run_tpusim(kSweep + csv + " --resume");
  CHECK(r.exit_code == 2);
  CHECK(has(r.err, csv + ":4: this line is not a row of a sweep CSV (1 of "));
}
