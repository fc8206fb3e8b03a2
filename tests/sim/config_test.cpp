// Configuration: presets load, every key round-trips, and every mistake names its key.
#include <catch2/catch.hpp>

#include "sim/config.h"

using namespace tpusim;

namespace {

// Returns the ConfigError message of `fn`, or "" if it did not throw.
template <class F>
std::string error_of(F fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("default preset loads and validates", "[config]") {
  HwConfig c = load_hw_config(kDefaultPreset);
  CHECK(c.chip.clock_ghz == Approx(1.5));
  CHECK(c.mxu.count == 4);
  CHECK(c.mxu.rows == 128);
  CHECK(c.hbm.bandwidth_gbs == Approx(819));
  CHECK(c.sram.capacity_bytes() == 128ull * 1024 * 1024);
  // Peak MXU rate of the preset reproduces the public 197 TFLOP/s within 1%:
  // 4 arrays * 128*128 MACs * 2 FLOP * 1.5 GHz = 196.6 TFLOP/s.
  double peak = 4.0 * 128 * 128 * 2 * c.chip.clock_ghz * 1e9;
  CHECK(peak == Approx(197e12).epsilon(0.01));
}

TEST_CASE("every preset loads", "[config]") {
  auto presets = list_presets();
  REQUIRE(presets.size() >= 2);
  for (const auto& p : presets)
    CHECK_NOTHROW(load_hw_config(p));
}

TEST_CASE("to_toml round-trips every key", "[config]") {
  HwConfig c =
      load_hw_config(kDefaultPreset, {"hbm.channels=8", "mxu.dataflow=os", "topk.enabled=true",
                                      "hbm.refresh_start=phase", "hbm.refresh_postpone=8"});
  HwConfig d = parse_hw_config(to_toml(c), "roundtrip");
  auto a = config_entries(c);
  auto b = config_entries(d);
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].key == b[i].key);
    CHECK(a[i].value == b[i].value);
  }
  CHECK(d.hbm.channels == 8);
  CHECK(d.mxu.dataflow == Dataflow::kOutputStationary);
  CHECK(d.hbm.refresh_start == RefreshStart::kPhase);
  CHECK(load_hw_config(kDefaultPreset).hbm.refresh_start == RefreshStart::kInterval);
  CHECK(d.hbm.refresh_postpone == 8);
  CHECK(load_hw_config(kDefaultPreset).hbm.refresh_postpone == 0);
  // JEDEC lets a controller owe at most eight refreshes.
  const auto msg = error_of([] { load_hw_config(kDefaultPreset, {"hbm.refresh_postpone=9"}); });
  CHECK(msg.find("hbm.refresh_postpone must be <= 8") != std::string::npos);
}

TEST_CASE("config overrides (--set) apply in order and are typed", "[config]") {
  HwConfig c =
      load_hw_config(kDefaultPreset, {"sram.banks=16", "sram.banks=32", "chip.clock_ghz=2"});
  CHECK(c.sram.banks == 32);
  CHECK(c.chip.clock_ghz == Approx(2.0));
  CHECK(error_of([] { load_hw_config(kDefaultPreset, {"sram.banks=many"}); }).find("sram.banks") !=
        std::string::npos);
  CHECK(error_of([] { load_hw_config(kDefaultPreset, {"sram.banks=-1"}); }).find("sram.banks") !=
        std::string::npos);
  CHECK(error_of([] { load_hw_config(kDefaultPreset, {"noequals"}); }).find("noequals") !=
        std::string::npos);
}

TEST_CASE("unknown keys and sections are errors naming them", "[config]") {
  auto msg = error_of([] { parse_hw_config("[hbm]\nchanels = 4\n", "x.toml"); });
  CHECK(msg.find("x.toml:2") != std::string::npos);
  CHECK(msg.find("hbm.chanels") != std::string::npos);
  msg = error_of([] { parse_hw_config("[hbmx]\nchannels = 4\n", "x.toml"); });
  CHECK(msg.find("hbmx") != std::string::npos);
  msg = error_of([] { load_hw_config(kDefaultPreset, {"dma.speed=3"}); });
  CHECK(msg.find("dma.speed") != std::string::npos);
}

TEST_CASE("wrong types name the key and line", "[config]") {
  auto msg = error_of([] { parse_hw_config("[mxu]\nrows = \"wide\"\n", "t.toml"); });
  CHECK(msg.find("t.toml:2") != std::string::npos);
  CHECK(msg.find("mxu.rows") != std::string::npos);
  msg = error_of([] { parse_hw_config("[mxu]\ndataflow = \"diagonal\"\n", "t.toml"); });
  CHECK(msg.find("mxu.dataflow") != std::string::npos);
  msg = error_of([] { parse_hw_config("[hbm]\nrefresh_start = \"steady\"\n", "t.toml"); });
  CHECK(msg.find("hbm.refresh_start") != std::string::npos);
  CHECK(msg.find("t.toml:2") != std::string::npos);
  msg = error_of([] { parse_hw_config("[dma]\ngather_sort = 1\n", "t.toml"); });
  CHECK(msg.find("dma.gather_sort") != std::string::npos);
  msg = error_of([] { parse_hw_config("[mxu\nrows = 1\n", "t.toml"); });
  CHECK(msg.find("t.toml:1") != std::string::npos);
  msg = error_of([] { parse_hw_config("[mxu]\nrows = 1\nrows = 2\n", "t.toml"); });
  CHECK(msg.find("t.toml:3") != std::string::npos);
}

TEST_CASE("out-of-range values name the key", "[config]") {
  const char* bad[][2] = {
      {"sram.banks=0", "sram.banks"},
      {"hbm.channels=0", "hbm.channels"},
      {"mxu.rows=0", "mxu.rows"},
      {"mxu.count=0", "mxu.count"},
      {"chip.clock_ghz=0", "chip.clock_ghz"},
      {"dma.engines=0", "dma.engines"},
      {"dma.max_outstanding=0", "dma.max_outstanding"},
      {"hbm.bandwidth_gbs=-5", "hbm.bandwidth_gbs"},
      {"vpu.lanes=0", "vpu.lanes"},
      {"sram.residency_mib=1000", "sram.residency_mib"},
  };
  for (const auto& b : bad) {
    INFO(b[0]);
    CHECK(error_of([&] { load_hw_config(kDefaultPreset, {b[0]}); }).find(b[1]) !=
          std::string::npos);
  }
}

TEST_CASE("unknown preset lists the presets", "[config]") {
  auto msg = error_of([] { load_hw_config("tpu-v99"); });
  CHECK(msg.find("tpu-v99") != std::string::npos);
  CHECK(msg.find("tpu-v5e") != std::string::npos);
}
