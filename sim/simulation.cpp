#include "sim/simulation.h"

#include <fmt/format.h>

#include <algorithm>

#include "sim/chip.h"
#include "sim/sim_time.h"

namespace tpusim {
namespace {

std::uint64_t dtype_bytes(DType t) {
  return t == DType::kFp8 ? 1 : 2;
}

// Adds with a check instead of wrapping: sizes come from user-written traces.
bool add_overflows(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  out = a + b;
  return out < a;
}

bool mul_overflows(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  if (a != 0 && b > UINT64_MAX / a) return true;
  out = a * b;
  return false;
}

struct Range {
  const char* key;
  Address addr;
  std::uint64_t bytes;
  bool overflow;
};

// The byte ranges an instruction touches in each memory.
int ranges_of(const Instruction& in, Range* out) {
  int n = 0;
  std::uint64_t v = 0;
  bool of = false;
  switch (in.op) {
    case Op::kDmaLoad:
    case Op::kDmaStore: {
      std::uint64_t hbm_span = in.bytes;
      bool hof = false;
      if (in.rows > 1) {
        std::uint64_t t = 0;
        hof = mul_overflows(in.rows - 1, dma_row_pitch(in), t) ||
              add_overflows(t, in.bytes / in.rows, hbm_span);
      }
      const Address& h = in.op == Op::kDmaLoad ? in.src : in.dst;
      const Address& s = in.op == Op::kDmaLoad ? in.dst : in.src;
      out[n++] = {in.op == Op::kDmaLoad ? "src" : "dst", h, hbm_span, hof};
      out[n++] = {in.op == Op::kDmaLoad ? "dst" : "src", s, in.bytes, false};
      break;
    }
    case Op::kDmaGather:
      of = mul_overflows(in.span, in.row_bytes, v);
      out[n++] = {"src", in.src, v, of};
      of = mul_overflows(in.rows, in.row_bytes, v);
      out[n++] = {"dst", in.dst, v, of};
      break;
    case Op::kMxuMatmul: {
      const std::uint64_t eb = dtype_bytes(in.dtype);
      std::uint64_t t = 0;
      of = mul_overflows(in.m, in.k, t) || mul_overflows(t, eb, v);
      out[n++] = {"a", in.a, v, of};
      of = mul_overflows(in.k, in.n, t) || mul_overflows(t, eb, v);
      out[n++] = {"b", in.b, v, of};
      // Results leave the array as bf16 (fp32 accumulation inside).
      of = mul_overflows(in.m, in.n, t) || mul_overflows(t, 2, v);
      out[n++] = {"c", in.c, v, of};
      break;
    }
    case Op::kVpuTopk: {
      std::uint64_t t = 0;
      of = mul_overflows(in.rows, in.n, t) || mul_overflows(t, kVpuElementBytes, v);
      out[n++] = {"src", in.src, v, of};
      of = mul_overflows(in.rows, in.k, t) || mul_overflows(t, kVpuElementBytes, v);
      out[n++] = {"dst", in.dst, v, of};
      break;
    }
    default: {  // vector ops
      of = mul_overflows(in.elems, kVpuElementBytes, v);
      out[n++] = {"src", in.src, v, of};
      std::uint64_t dst_elems = in.elems;
      if ((in.op == Op::kVpuSum || in.op == Op::kVpuMax || in.op == Op::kVpuReluWsum) && in.n > 0)
        dst_elems = (in.elems + in.n - 1) / in.n;
      of = mul_overflows(dst_elems, kVpuElementBytes, v);
      out[n++] = {"dst", in.dst, v, of};
      break;
    }
  }
  return n;
}

std::string where_of(const Instruction& in, const std::string& origin) {
  if (in.line > 0) return fmt::format("{}:{}: instruction {}", origin, in.line, in.id);
  return fmt::format("{}: instruction {} ({})", origin, in.id, op_name(in.op));
}

}  // namespace

void validate_instruction(const Instruction& in, const HwConfig& hw, const std::string& origin) {
  Range r[3];
  int n = ranges_of(in, r);
  for (int i = 0; i < n; ++i) {
    const bool sram = r[i].addr.space == Space::kSram;
    const std::uint64_t cap = sram ? hw.sram.capacity_bytes() : hw.hbm.capacity_bytes();
    std::uint64_t end = 0;
    if (r[i].overflow || add_overflows(r[i].addr.offset, r[i].bytes, end))
      throw TraceError(
          fmt::format("{}: {}: size overflows 64 bits", where_of(in, origin), r[i].key));
    if (end > cap)
      throw TraceError(fmt::format("{}: {}={}:{} + {} bytes ends at {} beyond {} ({} bytes)",
                                   where_of(in, origin), r[i].key, sram ? "sram" : "hbm",
                                   r[i].addr.offset, r[i].bytes, end,
                                   sram ? "sram.capacity_mib" : "hbm.capacity_gib", cap));
  }
}

std::uint64_t sram_extent(const Instruction& in) {
  Range r[3];
  int n = ranges_of(in, r);
  std::uint64_t hi = 0;
  for (int i = 0; i < n; ++i)
    if (r[i].addr.space == Space::kSram) hi = std::max(hi, r[i].addr.offset + r[i].bytes);
  return hi;
}

RunResult simulate(const HwConfig& hw, InstructionSource& source, const TagTable& tags,
                   const SimOptions& opts) {
  RunResult res;
  res.hw = hw;
  res.stats = RunStats(opts.timeline_limit);
  Scoreboard board(source, hw.topk.enabled, opts.window, hw.exec.issue_window);
  Executor exec("executor", board,
                [&res](const Instruction& in, UnitKind kind, int instance, Cycle s, Cycle e,
                       Cycle horizon) { res.stats.on_retire(in, kind, instance, s, e, horizon); });
  Chip chip("chip", hw, exec);
  sc_core::sc_start();
  if (exec.error()) std::rethrow_exception(exec.error());
  if (!board.all_done())
    throw SimError(fmt::format(
        "simulation stopped at cycle {} with work left (deadlock); {} instructions finished; "
        "waiting:\n{}",
        now_cycles(), board.finished(), board.describe_waiting()));

  res.cycles = res.stats.last_end;
  res.hbm = chip.hbm().stats();
  res.sram = chip.sram().stats();
  for (const auto& m : chip.mxus()) {
    const MxuStats& s = m->stats();
    res.mxu.instructions += s.instructions;
    res.mxu.macs += s.macs;
    res.mxu.busy_cycles += s.busy_cycles;
    res.mxu.compute_cycles += s.compute_cycles;
  }
  res.vpu = chip.vpu().stats();
  if (chip.topk()) res.topk = chip.topk()->stats();
  for (const auto& d : chip.dmas()) {
    const DmaStats& s = d->stats();
    res.dma.instructions += s.instructions;
    res.dma.requests += s.requests;
    res.dma.read_bytes += s.read_bytes;
    res.dma.write_bytes += s.write_bytes;
    res.dma.gathered_rows += s.gathered_rows;
    res.dma.busy_cycles += s.busy_cycles;
  }
  res.stats.units[static_cast<std::size_t>(UnitKind::kMxu)].instances =
      static_cast<int>(hw.mxu.count);
  res.stats.units[static_cast<std::size_t>(UnitKind::kDma)].instances =
      static_cast<int>(hw.dma.engines);
  res.stats.units[static_cast<std::size_t>(UnitKind::kVpu)].instances = 1;
  res.stats.units[static_cast<std::size_t>(UnitKind::kTopk)].instances = hw.topk.enabled ? 1 : 0;
  for (std::size_t i = 0; i < tags.size(); ++i)
    res.tag_names.push_back(tags.name(static_cast<std::uint16_t>(i)));
  return res;
}

}  // namespace tpusim
