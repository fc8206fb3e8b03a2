// scripts/plot_sweep.py on real sweeps of the tiny model, checked through the table it writes
// beside each picture: every title names the chip and the workload, no bar stands above the
// step time of its variant, plots of a variable that did not vary are skipped, and bad input is
// one error line (exit 2) with nothing written.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/cli/script_util.h"

namespace {

using tpusim_test::CsvRow;
using tpusim_test::read_csv_rows;
using tpusim_test::read_text;
using tpusim_test::ScratchDir;
using tpusim_test::sh;

const std::string kTpusim = TPUSIM_BINARY;
const std::string kPlot =
    std::string("/usr/bin/python3 ") + TPUSIM_SOURCE_DIR + "/scripts/plot_sweep.py";

bool have_matplotlib() {
  return sh("/usr/bin/python3 -c 'import matplotlib, pandas' 2>/dev/null") == 0;
}

std::vector<std::string> dir_entries(const std::string& dir) {
  std::vector<std::string> out;
  if (!std::filesystem::exists(dir)) return out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l))
    if (!l.empty()) out.push_back(l);
  return out;
}

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

// Width in pixels from a PNG's IHDR chunk (big-endian at byte 16).
std::uint32_t png_width(const std::string& bytes) {
  REQUIRE(bytes.size() > 24);
  std::uint32_t w = 0;
  for (int i = 16; i < 20; ++i)
    w = (w << 8) | static_cast<unsigned char>(bytes[i]);
  return w;
}

// One line on stderr, in the script's error format, and no Python traceback.
void check_one_error_line(const std::string& err, const std::string& culprit) {
  INFO(err);
  auto ls = lines(err);
  REQUIRE(ls.size() == 1);
  CHECK(ls[0].rfind("plot_sweep.py: error: ", 0) == 0);
  CHECK(contains(ls[0], culprit));
  CHECK(!contains(err, "Traceback"));
}

}  // namespace

TEST_CASE("plot_sweep.py: every picture names chip and workload, no bar exceeds the step time",
          "[scripts][plot]") {
  if (!have_matplotlib()) {
    WARN("skipped: /usr/bin/python3 lacks matplotlib or pandas (scripts/setup.sh installs them)");
    return;
  }
  ScratchDir dir;
  const std::string csv = dir / "s.csv", plots = dir / "plots";
  REQUIRE(sh(kTpusim +
             " sweep --model tiny --seq 1k,2k --topk 64,128 --phase decode,prefill "
             "--chunk 512 -j 2 -q -o " +
             csv) == 0);
  REQUIRE(sh(kPlot + " " + csv + " -o " + plots + " >" + (dir / "out.txt") + " 2>" +
             (dir / "err.txt")) == 0);
  auto sweep = read_csv_rows(csv);
  REQUIRE(sweep.size() == 16);  // 2 L x 2 k x 2 phases x (dense, DSA)
  const std::string chip = sweep[0].at("hw.chip.name");
  REQUIRE(!chip.empty());

  const std::vector<std::string> kinds = {"speedup", "step_time", "hbm_bytes",
                                          "energy",  "units",     "kernels"};
  std::size_t pictures = 0;
  for (std::string phase : {"decode", "prefill"}) {
    for (const auto& kind : kinds) {
      const std::string stem = plots + "/" + kind + "_" + phase;
      INFO(stem);
      std::string png = read_text(stem + ".png");
      REQUIRE(png.size() > 1000);
      CHECK(png.compare(0, 4, "\x89PNG") == 0);
      ++pictures;
      auto rows = read_csv_rows(stem + ".csv");
      REQUIRE(!rows.empty());
      for (const auto& r : rows) {
        // Chip and workload in every title; the fixed parameters of this sweep are model,
        // phase and batch (L and k are axes or bars, so they are not).
        const std::string& title = r.at("title");
        CHECK(contains(title, "chip " + chip));
        CHECK(contains(title, "tiny"));
        CHECK(contains(title, phase));
        CHECK(contains(title, "batch 1"));
        if (phase == "prefill") CHECK(contains(title, "512-token chunk ending at L"));
        CHECK(!r.at("xlabel").empty());
        CHECK(!r.at("ylabel").empty());
      }
      const CsvRow& r0 = rows[0];
      if (kind == "speedup" || kind == "step_time" || kind == "hbm_bytes" || kind == "energy")
        CHECK(contains(r0.at("xlabel"), "context length L (tokens"));
      if (kind == "speedup") CHECK(contains(r0.at("ylabel"), "dense step time / DSA step time"));
      if (kind == "step_time") CHECK(contains(r0.at("ylabel"), "step time (us"));
      if (kind == "hbm_bytes") CHECK(contains(r0.at("ylabel"), "(MiB"));
      if (kind == "energy") {
        // Its points are the sweep's energy.total_j in the unit the label names.
        const std::string& yl = r0.at("ylabel");
        REQUIRE(contains(yl, "energy ("));
        const double scale = contains(yl, "(mJ")   ? 1e-3
                             : contains(yl, "(uJ") ? 1e-6
                             : contains(yl, "(nJ") ? 1e-9
                                                   : 1.0;
        for (const auto& r : rows) {
          if (r.at("series") != "dense") continue;
          for (const auto& sw : sweep)
            if (sw.at("workload.phase") == phase && sw.at("workload.attention") == "dense" &&
                sw.at("workload.seq") == r.at("x"))
              CHECK(std::stod(r.at("y")) * scale ==
                    Approx(std::stod(sw.at("energy.total_j"))).epsilon(1e-5));
        }
      }
      if (kind == "units") CHECK(contains(r0.at("ylabel"), "time per step (us)"));
      if (kind == "kernels") CHECK(contains(r0.at("xlabel"), "% of the step time"));
      if (kind != "units" && kind != "kernels") continue;

      // The bar plots show L = 2k (the largest) and stand on [bottom, bottom + value], which
      // may never pass the step of their variant: a unit's busy and idle stack to exactly the
      // step (values are written with 6 significant digits, hence the relative 1e-5), a
      // kernel's span is at most 100% of it.
      CHECK(contains(r0.at("title"), "L = 2k"));
      std::vector<std::string> bars;
      std::map<std::string, double> stacked;
      for (const auto& r : rows) {
        double bottom = std::stod(r.at("bottom")), value = std::stod(r.at("value")),
               step = std::stod(r.at("step"));
        INFO(r.at("bar") << " " << r.at("segment"));
        CHECK(value >= 0);
        CHECK(bottom + value <= step * (1 + 1e-5));
        if (bars.empty() || bars.back() != r.at("bar")) bars.push_back(r.at("bar"));
        if (kind == "units") {
          std::string unit = r.at("segment").substr(0, r.at("segment").rfind(' '));
          double top = stacked[r.at("bar") + "|" + unit] += value;
          // The idle segment comes second and closes the stack at the step.
          if (contains(r.at("segment"), " idle")) CHECK(top == Approx(step).epsilon(1e-5));
        } else {
          CHECK(step == 100.0);
        }
      }
      // Reading order: dense, then DSA by increasing k.
      CHECK(bars == std::vector<std::string>{"dense", "DSA k=64", "DSA k=128"});
      if (kind == "units") {
        // The step marked is the sweep's own: cycles / clock (GHz) = ns, / 1e3 = us.
        for (const auto& s : sweep) {
          if (s.at("workload.phase") != phase || s.at("workload.seq") != "2048" ||
              s.at("workload.attention") != "dense")
            continue;
          double us = std::stod(s.at("cycles")) / std::stod(s.at("hw.chip.clock_ghz")) / 1e3;
          CHECK(std::stod(rows[0].at("step")) == Approx(us).epsilon(1e-5));
        }
      }
    }
  }
  // stdout names exactly the pictures written; the resident plot of a streamed sweep is
  // skipped (0% everywhere), with a note.
  CHECK(lines(read_text(dir / "out.txt")).size() == pictures);
  CHECK(!tpusim_test::file_exists(plots + "/indexer_resident_decode.png"));
  CHECK(contains(read_text(dir / "err.txt"), "skipped indexer_resident_decode"));
}

TEST_CASE("plot_sweep.py skips the plots whose variable did not vary", "[scripts][plot]") {
  if (!have_matplotlib()) {
    WARN("skipped: /usr/bin/python3 lacks matplotlib or pandas");
    return;
  }
  ScratchDir dir;
  // One L: nothing to draw against L, but the unit and kernel bars at that L are still there.
  REQUIRE(sh(kTpusim + " sweep --model tiny --seq 2k --topk 64 -q -o " + (dir / "one.csv")) == 0);
  REQUIRE(sh(kPlot + " " + (dir / "one.csv") + " -o " + (dir / "p1") + " >/dev/null 2>" +
             (dir / "err1.txt")) == 0);
  CHECK(dir_entries(dir / "p1") ==
        std::vector<std::string>{"kernels_decode.csv", "kernels_decode.png", "units_decode.csv",
                                 "units_decode.png"});
  std::string err1 = read_text(dir / "err1.txt");
  CHECK(contains(err1, "skipped speedup_decode"));
  CHECK(contains(err1, "one L only"));
  CHECK(contains(err1, "skipped indexer_resident_decode"));

  // A residency budget the tiny model's 4 layers of 36-B indexer keys overflow at 64k
  // (4 x 64k x 36 B = 9 MiB > 1 MiB) but not at 1k: the resident fraction varies, so the plot
  // is drawn, and its series split by budget.
  REQUIRE(sh(kTpusim +
             " sweep --model tiny --phase decode --attention dsa --seq 1k,64k --topk 64 "
             "--residency auto --set sram.residency_mib=1,2 -q -o " +
             (dir / "res.csv")) == 0);
  REQUIRE(sh(kPlot + " " + (dir / "res.csv") + " -o " + (dir / "p2") + " >/dev/null 2>" +
             (dir / "err2.txt")) == 0);
  auto rows = read_csv_rows(dir / "p2/indexer_resident_decode.csv");
  REQUIRE(rows.size() == 4);  // 2 budgets x 2 L
  std::set<std::string> series, values;
  for (const auto& r : rows) {
    series.insert(r.at("series"));
    values.insert(r.at("y"));
    CHECK(contains(r.at("ylabel"), "(%)"));
  }
  CHECK(series.size() == 2);
  CHECK(values.size() > 1);
  // Only DSA rows: no dense to compare with, so no speedup plot (said on stderr).
  CHECK(!tpusim_test::file_exists(dir / "p2/speedup_decode.png"));
  CHECK(contains(read_text(dir / "err2.txt"), "skipped speedup_decode"));
}

TEST_CASE("plot_sweep.py: bad input is one error line, exit 2, nothing written",
          "[scripts][plot]") {
  if (!have_matplotlib()) {
    WARN("skipped: /usr/bin/python3 lacks matplotlib or pandas");
    return;
  }
  ScratchDir dir;
  const std::string csv = dir / "s.csv";
  REQUIRE(sh(kTpusim + " sweep --model tiny --seq 1k,2k --topk 64 -q -o " + csv) == 0);

  SECTION("an --at-seq not in the data: checked before the first picture") {
    REQUIRE(sh("mkdir " + (dir / "plots")) == 0);
    CHECK(sh(kPlot + " " + csv + " -o " + (dir / "plots") + " --at-seq 3k 2>" +
             (dir / "err.txt")) == 2);
    check_one_error_line(read_text(dir / "err.txt"), "--at-seq 3k");
    CHECK(contains(read_text(dir / "err.txt"), "1k, 2k"));
    CHECK(dir_entries(dir / "plots").empty());
  }
  SECTION("an -o that cannot be a directory") {
    CHECK(sh(kPlot + " " + csv + " -o " + csv + "/plots 2>" + (dir / "err.txt")) == 2);
    check_one_error_line(read_text(dir / "err.txt"), "-o " + csv + "/plots");
    CHECK(sh(kPlot + " " + csv + " -o " + csv + " 2>" + (dir / "err.txt")) == 2);
    check_one_error_line(read_text(dir / "err.txt"), "not a directory");
  }
  SECTION("a CSV whose every row failed") {
    std::string header = tpusim_test::first_line(csv);
    {
      std::ofstream f(dir / "failed.csv");
      f << header << "\n"
        << "seq=1024,dense,error,sram.capacity_mib: too small\n"
        << "seq=1024,dsa,error,sram.capacity_mib: too small\n";
    }
    CHECK(sh(kPlot + " " + (dir / "failed.csv") + " -o " + (dir / "plots") + " 2>" +
             (dir / "err.txt")) == 2);
    check_one_error_line(read_text(dir / "err.txt"), "no successful rows");
    CHECK(contains(read_text(dir / "err.txt"), "sram.capacity_mib: too small"));
    CHECK(!tpusim_test::file_exists(dir / "plots"));
  }
}

TEST_CASE("plot_sweep.py --format svg and --dpi", "[scripts][plot]") {
  if (!have_matplotlib()) {
    WARN("skipped: /usr/bin/python3 lacks matplotlib or pandas");
    return;
  }
  ScratchDir dir;
  const std::string csv = dir / "s.csv";
  // One L: only the unit and kernel pictures, to keep the test short.
  REQUIRE(sh(kTpusim + " sweep --model tiny --seq 2k --topk 64 -q -o " + csv) == 0);
  REQUIRE(sh(kPlot + " " + csv + " -o " + (dir / "svg") + " --format svg >/dev/null 2>&1") == 0);
  std::string svg = read_text(dir / "svg/units_decode.svg");
  CHECK(contains(svg, "<svg"));
  CHECK(tpusim_test::file_exists(dir / "svg/units_decode.csv"));
  CHECK(!tpusim_test::file_exists(dir / "svg/units_decode.png"));
  // Pixels scale with the resolution: the same figure at twice the dpi is twice as wide (to
  // a pixel of rounding).
  REQUIRE(sh(kPlot + " " + csv + " -o " + (dir / "a") + " --dpi 50 >/dev/null 2>&1") == 0);
  REQUIRE(sh(kPlot + " " + csv + " -o " + (dir / "b") + " --dpi 100 >/dev/null 2>&1") == 0);
  auto wa = png_width(read_text(dir / "a/units_decode.png"));
  auto wb = png_width(read_text(dir / "b/units_decode.png"));
  CHECK(std::abs(static_cast<double>(wb) - 2.0 * wa) <= 2.0);
}
