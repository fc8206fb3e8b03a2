#include "tests/workloads/trace_checks.h"

#include <set>

namespace tpusim::test {

TraceTotals totals(const GeneratedTrace& t) {
  TraceTotals s;
  for (const Instruction& in : t.instructions) {
    s.flops += instruction_flops(in);
    if (in.op == Op::kDmaStore)
      s.write_bytes += hbm_bytes(in);
    else
      s.read_bytes += hbm_bytes(in);
  }
  return s;
}

std::uint64_t read_bytes_tagged(const GeneratedTrace& t, const std::string& tag) {
  std::uint64_t sum = 0;
  for (const Instruction& in : t.instructions)
    if (in.op != Op::kDmaStore && t.tags.name(in.tag) == tag) sum += hbm_bytes(in);
  return sum;
}

std::uint64_t flops_tagged(const GeneratedTrace& t, const std::string& tag) {
  std::uint64_t sum = 0;
  for (const Instruction& in : t.instructions)
    if (t.tags.name(in.tag) == tag) sum += instruction_flops(in);
  return sum;
}

std::string check_trace(const GeneratedTrace& t, std::uint64_t cap) {
  static const std::set<std::string> kTags = {
      "kv.append",   "indexer.proj", "indexer.scores", "indexer.topk", "attn.proj",
      "attn.gather", "attn.load",    "attn.qk",        "attn.softmax", "attn.pv"};
  auto bad = [](const Instruction& in, const std::string& what) {
    return "instruction " + std::to_string(in.id) + " (" + std::string(op_name(in.op)) +
           "): " + what;
  };
  auto within = [cap](const Address& a, std::uint64_t bytes) {
    return a.space != Space::kSram || a.offset + bytes <= cap;
  };
  std::size_t next = 0;
  for (const Instruction& in : t.instructions) {
    const std::size_t i = next++;
    if (in.id != i) return bad(in, "id out of order");
    for (std::uint64_t d : in.deps)
      if (d >= in.id) return bad(in, "dependency on a later id");
    if (!kTags.count(t.tags.name(in.tag))) return bad(in, "tag '" + t.tags.name(in.tag) + "'");
    std::uint64_t e = in.dtype == DType::kFp8 ? 1 : 2;
    switch (in.op) {
      case Op::kDmaLoad:
        if (in.bytes == 0 || !within(in.dst, in.bytes)) return bad(in, "dst outside SRAM");
        break;
      case Op::kDmaStore:
        if (in.bytes == 0 || !within(in.src, in.bytes)) return bad(in, "src outside SRAM");
        break;
      case Op::kDmaGather:
        if (in.rows == 0 || in.rows > in.span) return bad(in, "rows not in 1..span");
        if (!within(in.dst, in.rows * in.row_bytes)) return bad(in, "dst outside SRAM");
        break;
      case Op::kMxuMatmul:
        if (!within(in.a, in.m * in.k * e) || !within(in.b, in.k * in.n * e) ||
            !within(in.c, in.m * in.n * 4))
          return bad(in, "operand outside SRAM");
        break;
      case Op::kVpuTopk:
        if (in.k == 0 || in.k > in.n) return bad(in, "k not in 1..n");
        if (!within(in.src, in.rows * in.n * 4) || !within(in.dst, in.rows * in.k * 4))
          return bad(in, "operand outside SRAM");
        break;
      default:
        if (in.elems == 0) return bad(in, "no elements");
        if (!within(in.src, in.elems * 4) || !within(in.dst, in.elems * 4))
          return bad(in, "operand outside SRAM");
    }
  }
  return {};
}

}  // namespace tpusim::test
