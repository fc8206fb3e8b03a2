#include "sim/selftest.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

#include "base/format.h"
#include "models/sram.h"
#include "sim/driver.h"
#include "sim/simulation.h"

namespace tpusim {
namespace {

// Sizes of the micro-benchmarks: large enough that fill and drain are a few percent at most,
// small enough that the whole selftest runs in well under a second.
constexpr std::uint64_t kStreamBytes = 64ull << 20;
constexpr std::uint64_t kGatherRows = 16384;

// A transfer split into one instruction per DMA engine, each on its own HBM/SRAM range, so all
// engines run at once as a real kernel's decoupled copies would.
std::vector<Instruction> split_copy(const HwConfig& hw, Op op, std::uint64_t total,
                                    std::uint32_t engines) {
  std::vector<Instruction> v;
  const std::uint64_t per = total / engines;
  for (std::uint32_t e = 0; e < engines; ++e) {
    Instruction in;
    in.id = e;
    in.op = op;
    in.bytes = per;
    const Address hbm{Space::kHbm, e * per};
    const Address sram{Space::kSram, (e * per) % (hw.sram.capacity_bytes() / 2)};
    in.src = op == Op::kDmaLoad ? hbm : sram;
    in.dst = op == Op::kDmaLoad ? sram : hbm;
    v.push_back(in);
  }
  return v;
}

std::vector<Instruction> gathers(const HwConfig& hw, std::uint64_t row_bytes) {
  std::vector<Instruction> v;
  const std::uint32_t engines = hw.dma.engines;
  const std::uint64_t span =
      std::min<std::uint64_t>(hw.hbm.capacity_bytes() / row_bytes / engines, 1u << 22);
  for (std::uint32_t e = 0; e < engines; ++e) {
    Instruction in;
    in.id = e;
    in.op = Op::kDmaGather;
    in.src = {Space::kHbm, e * span * row_bytes};
    in.dst = {Space::kSram, e * (kGatherRows / engines) * row_bytes};
    in.span = span;
    in.rows = kGatherRows / engines;
    in.row_bytes = row_bytes;
    in.pattern = {PatternKind::kUniform, 0};
    in.seed = 7 + e;
    v.push_back(in);
  }
  return v;
}

struct Measured {
  Cycle cycles = 0;
  std::uint64_t hbm_bytes = 0;
  double mxu_utilization = 0;
};

// Simulates `v` on the chip in a child process.
Measured measure(const std::string& hw_name, const std::vector<std::string>& sets,
                 const std::vector<Instruction>& v) {
  Json j = run_in_child([&] {
    HwConfig hw = load_hw_config(hw_name, sets);
    for (const auto& in : v)
      validate_instruction(in, hw, "selftest");
    TagTable tags;
    VectorSource src(v);
    RunResult r = simulate(hw, src, tags, SimOptions{});
    const double peak_macs = static_cast<double>(hw.mxu.rows) * hw.mxu.cols * hw.mxu.count *
                             static_cast<double>(r.cycles);
    return Json{{"cycles", r.cycles},
                {"hbm_bytes", r.hbm.read_bytes + r.hbm.write_bytes},
                {"mxu_utilization", r.cycles ? static_cast<double>(r.mxu.macs) / peak_macs : 0.0}};
  });
  return {j["cycles"].get<Cycle>(), j["hbm_bytes"].get<std::uint64_t>(),
          j["mxu_utilization"].get<double>()};
}

double gbs(const HwConfig& hw, const Measured& m) {
  return m.cycles ? static_cast<double>(m.hbm_bytes) /
                        (static_cast<double>(m.cycles) / (hw.chip.clock_ghz * 1e9)) / 1e9
                  : 0;
}

}  // namespace

std::vector<SelftestRow> run_selftest(const std::string& hw_name,
                                      const std::vector<std::string>& sets) {
  const HwConfig hw = load_hw_config(hw_name, sets);
  const double peak = hw.hbm.bandwidth_gbs;
  const double ns_per_cycle = 1.0 / hw.chip.clock_ghz;
  std::vector<SelftestRow> rows;
  auto bw_row = [&](const std::string& name, const Measured& m, double bound,
                    const std::string& what) {
    const double g = gbs(hw, m);
    rows.push_back({name, format_bandwidth(g * 1e9), format_bandwidth(bound * 1e9) + " " + what,
                    bound > 0 ? g / bound : 0});
  };

  bw_row("sequential read",
         measure(hw_name, sets, split_copy(hw, Op::kDmaLoad, kStreamBytes, hw.dma.engines)), peak,
         "peak");
  bw_row("sequential write",
         measure(hw_name, sets, split_copy(hw, Op::kDmaStore, kStreamBytes, hw.dma.engines)), peak,
         "peak");

  // Little's law bound of one engine: outstanding * request_bytes / latency, where the latency
  // of one request is the idle latency plus its own bus time.
  const double req_ns = hw.hbm.latency_ns + hw.dma.request_bytes / (peak / hw.hbm.channels);
  const double one_engine = std::min(peak, hw.dma.max_outstanding * hw.dma.request_bytes / req_ns);
  bw_row("one engine, sequential",
         measure(hw_name, sets, split_copy(hw, Op::kDmaLoad, kStreamBytes / 4, 1)), one_engine,
         "Little's law");
  std::vector<std::string> one_out = sets;
  one_out.push_back("dma.max_outstanding=1");
  bw_row("one engine, 1 outstanding",
         measure(hw_name, one_out, split_copy(hw, Op::kDmaLoad, 1u << 20, 1)),
         hw.dma.request_bytes / req_ns, "= request/latency");

  bw_row("random 64 B rows", measure(hw_name, sets, gathers(hw, 64)), peak, "peak");
  bw_row("random 656 B rows", measure(hw_name, sets, gathers(hw, 656)), peak, "peak");

  {
    Instruction in;
    in.op = Op::kDmaLoad;
    in.src = {Space::kHbm, 0};
    in.dst = {Space::kSram, 0};
    in.bytes = hw.hbm.burst_bytes;
    Measured m = measure(hw_name, sets, {in});
    // First principles: idle latency + opening the row + one burst on the channel bus.
    const double expect_ns =
        hw.hbm.latency_ns + hw.hbm.row_miss_ns + hw.hbm.burst_bytes / (peak / hw.hbm.channels);
    const double got_ns = static_cast<double>(m.cycles) * ns_per_cycle;
    rows.push_back({"idle latency, one burst", fmt::format("{:.1f} ns", got_ns),
                    fmt::format("{:.1f} ns latency+miss+burst", expect_ns), got_ns / expect_ns});
  }

  {
    // A large GEMM split over the arrays by rows of A: 4 x (2048 x 4096) . (4096 x 4096).
    std::vector<Instruction> v;
    const std::uint64_t n = 4096;
    const std::uint64_t m = 8192 / hw.mxu.count;
    for (std::uint32_t i = 0; i < hw.mxu.count; ++i) {
      Instruction in;
      in.id = i;
      in.op = Op::kMxuMatmul;
      in.m = m;
      in.n = n;
      in.k = n;
      in.dtype = DType::kBf16;
      in.a = {Space::kSram, i * m * n * 2};
      in.b = {Space::kSram, 8192 * n * 2};
      in.c = {Space::kSram, 8192 * n * 2 + n * n * 2};
      v.push_back(in);
    }
    std::vector<std::string> big = sets;
    big.push_back("sram.capacity_mib=1024");  // operands of the benchmark, not of a workload
    big.push_back(fmt::format("sram.residency_mib={}", std::min(hw.sram.residency_mib, 1024.0)));
    Measured mm = measure(hw_name, big, v);
    const double tflops = 2.0 * m * hw.mxu.count * n * n / (mm.cycles * ns_per_cycle * 1e-9) / 1e12;
    const double peak_tflops =
        2.0 * hw.mxu.rows * hw.mxu.cols * hw.mxu.count * hw.chip.clock_ghz / 1e3;
    rows.push_back({"MXU, 8192x4096x4096 bf16",
                    fmt::format("{:.1f} TFLOP/s ({:.1f}% util)", tflops, 100 * mm.mxu_utilization),
                    fmt::format("{:.1f} TFLOP/s peak", peak_tflops), tflops / peak_tflops});
  }

  {
    // SRAM peak: one access spread over every bank, straight through the timing core.
    SramTiming sram(hw.sram);
    const std::uint64_t bytes = std::uint64_t{hw.sram.banks} * hw.sram.interleave_bytes * 256;
    const Cycle done = sram.access(0, 0, bytes, false);
    const double bpc = static_cast<double>(bytes) / static_cast<double>(done);
    const double peak_bpc = static_cast<double>(hw.sram.peak_bytes_per_cycle());
    rows.push_back({"SRAM, all banks", format_bandwidth(bpc * hw.chip.clock_ghz * 1e9),
                    format_bandwidth(peak_bpc * hw.chip.clock_ghz * 1e9) + " peak",
                    bpc / peak_bpc});
  }
  return rows;
}

std::string format_selftest(const HwConfig& cfg, const std::vector<SelftestRow>& rows) {
  std::string out = fmt::format("selftest of {} ({})\n\n", cfg.chip.name, cfg.source);
  out += fmt::format("{:<28}{:>32}{:>34}{:>8}\n", "benchmark", "measured", "reference", "ratio");
  for (const auto& r : rows)
    out += fmt::format("{:<28}{:>32}{:>34}{:>8}\n", r.name, r.measured, r.expected,
                       r.fraction > 0 ? fmt::format("{:.0f}%", 100 * r.fraction) : "");
  return out;
}

namespace {

// "801.2 GB/s peak" -> {"value": 801.2, "unit": "GB/s peak"}; text without a number -> null value.
Json number_and_unit(const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  Json j;
  j["text"] = text;
  if (end == text.c_str()) {
    j["value"] = nullptr;
    j["unit"] = text;
    return j;
  }
  std::string unit(end);
  unit.erase(0, unit.find_first_not_of(' '));
  j["value"] = v;
  j["unit"] = unit;
  return j;
}

}  // namespace

Json selftest_json(const HwConfig& cfg, const std::vector<SelftestRow>& rows) {
  Json j;
  j["tpusim_selftest"] = 1;
  j["chip"] = cfg.chip.name;
  j["source"] = cfg.source;
  Json list = Json::array();
  for (const auto& r : rows) {
    Json b;
    b["name"] = r.name;
    b["measured"] = number_and_unit(r.measured);
    b["reference"] = number_and_unit(r.expected);
    if (r.fraction > 0)
      b["ratio"] = r.fraction;
    else
      b["ratio"] = nullptr;
    list.push_back(b);
  }
  j["benchmarks"] = list;
  return j;
}

}  // namespace tpusim
