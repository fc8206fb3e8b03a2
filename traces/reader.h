#pragma once
/// Streaming reader of trace format v1 (traces/FORMAT.md, traces/FORMAT.md).

#include <cstdint>
#include <fstream>
#include <istream>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "traces/isa.h"

namespace tpusim {

/// Reads a trace one instruction at a time, validating every line; never loads the whole file.
///
/// The constructor reads the header and the `meta` lines, so meta() is complete once it returns.
/// Every malformed input throws TraceError("NAME:LINE: what is wrong"). After an error the reader
/// stays failed: next() throws the same error again.
///
/// Memory: a 64 KiB read buffer, the tag table, and the set of IDs seen so far (needed to check
/// that deps name earlier instructions). IDs are strictly increasing, so that set is kept as
/// sorted runs of consecutive IDs: 16 B per run, i.e. a few bytes in total for the usual dense
/// numbering 0, 1, 2, ... and at most 16 B per instruction when every ID skips some numbers.
class TraceReader {
 public:
  /// Longest accepted line, in characters, excluding the line end.
  static constexpr std::size_t kMaxLineChars = 4096;
  /// Most dependencies one instruction may name.
  static constexpr std::size_t kMaxDeps = 64;
  /// Most distinct tags a trace may use (tags are 16-bit indices; 0 is untagged).
  static constexpr std::size_t kMaxTags = 65535;
  /// The only format version this reader understands.
  static constexpr int kFormatVersion = 1;

  /// Opens `path`; its name appears in error messages.
  explicit TraceReader(const std::string& path);
  /// Reads from `in`, which must outlive the reader; `name` stands for it in error messages.
  TraceReader(std::istream& in, std::string name);
  ~TraceReader();
  TraceReader(const TraceReader&) = delete;
  TraceReader& operator=(const TraceReader&) = delete;

  /// Reads the next instruction into `out` (reusing its deps buffer); false at end of trace.
  bool next(Instruction& out);

  const TraceMeta& meta() const { return m_meta; }
  /// Tags interned so far; instruction tags index into it.
  const TagTable& tags() const { return m_tags; }
  std::uint64_t instructions_read() const { return m_count; }
  /// The display name used in error messages.
  const std::string& name() const { return m_name; }
  /// Number of the last line read (1-based; 0 before any).
  std::uint64_t line() const { return m_line; }

 private:
  struct IdRun {
    std::uint64_t first, last;
  };

  void read_header_and_meta();
  bool read_line(std::string_view& line);
  void parse_meta(std::string_view rest);
  void parse_instruction(std::string_view line, Instruction& out);
  std::uint16_t intern_tag(std::string_view name);
  bool id_seen(std::uint64_t id) const;
  void record_id(std::uint64_t id);
  [[noreturn]] void fail(const std::string& what);

  std::unique_ptr<std::ifstream> m_file;  // set only when the reader opened the file itself
  std::streambuf* m_src = nullptr;
  std::string m_name;

  // Read buffer: lines are string_views into it, valid until the next read_line().
  std::vector<char> m_buf;
  std::size_t m_pos = 0, m_end = 0;
  bool m_eof = false;
  std::uint64_t m_line = 0;

  // The first instruction line, read while looking for the end of the meta block.
  std::string m_pending;
  std::uint64_t m_pending_line = 0;
  bool m_has_pending = false;

  TraceMeta m_meta;
  TagTable m_tags;
  std::unordered_map<std::string, std::uint16_t> m_tag_index;
  std::string m_tag_key;  // reused lookup key, so a known tag costs no allocation
  std::uint16_t m_last_tag = 0;

  std::vector<IdRun> m_id_runs;
  std::uint64_t m_count = 0;
  std::string m_error;  // non-empty once failed
};

}  // namespace tpusim
