#include "traces/packed_trace.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "base/error.h"

namespace tpusim {

namespace {

// One instruction: its op (one byte), a mask of the fields that differ from their defaults
// (LEB128), those fields (in the order push_back writes them), then its dependencies if the
// mask says so: a count and each one's distance back from the instruction's id (mod 2^64, so
// any id decodes).
//
// The bits are ordered by how often a lowering sets the field, so that a vector op or a DMA
// load or store needs one byte of mask and a matmul two.
enum Field : std::uint32_t {
  kDeps = 1u << 0,
  kTag = 1u << 1,
  kSrc = 1u << 2,
  kDst = 1u << 3,
  kBytes = 1u << 4,
  kElems = 1u << 5,
  kN = 1u << 6,
  kM = 1u << 7,
  kK = 1u << 8,
  kA = 1u << 9,
  kB = 1u << 10,
  kC = 1u << 11,
  kDtype = 1u << 12,
  kRows = 1u << 13,
  kId = 1u << 14,  // absent: the previous id + 1 (the first: 0)
  kLine = 1u << 15,
  kStride = 1u << 16,
  kSpan = 1u << 17,
  kRowBytes = 1u << 18,
  kPattern = 1u << 19,
  kSeed = 1u << 20,
  kCand = 1u << 21,
};

constexpr std::size_t kMaxVarint = 10;

// Blocks grow from 64 KiB (a short trace stays small) to 2 MiB, the size from which
// the executable allocates on a transparent huge page (sim/large_blocks.cpp): one page fault per
// block.
constexpr std::size_t kFirstBlock = std::size_t{64} << 10;
constexpr std::size_t kLargestBlock = std::size_t{2} << 20;

inline std::uint8_t* put(std::uint8_t* p, std::uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<std::uint8_t>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<std::uint8_t>(v);
  return p;
}

inline std::uint64_t get(const std::uint8_t*& p) {
  std::uint64_t v = *p & 0x7f;
  int shift = 7;
  while (*p++ & 0x80) {
    v |= static_cast<std::uint64_t>(*p & 0x7f) << shift;
    shift += 7;
  }
  return v;
}

inline bool present(const Address& a) {
  return a.space != Space::kHbm || a.offset != 0;
}

inline std::uint8_t* put_address(std::uint8_t* p, const Address& a) {
  *p++ = static_cast<std::uint8_t>(a.space);
  return put(p, a.offset);
}

inline Address get_address(const std::uint8_t*& p) {
  Address a;
  a.space = static_cast<Space>(*p++);
  a.offset = get(p);
  return a;
}

}  // namespace

PackedTrace::PackedTrace(PackedTrace&& o) noexcept
    : m_blocks(std::move(o.m_blocks)),
      m_count(std::exchange(o.m_count, 0)),
      m_last_id(std::exchange(o.m_last_id, ~std::uint64_t{0})) {
  o.m_blocks.clear();
}

PackedTrace& PackedTrace::operator=(PackedTrace&& o) noexcept {
  m_blocks = std::move(o.m_blocks);
  o.m_blocks.clear();
  m_count = std::exchange(o.m_count, 0);
  m_last_id = std::exchange(o.m_last_id, ~std::uint64_t{0});
  return *this;
}

std::uint8_t* PackedTrace::reserve(std::size_t max_bytes) {
  if (m_blocks.empty() || m_blocks.back().capacity - m_blocks.back().used < max_bytes) {
    const std::size_t grown =
        m_blocks.empty() ? kFirstBlock : std::min(kLargestBlock, m_blocks.back().capacity * 2);
    Block b;
    b.capacity = std::max(grown, max_bytes);
    b.data.reset(new std::uint8_t[b.capacity]);
    m_blocks.push_back(std::move(b));
  }
  return m_blocks.back().data.get() + m_blocks.back().used;
}

std::size_t PackedTrace::max_encoded_bytes(std::size_t deps) {
  // op; the mask (22 bits: four LEB128 bytes); id; tag (16 bits: 3); line (32 bits: 5); five
  // addresses of a space byte and an offset; bytes, rows, stride, span, row_bytes; the pattern's
  // kind byte and parameter; seed; m, n, k; dtype; elems, cand; the dependency count; and each
  // dependency's distance.
  return 1 + 4 + kMaxVarint + 3 + 5 + 5 * (1 + kMaxVarint) + 5 * kMaxVarint + (1 + kMaxVarint) +
         kMaxVarint + 3 * kMaxVarint + 1 + 2 * kMaxVarint + kMaxVarint + deps * kMaxVarint;
}

void PackedTrace::push_back(const Instruction& in) {
  // Every field of Instruction, named: a field added to it stops this from compiling until it is
  // encoded below and decoded in Reader::next.
  [[maybe_unused]] const auto& [id_, op_, tag_, line_, src_, dst_, bytes_, rows_, stride_, span_,
                                row_bytes_, pattern_, seed_, m_, n_, k_, dtype_, a_, b_, c_, elems_,
                                cand_, deps_] = in;
  std::uint32_t mask = 0;
  if (in.id != m_last_id + 1) mask |= kId;
  if (in.tag != 0) mask |= kTag;
  if (in.line != 0) mask |= kLine;
  if (present(in.src)) mask |= kSrc;
  if (present(in.dst)) mask |= kDst;
  if (in.bytes != 0) mask |= kBytes;
  if (in.rows != 0) mask |= kRows;
  if (in.stride != 0) mask |= kStride;
  if (in.span != 0) mask |= kSpan;
  if (in.row_bytes != 0) mask |= kRowBytes;
  if (in.pattern.kind != PatternKind::kUniform || in.pattern.param != 0) mask |= kPattern;
  if (in.seed != 0) mask |= kSeed;
  if (in.m != 0) mask |= kM;
  if (in.n != 0) mask |= kN;
  if (in.k != 0) mask |= kK;
  if (in.dtype != DType::kBf16) mask |= kDtype;
  if (present(in.a)) mask |= kA;
  if (present(in.b)) mask |= kB;
  if (present(in.c)) mask |= kC;
  if (in.elems != 0) mask |= kElems;
  if (in.cand != 0) mask |= kCand;
  if (!in.deps.empty()) mask |= kDeps;

  const std::size_t max_bytes = max_encoded_bytes(in.deps.size());
  std::uint8_t* const start = reserve(max_bytes);
  std::uint8_t* p = start;
  *p++ = static_cast<std::uint8_t>(in.op);
  p = put(p, mask);
  if (mask & kId) p = put(p, in.id);
  if (mask & kTag) p = put(p, in.tag);
  if (mask & kLine) p = put(p, in.line);
  if (mask & kSrc) p = put_address(p, in.src);
  if (mask & kDst) p = put_address(p, in.dst);
  if (mask & kBytes) p = put(p, in.bytes);
  if (mask & kRows) p = put(p, in.rows);
  if (mask & kStride) p = put(p, in.stride);
  if (mask & kSpan) p = put(p, in.span);
  if (mask & kRowBytes) p = put(p, in.row_bytes);
  if (mask & kPattern) {
    *p++ = static_cast<std::uint8_t>(in.pattern.kind);
    p = put(p, in.pattern.param);
  }
  if (mask & kSeed) p = put(p, in.seed);
  if (mask & kM) p = put(p, in.m);
  if (mask & kN) p = put(p, in.n);
  if (mask & kK) p = put(p, in.k);
  if (mask & kDtype) *p++ = static_cast<std::uint8_t>(in.dtype);
  if (mask & kA) p = put_address(p, in.a);
  if (mask & kB) p = put_address(p, in.b);
  if (mask & kC) p = put_address(p, in.c);
  if (mask & kElems) p = put(p, in.elems);
  if (mask & kCand) p = put(p, in.cand);
  if (mask & kDeps) {
    p = put(p, in.deps.size());
    for (std::uint64_t d : in.deps)
      p = put(p, in.id - d);
  }
  const auto used = static_cast<std::size_t>(p - start);
  SIM_CHECK("traces", used <= max_bytes, "a packed instruction overran its bound");
  m_blocks.back().used += used;
  m_last_id = in.id;
  ++m_count;
}

bool PackedTrace::Reader::next(Instruction& out) {
  if (m_trace == nullptr) return false;
  const auto& blocks = m_trace->m_blocks;
  while (m_block < blocks.size() && m_pos == blocks[m_block].used) {
    ++m_block;
    m_pos = 0;
  }
  if (m_block == blocks.size()) return false;
  const std::uint8_t* p = blocks[m_block].data.get() + m_pos;
  out.op = static_cast<Op>(*p++);
  const auto mask = static_cast<std::uint32_t>(get(p));
  out.id = (mask & kId) ? get(p) : m_prev_id + 1;
  out.tag = (mask & kTag) ? static_cast<std::uint16_t>(get(p)) : 0;
  out.line = (mask & kLine) ? static_cast<std::uint32_t>(get(p)) : 0;
  out.src = (mask & kSrc) ? get_address(p) : Address{};
  out.dst = (mask & kDst) ? get_address(p) : Address{};
  out.bytes = (mask & kBytes) ? get(p) : 0;
  out.rows = (mask & kRows) ? get(p) : 0;
  out.stride = (mask & kStride) ? get(p) : 0;
  out.span = (mask & kSpan) ? get(p) : 0;
  out.row_bytes = (mask & kRowBytes) ? get(p) : 0;
  out.pattern = GatherPattern{};
  if (mask & kPattern) {
    out.pattern.kind = static_cast<PatternKind>(*p++);
    out.pattern.param = get(p);
  }
  out.seed = (mask & kSeed) ? get(p) : 0;
  out.m = (mask & kM) ? get(p) : 0;
  out.n = (mask & kN) ? get(p) : 0;
  out.k = (mask & kK) ? get(p) : 0;
  out.dtype = (mask & kDtype) ? static_cast<DType>(*p++) : DType::kBf16;
  out.a = (mask & kA) ? get_address(p) : Address{};
  out.b = (mask & kB) ? get_address(p) : Address{};
  out.c = (mask & kC) ? get_address(p) : Address{};
  out.elems = (mask & kElems) ? get(p) : 0;
  out.cand = (mask & kCand) ? get(p) : 0;
  out.deps.clear();
  if (mask & kDeps) {
    const std::uint64_t n = get(p);
    out.deps.reserve(n);
    for (std::uint64_t i = 0; i < n; ++i)
      out.deps.push_back(out.id - get(p));
  }
  m_pos = static_cast<std::size_t>(p - blocks[m_block].data.get());
  m_prev_id = out.id;
  return true;
}

std::size_t PackedTrace::encoded_bytes() const {
  std::size_t n = 0;
  for (const Block& b : m_blocks)
    n += b.used;
  return n;
}

void PackedTrace::clear() {
  std::vector<Block>().swap(m_blocks);
  m_count = 0;
  m_last_id = ~std::uint64_t{0};
}

std::vector<Instruction> PackedTrace::unpack() const {
  std::vector<Instruction> v;
  v.reserve(m_count);
  Reader r(*this);
  Instruction in;
  while (r.next(in))
    v.push_back(in);
  return v;
}

}  // namespace tpusim
