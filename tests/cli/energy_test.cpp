// A run's energy against the workload's closed forms (docs/ENERGY.md): the HBM, MXU and static
// terms come from WorkloadClosedForm's bytes and FLOPs (not the simulator's counters) times the
// preset's costs, plus static power times the simulated time. The SRAM and vector terms have no
// closed form (they follow the lowering's tiling), so they are checked separately against the
// simulator's own counters, and every kernel's parts must add up to the run's.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <cmath>

#include "sim/config.h"
#include "tests/cli/cli_util.h"
#include "tests/cli/report_util.h"
#include "workloads/model_config.h"
#include "workloads/params.h"
#include "workloads/workload.h"

using tpusim_test::run_report;
using tpusim_test::run_tpusim;
using namespace tpusim;

namespace {

constexpr const char* kNoSramNoVpu =
    " --set energy.sram_read_pj_per_byte=0 --set energy.sram_write_pj_per_byte=0"
    " --set energy.vpu_lane_op_pj=0";

// Closed-form joules of HBM, MXU and static power for one variant.
//   HBM  = read_bytes_cf * hbm_read + write_bytes_cf * hbm_write
//   MXU  = fp8 MACs * mac_fp8 + bf16 MACs * mac_bf16, MACs = FLOPs / 2: the indexer's logits
//          are fp8; attention is bf16 except MHA-mode prefill's wkv_b decompression of every
//          visible latent, which is fp8 (2 * kv_lora_rank * h * (qk_nope + v) FLOPs per token)
//   static = static_w * the report's simulated time
//   --index-share: the F and S layers' dynamic joules weighted by their counts (the report is the
//   mean layer, docs/DSA.md section 7)
double dynamic_joules(WorkloadParams p, const HwConfig& hw) {
  const GeneratedTrace g = generate_workload(p, hw);
  const WorkloadClosedForm& cf = g.closed_form;
  resolve_params(p);
  std::uint64_t fp8_flops = cf.indexer_flops;
  const bool mha = p.phase == Phase::kPrefill && p.attention == Attention::kDense &&
                   p.dense_mode == DenseMode::kMha;
  if (mha) {
    const ModelConfig m = load_model_config(p.model);
    fp8_flops +=
        p.batch * 2 * m.kv_lora_rank * m.n_heads * (m.qk_nope_head_dim + m.v_head_dim) * p.seq;
  }
  const std::uint64_t bf16_flops = cf.flops - fp8_flops;
  const EnergyConfig& e = hw.energy;
  return 1e-12 * (static_cast<double>(cf.hbm_read_bytes) * e.hbm_read_pj_per_byte +
                  static_cast<double>(cf.hbm_write_bytes) * e.hbm_write_pj_per_byte +
                  static_cast<double>(fp8_flops) / 2 * e.mac_fp8_pj +
                  static_cast<double>(bf16_flops) / 2 * e.mac_bf16_pj);
}

double closed_form_joules(WorkloadParams p, const HwConfig& hw, double time_s) {
  resolve_params(p);
  double dynamic = dynamic_joules(p, hw);
  if (has_shared_layers(p)) {
    const double f = static_cast<double>(index_share_f_layers(p));
    const double n = static_cast<double>(p.layers);
    WorkloadParams s = p;
    s.shared_layer = true;
    dynamic = (f * dynamic + (n - f) * dynamic_joules(s, hw)) / n;
  }
  return dynamic + hw.energy.static_w * time_s;
}

void check_closed_form(const std::string& flags, WorkloadParams p) {
  const HwConfig hw = load_hw_config("tpu-v5e");
  // With SRAM and vector costs zeroed the report's total is exactly the closed-form terms.
  const Json zeroed = run_report(flags + kNoSramNoVpu);
  for (const char* variant : {"dense", "dsa"}) {
    INFO(flags << " " << variant);
    p.attention = std::string(variant) == "dense" ? Attention::kDense : Attention::kDsa;
    const Json& r = zeroed[variant];
    const double want = closed_form_joules(p, hw, r["time_s"].get<double>());
    const double got = r["energy"]["total_j"].get<double>();
    CHECK(got == Approx(want).epsilon(0.01));
  }
  // With the preset's costs, the SRAM and vector terms are the simulator's own counters times
  // the costs, and every other part is as above.
  const Json full = run_report(flags);
  for (const char* variant : {"dense", "dsa"}) {
    INFO(flags << " " << variant);
    const Json& r = full[variant];
    const Json& en = r["energy"];
    const double sram =
        1e-12 * (r["sram"]["read_bytes"].get<double>() * hw.energy.sram_read_pj_per_byte +
                 r["sram"]["write_bytes"].get<double>() * hw.energy.sram_write_pj_per_byte);
    CHECK(en["sram_j"].get<double>() == Approx(sram).epsilon(1e-9));
    // Every byte a DMA moves crosses SRAM once, so SRAM energy is at least the HBM bytes at the
    // SRAM's cheaper of read and write.
    const double hbm_bytes =
        r["dram"]["read_bytes"].get<double>() + r["dram"]["write_bytes"].get<double>();
    CHECK(en["sram_j"].get<double>() >=
          1e-12 * hbm_bytes *
              std::min(hw.energy.sram_read_pj_per_byte, hw.energy.sram_write_pj_per_byte) *
              (1 - 1e-9));
    // The parts add up, and the HBM, MXU and static parts are those of the zeroed run.
    const double parts = en["hbm_j"].get<double>() + en["sram_j"].get<double>() +
                         en["mxu_j"].get<double>() + en["vpu_j"].get<double>() +
                         en["static_j"].get<double>();
    CHECK(en["total_j"].get<double>() == Approx(parts).epsilon(1e-12));
    const Json& z = zeroed[variant]["energy"];
    for (const char* part : {"hbm_j", "mxu_j", "static_j"})
      CHECK(en[part].get<double>() == Approx(z[part].get<double>()).epsilon(1e-12));
    const double share =
        (en["sram_j"].get<double>() + en["vpu_j"].get<double>()) / en["total_j"].get<double>();
    WARN(flags << " " << variant << ": SRAM + vector share of energy " << share);
    // Kernels: their dynamic parts are their instructions' counts (ActivityCounter), which
    // follow the same laws as the units' counters; their static parts split the run's.
    double sum[5] = {0, 0, 0, 0, 0};
    const char* names[5] = {"hbm_j", "sram_j", "mxu_j", "vpu_j", "static_j"};
    for (const auto& k : r["kernels"])
      for (int i = 0; i < 5; ++i)
        sum[i] += k["energy"][names[i]].get<double>();
    for (int i = 0; i < 5; ++i) {
      INFO(names[i]);
      CHECK(sum[i] == Approx(en[names[i]].get<double>()).epsilon(1e-9));
    }
  }
  CHECK(full["energy_ratio"].get<double>() ==
        Approx(full["dense"]["energy"]["total_j"].get<double>() /
               full["dsa"]["energy"]["total_j"].get<double>()));
}

}  // namespace

TEST_CASE("energy: decode at 32k equals its closed form", "[energy]") {
  WorkloadParams p;
  p.phase = Phase::kDecode;
  p.seq = 32768;
  check_closed_form("--phase decode --seq 32k", p);
}

TEST_CASE("energy: index sharing and the row cache equal their closed forms", "[energy]") {
  WorkloadParams p;
  p.phase = Phase::kDecode;
  p.seq = 32768;
  p.index_share = "FSSS";
  p.kv_row_cache = true;
  check_closed_form("--phase decode --seq 32k --index-share FSSS --kv-row-cache", p);
  WorkloadParams q;
  q.phase = Phase::kPrefill;
  q.seq = 8192;
  q.index_share = "FS";
  check_closed_form("--phase prefill --seq 8k --index-share FS", q);
}

TEST_CASE("energy: a prefill chunk at 8k equals its closed form", "[energy]") {
  WorkloadParams p;
  p.phase = Phase::kPrefill;
  p.seq = 8192;
  check_closed_form("--phase prefill --seq 8k", p);
}

TEST_CASE("energy: zero costs and zero static power give zero energy", "[energy]") {
  const Json j = run_report(
      "--phase decode --seq 8k --set energy.hbm_read_pj_per_byte=0"
      " --set energy.hbm_write_pj_per_byte=0 --set energy.sram_read_pj_per_byte=0"
      " --set energy.sram_write_pj_per_byte=0 --set energy.mac_bf16_pj=0"
      " --set energy.mac_fp8_pj=0 --set energy.vpu_lane_op_pj=0 --set energy.static_w=0");
  for (const char* variant : {"dense", "dsa"}) {
    INFO(variant);
    CHECK(j[variant]["energy"]["total_j"].get<double>() == 0.0);
    for (const auto& k : j[variant]["kernels"])
      CHECK(k["energy"]["total_j"].get<double>() == 0.0);
    CHECK(j[variant]["cycles"].get<std::uint64_t>() > 0);  // the run itself still happened
  }
  CHECK(j["energy_ratio"].get<double>() == 0.0);  // 0 / 0 is reported as 0, like the others
}

TEST_CASE("energy: table and csv show it", "[energy]") {
  auto t = run_tpusim("run --phase decode --seq 8k");
  REQUIRE(t.exit_code == 0);
  CHECK(t.out.find("energy") != std::string::npos);
  CHECK(t.out.find(" uJ") != std::string::npos);  // one decode step of one layer: microjoules
  CHECK(t.out.find("energy ratio (dense/dsa)") != std::string::npos);
  auto c = run_tpusim("run --phase decode --seq 8k --format csv");
  REQUIRE(c.exit_code == 0);
  const std::string header = c.out.substr(0, c.out.find('\n'));
  for (const char* col : {"energy.total_j", "energy.hbm_j", "energy.sram_j", "energy.mxu_j",
                          "energy.vpu_j", "energy.static_j", "kernel.attn.qk.energy_j"})
    CHECK(header.find(col) != std::string::npos);
}

TEST_CASE("energy: bad costs are refused naming the key", "[energy]") {
  auto r = run_tpusim("run --phase decode --seq 8k --set energy.static_w=-1");
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("energy.static_w") != std::string::npos);
  auto n = run_tpusim("run --phase decode --seq 8k --set energy.mac_fp8_pj=nan");
  CHECK(n.exit_code != 0);
  CHECK(n.err.find("energy.mac_fp8_pj") != std::string::npos);
}
