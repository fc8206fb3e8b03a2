// TraceReader on well-formed input: header, meta, comments, examples, streaming.

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/traces/trace_test_util.h"
#include "traces/writer.h"

namespace tpusim {

using test::read_all;
using test::with_header;

TEST_CASE("reader: comments, blank lines, tabs, CRLF and hex are accepted") {
  TagTable tags;
  std::vector<Instruction> v = read_all(
      "# leading comment\n"
      "\n"
      "   \t  \n"
      "tpusim-trace 1   # the header may carry a comment\n"
      "# between\n"
      "0\tdma.load  src=hbm:0x1000 \t dst=sram:0X20 bytes=0x100   # trailing comment\r\n"
      "\r\n"
      "5 vpu.relu elems=16 src=sram:0 dst=sram:64 deps=0 tag=attn.proj#comment right after\n"
      "6 vpu.exp elems=16 src=sram:0 dst=sram:64 deps=0,5 tag=attn.proj\n",
      nullptr, &tags);
  REQUIRE(v.size() == 3);
  CHECK(v[0].id == 0);
  CHECK(v[0].line == 6);
  CHECK(v[0].src.offset == 0x1000);
  CHECK(v[0].dst.offset == 0x20);
  CHECK(v[0].bytes == 256);
  CHECK(v[1].id == 5);
  CHECK(v[1].line == 8);
  CHECK(tags.name(v[1].tag) == "attn.proj");
  CHECK(v[2].tag == v[1].tag);
  CHECK(v[2].deps == std::vector<std::uint64_t>{0, 5});
}

TEST_CASE("reader: meta lines are kept in order before the first instruction") {
  std::istringstream in(
      "tpusim-trace 1\n"
      "meta model=deepseek-v3.2 seq=32768\n"
      "# a comment between meta lines\n"
      "meta note=a=b empty=\n"
      "0 dma.load src=hbm:0 dst=sram:0 bytes=64\n");
  TraceReader r(in, "m.trace");
  // meta is complete as soon as the reader is constructed.
  REQUIRE(r.meta().entries.size() == 4);
  CHECK(r.meta().entries[0].first == "model");
  CHECK(*r.meta().find("seq") == "32768");
  CHECK(*r.meta().find("note") == "a=b");
  CHECK(r.meta().find("empty")->empty());
  CHECK(r.meta().find("absent") == nullptr);
  Instruction inst;
  REQUIRE(r.next(inst));
  CHECK(inst.line == 5);
  CHECK_FALSE(r.next(inst));
  CHECK_FALSE(r.next(inst));  // stays at end
  CHECK(r.instructions_read() == 1);
}

TEST_CASE("reader: a trace with only a header has no instructions") {
  CHECK(read_all("tpusim-trace 1\n").empty());
  TraceMeta meta;
  CHECK(read_all("tpusim-trace 1\nmeta a=1\n# end\n", &meta).empty());
  CHECK(meta.entries.size() == 1);
}

TEST_CASE("reader: deps may name any earlier ID, also across gaps in the numbering") {
  std::string body;
  // IDs 0..9, then 100..109, then 1000: deps reach back into every run.
  for (int i = 0; i < 10; ++i)
    body += std::to_string(i) + " vpu.relu elems=1 src=sram:0 dst=sram:0\n";
  for (int i = 100; i < 110; ++i)
    body += std::to_string(i) + " vpu.relu elems=1 src=sram:0 dst=sram:0 deps=9,0\n";
  body += "1000 vpu.relu elems=1 src=sram:0 dst=sram:0 deps=109,100,5\n";
  std::vector<Instruction> v = read_all(with_header(body));
  REQUIRE(v.size() == 21);
  CHECK(v.back().deps == std::vector<std::uint64_t>{109, 100, 5});
  // A gap between runs is not an ID.
  CHECK_THAT(test::error_of(with_header(body + "1001 vpu.relu elems=1 src=sram:0 dst=sram:0 "
                                               "deps=50\n")),
             Catch::Contains("t.trace:23:") && Catch::Contains("50 names no earlier"));
}

TEST_CASE("reader: exactly 64 deps and a 4096-character line are accepted") {
  std::string body;
  for (int i = 0; i < 64; ++i)
    body += std::to_string(i) + " vpu.relu elems=1 src=sram:0 dst=sram:0\n";
  std::string deps;
  for (int i = 0; i < 64; ++i)
    deps += (i ? "," : "") + std::to_string(i);
  body += "64 vpu.relu elems=1 src=sram:0 dst=sram:0 deps=" + deps + "\n";
  std::string line = "65 vpu.relu elems=1 src=sram:0 dst=sram:0 #";
  line += std::string(TraceReader::kMaxLineChars - line.size(), 'x');
  REQUIRE(line.size() == TraceReader::kMaxLineChars);
  body += line + "\n";
  std::vector<Instruction> v = read_all(with_header(body));
  REQUIRE(v.size() == 66);
  CHECK(v[64].deps.size() == 64);
}

TEST_CASE("reader: every example trace parses") {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(TPUSIM_SOURCE_DIR) / "traces" / "examples";
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".trace") continue;
    INFO(entry.path().string());
    ++files;
    TraceReader r(entry.path().string());
    Instruction inst;
    std::uint64_t n = 0;
    while (r.next(inst)) {
      ++n;
      CHECK(inst.tag != 0);  // every example instruction names its kernel
      // Examples stay small: SRAM below 16 MiB, HBM below 1 GiB.
      for (const Address* a : {&inst.src, &inst.dst, &inst.a, &inst.b, &inst.c})
        CHECK(a->offset < (a->space == Space::kSram ? (16u << 20) : (1u << 30)));
    }
    CHECK(n > 0);
    CHECK(r.meta().find("example") != nullptr);
  }
  CHECK(files >= 4);
}

TEST_CASE("reader: opening a missing file or a directory is a TraceError naming it") {
  CHECK_THROWS_WITH(TraceReader("/nonexistent/x.trace"),
                    Catch::Contains("/nonexistent/x.trace") && Catch::Contains("cannot open"));
  CHECK_THROWS_WITH(TraceReader(TPUSIM_SOURCE_DIR), Catch::Contains("is a directory"));
}

namespace {

/// A stream that makes up trace lines as they are read, so the test can see how far ahead of
/// the consumer the reader has pulled: the whole trace never exists in memory.
class GeneratedTrace : public std::streambuf {
 public:
  explicit GeneratedTrace(std::uint64_t count) : m_count(count) {}
  std::uint64_t lines_made() const { return m_next; }

 protected:
  int_type underflow() override {
    if (m_next > m_count) return traits_type::eof();
    if (m_next == 0) {
      m_line = "tpusim-trace 1\nmeta generator=test\n";
    } else {
      std::uint64_t id = m_next - 1;
      m_line = std::to_string(id) + " mxu.matmul m=128 n=128 k=128 dtype=bf16 a=sram:0 " +
               "b=sram:65536 c=sram:131072";
      if (id > 0) m_line += " deps=" + std::to_string(id - 1);
      m_line += id % 2 ? " tag=attn.qk\n" : " tag=attn.pv\n";
    }
    ++m_next;
    setg(m_line.data(), m_line.data(), m_line.data() + m_line.size());
    return traits_type::to_int_type(m_line[0]);
  }

 private:
  std::uint64_t m_count;
  std::uint64_t m_next = 0;
  std::string m_line;
};

}  // namespace

TEST_CASE("reader: streams a 200k-instruction trace incrementally") {
  constexpr std::uint64_t kCount = 200000;
  GeneratedTrace gen(kCount);
  std::istream in(&gen);
  TraceReader r(in, "gen.trace");
  Instruction inst;
  REQUIRE(r.next(inst));
  // After one instruction the reader has pulled at most one buffer (64 KiB, ~100 B a line).
  CHECK(gen.lines_made() < 1000);
  std::uint64_t n = 1;
  std::uint64_t last = inst.id;
  while (r.next(inst)) {
    ++n;
    REQUIRE(inst.id == last + 1);
    last = inst.id;
  }
  CHECK(n == kCount);
  CHECK(r.instructions_read() == kCount);
  CHECK(inst.deps == std::vector<std::uint64_t>{kCount - 2});
  CHECK(r.tags().size() == 3);
  CHECK(*r.meta().find("generator") == "test");
}

TEST_CASE("reader: 200k instructions written and read back through a stringstream") {
  constexpr std::uint64_t kCount = 200000;
  TagTable tags;
  std::stringstream s;
  TraceWriter w(s);
  w.write_header();
  Instruction in;
  for (std::uint64_t i = 0; i < kCount; ++i) {
    in = Instruction{};
    in.id = i;
    in.op = i % 3 == 0 ? Op::kDmaLoad : (i % 3 == 1 ? Op::kMxuMatmul : Op::kVpuSoftmax);
    in.src = Address{in.op == Op::kDmaLoad ? Space::kHbm : Space::kSram, i * 64};
    in.dst = Address{Space::kSram, 0};
    in.bytes = in.op == Op::kDmaLoad ? 4096 : 0;
    if (in.op == Op::kMxuMatmul) {
      in.src = in.dst = Address{};
      in.m = in.n = in.k = 128;
      in.a = in.b = in.c = Address{Space::kSram, 0};
    }
    if (in.op == Op::kVpuSoftmax) {
      in.elems = 1024;
      in.n = 128;
    }
    if (i >= 2) in.deps = {i - 2, i - 1};
    in.tag = tags.intern(i % 2 ? "attn.softmax" : "attn.load");
    w.write(in, tags);
  }
  TraceReader r(s, "big.trace");
  Instruction got;
  std::uint64_t n = 0;
  while (r.next(got)) {
    REQUIRE(got.id == n);
    ++n;
  }
  CHECK(n == kCount);
  CHECK(got.op == Op::kMxuMatmul);  // the last ID, 199999, is 1 mod 3
}

}  // namespace tpusim

namespace tpusim {

TEST_CASE("reader: the trace snippets in FORMAT.md parse") {
  // Keeps the reference honest: every fenced block that is a trace (or a body of instruction
  // lines, which gets a header) must be accepted.
  std::ifstream md(std::string(TPUSIM_SOURCE_DIR) + "/traces/FORMAT.md");
  REQUIRE(md);
  std::string line, block;
  bool in_block = false;
  int parsed = 0;
  while (std::getline(md, line)) {
    if (line.rfind("```", 0) == 0) {
      if (in_block) {
        if (block.rfind("tpusim-trace 1", 0) == 0) {
          INFO(block);
          CHECK_NOTHROW(test::read_all(block));
          ++parsed;
        } else if (block.rfind("0 ", 0) == 0) {
          INFO(block);
          CHECK_NOTHROW(test::read_all(test::with_header(block)));
          ++parsed;
        }
        block.clear();
      }
      in_block = !in_block;
      continue;
    }
    if (in_block) block += line + "\n";
  }
  CHECK(parsed >= 3);
}

}  // namespace tpusim
