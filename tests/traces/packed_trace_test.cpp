// PackedTrace: every field of every instruction decodes to the value pushed (random
// instructions with extreme values, ids out of order, dependencies on later ids, encodings
// larger than a block), and a generated prefill packs into tens of bytes per instruction.

#include "traces/packed_trace.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "base/splitmix64.h"

namespace tpusim {
namespace {

std::string describe(const Instruction& in) {
  std::string s = "id " + std::to_string(in.id) + " op " + std::to_string(int(in.op)) + " tag " +
                  std::to_string(in.tag) + " line " + std::to_string(in.line);
  for (const Address& a : {in.src, in.dst, in.a, in.b, in.c})
    s += " " + std::to_string(int(a.space)) + ":" + std::to_string(a.offset);
  for (std::uint64_t v : {in.bytes, in.rows, in.stride, in.span, in.row_bytes, in.pattern.param,
                          in.seed, in.m, in.n, in.k, in.elems, in.cand})
    s += " " + std::to_string(v);
  s += " pattern " + std::to_string(int(in.pattern.kind)) + " dtype " +
       std::to_string(int(in.dtype)) + " deps";
  for (std::uint64_t d : in.deps)
    s += " " + std::to_string(d);
  return s;
}

struct Rng {
  SplitMix64 g;
  std::uint64_t next() { return g.next(); }
  std::uint64_t below(std::uint64_t n) { return g.below(n); }
  // Mostly zero (fields an op does not use), else small, a 7-bit boundary, the maximum or any.
  std::uint64_t value() {
    switch (below(6)) {
      case 0:
      case 1:
        return 0;
      case 2:
        return below(300);
      case 3:
        return (std::uint64_t{1} << (7 * (1 + below(9)))) - below(2);
      case 4:
        return std::numeric_limits<std::uint64_t>::max() - below(2);
      default:
        return next();
    }
  }
  Address address() { return {below(2) ? Space::kSram : Space::kHbm, value()}; }
};

Instruction random_instruction(Rng& r, std::uint64_t id) {
  Instruction in;
  in.id = id;
  in.op = static_cast<Op>(r.below(kOpCount));
  in.tag = static_cast<std::uint16_t>(r.value());
  in.line = static_cast<std::uint32_t>(r.value());
  in.src = r.address();
  in.dst = r.address();
  in.bytes = r.value();
  in.rows = r.value();
  in.stride = r.value();
  in.span = r.value();
  in.row_bytes = r.value();
  in.pattern = {static_cast<PatternKind>(r.below(4)), r.value()};
  in.seed = r.value();
  in.m = r.value();
  in.n = r.value();
  in.k = r.value();
  in.dtype = r.below(2) ? DType::kFp8 : DType::kBf16;
  in.a = r.address();
  in.b = r.address();
  in.c = r.address();
  in.elems = r.value();
  in.cand = r.value();
  const std::uint64_t deps = r.below(4) == 0 ? 0 : r.below(70);
  for (std::uint64_t i = 0; i < deps; ++i)
    // Usually earlier and close; sometimes any id, later ones included (a reader-level mistake
    // the packing must still carry unchanged).
    in.deps.push_back(r.below(5) == 0 ? r.next() : id - 1 - r.below(id < 4096 ? id + 1 : 4096));
  return in;
}

}  // namespace

TEST_CASE("packed trace: random instructions decode to every field pushed", "[packed]") {
  Rng r{SplitMix64(42)};
  std::vector<Instruction> pushed;
  PackedTrace t;
  std::uint64_t id = 0;
  for (int i = 0; i < 30000; ++i) {
    // Ids are usually consecutive (generated traces); sometimes they jump, go back or wrap.
    switch (r.below(20)) {
      case 0:
        id = r.next();
        break;
      case 1:
        id = id - r.below(100);
        break;
      default:
        ++id;
    }
    pushed.push_back(random_instruction(r, id));
    t.push_back(pushed.back());
  }
  // The first instruction's id is 0 only by chance here: the encoding must not assume it.
  REQUIRE(t.size() == pushed.size());
  // More than the blocks up to the first of the largest size (64 KiB doubling to 2 MiB: 3.94
  // MiB), so instructions cross block boundaries of every size.
  REQUIRE(t.encoded_bytes() > std::size_t{4} << 20);
  std::size_t i = 0;
  for (const Instruction& in : t) {
    REQUIRE(i < pushed.size());
    if (describe(in) != describe(pushed[i])) {
      INFO("instruction " << i);
      CHECK(describe(in) == describe(pushed[i]));
      break;
    }
    ++i;
  }
  CHECK(i == pushed.size());
}

TEST_CASE("packed trace: an instruction larger than a block, and the empty trace", "[packed]") {
  PackedTrace t;
  CHECK(t.empty());
  CHECK(t.begin() == t.end());
  Instruction wide;
  wide.id = std::numeric_limits<std::uint64_t>::max();
  wide.op = Op::kVpuAdd;
  // 300,000 dependencies each at a distance near 2^64 (10 bytes): 3 MB, more than the largest
  // block (2 MiB), so it gets a block of its own.
  for (std::uint64_t d = 0; d < 300000; ++d)
    wide.deps.push_back(d);
  Instruction small;
  small.id = 0;  // after the maximum id, 0 is "the previous + 1": no id is written
  small.op = Op::kDmaLoad;
  small.bytes = 512;
  t.push_back(small);
  t.push_back(wide);
  t.push_back(small);
  t.push_back(small);  // id 0 again: now it is not the previous + 1, and must be written
  REQUIRE(t.encoded_bytes() > 3000000);
  const std::vector<Instruction> back = t.unpack();
  REQUIRE(back.size() == 4);
  CHECK(describe(back[0]) == describe(small));
  CHECK(describe(back[1]) == describe(wide));
  CHECK(describe(back[2]) == describe(small));
  CHECK(describe(back[3]) == describe(small));

  // A reader fills every field: nothing of the wide instruction survives into the next one.
  PackedTrace::Reader reader(t);
  Instruction in;
  REQUIRE(reader.next(in));
  REQUIRE(reader.next(in));
  REQUIRE(reader.next(in));
  CHECK(describe(in) == describe(small));
  REQUIRE(reader.next(in));
  CHECK_FALSE(reader.next(in));

  t.clear();
  CHECK(t.empty());
  CHECK(t.encoded_bytes() == 0);
  CHECK(t.begin() == t.end());
}

TEST_CASE("packed trace: the largest instruction meets its bound, and moves empty the source",
          "[packed]") {
  // Every field set to the value with the longest encoding: a written id of 2^64 - 1 (ten
  // bytes), a tag of 0xffff (three), a line of 2^32 - 1 (five), addresses and integers of
  // 2^64 - 1 (ten bytes, with a space byte for an address), a non-uniform pattern and fp8 (the
  // enums' bytes), and three dependencies on id 0, each 2^64 - 1 back (ten bytes). The bound is
  // reserved before an instruction is written, so it must hold exactly: everything but the
  // dependency count (one byte here of the ten the bound allows) fills it.
  const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  Instruction in;
  in.id = max;
  in.op = Op::kVpuTopk;
  in.tag = 0xffff;
  in.line = 0xffffffffu;
  in.src = in.dst = in.a = in.b = in.c = {Space::kSram, max};
  in.bytes = in.rows = in.stride = in.span = in.row_bytes = in.seed = max;
  in.m = in.n = in.k = in.elems = in.cand = max;
  in.pattern = {PatternKind::kStrided, max};
  in.dtype = DType::kFp8;
  in.deps = {0, 0, 0};
  PackedTrace t;
  t.push_back(in);
  CHECK(t.encoded_bytes() == PackedTrace::max_encoded_bytes(3) - 9);
  CHECK(describe(t.unpack().at(0)) == describe(in));

  PackedTrace moved(std::move(t));
  CHECK(moved.size() == 1);
  CHECK(t.size() == 0);  // NOLINT(bugprone-use-after-move): a moved-from trace is empty
  CHECK(t.begin() == t.end());
  t = std::move(moved);
  CHECK(t.size() == 1);
  CHECK(moved.empty());  // NOLINT(bugprone-use-after-move)
}

TEST_CASE("packed trace: a typical instruction takes tens of bytes", "[packed]") {
  // A matmul as a prefill lowering emits it: m, n, k below 2^14 (two bytes each), bf16 (not
  // written), three SRAM addresses below 2^28 (a space byte and four bytes each), a tag (one
  // byte), the id the previous + 1 (not written), a two-byte field mask (its fields are the
  // mask's low 12 bits). With the op byte that is 1 + 2 + 1 + 3 * 2 + 3 * 5 = 25 bytes; eight
  // dependencies 200-207 ids back add a count byte and two bytes each, 42 in all: against
  // sizeof(Instruction) plus a heap block for the dependencies as a vector.
  PackedTrace t;
  for (std::uint64_t id = 0; id < 1000; ++id) {
    Instruction in;
    in.id = id;
    in.op = Op::kMxuMatmul;
    in.tag = 3;
    in.m = 8192;
    in.n = 576;
    in.k = 512;
    in.a = {Space::kSram, (std::uint64_t{1} << 27) + id};
    in.b = {Space::kSram, (std::uint64_t{1} << 26) + id};
    in.c = {Space::kSram, (std::uint64_t{1} << 25) + id};
    if (id >= 207)
      for (std::uint64_t d = 200; d < 208; ++d)
        in.deps.push_back(id - d);
    t.push_back(in);
  }
  CHECK(sizeof(Instruction) > 200);
  CHECK(t.encoded_bytes() == 207 * 25 + (1000 - 207) * 42);
}

}  // namespace tpusim
