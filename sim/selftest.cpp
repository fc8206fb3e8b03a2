#include "sim/selftest.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

#include "base/format.h"
#include "base/math.h"
#include "models/hbm.h"
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
                                    std::uint32_t pieces) {
  std::vector<Instruction> v;
  const std::uint64_t per = total / pieces;
  for (std::uint32_t e = 0; e < pieces; ++e) {
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

std::vector<Instruction> gathers(const HwConfig& hw, std::uint64_t row_bytes, std::uint64_t rows) {
  std::vector<Instruction> v;
  const std::uint32_t engines = hw.dma.engines;
  const std::uint64_t span =
      std::min<std::uint64_t>(hw.hbm.capacity_bytes() / row_bytes / engines, 1u << 22);
  for (std::uint32_t e = 0; e < engines; ++e) {
    Instruction in;
    in.id = e;
    in.op = Op::kDmaGather;
    in.src = {Space::kHbm, e * span * row_bytes};
    in.dst = {Space::kSram, e * (rows / engines) * row_bytes};
    in.span = span;
    in.rows = rows / engines;
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
  Tick bus_busy_ticks = 0;
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
                {"bus_busy_ticks", r.hbm.bus_busy_ticks},
                {"mxu_utilization", r.cycles ? static_cast<double>(r.mxu.macs) / peak_macs : 0.0}};
  });
  return {j["cycles"].get<Cycle>(), j["hbm_bytes"].get<std::uint64_t>(),
          j["mxu_utilization"].get<double>(), j["bus_busy_ticks"].get<Tick>()};
}

double gbs(const HwConfig& hw, const Measured& m) {
  return m.cycles ? static_cast<double>(m.hbm_bytes) /
                        (static_cast<double>(m.cycles) / (hw.chip.clock_ghz * 1e9)) / 1e9
                  : 0;
}

std::uint64_t gcd(std::uint64_t a, std::uint64_t b) {
  while (b != 0) {
    const std::uint64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/// Mean number of `unit`-aligned blocks a `bytes`-long row covers when rows sit at multiples of
/// `bytes` (a table of rows): row starts fall uniformly on the multiples of gcd(bytes, unit)
/// modulo unit.
double mean_blocks(std::uint64_t bytes, std::uint64_t unit) {
  const std::uint64_t step = gcd(bytes, unit);
  double sum = 0;
  for (std::uint64_t o = 0; o < unit; o += step) {
    const std::uint64_t blocks = ceil_div(o + bytes, unit);  // whole blocks: integer on purpose
    sum += static_cast<double>(blocks);
  }
  const std::uint64_t offsets = unit / step;
  return sum / static_cast<double>(offsets);
}

/// Mean number of rows a `bytes`-long row of a table opens when each access to a (channel, DRAM
/// row) pair is an activate (random rows are far apart): rows start on the multiples of
/// gcd(bytes, P) modulo P, the period of the address mapping, P = channels * max(interleave, row).
double mean_activates(std::uint64_t bytes, const HbmConfig& h) {
  const std::uint64_t g = h.interleave_bytes, r = h.row_bytes;
  const std::uint64_t period = std::uint64_t{h.channels} * std::max(g, r);
  std::uint64_t step = gcd(bytes, period);
  while (period / step > (1u << 14))
    step *= 2;  // a sample of the offsets is enough for a mean
  std::vector<std::pair<std::uint64_t, std::uint64_t>> seen;
  double sum = 0;
  std::uint64_t n = 0;
  for (std::uint64_t o = 0; o < period; o += step, ++n) {
    seen.clear();
    for (std::uint64_t a = o; a < o + bytes;) {
      const std::uint64_t granule = a / g;
      const std::uint64_t local = granule / h.channels * g + a % g;
      const std::uint64_t key_row = local / r;
      const std::pair<std::uint64_t, std::uint64_t> key{granule % h.channels, key_row};
      if (std::find(seen.begin(), seen.end(), key) == seen.end()) seen.push_back(key);
      a = std::min((granule + 1) * g, a + (key_row + 1) * r - local);
    }
    sum += static_cast<double>(seen.size());
  }
  return sum / static_cast<double>(n);
}

/// Fraction of time a channel is not refreshing: 1 - tRFC/tREFI.
double refresh_factor(const HbmConfig& h) {
  return h.refresh() ? 1.0 - h.trfc_ns / h.trefi_ns : 1.0;
}

/// Activates per ns one channel can issue: at most one per tRRD, four per tFAW, and one per
/// tRC = tRAS + tRP on each bank; none during refresh.
double activates_per_ns(const HbmConfig& h) {
  double rate = 1e30;
  if (h.trrd_ns > 0) rate = std::min(rate, 1.0 / h.trrd_ns);
  if (h.tfaw_ns > 0) rate = std::min(rate, 4.0 / h.tfaw_ns);
  if (h.tras_ns + h.trp_ns > 0) rate = std::min(rate, h.banks_per_channel / (h.tras_ns + h.trp_ns));
  return rate * refresh_factor(h);
}

}  // namespace

std::vector<SelftestRow> run_selftest(const std::string& hw_name,
                                      const std::vector<std::string>& sets) {
  const HwConfig hw = load_hw_config(hw_name, sets);
  // The DMA benchmarks' SRAM buffers (each engine's stream piece, placed within half the
  // SRAM, and the gathered rows): an SRAM too small for them gets room, as the MXU row does,
  // since its capacity is not under test. No preset needs it (32 MiB with 4 engines).
  std::vector<std::string> dma_sets = sets;
  {
    const double piece = static_cast<double>(
        std::max<std::uint64_t>(kStreamBytes / hw.dma.engines, kStreamBytes / 4));
    const double need_mib =
        std::max(2.0 * piece, static_cast<double>(kGatherRows) * 656.0) / (1024.0 * 1024.0);
    if (hw.sram.capacity_mib < need_mib)
      dma_sets.push_back(fmt::format("sram.capacity_mib={}", need_mib));
  }
  const double peak = hw.hbm.bandwidth_gbs;
  const double ns_per_cycle = 1.0 / hw.chip.clock_ghz;
  std::vector<SelftestRow> rows;
  auto bw_row = [&](const std::string& name, const Measured& m, double bound,
                    const std::string& what) {
    const double g = gbs(hw, m);
    rows.push_back({name, format_bandwidth(g * 1e9), format_bandwidth(bound * 1e9) + " " + what,
                    bound > 0 ? g / bound : 0});
  };

  // Streaming never needs an activate after the first of each row, so only refresh takes bus
  // time: peak * (1 - tRFC/tREFI). Four engines of the preset's outstanding requests hold far more
  // than peak * latency in flight. A channel that may owe P refreshes (hbm.refresh_postpone)
  // ends the stream owing them: over a stream of T0 at peak it pays (T / tREFI - P), so
  // T = (T0 - P tRFC) / (1 - tRFC/tREFI).
  double stream_law = peak * refresh_factor(hw.hbm);
  std::string stream_what = "peak*(1-tRFC/tREFI)";
  if (hw.hbm.refresh() && hw.hbm.refresh_postpone > 0) {
    const double t0_ns = static_cast<double>(kStreamBytes) / peak;
    const double t_ns = (t0_ns - hw.hbm.refresh_postpone * hw.hbm.trfc_ns) / refresh_factor(hw.hbm);
    stream_law = static_cast<double>(kStreamBytes) / t_ns;
    stream_what = fmt::format("stream, {} refreshes owed", hw.hbm.refresh_postpone);
  }
  bw_row("sequential read",
         measure(hw_name, dma_sets, split_copy(hw, Op::kDmaLoad, kStreamBytes, hw.dma.engines)),
         stream_law, stream_what);
  bw_row("sequential write",
         measure(hw_name, dma_sets, split_copy(hw, Op::kDmaStore, kStreamBytes, hw.dma.engines)),
         stream_law, stream_what);
  // The same stream as 64 KiB instructions (a lowering's tiles): with several instructions in
  // flight per engine (dma.max_in_flight) the next one's requests issue while the previous
  // one's are in flight, so the law is the stream's; one at a time, each pays the latency.
  bw_row("sequential, 64 KiB loads",
         measure(hw_name, dma_sets, split_copy(hw, Op::kDmaLoad, kStreamBytes, kStreamBytes >> 16)),
         stream_law, stream_what);

  // Little's law bound of one engine: outstanding * request_bytes / latency, where the latency
  // of one request is the path latency plus its own bus time.
  const double req_ns = hw.hbm.latency_ns + hw.dma.request_bytes / (peak / hw.hbm.channels);
  const double one_engine = std::min(peak, hw.dma.max_outstanding * hw.dma.request_bytes / req_ns);
  bw_row("one engine, sequential",
         measure(hw_name, dma_sets, split_copy(hw, Op::kDmaLoad, kStreamBytes / 4, 1)), one_engine,
         "Little's law");
  std::vector<std::string> one_out = dma_sets;
  one_out.push_back("dma.max_outstanding=1");
  bw_row("one engine, 1 outstanding",
         measure(hw_name, one_out, split_copy(hw, Op::kDmaLoad, 1u << 20, 1)),
         hw.dma.request_bytes / req_ns, "= request/latency");

  // Random reads with enough requests in flight that the DMA engines are not the limit
  // (4 engines x 4096 x 64 B = 1 MiB, over 1000x the activate-bound bandwidth * latency).
  std::vector<std::string> deep = dma_sets;
  deep.push_back("dma.max_outstanding=4096");
  const double bus_ns = hw.hbm.burst_bytes / (peak / hw.hbm.channels);
  {
    // Each random 64-B row opens a row in every channel granule it touches (unsorted, so no two
    // rows share a DRAM row by luck of order); bound = channels * activate rate * bytes per
    // activate, or the bus if lower.
    const double bursts = mean_blocks(64, hw.hbm.burst_bytes);
    const double act_bound =
        std::min(hw.hbm.channels * activates_per_ns(hw.hbm) * 64.0 / mean_activates(64, hw.hbm),
                 stream_law * 64.0 / (bursts * hw.hbm.burst_bytes));
    std::vector<std::string> unsorted = deep;
    unsorted.push_back("dma.gather_sort=false");
    bw_row("random 64 B rows", measure(hw_name, unsorted, gathers(hw, 64, 4 * kGatherRows)),
           act_bound, "activate bound");
  }
  {
    // A 656-B row opens one row per channel granule it touches (random rows are KBs apart) and
    // moves the bursts that cover it; bound = the lower of activates and bus.
    const double segs = mean_activates(656, hw.hbm);
    const double bursts = mean_blocks(656, hw.hbm.burst_bytes);
    const double bound = std::min(hw.hbm.channels * activates_per_ns(hw.hbm) * 656.0 / segs,
                                  stream_law * 656.0 / (bursts * hw.hbm.burst_bytes));
    std::vector<std::string> unsorted = deep;
    unsorted.push_back("dma.gather_sort=false");
    bw_row("random 656 B rows", measure(hw_name, unsorted, gathers(hw, 656, kGatherRows)), bound,
           "activate/bus bound");
    std::vector<std::string> sorted = deep;
    sorted.push_back("dma.gather_sort=true");
    bw_row("random 656 B rows, sorted", measure(hw_name, sorted, gathers(hw, 656, kGatherRows)),
           bound, "activate/bus bound");
  }
  {
    // Bursts per 656-B row from the data-bus busy time, at 64-B requests (the finest split).
    const double law = mean_blocks(656, hw.hbm.burst_bytes);
    std::vector<std::string> fine = deep;
    fine.push_back("dma.request_bytes=64");
    const Measured m = measure(hw_name, fine, gathers(hw, 656, kGatherRows));
    const Tick burst = HbmTiming(hw.hbm, hw.chip.clock_ghz).burst_ticks();
    const double got = static_cast<double>(m.bus_busy_ticks) / static_cast<double>(burst) /
                       static_cast<double>(kGatherRows);
    rows.push_back({"bursts per 656 B row", fmt::format("{:.2f}", got),
                    fmt::format("{:.2f} covering bursts", law), got / law});
  }

  {
    Instruction in;
    in.op = Op::kDmaLoad;
    // Channel 1, not 0: with hbm.refresh_start = "phase" channel 0 refreshes from tick 0 (its
    // stagger offset is 0), and the idle read would measure that refresh instead; channel 1's
    // first refresh comes 0.62 tREFI in at the earliest.
    in.src = {Space::kHbm, hw.hbm.channels > 1 ? std::uint64_t{hw.hbm.interleave_bytes} : 0};
    in.dst = {Space::kSram, 0};
    in.bytes = hw.hbm.burst_bytes;
    Measured m = measure(hw_name, dma_sets, {in});
    // First principles: path latency + activating the closed bank + one burst on the channel bus.
    const double expect_ns = hw.hbm.latency_ns + hw.hbm.trcd_ns + bus_ns;
    const double got_ns = static_cast<double>(m.cycles) * ns_per_cycle;
    rows.push_back({"idle latency, one burst", fmt::format("{:.1f} ns", got_ns),
                    fmt::format("{:.1f} ns latency+tRCD+burst", expect_ns), got_ns / expect_ns});
  }
  {
    // A read that depends on the previous one and finds another row open in its bank: precharge
    // and activate on the way. Channel 0's local rows 0 and banks + 1 share bank 0 (their base-
    // `banks` digits 0 and (1, 1) XOR to 0), straight through the timing core.
    HbmTiming h(hw.hbm, hw.chip.clock_ghz);
    const std::uint64_t g = hw.hbm.interleave_bytes;
    const std::uint64_t local = (std::uint64_t{hw.hbm.banks_per_channel} + 1) * hw.hbm.row_bytes;
    const std::uint64_t addr = local / g * hw.hbm.channels * g;
    const Tick first = h.access(0, 0, hw.hbm.burst_bytes, false);
    const Tick second = h.access(first, addr, hw.hbm.burst_bytes, false);
    const double got_ns = static_cast<double>(second - first) / kTicksPerCycle * ns_per_cycle;
    const double expect_ns = hw.hbm.latency_ns + hw.hbm.trp_ns + hw.hbm.trcd_ns + bus_ns;
    rows.push_back({"serialized random read", fmt::format("{:.1f} ns", got_ns),
                    fmt::format("{:.1f} ns lat+tRP+tRCD+burst", expect_ns), got_ns / expect_ns});
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
    // SRAM peak: one access spread over every bank, straight through the timing core. Its 256
    // rounds over the banks are the benchmark's own buffer, not a workload's: with wide banks or
    // a coarse interleave they outgrow the SRAM, whose capacity is not under test here.
    const std::uint64_t bytes = std::uint64_t{hw.sram.banks} * hw.sram.interleave_bytes * 256;
    SramConfig bench = hw.sram;
    bench.capacity_mib =
        std::max(bench.capacity_mib, static_cast<double>(bytes) / (1024.0 * 1024.0));
    SramTiming sram(bench);
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
