// Flash attention's accumulators: every instruction that reads bytes an attn.pv matmul wrote (a
// partial output slot, or the accumulator itself when the pv is its chain's first tile) must
// depend on that pv, directly or through others. A missing dependency lets the simulator read
// an accumulator before it is written, and the timing is then wrong by however long the pv had
// left. (Found in review: a chain's first pv writing its accumulator left the group's
// normalisation, and the chain's next accumulate, without it.)
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <unordered_map>
#include <vector>

#include "tests/workloads/trace_checks.h"
#include "workloads/workload.h"

using namespace tpusim;

namespace {

struct Range {
  std::uint64_t lo = 0, hi = 0;
};

/// Byte ranges of SRAM an instruction reads: vector ops their source (and their destination
/// when they accumulate into it), matmuls A and B, stores their source. A vector op over
/// `elems` fp32 elements reads elems x 4 bytes from its operand's start (an over-estimate for
/// the split-KV combine, whose partials are strided: it only adds writers to check).
std::vector<Range> sram_reads(const Instruction& in) {
  std::vector<Range> r;
  auto add = [&](const Address& a, std::uint64_t n) {
    if (a.space == Space::kSram && n > 0) r.push_back({a.offset, a.offset + n});
  };
  const std::uint64_t e = in.dtype == DType::kFp8 ? 1 : 2;
  switch (in.op) {
    case Op::kDmaStore:
      add(in.src, in.bytes);
      break;
    case Op::kMxuMatmul:
      add(in.a, in.m * in.k * e);
      add(in.b, in.k * in.n * e);
      break;
    case Op::kDmaLoad:
    case Op::kDmaGather:
    case Op::kVpuTopk:
      break;
    default:
      add(in.src, in.elems * 4);
      if (in.op == Op::kVpuAdd) add(in.dst, in.elems * 4);
  }
  return r;
}

/// Instructions that read bytes an attn.pv matmul wrote (its output, m x n fp32) without
/// depending on it. Returns "reader <- pv" pairs, at most `limit`.
std::vector<std::string> pv_readers_without_dep(const GeneratedTrace& t, std::size_t limit = 5) {
  const std::vector<Instruction> ins = t.instructions.unpack();
  const std::size_t n = ins.size(), words = (n + 63) / 64;
  std::unordered_map<std::uint64_t, std::size_t> index;
  for (std::size_t i = 0; i < n; ++i)
    index[ins[i].id] = i;
  // Ancestors as bit sets (the traces checked here have a few thousand instructions).
  std::vector<std::uint64_t> anc(n * words, 0);
  struct Write {
    std::size_t who;
    Range r;
  };
  std::vector<Write> pv_writes;
  std::vector<std::string> bad;
  for (std::size_t i = 0; i < n && bad.size() < limit; ++i) {
    std::uint64_t* mine = &anc[i * words];
    for (std::uint64_t d : ins[i].deps) {
      const std::size_t j = index.at(d);
      const std::uint64_t* theirs = &anc[j * words];
      for (std::size_t w = 0; w < words; ++w)
        mine[w] |= theirs[w];
      mine[j / 64] |= std::uint64_t{1} << (j % 64);
    }
    for (const Range& rd : sram_reads(ins[i])) {
      // The latest pv write overlapping each part of the range; earlier ones are shadowed only
      // where a later pv wrote the same bytes, which this conservatively ignores.
      for (auto it = pv_writes.rbegin(); it != pv_writes.rend(); ++it) {
        if (it->r.lo >= rd.hi || rd.lo >= it->r.hi) continue;
        const std::size_t j = it->who;
        if (!((mine[j / 64] >> (j % 64)) & 1))
          bad.push_back(t.tags.name(ins[i].tag) + " id " + std::to_string(ins[i].id) +
                        " <- attn.pv id " + std::to_string(ins[j].id));
        break;
      }
    }
    if (ins[i].op == Op::kMxuMatmul && t.tags.name(ins[i].tag) == "attn.pv" &&
        ins[i].c.space == Space::kSram) {
      // A later pv over the same bytes replaces the earlier one as their last writer.
      const Range w{ins[i].c.offset, ins[i].c.offset + ins[i].m * ins[i].n * 4};
      pv_writes.erase(
          std::remove_if(pv_writes.begin(), pv_writes.end(),
                         [&](const Write& x) { return x.r.lo == w.lo && x.r.hi == w.hi; }),
          pv_writes.end());
      pv_writes.push_back({i, w});
    }
  }
  return bad;
}

WorkloadParams point(Phase ph, Attention a, std::uint64_t L, std::uint64_t chunk) {
  WorkloadParams p;
  p.phase = ph;
  p.attention = a;
  p.seq = L;
  p.chunk = chunk;
  return p;
}

}  // namespace

TEST_CASE("every read of a flash accumulator depends on the pv that wrote it",
          "[workloads][flash]") {
  HwConfig hw;
  std::vector<std::pair<std::string, WorkloadParams>> cases;
  // Decode: one tile per partition and per query (k 512 over 8 partitions of 64 rows, MTP 2),
  // so every tile is its chain's first; and MTP 4 at batch 2 with k 1024.
  WorkloadParams d = point(Phase::kDecode, Attention::kDsa, 8192, 0);
  d.topk = 512;
  d.mtp = 2;
  cases.emplace_back("DSA decode k 512 MTP 2", d);
  d.topk = 1024;
  d.mtp = 4;
  d.batch = 2;
  cases.emplace_back("DSA decode k 1024 MTP 4 batch 2", d);
  WorkloadParams dd = point(Phase::kDecode, Attention::kDense, 4096, 0);
  dd.mtp = 2;
  cases.emplace_back("dense decode MTP 2", dd);
  // Prefill: DSA gives each query one chain of one tile; MQA and MHA chains have many tiles.
  cases.emplace_back("DSA prefill 8k chunk 2k",
                     point(Phase::kPrefill, Attention::kDsa, 8192, 2048));
  WorkloadParams mqa = point(Phase::kPrefill, Attention::kDense, 8192, 2048);
  mqa.dense_mode = DenseMode::kMqa;
  cases.emplace_back("MQA prefill 8k chunk 2k", mqa);
  cases.emplace_back("MHA prefill 4k", point(Phase::kPrefill, Attention::kDense, 4096, 4096));
  for (const auto& [name, p] : cases) {
    GeneratedTrace t = generate_workload(p, hw);
    const auto bad = pv_readers_without_dep(t);
    INFO(name << " (" << t.instructions.size()
              << " instructions): " << (bad.empty() ? std::string("ok") : bad.front()));
    CHECK(bad.empty());
  }
}
