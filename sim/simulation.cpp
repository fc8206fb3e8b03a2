#include "sim/simulation.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/math.h"
#include "models/sim_time.h"
#include "sim/chip.h"

namespace tpusim {
namespace {

// Adds with a check instead of wrapping: sizes come from user-written traces.

std::string where_of(const Instruction& in, const std::string& origin) {
  if (in.line > 0) return fmt::format("{}:{}: instruction {}", origin, in.line, in.id);
  return fmt::format("{}: instruction {} ({})", origin, in.id, op_name(in.op));
}

}  // namespace

void validate_instruction(const Instruction& in, const HwConfig& hw, const std::string& origin) {
  OperandExtent r[kMaxOperands];
  const int n = operand_extents(in, r);
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
  OperandExtent r[kMaxOperands];
  const int n = operand_extents(in, r);
  std::uint64_t hi = 0;
  for (int i = 0; i < n; ++i)
    if (r[i].addr.space == Space::kSram) hi = std::max(hi, r[i].addr.offset + r[i].bytes);
  return hi;
}

RunResult simulate(const HwConfig& hw, InstructionSource& source, const TagTable& tags,
                   const SimOptions& opts) {
  RunResult res;
  res.hw = hw;
  res.stats = RunStats(opts.timeline_limit, ActivityCounter(hw));
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
  for (const auto& m : chip.mxus())
    add_stats(res.mxu, m->stats(), kMxuStatFields);
  res.vpu = chip.vpu().stats();
  if (chip.topk()) res.topk = chip.topk()->stats();
  for (const auto& d : chip.dmas())
    add_stats(res.dma, d->stats(), kDmaStatFields);
  res.stats.unit(UnitKind::kMxu).instances = static_cast<int>(hw.mxu.count);
  res.stats.unit(UnitKind::kDma).instances = static_cast<int>(hw.dma.engines);
  res.stats.unit(UnitKind::kVpu).instances = 1;
  res.stats.unit(UnitKind::kTopk).instances = hw.topk.enabled ? 1 : 0;
  for (std::size_t i = 0; i < tags.size(); ++i)
    res.tag_names.push_back(tags.name(static_cast<std::uint16_t>(i)));
  return res;
}

}  // namespace tpusim
