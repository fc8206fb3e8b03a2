// Number formatting with units and size parsing.
#include <catch2/catch.hpp>

#include "base/cycle.h"
#include "base/error.h"
#include "base/format.h"

using namespace tpusim;

TEST_CASE("sizes parse with power-of-two suffixes", "[units]") {
  CHECK(parse_size("2048", "--topk") == 2048);
  CHECK(parse_size("128k", "--seq") == 131072);
  CHECK(parse_size("4K", "--seq") == 4096);
  CHECK(parse_size("1m", "--seq") == 1048576);
  CHECK_THROWS_WITH(parse_size("12q", "--seq"), Catch::Contains("--seq"));
  CHECK_THROWS_AS(parse_size("", "--seq"), UserError);
  CHECK_THROWS_AS(parse_size("-3", "--seq"), UserError);
  CHECK_THROWS_AS(parse_size("99999999999999999999", "--seq"), UserError);
  CHECK_THROWS_AS(parse_size("17179869184g", "--seq"), UserError);
}

TEST_CASE("numbers print with units", "[units]") {
  CHECK(format_count(131072) == "128k");
  CHECK(format_count(2048) == "2k");
  CHECK(format_count(1536) == "1.5k");
  CHECK(format_bytes(656) == "656 B");
  CHECK(format_bytes(20.5 * 1048576) == "20.5 MiB");
  CHECK(format_bandwidth(1.2e9) == "1.2 GB/s");
  CHECK(format_seconds(3.4e-3) == "3.4 ms");
  CHECK(format_seconds(2.5e-6) == "2.5 us");
  CHECK(format_flops(2.72e9) == "2.72 GFLOP");
}

TEST_CASE("format_duration rounds to the second and carries into minutes and hours", "[format]") {
  CHECK(format_duration(0.0) == "0s");
  CHECK(format_duration(-3.0) == "0s");  // a clock read twice never shows a negative time
  CHECK(format_duration(7.4) == "7s");
  CHECK(format_duration(59.6) == "1m00s");
  CHECK(format_duration(125.0) == "2m05s");
  CHECK(format_duration(3723.0) == "1h02m03s");
}
