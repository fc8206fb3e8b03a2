#pragma once
/// Writer of trace format v1 in its canonical form (traces/FORMAT.md).

#include <ostream>
#include <string>
#include <string_view>

#include "traces/isa.h"

namespace tpusim {

/// Writes instructions in the canonical text form TraceReader accepts: keys in the FORMAT.md
/// order, optional keys only when they differ from their defaults, addresses as `hbm:N` /
/// `sram:N` in decimal. For every instruction the reader accepts, reading back what this writes
/// gives the same instruction field by field (except `line`). It does not validate instructions:
/// an invalid one produces a line the reader rejects with a precise message.
class TraceWriter {
 public:
  /// `out` must outlive the writer; the writer never flushes on its own.
  explicit TraceWriter(std::ostream& out) : m_out(out) {}

  /// Writes `tpusim-trace 1` and one `meta KEY=VALUE` line per entry. Throws
  /// std::invalid_argument if a key or value could not be read back (spaces, '#', bad key).
  void write_header(const TraceMeta& meta = {});
  /// Writes one instruction line; its tag is looked up in `tags`.
  void write(const Instruction& in, const TagTable& tags);
  /// Writes `# text` (one line per line of `text`), e.g. to explain a generated trace.
  void write_comment(std::string_view text);

 private:
  void put(std::string_view s) { m_line.append(s.data(), s.size()); }
  void put_uint(std::uint64_t v);
  void put_key(std::string_view key, std::uint64_t v);
  void put_addr(std::string_view key, const Address& a);

  std::ostream& m_out;
  std::string m_line;  // reused line buffer: one ostream write per instruction
};

}  // namespace tpusim
