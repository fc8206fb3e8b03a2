#include "traces/isa.h"

#include <algorithm>
#include <array>
#include <charconv>

#include "base/math.h"

namespace tpusim {
namespace {

constexpr std::array<std::string_view, kOpCount> kOpNames = {
    "dma.load",    "dma.store", "dma.gather", "mxu.matmul",    "vpu.relu", "vpu.exp",
    "vpu.scale",   "vpu.add",   "vpu.mul",    "vpu.max",       "vpu.sum",  "vpu.softmax",
    "vpu.rmsnorm", "vpu.rope",  "vpu.cast",   "vpu.relu_wsum", "vpu.topk"};

}  // namespace

std::string_view op_name(Op op) {
  return kOpNames[static_cast<std::size_t>(op)];
}

bool parse_op(std::string_view name, Op& out) {
  for (std::size_t i = 0; i < kOpNames.size(); ++i) {
    if (kOpNames[i] == name) {
      out = static_cast<Op>(i);
      return true;
    }
  }
  return false;
}

std::string_view vpu_op_short_name(int vpu_index) {
  return op_name(static_cast<Op>(vpu_index + static_cast<int>(Op::kVpuRelu))).substr(4);
}

bool takes_row_length(Op op) {
  // rmsnorm normalises each row by its own RMS, so it needs the row length just like sum.
  return op == Op::kVpuSum || op == Op::kVpuMax || op == Op::kVpuSoftmax || op == Op::kVpuRmsnorm ||
         op == Op::kVpuReluWsum;
}

int operand_extents(const Instruction& in, OperandExtent (&out)[kMaxOperands]) {
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
      of = mul_overflows(in.m, in.n, t) || mul_overflows(t, kMatmulOutputBytes, v);
      out[n++] = {"c", in.c, v, of};
      break;
    }
    case Op::kVpuTopk: {
      std::uint64_t t = 0;
      of = mul_overflows(in.rows, in.n, t) || mul_overflows(t, kVectorElementBytes, v);
      out[n++] = {"src", in.src, v, of};
      of = mul_overflows(in.rows, in.k, t) || mul_overflows(t, kVectorElementBytes, v);
      out[n++] = {"dst", in.dst, v, of};
      break;
    }
    default: {  // vector ops
      of = mul_overflows(in.elems, kVectorElementBytes, v);
      out[n++] = {"src", in.src, v, of};
      std::uint64_t dst_elems = in.elems;
      if (is_row_reduction(in)) dst_elems = ceil_div(in.elems, in.n);
      of = mul_overflows(dst_elems, kVectorElementBytes, v);
      out[n++] = {"dst", in.dst, v, of};
      break;
    }
  }
  return n;
}

bool sram_write_extent(const Instruction& in, std::uint64_t& offset, std::uint64_t& bytes) {
  if (in.op == Op::kDmaStore) return false;
  OperandExtent r[kMaxOperands];
  const int n = operand_extents(in, r);
  // Every other op lists the operand it writes last.
  const OperandExtent& w = r[n - 1];
  if (w.addr.space != Space::kSram) return false;
  offset = w.addr.offset;
  bytes = w.overflow ? ~std::uint64_t{0} - w.addr.offset : w.bytes;
  return true;
}

std::string_view dtype_name(DType t) {
  return t == DType::kFp8 ? "fp8" : "bf16";
}

std::string pattern_to_string(const GatherPattern& p) {
  switch (p.kind) {
    case PatternKind::kUniform:
      return "uniform";
    case PatternKind::kRecent:
      return "recent:" + std::to_string(p.param);
    case PatternKind::kClustered:
      return "clustered:" + std::to_string(p.param);
    case PatternKind::kStrided:
      return "strided:" + std::to_string(p.param);
  }
  return "uniform";
}

std::string parse_pattern(std::string_view text, GatherPattern& out) {
  if (text == "uniform") {
    out = GatherPattern{PatternKind::kUniform, 0};
    return {};
  }
  auto colon = text.find(':');
  if (colon == std::string_view::npos)
    return "pattern '" + std::string(text) +
           "' is unknown (use uniform, recent:W, clustered:C or strided:S)";
  std::string_view kind = text.substr(0, colon);
  std::string_view num = text.substr(colon + 1);
  GatherPattern p;
  if (kind == "recent")
    p.kind = PatternKind::kRecent;
  else if (kind == "clustered")
    p.kind = PatternKind::kClustered;
  else if (kind == "strided")
    p.kind = PatternKind::kStrided;
  else
    return "pattern '" + std::string(text) +
           "' is unknown (use uniform, recent:W, clustered:C or strided:S)";
  auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), p.param);
  if (ec != std::errc() || ptr != num.data() + num.size() || p.param == 0)
    return "pattern '" + std::string(text) + "' needs a positive integer after ':'";
  out = p;
  return {};
}

UnitKind unit_kind_of(Op op, bool topk_unit_enabled) {
  if (is_dma_op(op)) return UnitKind::kDma;
  if (op == Op::kMxuMatmul) return UnitKind::kMxu;
  if (op == Op::kVpuTopk && topk_unit_enabled) return UnitKind::kTopk;
  return UnitKind::kVpu;
}

std::string_view unit_kind_name(UnitKind k) {
  switch (k) {
    case UnitKind::kDma:
      return "dma";
    case UnitKind::kMxu:
      return "mxu";
    case UnitKind::kVpu:
      return "vpu";
    case UnitKind::kTopk:
      return "topk";
  }
  return "?";
}

std::uint64_t hbm_bytes(const Instruction& in) {
  switch (in.op) {
    case Op::kDmaLoad:
    case Op::kDmaStore:
      return in.bytes;
    case Op::kDmaGather:
      return in.rows * in.row_bytes;
    default:
      return 0;
  }
}

std::uint64_t instruction_flops(const Instruction& in) {
  if (in.op == Op::kMxuMatmul) return 2 * in.m * in.n * in.k;
  return 0;
}

std::uint64_t topk_refine_passes(std::uint64_t k, std::uint64_t cand, std::uint64_t passes) {
  // Each pass splits the survivors into 2^(32 / passes) buckets by the next digit and keeps the
  // bucket holding the k-th score; the select is done once the cand - k surplus candidates are
  // all split off it. An exact guess (cand == k) needs none.
  if (cand <= k || passes == 0) return 0;
  const std::uint64_t bits = std::max<std::uint64_t>(1, 32 / passes);
  const std::uint64_t radix = bits >= 63 ? ~std::uint64_t{0} : std::uint64_t{1} << bits;
  std::uint64_t r = 0, left = cand - k + 1;
  while (left > 1 && r < passes) {
    left = (left + radix - 1) / radix;
    ++r;
  }
  return r;
}

std::uint64_t topk_score_reads(std::uint64_t n, std::uint64_t k, std::uint64_t cand,
                               std::uint64_t passes) {
  if (cand == 0) return passes * n;
  return k + n + topk_refine_passes(k, cand, passes) * cand;
}

bool is_name_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::uint16_t TagTable::intern(std::string_view name) {
  if (name.empty()) return 0;
  for (std::size_t i = 1; i < m_names.size(); ++i)
    if (m_names[i] == name) return static_cast<std::uint16_t>(i);
  m_names.emplace_back(name);
  return static_cast<std::uint16_t>(m_names.size() - 1);
}

const std::string* TraceMeta::find(std::string_view key) const {
  for (const auto& [k, v] : entries)
    if (k == key) return &v;
  return nullptr;
}

}  // namespace tpusim
