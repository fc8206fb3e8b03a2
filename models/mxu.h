#pragma once
/// Systolic matrix unit (MXU): folds of an R x C array, weight- or output-stationary.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/cycle.h"
#include "base/error.h"
#include "base/stat_fields.h"
#include "models/sram.h"
#include "traces/isa.h"

namespace tpusim {

enum class Dataflow : std::uint8_t { kWeightStationary, kOutputStationary };
enum class MxuTimingMode : std::uint8_t { kPipelined, kScaleSim };

struct MxuConfig {
  std::uint32_t count = 4;                           ///< mxu.count: arrays on the chip
  std::uint32_t rows = 128;                          ///< mxu.rows: R
  std::uint32_t cols = 128;                          ///< mxu.cols: C
  Dataflow dataflow = Dataflow::kWeightStationary;   ///< mxu.dataflow = "ws" | "os"
  MxuTimingMode timing = MxuTimingMode::kPipelined;  ///< mxu.timing = "pipelined" | "scalesim"
  double fp8_rate = 2.0;  ///< mxu.fp8_rate: fp8 throughput relative to bf16
  /// mxu.hold_weights: an array that still holds a matmul's stationary operand skips loading it
  /// again (pipelined weight-stationary single-fold matmuls; see HeldWeights).
  bool hold_weights = true;
  void validate() const;
};

struct MxuStats {
  std::uint64_t instructions = 0;
  std::uint64_t macs = 0;
  std::uint64_t macs_bf16 = 0;  ///< of `macs`, those of bf16 matmuls (energy per dtype)
  std::uint64_t macs_fp8 = 0;
  Cycle busy_cycles = 0;           ///< cycles this array was running a matmul
  Cycle compute_cycles = 0;        ///< of which the array itself was the limit (vs SRAM)
  std::uint64_t held_weights = 0;  ///< matmuls that found their weights already in the array
};

/// MxuStats' counters; instructions and busy_cycles are reported with the unit kind's
/// (units.mxu), the rest as its own keys.
inline constexpr StatField<MxuStats> kMxuStatFields[] = {
    {"instructions", "instructions", &MxuStats::instructions},
    {"busy_cycles", "cycles", &MxuStats::busy_cycles},
    {"macs", "MACs", &MxuStats::macs},
    {"macs_bf16", "MACs", &MxuStats::macs_bf16},
    {"macs_fp8", "MACs", &MxuStats::macs_fp8},
    {"compute_cycles", "cycles", &MxuStats::compute_cycles},
    {"held_weights", "matmuls", &MxuStats::held_weights},
};

/// SRAM traffic of one matmul: A re-read once per column fold, B once (OS: once per row fold,
/// since each output tile streams its B columns again), C written once as bf16.
struct MatmulTraffic {
  std::uint64_t a_bytes = 0;
  std::uint64_t b_bytes = 0;
  std::uint64_t c_bytes = 0;
};

/// When a matmul's folds stream through an array (pipelined mode; see SystolicTiming::schedule).
struct FoldSchedule {
  Cycle last_fold = 0;  ///< the last fold starts streaming: its successor's weights may load
  Cycle fold_free = 0;  ///< the earliest cycle the next fold (of any matmul) may start streaming
  Cycle end = 0;        ///< the last output has drained out of the array
};

/// Timing core, no SystemC. scalesim mode equals SCALE-Sim v2's compute cycles:
///   WS: ceil(K/R)*ceil(N/C)*(2R + C + M - 2) - 1
///   OS: ceil(M/R)*ceil(N/C)*(R + C + K - 2) - 1
/// pipelined mode overlaps each fold's weight load with the previous fold's stream (derivation
/// in mxu.cpp), with F folds and S the streaming length (M for WS, K for OS):
///   WS: R + (F-1)*max(S, R) + S + (R + C - 2)     OS: (F-1)*max(S, R) + S + (R + C - 2)
/// fp8 divides the streaming part by fp8_rate (S' = ceil(S / fp8_rate)), in both modes.
class SystolicTiming {
 public:
  explicit SystolicTiming(const MxuConfig& cfg) : m_cfg(cfg) {}
  Cycle cycles(std::uint64_t m, std::uint64_t n, std::uint64_t k, DType dtype) const;
  /// A matmul taken at `start` by an array whose previous matmul lets a new fold stream from
  /// `fold_free` (0 when idle). Pipelined mode carries the fold law across instructions: the
  /// first weights load from `start` (while the previous matmul's last fold streams) and the
  /// first fold streams at max(start + preload, fold_free), so only an idle array pays the
  /// preload and the previous matmul's drain overlaps this one's stream. With fold_free <= start
  /// the end is start + cycles(). scalesim mode serialises: last_fold = fold_free = end.
  ///
  /// `held`: the array already holds this matmul's weights (only when can_hold()). Nothing is
  /// loaded: the fold streams at max(start, fold_free) and occupies the array for S' cycles, not
  /// max(S', R). A successor that needs new weights still loads them from its own start (this
  /// fold's stream), so it is not affected.
  FoldSchedule schedule(std::uint64_t m, std::uint64_t n, std::uint64_t k, DType dtype, Cycle start,
                        Cycle fold_free, bool held = false) const;
  /// True when a matmul of this shape leaves its whole stationary operand in the array, so a
  /// successor with the same operand could skip the load: pipelined weight-stationary mode, one
  /// fold, mxu.hold_weights set. (After several folds the array holds only the last one.)
  bool can_hold(std::uint64_t m, std::uint64_t n, std::uint64_t k) const;
  std::uint64_t folds(std::uint64_t m, std::uint64_t n, std::uint64_t k) const;
  MatmulTraffic traffic(std::uint64_t m, std::uint64_t n, std::uint64_t k, DType dtype) const;
  /// MACs / (R*C*cycles)
  double utilization(std::uint64_t m, std::uint64_t n, std::uint64_t k, Cycle cycles) const;

 private:
  /// S': cycles one fold streams (M rows for WS, the K reduction for OS; fp8 at fp8_rate).
  std::uint64_t stream_cycles(std::uint64_t m, std::uint64_t k, DType dtype) const;
  MxuConfig m_cfg;
};

/// The stationary operand each array of the chip holds, so that an array can skip reloading
/// weights it already has: a TPU's matrix unit keeps latched weights until new ones are pushed,
/// so a long matmul that a lowering cut into row tiles against the same weights (the indexer's
/// key tiles against one query) loads them once. An array holds the B operand (SRAM range,
/// shape, dtype) of its last matmul if that matmul could hold it (SystolicTiming::can_hold);
/// any SRAM write that overlaps a held range drops it. The simulator reports a write when its
/// instruction is taken, before it writes (a matmul that reads the new data depends on that
/// instruction and starts later, so it sees the drop), and again when it retires (a hold taken
/// beside an unordered write that was still running is dropped then too).
class HeldWeights {
 public:
  explicit HeldWeights(std::uint32_t arrays) : m_held(arrays) {}
  /// True when `array` holds exactly `in`'s stationary operand.
  bool holds(std::uint32_t array, const Instruction& in) const;
  /// `array` now holds `in`'s stationary operand (unless `in` overwrites it itself).
  void hold(std::uint32_t array, const Instruction& in);
  /// `array` holds nothing reusable.
  void drop(std::uint32_t array) { m_held[array].valid = false; }
  /// SRAM bytes [offset, offset + bytes) are about to be written: drops every hold they touch.
  void written(std::uint64_t offset, std::uint64_t bytes);

 private:
  struct Held {
    std::uint64_t offset = 0, bytes = 0, k = 0, n = 0;
    DType dtype = DType::kBf16;
    bool valid = false;
  };
  std::vector<Held> m_held;
  /// Bounds of every range ever held since the last sweep: most writes fall outside and cost
  /// one comparison, whatever the number of arrays.
  std::uint64_t m_lo = ~std::uint64_t{0}, m_hi = 0;
};

/// One array's execution of a matmul, with its operand traffic: it finishes no sooner than the
/// array's cycles and no sooner than SRAM has delivered A (once per column fold) and B and
/// taken C back. Plain C++; MxuUnit (models/mxu_unit.h) wraps it for the executor.
class MxuCore {
 public:
  /// One matmul taken by the array: when its results are out, and when the array can take the
  /// next (its last fold has started streaming, so the next weights may load; `end` when the
  /// operands, not the array, were the limit, or in scalesim mode).
  struct Issue {
    Cycle end = 0;
    Cycle accept_next = 0;
  };
  /// Array `array` of the chip, whose arrays share `held` (the array's index in it).
  MxuCore(const MxuConfig& cfg, SramTiming& sram, HeldWeights& held, std::uint32_t array)
      : m_timing(cfg), m_sram(sram), m_held(&held), m_array(array) {}
  /// A lone array (tests): it keeps its own record of what it holds.
  MxuCore(const MxuConfig& cfg, SramTiming& sram)
      : m_timing(cfg), m_sram(sram), m_own(std::make_unique<HeldWeights>(1)), m_held(m_own.get()) {}
  /// Takes `in` (an mxu.matmul) at `start`, after the matmuls taken before it; counts it.
  /// Ends are non-decreasing: results leave the array in the order the matmuls entered.
  Issue issue(const Instruction& in, Cycle start);
  const MxuStats& stats() const { return m_stats; }
  const SystolicTiming& timing() const { return m_timing; }

 private:
  SystolicTiming m_timing;
  SramTiming& m_sram;
  std::unique_ptr<HeldWeights> m_own;
  HeldWeights* m_held;
  std::uint32_t m_array = 0;
  MxuStats m_stats;
  Cycle m_fold_free = 0;  ///< see FoldSchedule
  Cycle m_last_end = 0;   ///< the latest end so far (busy_cycles is the union of [start, end))
};

}  // namespace tpusim
