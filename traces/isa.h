#pragma once
/// The tpusim instruction set (trace format v1, traces/FORMAT.md) as C++ types, and the one
/// home of per-op knowledge: which unit runs an op, which bytes it touches, what it computes.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tpusim {

/// The kind of unit that executes an instruction. Instructions of one kind issue in order.
enum class UnitKind : std::uint8_t { kDma, kMxu, kVpu, kTopk };
constexpr int kUnitKinds = 4;

enum class Op : std::uint8_t {
  kDmaLoad,
  kDmaStore,
  kDmaGather,
  kMxuMatmul,
  // Vector ops; keep kVpuRelu first and kVpuTopk last (range checks rely on it).
  kVpuRelu,
  kVpuExp,
  kVpuScale,
  kVpuAdd,
  kVpuMul,
  kVpuMax,
  kVpuSum,
  kVpuSoftmax,
  kVpuRmsnorm,
  kVpuRope,
  kVpuCast,
  /// Fused indexer epilogue: out[g] = sum over a row of n of relu(x) * w (ReLU, weight multiply
  /// and head sum in one pass through the vector registers). Added in format v1 without a
  /// version bump: older traces never name it.
  kVpuReluWsum,
  kVpuTopk,
};
constexpr int kOpCount = static_cast<int>(Op::kVpuTopk) + 1;
constexpr int kVpuOpCount = static_cast<int>(Op::kVpuTopk) - static_cast<int>(Op::kVpuRelu) + 1;

inline bool is_vpu_op(Op op) {
  return op >= Op::kVpuRelu;
}
inline bool is_dma_op(Op op) {
  return op <= Op::kDmaGather;
}
/// Index 0..kVpuOpCount-1 of a vector op (for per-op cost tables).
inline int vpu_op_index(Op op) {
  return static_cast<int>(op) - static_cast<int>(Op::kVpuRelu);
}

/// "dma.load", "vpu.softmax", ...
std::string_view op_name(Op op);
/// Inverse of op_name; false if unknown.
bool parse_op(std::string_view name, Op& out);
/// "relu", "exp", ... for vector ops (the part after "vpu.").
std::string_view vpu_op_short_name(int vpu_index);

enum class Space : std::uint8_t { kHbm, kSram };

struct Address {
  Space space = Space::kHbm;
  std::uint64_t offset = 0;
};

enum class DType : std::uint8_t { kBf16, kFp8 };
std::string_view dtype_name(DType t);
/// Bytes per matmul operand element.
constexpr std::uint64_t dtype_bytes(DType t) {
  return t == DType::kFp8 ? 1 : 2;
}
/// Matmul results leave the array as bf16 (fp32 accumulation inside).
constexpr std::uint64_t kMatmulOutputBytes = 2;
/// Vector data in SRAM is fp32 (scores, softmax statistics, top-k indices).
constexpr std::uint64_t kVectorElementBytes = 4;

/// How a gather picks its rows (traces/FORMAT.md).
enum class PatternKind : std::uint8_t {
  kUniform,    ///< rows drawn uniformly from the whole span, without repetition
  kRecent,     ///< all rows within the last `param` rows of the span
  kClustered,  ///< runs of `param` adjacent rows
  kStrided,    ///< every `param`-th row
};

struct GatherPattern {
  PatternKind kind = PatternKind::kUniform;
  std::uint64_t param = 0;  ///< W, C or S; unused for uniform
};
/// "uniform", "recent:4096", ...
std::string pattern_to_string(const GatherPattern& p);
/// Parses the text form; returns an error message or empty on success.
std::string parse_pattern(std::string_view text, GatherPattern& out);

/// One instruction. Fields not used by an op stay zero. Plain data: cheap to copy.
struct Instruction {
  std::uint64_t id = 0;
  Op op = Op::kDmaLoad;
  std::uint16_t tag = 0;   ///< index into the trace's tag table; 0 is the empty tag
  std::uint32_t line = 0;  ///< source line in the trace file (0 if generated in memory)

  Address src, dst;  ///< dma and vpu operands
  /// dma.load/store: total bytes moved. With rows > 1 the transfer is 2-D: `rows` rows of
  /// bytes/rows each, `stride` bytes apart on the HBM side, packed on the SRAM side.
  std::uint64_t bytes = 0;
  std::uint64_t rows = 0;    ///< dma 2-D row count (0 or 1 = linear); gather rows; topk rows
  std::uint64_t stride = 0;  ///< dma 2-D HBM row pitch in bytes

  // dma.gather
  std::uint64_t span = 0;       ///< rows in the table at src
  std::uint64_t row_bytes = 0;  ///< bytes per gathered row
  GatherPattern pattern;
  std::uint64_t seed = 0;

  // mxu.matmul: C[m x n] = A[m x k] . B[k x n]
  std::uint64_t m = 0, n = 0, k = 0;
  DType dtype = DType::kBf16;
  Address a, b, c;

  // vpu: `elems` elements; topk: `rows` rows of `n` scores, keep `k` per row.
  std::uint64_t elems = 0;
  /// vpu.topk guided by a guess (the previous decode step's selection): the candidates per row
  /// that survive the guess's threshold, k <= cand <= n; 0 is a plain radix select.
  std::uint64_t cand = 0;

  std::vector<std::uint64_t> deps;
};

/// HBM distance between row starts of a 2-D dma.load/store. The reader leaves `stride` 0 when
/// the trace omits it, meaning rows are packed (bytes/rows apart); use this instead of `stride`.
inline std::uint64_t dma_row_pitch(const Instruction& in) {
  if (in.stride != 0) return in.stride;
  return in.rows > 1 ? in.bytes / in.rows : in.bytes;
}

/// Ops that accept a row length `n` (reductions, softmax and rmsnorm work row by row).
bool takes_row_length(Op op);
/// True when a vector op writes one value per row of `n` (sum, max or the fused indexer epilogue
/// relu_wsum, with a row length);
/// without n, sum and max are elementwise (a running sum or a binary max kept per element).
inline bool is_row_reduction(const Instruction& in) {
  return (in.op == Op::kVpuSum || in.op == Op::kVpuMax || in.op == Op::kVpuReluWsum) && in.n > 0;
}

/// One memory range an instruction touches.
struct OperandExtent {
  const char* key;  ///< the trace key that names the operand: "src", "a", ...
  Address addr;
  std::uint64_t bytes;
  bool overflow;  ///< the size itself does not fit 64 bits
};
constexpr int kMaxOperands = 3;
/// The byte ranges `in` touches in HBM and SRAM (a 2-D DMA's HBM side spans (rows-1)*pitch +
/// row; a gather's source spans the whole table). Returns how many it filled in `out`.
int operand_extents(const Instruction& in, OperandExtent (&out)[kMaxOperands]);
/// The SRAM range `in` writes (a load's or gather's destination, a matmul's C, a vector op's
/// dst); false for a store, which writes HBM.
bool sram_write_extent(const Instruction& in, std::uint64_t& offset, std::uint64_t& bytes);

/// The unit kind that runs `op` (topk goes to kTopk only when a dedicated unit exists).
UnitKind unit_kind_of(Op op, bool topk_unit_enabled);
std::string_view unit_kind_name(UnitKind k);

/// Bytes an instruction moves through HBM (reads + writes), exactly as declared.
std::uint64_t hbm_bytes(const Instruction& in);
/// FLOPs of an instruction (2 per MAC for matmul; 0 for data movement; one per element-pass
/// is not counted: vector ops report 0 FLOPs, matching docs/DSA.md section 5).
std::uint64_t instruction_flops(const Instruction& in);

/// The top-k laws (traces/FORMAT.md "vpu.topk"), per row, with `passes` radix passes for a full
/// 32-bit select (vpu.topk_passes). Radix select (cand == 0): `passes` histogram passes over the
/// n scores, then a compaction of the k survivors. Guided (cand > 0): read the k guessed scores
/// for a threshold, one pass over the n scores keeping the cand at or above it, then
/// topk_refine_passes radix passes over the cand survivors, then the k survivors' compaction.
std::uint64_t topk_refine_passes(std::uint64_t k, std::uint64_t cand, std::uint64_t passes);
/// fp32 scores read per row.
std::uint64_t topk_score_reads(std::uint64_t n, std::uint64_t k, std::uint64_t cand,
                               std::uint64_t passes);
/// Vector lane-ops per row: the score reads plus the k-wide compaction.
inline std::uint64_t topk_lane_ops(std::uint64_t n, std::uint64_t k, std::uint64_t cand,
                                   std::uint64_t passes) {
  return topk_score_reads(n, k, cand, passes) + k;
}

/// True for a tag or meta key: one or more of [A-Za-z0-9_.:-] (reader and writer agree on it).
bool is_name_token(std::string_view s);

/// Interned tag names: index 0 is "" (untagged).
class TagTable {
 public:
  TagTable() { m_names.emplace_back(); }
  std::uint16_t intern(std::string_view name);
  const std::string& name(std::uint16_t tag) const { return m_names.at(tag); }
  std::size_t size() const { return m_names.size(); }

 private:
  std::vector<std::string> m_names;
};

/// Trace-level metadata (`meta KEY=VALUE` lines), kept in order.
struct TraceMeta {
  std::vector<std::pair<std::string, std::string>> entries;
  const std::string* find(std::string_view key) const;
};

}  // namespace tpusim
