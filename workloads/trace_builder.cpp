#include "workloads/trace_builder.h"

#include "traces/reader.h"

#include <algorithm>
#include <cstdio>

#include "base/cycle.h"
#include "base/error.h"

namespace tpusim {
namespace {

// HBM regions start on a DRAM-page-friendly boundary, so each region's first row is aligned.
constexpr std::uint64_t kHbmAlign = 4096;

std::uint64_t align_up(std::uint64_t x, std::uint64_t a) {
  return (x + a - 1) / a * a;
}

std::string mib(std::uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

}  // namespace

TraceBuilder::TraceBuilder(std::uint64_t sram_bytes, std::uint64_t hbm_bytes)
    : m_sram_capacity(sram_bytes), m_hbm_capacity(hbm_bytes) {}

std::uint64_t TraceBuilder::sram_pin(std::uint64_t bytes) {
  SIM_CHECK("workloads", m_sram_top == m_sram_pinned, "sram_pin after sram_alloc");
  std::uint64_t base = m_sram_top;
  std::uint64_t end = align_up(base + bytes, TraceBuilder::kSramAlign);
  if (end > m_sram_capacity)
    throw UserError("sram.residency_mib: pinning " + mib(bytes) +
                    " (indexer keys and cached rows) does not fit in sram.capacity_mib (" +
                    mib(m_sram_capacity) + ")");
  m_sram_pinned = m_sram_top = end;
  m_sram_peak = std::max(m_sram_peak, m_sram_top);
  return base;
}

std::uint64_t TraceBuilder::sram_alloc(std::uint64_t bytes, std::string_view what) {
  std::uint64_t base = m_sram_top;
  std::uint64_t end = align_up(base + std::max<std::uint64_t>(bytes, 1), TraceBuilder::kSramAlign);
  if (end > m_sram_capacity)
    throw UserError("sram.capacity_mib: the " + std::string(what) + " buffer (" + mib(bytes) +
                    ") does not fit: " + mib(m_sram_capacity - base) + " free of " +
                    mib(m_sram_capacity) + " (" + mib(m_sram_pinned) + " pinned)");
  m_sram_top = end;
  m_sram_peak = std::max(m_sram_peak, m_sram_top);
  return base;
}

void TraceBuilder::sram_release(std::uint64_t mark) {
  SIM_CHECK("workloads", mark >= m_sram_pinned && mark <= m_sram_top, "bad SRAM mark");
  m_sram_top = mark;
}

std::uint64_t TraceBuilder::hbm_region(std::string name, std::uint64_t bytes) {
  std::uint64_t base = m_hbm_top;
  std::uint64_t end = align_up(base + std::max<std::uint64_t>(bytes, 1), kHbmAlign);
  if (end > m_hbm_capacity)
    throw UserError("hbm.capacity_gib: HBM region '" + name + "' (" + mib(bytes) +
                    ") does not fit: the workload needs at least " + mib(end) + ", the chip has " +
                    mib(m_hbm_capacity));
  m_hbm_top = end;
  m_regions.push_back(HbmRegion{std::move(name), base, bytes});
  return base;
}

void TraceBuilder::check_sram(std::uint64_t addr, std::uint64_t bytes, const char* what) const {
  SIM_CHECK("workloads", addr + bytes <= m_sram_capacity,
            std::string(what) + " outside SRAM capacity");
}

void TraceBuilder::flush_pending() {
  if (!m_has_pending) return;
  m_instructions.push_back(m_pending);
  m_has_pending = false;
}

PackedTrace TraceBuilder::take_instructions() {
  flush_pending();
  return std::move(m_instructions);
}

Instruction& TraceBuilder::emit(std::string_view tag, Op op,
                                const std::vector<std::uint64_t>& deps) {
  flush_pending();
  std::vector<std::uint64_t>& d = m_deps;
  d.clear();
  for (std::uint64_t id : deps) {
    if (id == kNoId) continue;
    SIM_CHECK("workloads", id < m_instructions.size(), "dependency on a later instruction");
    d.push_back(id);
  }
  std::sort(d.begin(), d.end());
  d.erase(std::unique(d.begin(), d.end()), d.end());
  // A trace line names at most TraceReader::kMaxDeps dependencies. A wider join (the barrier
  // after thousands of decompression stores) goes through a tree of one-element vector ops, as
  // a kernel would wait on a semaphore per batch of copies; each costs the VPU's op latency.
  while (d.size() > TraceReader::kMaxDeps) {
    std::vector<std::uint64_t> joins;
    for (std::size_t i = 0; i < d.size(); i += TraceReader::kMaxDeps) {
      Instruction j;
      j.id = m_instructions.size();
      j.op = Op::kVpuScale;
      j.tag = m_tags.intern(tag);
      j.elems = 1;
      j.src = {Space::kSram, 0};
      j.dst = {Space::kSram, 0};
      j.deps.assign(
          d.begin() + static_cast<std::ptrdiff_t>(i),
          d.begin() + static_cast<std::ptrdiff_t>(std::min(d.size(), i + TraceReader::kMaxDeps)));
      joins.push_back(j.id);
      m_instructions.push_back(j);
    }
    d = std::move(joins);
  }
  Instruction& in = m_pending;
  std::vector<std::uint64_t> keep = std::move(in.deps);  // its capacity: no allocation per emit
  in = Instruction();
  in.deps = std::move(keep);
  in.id = m_instructions.size();
  in.op = op;
  in.tag = m_tags.intern(tag);
  in.deps.assign(d.begin(), d.end());
  m_has_pending = true;
  return in;
}

std::uint64_t TraceBuilder::load(std::string_view tag, std::uint64_t hbm, std::uint64_t sram,
                                 std::uint64_t bytes, const std::vector<std::uint64_t>& deps) {
  check_sram(sram, bytes, "dma.load destination");
  Instruction& in = emit(tag, Op::kDmaLoad, deps);
  in.src = {Space::kHbm, hbm};
  in.dst = {Space::kSram, sram};
  in.bytes = bytes;
  return in.id;
}

std::uint64_t TraceBuilder::store(std::string_view tag, std::uint64_t sram, std::uint64_t hbm,
                                  std::uint64_t bytes, const std::vector<std::uint64_t>& deps) {
  check_sram(sram, bytes, "dma.store source");
  Instruction& in = emit(tag, Op::kDmaStore, deps);
  in.src = {Space::kSram, sram};
  in.dst = {Space::kHbm, hbm};
  in.bytes = bytes;
  return in.id;
}

std::uint64_t TraceBuilder::store_2d(std::string_view tag, std::uint64_t sram, std::uint64_t hbm,
                                     std::uint64_t rows, std::uint64_t row_bytes,
                                     std::uint64_t stride, const std::vector<std::uint64_t>& deps) {
  SIM_CHECK("workloads", rows > 0 && row_bytes <= stride, "2-D store rows overlap in HBM");
  const std::uint64_t id = store(tag, sram, hbm, rows * row_bytes, deps);
  Instruction& in = m_pending;  // the store just emitted
  in.rows = rows;
  in.stride = stride;
  return id;
}

std::uint64_t TraceBuilder::gather(std::string_view tag, std::uint64_t hbm, std::uint64_t sram,
                                   std::uint64_t span, std::uint64_t rows, std::uint64_t row_bytes,
                                   const GatherPattern& pattern, std::uint64_t seed,
                                   const std::vector<std::uint64_t>& deps) {
  SIM_CHECK("workloads", rows > 0 && rows <= span, "gather rows must be in 1..span");
  check_sram(sram, rows * row_bytes, "dma.gather destination");
  Instruction& in = emit(tag, Op::kDmaGather, deps);
  in.src = {Space::kHbm, hbm};
  in.dst = {Space::kSram, sram};
  in.span = span;
  in.rows = rows;
  in.row_bytes = row_bytes;
  in.pattern = pattern;
  in.seed = seed;
  return in.id;
}

std::uint64_t TraceBuilder::matmul(std::string_view tag, std::uint64_t m, std::uint64_t n,
                                   std::uint64_t k, DType dtype, std::uint64_t a, std::uint64_t b,
                                   std::uint64_t c, const std::vector<std::uint64_t>& deps) {
  SIM_CHECK("workloads", m > 0 && n > 0 && k > 0, "empty matmul");
  check_sram(a, 0, "matmul a");
  check_sram(b, 0, "matmul b");
  check_sram(c, 0, "matmul c");
  Instruction& in = emit(tag, Op::kMxuMatmul, deps);
  in.m = m;
  in.n = n;
  in.k = k;
  in.dtype = dtype;
  in.a = {Space::kSram, a};
  in.b = {Space::kSram, b};
  in.c = {Space::kSram, c};
  return in.id;
}

std::uint64_t TraceBuilder::vpu(std::string_view tag, Op op, std::uint64_t elems, std::uint64_t src,
                                std::uint64_t dst, const std::vector<std::uint64_t>& deps,
                                std::uint64_t row) {
  SIM_CHECK("workloads", is_vpu_op(op) && op != Op::kVpuTopk, "not an elementwise vpu op");
  SIM_CHECK("workloads", elems > 0, "empty vpu op");
  check_sram(src, 0, "vpu src");
  check_sram(dst, 0, "vpu dst");
  Instruction& in = emit(tag, op, deps);
  SIM_CHECK("workloads", row == 0 || elems % row == 0, "vpu row length must divide elems");
  in.elems = elems;
  in.n = row;
  in.src = {Space::kSram, src};
  in.dst = {Space::kSram, dst};
  return in.id;
}

std::uint64_t TraceBuilder::topk(std::string_view tag, std::uint64_t rows, std::uint64_t n,
                                 std::uint64_t k, std::uint64_t src, std::uint64_t dst,
                                 const std::vector<std::uint64_t>& deps, std::uint64_t cand) {
  SIM_CHECK("workloads", rows > 0 && k > 0 && k <= n, "topk needs 0 < k <= n");
  check_sram(src, rows * n * 4, "topk src");
  check_sram(dst, rows * k * 4, "topk dst");
  Instruction& in = emit(tag, Op::kVpuTopk, deps);
  in.rows = rows;
  in.n = n;
  in.k = k;
  in.cand = cand;
  in.src = {Space::kSram, src};
  in.dst = {Space::kSram, dst};
  return in.id;
}

void TraceBuilder::meta(std::string key, std::string value) {
  m_meta.entries.emplace_back(std::move(key), std::move(value));
}

}  // namespace tpusim
