// The energy model's plain functions (models/energy.h), no SystemC: joules from counts, and the
// per-instruction counts that attribute energy to kernels.
#include <catch2/catch.hpp>

#include "models/energy.h"
#include "models/hw_config.h"
#include "sim/config.h"

using namespace tpusim;

TEST_CASE("energy_of: each part is its counts times its cost", "[energy]") {
  EnergyConfig e;
  e.hbm_read_pj_per_byte = 30;
  e.hbm_write_pj_per_byte = 40;
  e.sram_read_pj_per_byte = 2;
  e.sram_write_pj_per_byte = 3;
  e.mac_bf16_pj = 0.5;
  e.mac_fp8_pj = 0.25;
  e.vpu_lane_op_pj = 1;
  e.static_w = 10;
  EnergyCounts c;
  c.hbm_read_bytes = 1000;
  c.hbm_write_bytes = 100;
  c.sram_read_bytes = 5000;
  c.sram_write_bytes = 2000;
  c.macs_bf16 = 1'000'000;
  c.macs_fp8 = 4'000'000;
  c.vpu_lane_ops = 300.5;
  const EnergyBreakdown b = energy_of(c, e, 1e-6);
  CHECK(b.hbm_j == Approx((1000 * 30 + 100 * 40) * 1e-12));    // 34 nJ
  CHECK(b.sram_j == Approx((5000 * 2 + 2000 * 3) * 1e-12));    // 16 nJ
  CHECK(b.mxu_j == Approx((1e6 * 0.5 + 4e6 * 0.25) * 1e-12));  // 1.5 uJ
  CHECK(b.vpu_j == Approx(300.5e-12));
  CHECK(b.static_j == Approx(10e-6));  // 10 W for 1 us
  CHECK(b.total_j() == Approx(b.hbm_j + b.sram_j + b.mxu_j + b.vpu_j + b.static_j));
  CHECK(energy_of(c, EnergyConfig{}, 0).static_j == 0.0);
}

TEST_CASE("ActivityCounter: an instruction's bytes, MACs and lane-ops follow the unit laws",
          "[energy]") {
  HwConfig hw;  // 128x128 WS arrays, 1024 lanes, radix select of 4 passes
  const ActivityCounter counter(hw);

  Instruction mm;
  mm.op = Op::kMxuMatmul;
  mm.m = 64;
  mm.n = 256;  // 2 column folds: A is streamed twice
  mm.k = 512;
  mm.dtype = DType::kFp8;
  EnergyCounts c = counter.count(mm);
  CHECK(c.macs_fp8 == 64u * 256 * 512);
  CHECK(c.macs_bf16 == 0);
  CHECK(c.sram_read_bytes == 64u * 512 * 1 * 2 + 512u * 256 * 1);  // A twice, B once (fp8)
  CHECK(c.sram_write_bytes == 64u * 256 * kMatmulOutputBytes);     // C once, bf16
  CHECK(c.hbm_read_bytes == 0);

  Instruction ld;
  ld.op = Op::kDmaLoad;
  ld.bytes = 4096;
  c = counter.count(ld);
  CHECK(c.hbm_read_bytes == 4096);
  CHECK(c.sram_write_bytes == 4096);  // every byte loaded lands in SRAM
  Instruction st;
  st.op = Op::kDmaStore;
  st.bytes = 512;
  c = counter.count(st);
  CHECK(c.hbm_write_bytes == 512);
  CHECK(c.sram_read_bytes == 512);
  Instruction ga;
  ga.op = Op::kDmaGather;
  ga.rows = 2048;
  ga.row_bytes = 656;
  CHECK(counter.count(ga).hbm_read_bytes == 2048u * 656);

  Instruction ex;
  ex.op = Op::kVpuExp;
  ex.elems = 1000;
  c = counter.count(ex);
  CHECK(c.vpu_lane_ops == Approx(1000 * hw.vpu.cost[vpu_op_index(Op::kVpuExp)]));
  CHECK(c.sram_read_bytes == 1000 * kVectorElementBytes);

  Instruction tk;
  tk.op = Op::kVpuTopk;
  tk.rows = 2;
  tk.n = 32768;
  tk.k = 2048;
  // Radix select: topk_passes passes over n, then a compaction over k, per row.
  CHECK(counter.count(tk).vpu_lane_ops == Approx(2.0 * (hw.vpu.topk_passes * 32768.0 + 2048)));
  hw.topk.enabled = true;  // the dedicated unit streams the scores once
  CHECK(ActivityCounter(hw).count(tk).vpu_lane_ops == Approx(2.0 * 32768));
}

TEST_CASE("energy config: every preset sets every cost, bad values name the key", "[energy]") {
  for (const auto& name : list_presets()) {
    INFO(name);
    const HwConfig hw = load_hw_config(name);
    CHECK(hw.energy.hbm_read_pj_per_byte > hw.energy.sram_read_pj_per_byte);
    CHECK(hw.energy.static_w > 0);
    // Each preset writes its own [energy] section rather than inheriting the struct defaults.
    const std::string text(*find_embedded(embedded_presets(), name));
    for (const char* key :
         {"hbm_read_pj_per_byte", "hbm_write_pj_per_byte", "sram_read_pj_per_byte",
          "sram_write_pj_per_byte", "mac_bf16_pj", "mac_fp8_pj", "vpu_lane_op_pj", "static_w"})
      CHECK(text.find(std::string("\n") + key + " = ") != std::string::npos);
  }
  HwConfig hw;
  hw.energy.sram_read_pj_per_byte = -1;
  CHECK_THROWS_WITH(hw.validate(), Catch::Contains("energy.sram_read_pj_per_byte"));
}
