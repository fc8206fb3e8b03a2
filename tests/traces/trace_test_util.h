#pragma once
// Helpers shared by the trace tests: read a trace held in a string, capture an error message.

#include <sstream>
#include <string>
#include <vector>

#include "base/cycle.h"
#include "base/error.h"
#include "traces/reader.h"

namespace tpusim::test {

inline std::vector<Instruction> read_all(const std::string& text, TraceMeta* meta = nullptr,
                                         TagTable* tags = nullptr) {
  std::istringstream in(text);
  TraceReader reader(in, "t.trace");
  std::vector<Instruction> out;
  Instruction inst;
  while (reader.next(inst))
    out.push_back(inst);
  if (meta) *meta = reader.meta();
  if (tags) *tags = reader.tags();
  return out;
}

/// The TraceError message reading `text` produces, or "" if it reads cleanly.
inline std::string error_of(const std::string& text) {
  try {
    read_all(text);
  } catch (const TraceError& e) {
    return e.what();
  }
  return "";
}

/// A one-instruction-per-line body behind a valid header (line 1), so body line i is line i+1.
inline std::string with_header(const std::string& body) {
  return "tpusim-trace 1\n" + body;
}

}  // namespace tpusim::test
