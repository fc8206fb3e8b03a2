#include "traces/isa.h"

#include <array>
#include <charconv>

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
