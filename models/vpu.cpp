#include "models/vpu.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "base/math.h"
#include "models/energy.h"

namespace tpusim {
namespace {

Cycle ceil_cycles(double work_elems, double per_cycle) {
  return static_cast<Cycle>(std::ceil(work_elems / per_cycle));
}

void set_cost(std::array<double, kVpuOpCount>& cost, Op op, double v) {
  cost[static_cast<std::size_t>(vpu_op_index(op))] = v;
}

}  // namespace

// Default element-passes per element. These are assumptions, not measurements: a simple
// arithmetic op is one pass; exp is a range reduction plus a short polynomial (~4 passes);
// softmax is max, subtract+exp, sum, scale over the row (~6); rmsnorm is square, sum, rsqrt and
// scale (~4); rope is two multiplies and an add over rotated halves (~3).
VpuConfig::VpuConfig() {
  cost.fill(1.0);
  set_cost(cost, Op::kVpuRelu, 1);
  set_cost(cost, Op::kVpuExp, 4);
  set_cost(cost, Op::kVpuScale, 1);
  set_cost(cost, Op::kVpuAdd, 1);
  set_cost(cost, Op::kVpuMul, 1);
  set_cost(cost, Op::kVpuMax, 1);
  set_cost(cost, Op::kVpuSum, 1);
  set_cost(cost, Op::kVpuSoftmax, 6);
  set_cost(cost, Op::kVpuRmsnorm, 4);
  set_cost(cost, Op::kVpuRope, 3);
  set_cost(cost, Op::kVpuCast, 1);
  // relu_wsum fuses ReLU, weight multiply and sum: a max and a multiply-add per element. Fusing
  // saves the SRAM round trips of the unfused ops, never their arithmetic.
  set_cost(cost, Op::kVpuReluWsum, 2);
  set_cost(cost, Op::kVpuTopk, 0);  // unused: topk has its own law
}

void VpuConfig::validate() const {
  if (lanes == 0) throw ConfigError("vpu.lanes must be > 0 (got 0)");
  for (int i = 0; i < kVpuOpCount; ++i) {
    if (i == vpu_op_index(Op::kVpuTopk)) continue;
    const double c = cost[static_cast<std::size_t>(i)];
    if (!std::isfinite(c) || c <= 0)
      throw ConfigError(fmt::format("vpu.cost_{} must be > 0 (got {})", vpu_op_short_name(i), c));
  }
  if (topk_passes == 0) throw ConfigError("vpu.topk_passes must be > 0 (got 0)");
  // Costs and latencies turn into cycle counts through doubles and SystemC time (ps in 64
  // bits): bounds keep every instruction's duration far from overflow.
  for (int i = 0; i < kVpuOpCount; ++i) {
    if (i == vpu_op_index(Op::kVpuTopk)) continue;
    const std::string key = "vpu.cost_" + std::string(vpu_op_short_name(i));
    require_at_most(key.c_str(), cost[static_cast<std::size_t>(i)], 1 << 20);
  }
  require_at_most("vpu.topk_passes", topk_passes, 1024);
  require_at_most("vpu.op_latency_cycles", static_cast<double>(op_latency_cycles), 1e9);
}

Cycle VpuTiming::cycles(const Instruction& in) const {
  if (in.op == Op::kVpuTopk) {
    // Radix select: topk_passes histogram passes over every score, then one compaction over
    // the k survivors of each row; guided by a guess (cand > 0), the law of topk_lane_ops.
    const std::uint64_t work = in.rows * topk_lane_ops(in.n, in.k, in.cand, m_cfg.topk_passes);
    return m_cfg.op_latency_cycles + ceil_div(work, m_cfg.lanes);
  }
  const double c = m_cfg.cost[static_cast<std::size_t>(vpu_op_index(in.op))];
  return m_cfg.op_latency_cycles +
         ceil_cycles(static_cast<double>(in.elems) * c, static_cast<double>(m_cfg.lanes));
}

// SRAM traffic, fp32 elements (kVectorElementBytes):
//   elementwise ops (incl. the binary add/mul/max, whose second operand is a broadcast or
//   register-resident value in our lowerings): read elems, write elems;
//   sum/max with n (row length): read elems, write elems / n (one value per row);
//   softmax: read elems, write elems (the row statistics stay in registers);
//   topk: each radix pass re-reads the rows * n scores (they do not fit in registers), then
//   writes rows * k indices (4 B each).
std::uint64_t VpuTiming::read_bytes(const Instruction& in) const {
  if (in.op == Op::kVpuTopk)
    return in.rows * topk_score_reads(in.n, in.k, in.cand, m_cfg.topk_passes) * kVectorElementBytes;
  return in.elems * kVectorElementBytes;
}

std::uint64_t VpuTiming::write_bytes(const Instruction& in) const {
  if (in.op == Op::kVpuTopk) return in.rows * in.k * kVectorElementBytes;
  if (is_row_reduction(in)) return ceil_div(in.elems, in.n) * kVectorElementBytes;
  return in.elems * kVectorElementBytes;
}

Cycle VpuCore::execute(const Instruction& in, Cycle t0) {
  const Cycle compute = m_timing.cycles(in);
  const std::uint64_t rd = m_timing.read_bytes(in);
  const std::uint64_t wr = m_timing.write_bytes(in);
  // A radix select re-reads the same scores each pass. A guided one reads the guessed scores,
  // all scores once, then the candidates on each refine pass: more bytes than its operand, but
  // all inside it, so as whole passes over the operand (a contiguous stream of rd bytes from
  // src would read past it, past SRAM's end for an operand at the top).
  std::uint64_t passes = 1;
  if (in.op == Op::kVpuTopk) {
    const std::uint64_t operand = in.rows * in.n * kVectorElementBytes;
    passes = in.cand == 0
                 ? m_timing.config().topk_passes
                 : std::max<std::uint64_t>(1, ceil_div(rd, std::max<std::uint64_t>(operand, 1)));
  }
  // Both operands are reserved at t0: the op cannot finish before SRAM has streamed them.
  Cycle end = t0 + compute;
  end = std::max(end, m_sram.access_repeat(t0, in.src.offset, ceil_div(rd, passes), passes, false));
  end = std::max(end, m_sram.access(t0, in.dst.offset, wr, true));
  ++m_stats.instructions;
  m_stats.elements += in.op == Op::kVpuTopk ? in.rows * in.n : in.elems;
  m_stats.lane_ops += vpu_lane_ops(in, m_timing.config());
  m_stats.busy_cycles += end - t0;
  return end;
}

}  // namespace tpusim
