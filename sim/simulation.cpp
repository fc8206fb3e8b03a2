#include "sim/simulation.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/math.h"

namespace tpusim {
namespace {

// Adds with a check instead of wrapping: sizes come from user-written traces.

std::string where_of(const Instruction& in, const std::string& origin) {
  if (in.line > 0) return fmt::format("{}:{}: instruction {}", origin, in.line, in.id);
  return fmt::format("{}: instruction {} ({})", origin, in.id, op_name(in.op));
}

}  // namespace

void validate_instruction(const Instruction& in, const HwConfig& hw, const std::string& origin) {
  // The model draws a gather's row indices as a list (8 B each, and a sort): a bound keeps one
  // instruction's memory under a few hundred MB. Lowerings gather k rows per query or less.
  constexpr std::uint64_t kMaxGatherRows = std::uint64_t{1} << 22;
  if (in.op == Op::kDmaGather && in.rows > kMaxGatherRows)
    throw TraceError(fmt::format(
        "{}: rows={} is more than the {} rows one gather may pick (split it into several)",
        where_of(in, origin), in.rows, kMaxGatherRows));
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

namespace {

Simulator (*g_loader)() = nullptr;
Simulator g_simulator = nullptr;
bool g_simulated = false;

}  // namespace

void set_simulator_loader(Simulator (*loader)()) {
  g_loader = loader;
  g_simulator = nullptr;
}

void prepare_simulator() {
  if (g_simulator) return;
  if (!g_loader) throw SimError("internal error: no simulator installed (set_simulator_loader)");
  g_simulator = g_loader();
}

RunResult simulate(const HwConfig& hw, InstructionSource& source, const TagTable& tags,
                   const SimOptions& opts) {
  prepare_simulator();
  g_simulated = true;
  return g_simulator(hw, source, tags, opts);
}

bool simulated_in_this_process() {
  return g_simulated;
}

}  // namespace tpusim
