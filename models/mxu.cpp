#include "models/mxu.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "base/math.h"

namespace tpusim {
void MxuConfig::validate() const {
  if (count == 0) throw ConfigError("mxu.count must be > 0 (got 0)");
  if (rows == 0) throw ConfigError("mxu.rows must be > 0 (got 0)");
  if (cols == 0) throw ConfigError("mxu.cols must be > 0 (got 0)");
  if (!std::isfinite(fp8_rate) || fp8_rate <= 0)
    throw ConfigError(fmt::format("mxu.fp8_rate must be > 0 (got {})", fp8_rate));
  // Every array is a SystemC module; cycle laws multiply these, so bound them generously.
  require_at_most("mxu.count", count, 1024);
  require_at_most("mxu.rows", rows, 1 << 16);
  require_at_most("mxu.cols", cols, 1 << 16);
  require_at_least("mxu.fp8_rate", fp8_rate, 1.0 / 1024);
  require_at_most("mxu.fp8_rate", fp8_rate, 1024);
}

std::uint64_t SystolicTiming::stream_cycles(std::uint64_t m, std::uint64_t k, DType dtype) const {
  std::uint64_t stream = m_cfg.dataflow == Dataflow::kWeightStationary ? m : k;
  if (dtype == DType::kFp8)
    stream = static_cast<std::uint64_t>(std::ceil(static_cast<double>(stream) / m_cfg.fp8_rate));
  return std::max<std::uint64_t>(stream, 1);
}

std::uint64_t SystolicTiming::folds(std::uint64_t m, std::uint64_t n, std::uint64_t k) const {
  const std::uint64_t col_folds = ceil_div(n, m_cfg.cols);
  if (m_cfg.dataflow == Dataflow::kWeightStationary) return ceil_div(k, m_cfg.rows) * col_folds;
  return ceil_div(m, m_cfg.rows) * col_folds;
}

// Laws (R rows, C cols, F folds; S = streaming length of one fold: M rows of A for WS, the K
// reduction for OS; fp8 streams S' = ceil(S / fp8_rate) cycles because each PE takes fp8_rate
// operand pairs per cycle; fill, drain and weight loads are not sped up):
//
//   scalesim WS: F * (2R + C + S' - 2) - 1        scalesim OS: F * (R + C + S' - 2) - 1
//     SCALE-Sim v2 serialises folds, each loading its weights (R), streaming (S) and draining
//     through the array's skew (R + C - 2); -1 because it reports the last cycle's index.
//
//   pipelined WS: R + (F - 1) * max(S', R) + S' + (R + C - 2)
//     Weights are double-buffered: fold f+1's weights (R cycles to shift in) load while fold f
//     streams, so a fold occupies the array for max(S', R); only the first load is exposed, and
//     only the last fold's skew drains. One fold gives 2R + C + M - 2 = scalesim + 1 (a
//     duration, not an index).
//   pipelined OS: (F - 1) * max(S', R) + S' + (R + C - 2)
//     Nothing stationary is preloaded; the accumulators have one shadow copy instead. A fold
//     hands its outputs to the shadow, which shifts them out in R cycles while the next fold
//     streams; the next hand-over must wait for that drain, so a fold occupies max(S', R). One
//     fold gives R + C + K - 2 = scalesim + 1.
Cycle SystolicTiming::cycles(std::uint64_t m, std::uint64_t n, std::uint64_t k, DType dtype) const {
  if (m == 0 || n == 0 || k == 0) return 0;
  const std::uint64_t r = m_cfg.rows;
  const std::uint64_t c = m_cfg.cols;
  const std::uint64_t f = folds(m, n, k);
  const bool ws = m_cfg.dataflow == Dataflow::kWeightStationary;
  const std::uint64_t stream = stream_cycles(m, k, dtype);
  // Traces bound m, n, k only through SRAM capacity, so a huge chip could make the products
  // wrap; saturate instead, and let the simulated-time guard reject the result.
  std::uint64_t t = 0;
  if (m_cfg.timing == MxuTimingMode::kScaleSim) {
    const std::uint64_t per_fold = ws ? 2 * r + c + stream - 2 : r + c + stream - 2;
    if (__builtin_mul_overflow(f, per_fold, &t)) return kMaxSimCycles;
    return t - 1;
  }
  const std::uint64_t preload = ws ? r : 0;
  if (__builtin_mul_overflow(f - 1, std::max(stream, r), &t) || t > kMaxSimCycles)
    return kMaxSimCycles;
  return std::min<std::uint64_t>(kMaxSimCycles, preload + t + stream + (r + c - 2));
}

// Across instructions (pipelined mode), the same rule holds between the last fold of one matmul
// and the first of the next: the next weights shift in while the last fold streams (from the
// cycle the array takes the next matmul, which is no earlier than that fold's start), so the
// first fold streams at max(start + preload, previous last fold + max(S'_prev, R)), and the
// previous matmul's outputs drain through the array's skew while it does. A TPU core feeds its
// MXUs a continuous stream of weight pushes and LHS rows; charging every instruction a fresh
// preload and drain made a tile's cost depend on how finely the lowering cut it.
FoldSchedule SystolicTiming::schedule(std::uint64_t m, std::uint64_t n, std::uint64_t k,
                                      DType dtype, Cycle start, Cycle fold_free, bool held) const {
  FoldSchedule s;
  if (m_cfg.timing == MxuTimingMode::kScaleSim || m == 0 || n == 0 || k == 0) {
    s.end = start + cycles(m, n, k, dtype);
    s.last_fold = s.fold_free = s.end;
    return s;
  }
  const std::uint64_t r = m_cfg.rows;
  const std::uint64_t c = m_cfg.cols;
  const std::uint64_t f = folds(m, n, k);
  const bool ws = m_cfg.dataflow == Dataflow::kWeightStationary;
  const std::uint64_t stream = stream_cycles(m, k, dtype);
  if (held) {
    SIM_CHECK("mxu", can_hold(m, n, k),
              fmt::format("a {}x{}x{} matmul cannot find its weights held", m, n, k));
    // One fold, weights already in place: it streams as soon as the array is free.
    s.last_fold = std::max(start, fold_free);
    s.fold_free = s.last_fold + stream;
    s.end = s.last_fold + stream + (r + c - 2);
    return s;
  }
  const std::uint64_t occupancy = std::max(stream, r);
  std::uint64_t body = 0;
  if (__builtin_mul_overflow(f - 1, occupancy, &body) || body > kMaxSimCycles) body = kMaxSimCycles;
  // Every term is below 2^50 (kMaxSimCycles) or bounded by the config's limits, so the sums
  // cannot wrap; the simulated-time guard rejects a result past kMaxSimCycles.
  const Cycle first = std::max(start + (ws ? r : 0), fold_free);
  s.last_fold = first + body;
  // WS: the array can stream again once the last fold has streamed. A successor with new weights
  // cannot start sooner anyway (it is taken at last_fold at the earliest and loads for R after
  // that, and max(S', R) = S' when the stream is the longer), so only a held successor gains.
  // OS: the next fold waits for the shadow accumulators to drain, max(S', R) after this one.
  s.fold_free = s.last_fold + (ws ? stream : occupancy);
  s.end = s.last_fold + stream + (r + c - 2);
  return s;
}

bool SystolicTiming::can_hold(std::uint64_t m, std::uint64_t n, std::uint64_t k) const {
  return m_cfg.hold_weights && m_cfg.timing == MxuTimingMode::kPipelined &&
         m_cfg.dataflow == Dataflow::kWeightStationary && m > 0 && n > 0 && k > 0 &&
         folds(m, n, k) == 1;
}

bool HeldWeights::holds(std::uint32_t array, const Instruction& in) const {
  const Held& h = m_held[array];
  return h.valid && h.offset == in.b.offset && h.k == in.k && h.n == in.n && h.dtype == in.dtype;
}

void HeldWeights::hold(std::uint32_t array, const Instruction& in) {
  const std::uint64_t bytes = in.k * in.n * dtype_bytes(in.dtype);
  const std::uint64_t c_bytes = in.m * in.n * kMatmulOutputBytes;
  Held& h = m_held[array];
  // A matmul whose output lands on its own weights leaves nothing reusable.
  if (in.c.offset < in.b.offset + bytes && in.b.offset < in.c.offset + c_bytes) {
    h.valid = false;
    return;
  }
  h = Held{in.b.offset, bytes, in.k, in.n, in.dtype, true};
  m_lo = std::min(m_lo, h.offset);
  m_hi = std::max(m_hi, h.offset + bytes);
}

void HeldWeights::written(std::uint64_t offset, std::uint64_t bytes) {
  if (bytes == 0 || offset >= m_hi || offset + bytes <= m_lo) return;
  std::uint64_t lo = ~std::uint64_t{0}, hi = 0;
  for (Held& h : m_held) {
    if (!h.valid) continue;
    if (offset < h.offset + h.bytes && h.offset < offset + bytes) {
      h.valid = false;
      continue;
    }
    lo = std::min(lo, h.offset);
    hi = std::max(hi, h.offset + h.bytes);
  }
  m_lo = lo;
  m_hi = hi;
}

// A is streamed once per column fold (each fold sees all of A's rows against C columns of B).
// WS: B is the stationary operand, loaded once. OS: each (row fold, column fold) streams its B
// columns again, so B is re-read once per row fold (ceil(M/R); 1 for decode-sized M <= R).
// C is written once, as bf16.
MatmulTraffic SystolicTiming::traffic(std::uint64_t m, std::uint64_t n, std::uint64_t k,
                                      DType dtype) const {
  const std::uint64_t e = dtype_bytes(dtype);
  const std::uint64_t col_folds = ceil_div(n, m_cfg.cols);
  MatmulTraffic t;
  t.a_bytes = m * k * e * col_folds;
  t.b_bytes = k * n * e;
  if (m_cfg.dataflow == Dataflow::kOutputStationary) t.b_bytes *= ceil_div(m, m_cfg.rows);
  t.c_bytes = m * n * kMatmulOutputBytes;
  return t;
}

double SystolicTiming::utilization(std::uint64_t m, std::uint64_t n, std::uint64_t k,
                                   Cycle cycles) const {
  if (cycles == 0) return 0.0;
  const double macs = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  return macs / (static_cast<double>(m_cfg.rows) * m_cfg.cols * static_cast<double>(cycles));
}

MxuCore::Issue MxuCore::issue(const Instruction& in, Cycle t0) {
  const bool can_hold = m_timing.can_hold(in.m, in.n, in.k);
  const bool held = can_hold && m_held->holds(m_array, in);
  const FoldSchedule fs = m_timing.schedule(in.m, in.n, in.k, in.dtype, t0, m_fold_free, held);
  if (can_hold)
    m_held->hold(m_array, in);
  else
    m_held->drop(m_array);
  if (held) ++m_stats.held_weights;
  const MatmulTraffic traffic = m_timing.traffic(in.m, in.n, in.k, in.dtype);
  const std::uint64_t e = dtype_bytes(in.dtype);
  // All operand traffic is reserved at t0: the array cannot finish before SRAM has streamed
  // A (once per column fold) and B to it and taken C back, whatever the order inside.
  const std::uint64_t a_size = in.m * in.k * e;
  const std::uint64_t b_size = in.k * in.n * e;
  Cycle end = fs.end;
  end = std::max(end, m_sram.access_repeat(t0, in.a.offset, a_size,
                                           a_size ? traffic.a_bytes / a_size : 0, false));
  end = std::max(end, m_sram.access_repeat(t0, in.b.offset, b_size,
                                           b_size ? traffic.b_bytes / b_size : 0, false));
  end = std::max(end, m_sram.access(t0, in.c.offset, traffic.c_bytes, true));
  Issue out;
  if (end > fs.end) {
    // The operands were the limit: the array stalled mid-stream, so nothing overlaps.
    out.accept_next = end;
    m_fold_free = end;
  } else {
    out.accept_next = fs.last_fold;
    m_fold_free = fs.fold_free;
  }
  end = std::max(end, m_last_end);
  out.end = end;
  ++m_stats.instructions;
  m_stats.macs += in.m * in.n * in.k;
  (in.dtype == DType::kFp8 ? m_stats.macs_fp8 : m_stats.macs_bf16) += in.m * in.n * in.k;
  m_stats.busy_cycles += end - std::max(t0, m_last_end);
  m_stats.compute_cycles += fs.end - std::max(t0, std::min(m_last_end, fs.end));
  m_last_end = end;
  return out;
}

}  // namespace tpusim
