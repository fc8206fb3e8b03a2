// libFuzzer target: the trace reader over arbitrary bytes (built by scripts/fuzz.sh, not by
// CMake). Every input must either read cleanly or throw TraceError whose message starts with
// "fuzz.trace:LINE: "; anything else (another exception, a sanitizer report, a hang) is a bug.
// What reads cleanly must also survive the writer: writing it back and reading that again gives
// the same instructions, so the reader accepts nothing the canonical form cannot express.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "base/cycle.h"
#include "base/error.h"
#include "traces/reader.h"
#include "traces/writer.h"

namespace {

using namespace tpusim;

[[noreturn]] void bug(const std::string& what) {
  std::fprintf(stderr, "fuzz_trace_reader: %s\n", what.c_str());
  std::abort();
}

bool has_location(const std::string& msg, const std::string& name) {
  if (msg.compare(0, name.size() + 1, name + ":") != 0) return false;
  std::size_t i = name.size() + 1, digits = 0;
  while (i < msg.size() && msg[i] >= '0' && msg[i] <= '9') {
    ++i;
    ++digits;
  }
  return digits > 0 && msg.compare(i, 2, ": ") == 0;
}

struct Read {
  std::vector<Instruction> instructions;
  std::vector<std::string> tags;  // tag name of each instruction
  TraceMeta meta;
};

Read read_all(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  TraceReader reader(in, name);
  Read r;
  Instruction inst;
  while (reader.next(inst)) {
    r.instructions.push_back(inst);
    r.tags.push_back(reader.tags().name(inst.tag));
  }
  r.meta = reader.meta();
  return r;
}

bool same(const Address& a, const Address& b) {
  return a.space == b.space && a.offset == b.offset;
}

bool same(const Instruction& a, const Instruction& b) {
  return a.id == b.id && a.op == b.op && same(a.src, b.src) && same(a.dst, b.dst) &&
         a.bytes == b.bytes && a.rows == b.rows && a.stride == b.stride && a.span == b.span &&
         a.row_bytes == b.row_bytes && a.pattern.kind == b.pattern.kind &&
         a.pattern.param == b.pattern.param && a.seed == b.seed && a.m == b.m && a.n == b.n &&
         a.k == b.k && a.dtype == b.dtype && same(a.a, b.a) && same(a.b, b.b) && same(a.c, b.c) &&
         a.elems == b.elems && a.deps == b.deps;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  Read first;
  try {
    first = read_all(text, "fuzz.trace");
  } catch (const TraceError& e) {
    if (!has_location(e.what(), "fuzz.trace")) bug(std::string("no file:line in: ") + e.what());
    return 0;
  }
  // Round trip through the canonical writer.
  std::ostringstream os;
  TraceWriter w(os);
  w.write_header(first.meta);
  TagTable tags;
  for (std::size_t i = 0; i < first.instructions.size(); ++i) {
    Instruction in = first.instructions[i];
    in.tag = tags.intern(first.tags[i]);
    w.write(in, tags);
  }
  Read second;
  try {
    second = read_all(os.str(), "again.trace");
  } catch (const TraceError& e) {
    bug(std::string("the writer's output does not read back: ") + e.what());
  }
  if (second.instructions.size() != first.instructions.size())
    bug("round trip changed the instruction count");
  for (std::size_t i = 0; i < first.instructions.size(); ++i)
    if (!same(first.instructions[i], second.instructions[i]) || first.tags[i] != second.tags[i])
      bug("round trip changed instruction " + std::to_string(first.instructions[i].id));
  if (first.meta.entries != second.meta.entries) bug("round trip changed the meta lines");
  return 0;
}
