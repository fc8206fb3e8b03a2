// TraceReader on malformed input: one TEST_CASE per error class. Each asserts the message names
// `t.trace:LINE:` and the offending key or token, as traces/FORMAT.md requires.

#include <algorithm>
#include <catch2/catch.hpp>
#include <random>

#include "tests/traces/trace_test_util.h"

namespace tpusim {
namespace {

using Catch::Contains;
using test::error_of;
using test::with_header;

const std::string kLoad0 = "0 dma.load src=hbm:0 dst=sram:0 bytes=64\n";

/// The error of a trace whose line 3 is `line` (header on 1, a valid load on 2).
std::string error_on_line3(const std::string& line) {
  return error_of(with_header(kLoad0 + line + "\n"));
}

}  // namespace

TEST_CASE("error: unknown op") {
  CHECK_THAT(error_on_line3("1 dma.copy src=hbm:0 dst=sram:0 bytes=64"),
             Contains("t.trace:3:") && Contains("unknown op 'dma.copy'"));
  CHECK_THAT(error_on_line3("1"), Contains("t.trace:3:") && Contains("has no op"));
}

TEST_CASE("error: a last line without a newline (a file cut short)") {
  // Cut inside bytes=16896: the line parses as bytes=16, so it must not be read at all.
  CHECK_THAT(
      error_of(with_header(kLoad0 + "1 dma.load src=hbm:0 dst=sram:64 bytes=16")),
      Contains("t.trace:3:") && Contains("does not end in a newline") && Contains("cut short"));
  // A header alone, cut before its newline, is no exception.
  CHECK_THAT(error_of("tpusim-trace 1"), Contains("t.trace:1:") && Contains("newline"));
}

TEST_CASE("error: unknown key, or a key another op has") {
  CHECK_THAT(error_on_line3("1 dma.load src=hbm:0 dst=sram:0 bytes=64 size=3"),
             Contains("t.trace:3:") && Contains("unknown key 'size' for dma.load"));
  CHECK_THAT(error_on_line3("1 vpu.relu elems=4 n=2 src=sram:0 dst=sram:0"),
             Contains("t.trace:3:") && Contains("unknown key 'n' for vpu.relu"));
  CHECK_THAT(error_on_line3("1 vpu.topk elems=4 rows=1 n=4 k=2 src=sram:0 dst=sram:0"),
             Contains("t.trace:3:") && Contains("unknown key 'elems' for vpu.topk"));
  CHECK_THAT(error_on_line3("1 dma.load src=hbm:0 dst=sram:0 bytes"),
             Contains("t.trace:3:") && Contains("expected KEY=VALUE, got 'bytes'"));
  CHECK_THAT(error_on_line3("1 dma.load src=hbm:0 dst=sram:0 bytes="),
             Contains("t.trace:3:") && Contains("key bytes has no value"));
}

TEST_CASE("error: duplicate key") {
  CHECK_THAT(error_on_line3("1 dma.load src=hbm:0 dst=sram:0 bytes=64 bytes=64"),
             Contains("t.trace:3:") && Contains("duplicate key 'bytes'"));
  CHECK_THAT(error_on_line3("1 dma.load src=hbm:0 dst=sram:0 bytes=64 tag=a tag=b"),
             Contains("t.trace:3:") && Contains("duplicate key 'tag'"));
}

TEST_CASE("error: missing key") {
  CHECK_THAT(error_on_line3("1 dma.load src=hbm:0 dst=sram:0"),
             Contains("t.trace:3:") && Contains("missing key bytes for dma.load"));
  CHECK_THAT(error_on_line3("1 mxu.matmul m=1 n=1 a=sram:0 b=sram:0 c=sram:0"),
             Contains("t.trace:3:") && Contains("missing keys k dtype for mxu.matmul"));
  CHECK_THAT(error_on_line3("1 dma.gather src=hbm:0 dst=sram:0 span=8 rows=2 row_bytes=64 "
                            "pattern=uniform"),
             Contains("t.trace:3:") && Contains("missing key seed"));
}

TEST_CASE("error: malformed integer") {
  CHECK_THAT(error_on_line3("1 dma.load src=hbm:0 dst=sram:0 bytes=12x"),
             Contains("t.trace:3:") && Contains("bytes='12x' is not an unsigned integer"));
  CHECK_THAT(error_on_line3("1 dma.load src=hbm:0 dst=sram:0 bytes=-5"),
             Contains("t.trace:3:") && Contains("bytes='-5' is negative"));
  CHECK_THAT(error_on_line3("1 dma.load src=hbm:0 dst=sram:0 bytes=+5"),
             Contains("t.trace:3:") && Contains("bytes='+5'"));
  CHECK_THAT(error_on_line3("1 dma.load src=hbm:0 dst=sram:0 bytes=18446744073709551616"),
             Contains("t.trace:3:") && Contains("bytes=") && Contains("does not fit in 64 bits"));
  CHECK_THAT(error_on_line3("1 dma.load src=hbm:0 dst=sram:0 bytes=0x"),
             Contains("t.trace:3:") && Contains("bytes='0x'"));
  CHECK_THAT(error_on_line3("1 dma.load src=hbm:0 dst=sram:0 bytes=0x1g"),
             Contains("t.trace:3:") && Contains("bytes='0x1g'"));
  CHECK_THAT(error_on_line3("1 dma.load src=hbm:0x1_000 dst=sram:0 bytes=1"),
             Contains("t.trace:3:") && Contains("src offset"));
  CHECK_THAT(error_on_line3("x1 dma.load src=hbm:0 dst=sram:0 bytes=1"),
             Contains("t.trace:3:") && Contains("instruction ID='x1'"));
  CHECK_THAT(error_on_line3("1 dma.gather src=hbm:0 dst=sram:0 span=8 rows=2 row_bytes=64 "
                            "pattern=uniform seed=1.5"),
             Contains("t.trace:3:") && Contains("seed='1.5'"));
}

TEST_CASE("error: wrong address space or not an address") {
  CHECK_THAT(error_on_line3("1 dma.load src=sram:0 dst=sram:0 bytes=64"),
             Contains("t.trace:3:") && Contains("src must be an hbm: address, got 'sram:0'"));
  CHECK_THAT(error_on_line3("1 dma.store src=hbm:0 dst=hbm:0 bytes=64"),
             Contains("t.trace:3:") && Contains("src must be an sram: address"));
  CHECK_THAT(error_on_line3("1 dma.store src=sram:0 dst=sram:0 bytes=64"),
             Contains("t.trace:3:") && Contains("dst must be an hbm: address"));
  CHECK_THAT(error_on_line3("1 mxu.matmul m=1 n=1 k=1 dtype=bf16 a=sram:0 b=hbm:0 c=sram:0"),
             Contains("t.trace:3:") && Contains("b must be an sram: address"));
  CHECK_THAT(error_on_line3("1 vpu.exp elems=1 src=sram:0 dst=hbm:0"),
             Contains("t.trace:3:") && Contains("dst must be an sram: address"));
  CHECK_THAT(error_on_line3("1 dma.load src=0 dst=sram:0 bytes=64"),
             Contains("t.trace:3:") && Contains("src='0' is not an address"));
  CHECK_THAT(error_on_line3("1 dma.load src=hbm: dst=sram:0 bytes=64"),
             Contains("t.trace:3:") && Contains("src offset is empty"));
}

TEST_CASE("error: zero sizes") {
  CHECK_THAT(error_on_line3("1 dma.load src=hbm:0 dst=sram:0 bytes=0"),
             Contains("t.trace:3:") && Contains("bytes must be > 0"));
  CHECK_THAT(error_on_line3("1 dma.load src=hbm:0 dst=sram:0 bytes=64 rows=0"),
             Contains("t.trace:3:") && Contains("rows must be > 0"));
  CHECK_THAT(error_on_line3("1 mxu.matmul m=0 n=1 k=1 dtype=bf16 a=sram:0 b=sram:0 c=sram:0"),
             Contains("t.trace:3:") && Contains("m must be > 0"));
  CHECK_THAT(error_on_line3("1 dma.gather src=hbm:0 dst=sram:0 span=8 rows=0 row_bytes=64 "
                            "pattern=uniform seed=1"),
             Contains("t.trace:3:") && Contains("rows must be > 0"));
  CHECK_THAT(error_on_line3("1 dma.gather src=hbm:0 dst=sram:0 span=8 rows=1 row_bytes=0 "
                            "pattern=uniform seed=1"),
             Contains("t.trace:3:") && Contains("row_bytes must be > 0"));
  CHECK_THAT(error_on_line3("1 vpu.sum elems=0 src=sram:0 dst=sram:0"),
             Contains("t.trace:3:") && Contains("elems must be > 0"));
  CHECK_THAT(error_on_line3("1 vpu.sum elems=8 n=0 src=sram:0 dst=sram:0"),
             Contains("t.trace:3:") && Contains("n must be > 0"));
  CHECK_THAT(error_on_line3("1 vpu.topk rows=1 n=8 k=0 src=sram:0 dst=sram:0"),
             Contains("t.trace:3:") && Contains("k must be > 0"));
}

TEST_CASE("error: inconsistent sizes") {
  CHECK_THAT(error_on_line3("1 vpu.topk rows=1 n=8 k=9 src=sram:0 dst=sram:0"),
             Contains("t.trace:3:") && Contains("k=9 is more than n=8"));
  CHECK_THAT(error_on_line3("1 dma.gather src=hbm:0 dst=sram:0 span=8 rows=9 row_bytes=64 "
                            "pattern=uniform seed=1"),
             Contains("t.trace:3:") && Contains("rows=9 is more than span=8"));
  CHECK_THAT(
      error_on_line3("1 vpu.softmax elems=100 n=64 src=sram:0 dst=sram:0"),
      Contains("t.trace:3:") && Contains("elems=100 is not a multiple of the row length n=64"));
}

TEST_CASE("error: 2-D DMA shape") {
  CHECK_THAT(error_on_line3("1 dma.load src=hbm:0 dst=sram:0 bytes=100 rows=3"),
             Contains("t.trace:3:") && Contains("bytes=100 is not divisible by rows=3"));
  CHECK_THAT(error_on_line3("1 dma.load src=hbm:0 dst=sram:0 bytes=1024 rows=4 stride=255"),
             Contains("t.trace:3:") && Contains("stride=255 is smaller than a row"));
  CHECK_THAT(error_on_line3("1 dma.store src=sram:0 dst=hbm:0 bytes=1024 stride=4096"),
             Contains("t.trace:3:") && Contains("stride needs rows > 1"));
  CHECK_THAT(error_on_line3("1 dma.load src=hbm:0 dst=sram:0 bytes=1024 rows=1 stride=4096"),
             Contains("t.trace:3:") && Contains("stride needs rows > 1"));
}

TEST_CASE("error: address or size arithmetic overflows 64 bits") {
  CHECK_THAT(error_on_line3("1 dma.load src=hbm:18446744073709551615 dst=sram:0 bytes=2"),
             Contains("t.trace:3:") && Contains("src operand") && Contains("overflows"));
  CHECK_THAT(error_on_line3("1 dma.load src=hbm:0 dst=sram:0xffffffffffffff00 bytes=512"),
             Contains("t.trace:3:") && Contains("dst operand") && Contains("overflows"));
  // 2-D: the HBM side spans (rows-1)*stride + row bytes.
  CHECK_THAT(error_on_line3("1 dma.load src=hbm:0 dst=sram:0 bytes=8 rows=4 "
                            "stride=0x8000000000000000"),
             Contains("t.trace:3:") && Contains("src operand") && Contains("overflows"));
  CHECK_THAT(error_on_line3("1 dma.gather src=hbm:0 dst=sram:0 span=0x100000000 rows=1 "
                            "row_bytes=0x100000000 pattern=uniform seed=1"),
             Contains("t.trace:3:") && Contains("src operand") && Contains("overflows"));
  CHECK_THAT(error_on_line3("1 mxu.matmul m=0x100000000 n=1 k=0x100000000 dtype=bf16 a=sram:0 "
                            "b=sram:0 c=sram:0"),
             Contains("t.trace:3:") && Contains("a operand") && Contains("overflows"));
  CHECK_THAT(error_on_line3("1 vpu.topk rows=0x100000000 n=0x100000000 k=1 src=sram:0 dst=sram:0"),
             Contains("t.trace:3:") && Contains("src operand") && Contains("overflows"));
  CHECK_THAT(error_on_line3("1 vpu.add elems=0x4000000000000000 src=sram:0 dst=sram:0"),
             Contains("t.trace:3:") && Contains("src operand") && Contains("overflows"));
}

TEST_CASE("error: IDs not strictly increasing") {
  CHECK_THAT(error_on_line3("0 dma.load src=hbm:0 dst=sram:0 bytes=64"),
             Contains("t.trace:3:") && Contains("instruction ID 0 is not greater than"));
  CHECK_THAT(error_of(with_header("5 vpu.relu elems=1 src=sram:0 dst=sram:0\n"
                                  "4 vpu.relu elems=1 src=sram:0 dst=sram:0\n")),
             Contains("t.trace:3:") && Contains("instruction ID 4 is not greater than the "
                                                "previous ID 5"));
}

TEST_CASE("error: deps naming unknown, later, itself, twice, or too many") {
  CHECK_THAT(error_of(with_header("0 vpu.relu elems=1 src=sram:0 dst=sram:0\n"
                                  "2 vpu.relu elems=1 src=sram:0 dst=sram:0 deps=1\n")),
             Contains("t.trace:3:") && Contains("deps: 1 names no earlier instruction"));
  CHECK_THAT(error_on_line3("1 vpu.relu elems=1 src=sram:0 dst=sram:0 deps=2"),
             Contains("t.trace:3:") && Contains("deps: 2 is not an earlier instruction"));
  CHECK_THAT(error_on_line3("1 vpu.relu elems=1 src=sram:0 dst=sram:0 deps=1"),
             Contains("t.trace:3:") && Contains("deps: instruction 1 depends on itself"));
  CHECK_THAT(error_on_line3("1 vpu.relu elems=1 src=sram:0 dst=sram:0 deps=0,0"),
             Contains("t.trace:3:") && Contains("deps: 0 is listed twice"));
  CHECK_THAT(error_on_line3("1 vpu.relu elems=1 src=sram:0 dst=sram:0 deps=0,"),
             Contains("t.trace:3:") && Contains("deps has an empty entry"));
  CHECK_THAT(error_on_line3("1 vpu.relu elems=1 src=sram:0 dst=sram:0 deps=a"),
             Contains("t.trace:3:") && Contains("deps entry='a'"));
  std::string body;
  std::string deps;
  for (int i = 0; i < 65; ++i) {
    body += std::to_string(i) + " vpu.relu elems=1 src=sram:0 dst=sram:0\n";
    deps += (i ? "," : "") + std::to_string(i);
  }
  body += "65 vpu.relu elems=1 src=sram:0 dst=sram:0 deps=" + deps + "\n";
  CHECK_THAT(error_of(with_header(body)),
             Contains("t.trace:67:") && Contains("deps: more than 64 dependencies"));
}

TEST_CASE("error: header missing, repeated or of another version") {
  CHECK_THAT(error_of(""),
             Contains("t.trace:1:") && Contains("missing header") && Contains("empty"));
  CHECK_THAT(error_of("# only a comment\n\n"),
             Contains("t.trace:2:") && Contains("missing header"));
  CHECK_THAT(error_of("# c\n" + kLoad0),
             Contains("t.trace:2:") && Contains("missing header") && Contains("got '0'"));
  CHECK_THAT(error_of("tpusim-trace 2\n"), Contains("t.trace:1:") &&
                                               Contains("version '2' is not supported") &&
                                               Contains("supports version 1"));
  CHECK_THAT(error_of("tpusim-trace\n"), Contains("t.trace:1:") && Contains("no version"));
  CHECK_THAT(error_of("tpusim-trace 1 extra\n"),
             Contains("t.trace:1:") && Contains("unexpected 'extra'"));
  CHECK_THAT(error_of(with_header(kLoad0 + "tpusim-trace 1\n")),
             Contains("t.trace:3:") && Contains("only once"));
}

TEST_CASE("error: meta malformed or after the first instruction") {
  CHECK_THAT(error_on_line3("meta a=1"),
             Contains("t.trace:3:") && Contains("meta lines must come before"));
  CHECK_THAT(error_of(with_header("meta a\n")),
             Contains("t.trace:2:") && Contains("meta: expected KEY=VALUE, got 'a'"));
  CHECK_THAT(error_of(with_header("meta a=1 a=2\n")),
             Contains("t.trace:2:") && Contains("meta: duplicate key 'a'"));
  CHECK_THAT(error_of(with_header("meta =1\n")),
             Contains("t.trace:2:") && Contains("meta: key ''"));
  CHECK_THAT(error_of(with_header("meta\n")), Contains("t.trace:2:") && Contains("no KEY=VALUE"));
}

TEST_CASE("error: tag, dtype and pattern values") {
  CHECK_THAT(error_on_line3("1 vpu.relu elems=1 src=sram:0 dst=sram:0 tag=attn/qk"),
             Contains("t.trace:3:") && Contains("tag='attn/qk' must match"));
  CHECK_THAT(error_on_line3("1 mxu.matmul m=1 n=1 k=1 dtype=fp16 a=sram:0 b=sram:0 c=sram:0"),
             Contains("t.trace:3:") && Contains("dtype='fp16' is unknown"));
  CHECK_THAT(error_on_line3("1 dma.gather src=hbm:0 dst=sram:0 span=8 rows=2 row_bytes=64 "
                            "pattern=zipf seed=1"),
             Contains("t.trace:3:") && Contains("pattern='zipf' is not valid"));
  CHECK_THAT(error_on_line3("1 dma.gather src=hbm:0 dst=sram:0 span=8 rows=2 row_bytes=64 "
                            "pattern=recent:0 seed=1"),
             Contains("t.trace:3:") && Contains("pattern='recent:0' is not valid"));
}

TEST_CASE("error: line longer than the cap, even without any newline") {
  std::string long_line = "1 vpu.relu elems=1 src=sram:0 dst=sram:0 #";
  long_line += std::string(TraceReader::kMaxLineChars, 'x');
  CHECK_THAT(error_on_line3(long_line),
             Contains("t.trace:3:") && Contains("longer than 4096 characters"));
  // 1 MiB without a newline: rejected after reading a bounded prefix, not buffered whole.
  CHECK_THAT(error_of(with_header(std::string(1 << 20, 'a'))),
             Contains("t.trace:2:") && Contains("longer than 4096"));
}

TEST_CASE("error: binary garbage never crashes and messages stay printable and short") {
  std::mt19937_64 rng(12345);
  const std::string valid = with_header(
      "meta a=1\n"
      "0 dma.load src=hbm:0 dst=sram:0 bytes=64 tag=attn.load\n"
      "1 dma.gather src=hbm:0 dst=sram:0 span=8 rows=2 row_bytes=64 pattern=recent:4 seed=1 "
      "deps=0\n"
      "2 mxu.matmul m=1 n=2 k=3 dtype=fp8 a=sram:0 b=sram:0 c=sram:0 deps=0,1\n"
      "3 vpu.topk rows=1 n=8 k=2 src=sram:0 dst=sram:0\n");
  int errors = 0, clean = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    if (round % 2 == 0) {
      // Mutate a valid trace: flip, insert or delete a few bytes.
      text = valid;
      int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits; ++e) {
        std::size_t pos = rng() % text.size();
        switch (rng() % 3) {
          case 0:
            text[pos] = static_cast<char>(rng());
            break;
          case 1:
            text.insert(pos, 1, static_cast<char>(rng()));
            break;
          default:
            text.erase(pos, 1);
            break;
        }
      }
    } else {
      text = "tpusim-trace 1\n";
      std::size_t len = rng() % 512;
      for (std::size_t i = 0; i < len; ++i)
        text += static_cast<char>(rng());
    }
    std::string msg;
    try {
      test::read_all(text);
      ++clean;
      continue;
    } catch (const TraceError& e) {
      msg = e.what();
    }
    ++errors;
    INFO(msg);
    CHECK(msg.rfind("t.trace:", 0) == 0);
    CHECK(msg.size() < 400);
    for (char c : msg)
      CHECK((static_cast<unsigned char>(c) >= 0x20 && c != 0x7f));
  }
  CHECK(errors > 1000);
  CHECK(clean > 0);  // some mutations only touch comments or keep the trace valid
}

TEST_CASE("error: a failed reader keeps failing with the same message") {
  std::istringstream in(with_header(kLoad0 + "1 dma.copy\n" + kLoad0));
  TraceReader r(in, "t.trace");
  Instruction inst;
  REQUIRE(r.next(inst));
  std::string first;
  try {
    r.next(inst);
  } catch (const TraceError& e) {
    first = e.what();
  }
  CHECK_THAT(first, Contains("t.trace:3:"));
  CHECK_THROWS_WITH(r.next(inst), first);
}

TEST_CASE("error: the first instruction (read during meta scanning) reports its own line") {
  CHECK_THAT(error_of(with_header("meta a=1\n\n# c\n0 dma.load bytes=1\n")),
             Contains("t.trace:5:") && Contains("missing keys src dst"));
}

}  // namespace tpusim
