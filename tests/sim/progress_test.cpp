// The progress line's text, without a terminal (tests/cli/progress_cli_test.cpp draws it on a
// pseudo-terminal).
#include <catch2/catch.hpp>

#include "sim/progress.h"

using namespace tpusim;

TEST_CASE("the progress line gives the elapsed time, then each simulation's share", "[progress]") {
  // 57 of 136,000 is 0.04%, shown as 0 (floored: 100% only once every instruction retired);
  // 84,599 of 84,600 is 99.998%, shown as 99.
  const std::vector<ProgressEntry> two = {{"dense", 57, 136000}, {"dsa", 84599, 84600}};
  CHECK(format_progress_line("run", two, 2.4, 0) ==
        "run: 2s, instructions retired: dense 0% of 136k, dsa 99% of 84.6k");
  CHECK(format_progress_line("run", {{"dsa", 84600, 84600}}, 61.0, 0) ==
        "run: 1m01s, instructions retired: dsa 100% of 84.6k");
  // A slot is never shown beyond its total, nor divides by an empty one.
  CHECK(format_progress_line("trace run", {{"trace", 9, 4}, {"x", 0, 0}}, 1.0, 0) ==
        "trace run: 1s, instructions retired: trace 100% of 4, x 0% of 0");
}

TEST_CASE("the progress line is cut to the terminal's width, keeping the clock", "[progress]") {
  const std::vector<ProgressEntry> two = {{"dense", 68000, 136000}, {"dsa", 1, 2}};
  const std::string full = format_progress_line("run", two, 3.0, 0);
  REQUIRE(full == "run: 3s, instructions retired: dense 50% of 136k, dsa 50% of 2");
  CHECK(format_progress_line("run", two, 3.0, 20) == full.substr(0, 20));
  CHECK(format_progress_line("run", two, 3.0, full.size()) == full);
}

TEST_CASE("without a terminal there is no line: tasks are inert and nothing is written",
          "[progress]") {
  // The tests' stderr is a file or a pipe under ctest; start() then keeps the line off, and a
  // task claims no slot. (A quiet start is off whatever stderr is.)
  ProgressLine line("run", true);
  Progress::Task task("dsa", 100);
  CHECK_FALSE(task.active());
  task.advance(50);  // no slot, no effect
  Progress::tick();
}
