#include "traces/reader.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <limits>
#include <system_error>

#include "base/cycle.h"
#include "base/error.h"
#include "base/math.h"

namespace tpusim {
namespace {

constexpr std::size_t kBufferBytes = 64 * 1024;
static_assert(kBufferBytes > TraceReader::kMaxLineChars + 2, "a whole line must fit the buffer");

// ---- Keys ----------------------------------------------------------------------------------

enum Key : std::uint8_t {
  kSrc,
  kDst,
  kBytes,
  kRows,
  kStride,
  kSpan,
  kRowBytes,
  kPattern,
  kSeed,
  kM,
  kN,
  kK,
  kDtype,
  kA,
  kB,
  kC,
  kElems,
  kDeps,
  kTag,
  kCand,
  kKeyCount,
};

constexpr std::array<std::string_view, kKeyCount> kKeyNames = {
    "src", "dst", "bytes", "rows", "stride", "span", "row_bytes", "pattern", "seed", "m",
    "n",   "k",   "dtype", "a",    "b",      "c",    "elems",     "deps",    "tag",  "cand"};

constexpr std::uint32_t bit(Key k) {
  return std::uint32_t{1} << k;
}

int find_key(std::string_view name) {
  for (int i = 0; i < kKeyCount; ++i)
    if (kKeyNames[i] == name) return i;
  return -1;
}

/// The keys an op requires and the ones it may have (deps and tag are allowed everywhere).
struct OpKeys {
  std::uint32_t required = 0;
  std::uint32_t optional = 0;
};

OpKeys op_keys(Op op) {
  OpKeys k;
  k.optional = bit(kDeps) | bit(kTag);
  switch (op) {
    case Op::kDmaLoad:
    case Op::kDmaStore:
      k.required = bit(kSrc) | bit(kDst) | bit(kBytes);
      k.optional |= bit(kRows) | bit(kStride);
      break;
    case Op::kDmaGather:
      k.required = bit(kSrc) | bit(kDst) | bit(kSpan) | bit(kRows) | bit(kRowBytes) |
                   bit(kPattern) | bit(kSeed);
      break;
    case Op::kMxuMatmul:
      k.required = bit(kM) | bit(kN) | bit(kK) | bit(kDtype) | bit(kA) | bit(kB) | bit(kC);
      break;
    case Op::kVpuTopk:
      k.required = bit(kRows) | bit(kN) | bit(kK) | bit(kSrc) | bit(kDst);
      k.optional |= bit(kCand);
      break;
    default:
      k.required = bit(kElems) | bit(kSrc) | bit(kDst);
      if (takes_row_length(op)) k.optional |= bit(kN);
      break;
  }
  return k;
}

std::string key_list(std::uint32_t mask) {
  std::string s;
  for (int i = 0; i < kKeyCount; ++i) {
    if (!(mask & (std::uint32_t{1} << i))) continue;
    if (!s.empty()) s += ' ';
    s += kKeyNames[i];
  }
  return s;
}

// ---- Small parsing helpers ------------------------------------------------------------------

/// Quotes user text for an error message: at most 64 characters, control and non-ASCII bytes
/// escaped, so binary garbage cannot garble the terminal or produce a megabyte-long message.
std::string quote(std::string_view s) {
  constexpr std::size_t kMax = 64;
  std::string q = "'";
  for (std::size_t i = 0; i < s.size() && i < kMax; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\'') {
      q += static_cast<char>(c);
    } else {
      static const char* kHex = "0123456789abcdef";
      q += "\\x";
      q += kHex[c >> 4];
      q += kHex[c & 15];
    }
  }
  if (s.size() > kMax) q += "...";
  q += '\'';
  return q;
}

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

/// Splits off the next space/tab separated token; empty when the line is exhausted.
std::string_view next_token(std::string_view& rest) {
  std::size_t i = 0;
  while (i < rest.size() && is_blank(rest[i]))
    ++i;
  std::size_t j = i;
  while (j < rest.size() && !is_blank(rest[j]))
    ++j;
  std::string_view tok = rest.substr(i, j - i);
  rest.remove_prefix(j);
  return tok;
}

/// Drops the comment and the trailing blanks.
std::string_view strip_comment(std::string_view line) {
  std::size_t hash = line.find('#');
  if (hash != std::string_view::npos) line = line.substr(0, hash);
  while (!line.empty() && is_blank(line.back()))
    line.remove_suffix(1);
  return line;
}

enum class IntError { kOk, kEmpty, kNegative, kNotInteger, kOverflow };

/// Decimal or 0x hex, no sign, the whole string.
IntError parse_u64(std::string_view s, std::uint64_t& out) {
  if (s.empty()) return IntError::kEmpty;
  if (s[0] == '-') return IntError::kNegative;
  int base = 10;
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
    if (s.empty()) return IntError::kNotInteger;
  }
  // from_chars would accept neither '+' nor whitespace, but be explicit about the first digit.
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
  if (ec == std::errc::result_out_of_range) return IntError::kOverflow;
  if (ec != std::errc() || ptr != s.data() + s.size()) return IntError::kNotInteger;
  return IntError::kOk;
}

std::string int_error_message(std::string_view what, std::string_view text, IntError e) {
  std::string w(what);
  switch (e) {
    case IntError::kEmpty:
      return w + " is empty (expected an unsigned integer)";
    case IntError::kNegative:
      return w + "=" + quote(text) + " is negative (must be an unsigned integer)";
    case IntError::kOverflow:
      return w + "=" + quote(text) + " does not fit in 64 bits (max 18446744073709551615)";
    default:
      return w + "=" + quote(text) + " is not an unsigned integer (decimal or 0x hex)";
  }
}

}  // namespace

// ---- Construction and line reading ----------------------------------------------------------

TraceReader::TraceReader(const std::string& path) : m_name(path), m_buf(kBufferBytes) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw TraceError(path + ": cannot read trace: is a directory");
  m_file = std::make_unique<std::ifstream>(path, std::ios::binary);
  if (!*m_file) throw TraceError(path + ": cannot open trace: " + std::strerror(errno));
  m_src = m_file->rdbuf();
  read_header_and_meta();
}

TraceReader::TraceReader(std::istream& in, std::string name)
    : m_src(in.rdbuf()), m_name(std::move(name)), m_buf(kBufferBytes) {
  if (!m_src) throw TraceError(m_name + ": cannot read trace: stream has no buffer");
  read_header_and_meta();
}

TraceReader::~TraceReader() = default;

void TraceReader::fail(const std::string& what) {
  m_error = m_name + ":" + std::to_string(std::max<std::uint64_t>(m_line, 1)) + ": " + what;
  throw TraceError(m_error);
}

bool TraceReader::read_line(std::string_view& line) {
  for (;;) {
    const char* begin = m_buf.data() + m_pos;
    std::size_t avail = m_end - m_pos;
    const void* nl = std::memchr(begin, '\n', avail);
    std::size_t len = 0;
    if (nl) {
      len = static_cast<std::size_t>(static_cast<const char*>(nl) - begin);
      m_pos += len + 1;
    } else if (avail > kMaxLineChars + 1) {
      // Stop before buffering more: a newline-free binary file must not be read as one line.
      ++m_line;
      fail("line is longer than " + std::to_string(kMaxLineChars) + " characters");
    } else if (m_eof) {
      if (avail == 0) return false;
      // Every line ends in '\n' (FORMAT.md): a file cut short while written or copied ends
      // without one, perhaps inside a number, and would otherwise run as a different trace.
      ++m_line;
      fail(
          "the last line does not end in a newline: the file may be cut short (every line "
          "of a trace ends in \\n)");
    } else {
      std::memmove(m_buf.data(), begin, avail);
      m_pos = 0;
      m_end = avail;
      std::streamsize want = static_cast<std::streamsize>(m_buf.size() - m_end);
      std::streamsize got = m_src->sgetn(m_buf.data() + m_end, want);
      if (got <= 0)
        m_eof = true;
      else
        m_end += static_cast<std::size_t>(got);
      continue;
    }
    ++m_line;
    if (len > 0 && begin[len - 1] == '\r') --len;  // tolerate CRLF files
    if (len > kMaxLineChars)
      fail("line is longer than " + std::to_string(kMaxLineChars) + " characters");
    line = std::string_view(begin, len);
    return true;
  }
}

void TraceReader::read_header_and_meta() {
  std::string_view raw;
  bool have_header = false;
  while (read_line(raw)) {
    std::string_view rest = strip_comment(raw);
    std::string_view first = next_token(rest);
    if (first.empty()) continue;
    if (!have_header) {
      std::string_view version = next_token(rest);
      if (first != "tpusim-trace")
        fail("missing header: the first line must be 'tpusim-trace 1', got " + quote(first));
      if (version.empty()) fail("header has no version: expected 'tpusim-trace 1'");
      if (version != "1")
        fail("trace format version " + quote(version) +
             " is not supported (this reader supports version 1)");
      std::string_view extra = next_token(rest);
      if (!extra.empty()) fail("unexpected " + quote(extra) + " after 'tpusim-trace 1'");
      have_header = true;
      continue;
    }
    if (first == "meta") {
      parse_meta(rest);
      continue;
    }
    m_pending.assign(raw.data(), raw.size());
    m_pending_line = m_line;
    m_has_pending = true;
    return;
  }
  if (!have_header) fail("missing header: the trace is empty (expected 'tpusim-trace 1')");
}

void TraceReader::parse_meta(std::string_view rest) {
  bool any = false;
  for (std::string_view tok = next_token(rest); !tok.empty(); tok = next_token(rest)) {
    any = true;
    std::size_t eq = tok.find('=');
    if (eq == std::string_view::npos) fail("meta: expected KEY=VALUE, got " + quote(tok));
    std::string_view key = tok.substr(0, eq);
    std::string_view value = tok.substr(eq + 1);
    if (!is_name_token(key)) fail("meta: key " + quote(key) + " must match [A-Za-z0-9_.:-]+");
    if (m_meta.find(key)) fail("meta: duplicate key " + quote(key));
    // Values reach JSON reports and the writer's canonical form: printable ASCII only, so a
    // stray control or non-UTF-8 byte is reported here, with its line, not as a broken report.
    for (char c : value)
      if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e)
        fail("meta: value of " + quote(key) +
             " has a character that is not printable ASCII: " + quote(value));
    m_meta.entries.emplace_back(std::string(key), std::string(value));
  }
  if (!any) fail("meta line has no KEY=VALUE pairs");
}

// ---- Instructions ---------------------------------------------------------------------------

bool TraceReader::next(Instruction& out) {
  if (!m_error.empty()) throw TraceError(m_error);
  std::string_view line;
  if (m_has_pending) {
    m_has_pending = false;
    // Report errors of the pending line against its own number, then continue counting.
    std::uint64_t resume = m_line;
    m_line = m_pending_line;
    parse_instruction(m_pending, out);
    m_line = resume;
    return true;
  }
  while (read_line(line)) {
    std::string_view rest = strip_comment(line);
    std::size_t i = 0;
    while (i < rest.size() && is_blank(rest[i]))
      ++i;
    if (i == rest.size()) continue;
    parse_instruction(rest, out);
    return true;
  }
  return false;
}

bool TraceReader::id_seen(std::uint64_t id) const {
  auto it = std::upper_bound(m_id_runs.begin(), m_id_runs.end(), id,
                             [](std::uint64_t v, const IdRun& r) { return v < r.first; });
  if (it == m_id_runs.begin()) return false;
  --it;
  return id <= it->last;
}

void TraceReader::record_id(std::uint64_t id) {
  if (!m_id_runs.empty() && m_id_runs.back().last + 1 == id)
    m_id_runs.back().last = id;
  else
    m_id_runs.push_back({id, id});
}

std::uint16_t TraceReader::intern_tag(std::string_view name) {
  // Consecutive instructions usually share a tag; skip the hash lookup then.
  if (m_last_tag != 0 && m_tags.name(m_last_tag) == name) return m_last_tag;
  m_tag_key.assign(name.data(), name.size());
  auto it = m_tag_index.find(m_tag_key);
  if (it != m_tag_index.end()) return m_last_tag = it->second;
  if (m_tags.size() > kMaxTags)
    fail("too many distinct tags (at most " + std::to_string(kMaxTags) + ")");
  std::uint16_t t = m_tags.intern(name);
  m_tag_index.emplace(m_tag_key, t);
  return m_last_tag = t;
}

void TraceReader::parse_instruction(std::string_view rest, Instruction& out) {
  rest = strip_comment(rest);
  // Reset every field but keep the deps buffer's capacity: the caller reuses `out`.
  {
    std::vector<std::uint64_t> deps = std::move(out.deps);
    out = Instruction{};
    deps.clear();
    out.deps = std::move(deps);
  }
  out.line = static_cast<std::uint32_t>(
      std::min<std::uint64_t>(m_line, std::numeric_limits<std::uint32_t>::max()));

  std::string_view id_tok = next_token(rest);
  if (id_tok == "meta") fail("meta lines must come before the first instruction");
  if (id_tok == "tpusim-trace") fail("the header 'tpusim-trace' may appear only once, first");
  if (IntError e = parse_u64(id_tok, out.id); e != IntError::kOk)
    fail(int_error_message("instruction ID", id_tok, e));
  if (!m_id_runs.empty() && out.id <= m_id_runs.back().last)
    fail("instruction ID " + std::to_string(out.id) + " is not greater than the previous ID " +
         std::to_string(m_id_runs.back().last) + " (IDs must be strictly increasing)");

  std::string_view op_tok = next_token(rest);
  if (op_tok.empty()) fail("instruction " + std::to_string(out.id) + " has no op");
  if (!parse_op(op_tok, out.op)) fail("unknown op " + quote(op_tok));
  const std::string_view opn = op_name(out.op);
  const OpKeys keys = op_keys(out.op);

  std::array<std::string_view, kKeyCount> vals{};
  std::uint32_t seen = 0;
  for (std::string_view tok = next_token(rest); !tok.empty(); tok = next_token(rest)) {
    std::size_t eq = tok.find('=');
    if (eq == std::string_view::npos) fail("expected KEY=VALUE, got " + quote(tok));
    std::string_view key = tok.substr(0, eq);
    int ki = find_key(key);
    if (ki < 0 || !((keys.required | keys.optional) & (std::uint32_t{1} << ki)))
      fail("unknown key " + quote(key) + " for " + std::string(opn) +
           " (allowed: " + key_list(keys.required | keys.optional) + ")");
    if (seen & (std::uint32_t{1} << ki)) fail("duplicate key " + quote(key));
    seen |= std::uint32_t{1} << ki;
    vals[ki] = tok.substr(eq + 1);
    if (vals[ki].empty()) fail("key " + std::string(key) + " has no value");
  }
  if (std::uint32_t missing = keys.required & ~seen)
    fail("missing key" + std::string(missing & (missing - 1) ? "s " : " ") + key_list(missing) +
         " for " + std::string(opn));

  auto has = [&](Key k) { return (seen & bit(k)) != 0; };
  auto num = [&](Key k) {
    std::uint64_t v = 0;
    if (IntError e = parse_u64(vals[k], v); e != IntError::kOk)
      fail(int_error_message(kKeyNames[k], vals[k], e));
    return v;
  };
  auto positive = [&](Key k) {
    std::uint64_t v = num(k);
    if (v == 0) fail(std::string(kKeyNames[k]) + " must be > 0");
    return v;
  };
  auto addr = [&](Key k, Space want) {
    std::string_view v = vals[k];
    const char* want_name = want == Space::kHbm ? "hbm:" : "sram:";
    Address a;
    std::string_view digits;
    if (v.substr(0, 4) == "hbm:") {
      a.space = Space::kHbm;
      digits = v.substr(4);
    } else if (v.substr(0, 5) == "sram:") {
      a.space = Space::kSram;
      digits = v.substr(5);
    } else {
      fail(std::string(kKeyNames[k]) + "=" + quote(v) + " is not an address (expected " +
           want_name + "N)");
    }
    if (a.space != want)
      fail(std::string(kKeyNames[k]) + " must be an " + want_name + " address, got " + quote(v));
    if (IntError e = parse_u64(digits, a.offset); e != IntError::kOk)
      fail(int_error_message(std::string(kKeyNames[k]) + " offset", digits, e));
    return a;
  };
  switch (out.op) {
    case Op::kDmaLoad:
    case Op::kDmaStore: {
      const bool load = out.op == Op::kDmaLoad;
      out.src = addr(kSrc, load ? Space::kHbm : Space::kSram);
      out.dst = addr(kDst, load ? Space::kSram : Space::kHbm);
      out.bytes = positive(kBytes);
      if (has(kRows)) out.rows = positive(kRows);
      if (has(kStride)) {
        if (out.rows <= 1) fail("stride needs rows > 1 (a 2-D transfer)");
        out.stride = num(kStride);
      }
      if (out.rows > 1) {
        if (out.bytes % out.rows != 0)
          fail("bytes=" + std::to_string(out.bytes) +
               " is not divisible by rows=" + std::to_string(out.rows));
        const std::uint64_t row = out.bytes / out.rows;
        if (has(kStride) && out.stride < row)
          fail("stride=" + std::to_string(out.stride) +
               " is smaller than a row (bytes/rows = " + std::to_string(row) + ")");
      }
      break;
    }
    case Op::kDmaGather: {
      out.src = addr(kSrc, Space::kHbm);
      out.dst = addr(kDst, Space::kSram);
      out.span = positive(kSpan);
      out.rows = positive(kRows);
      out.row_bytes = positive(kRowBytes);
      // parse_pattern's own message echoes the raw text; quote() keeps binary bytes out of it.
      if (!parse_pattern(vals[kPattern], out.pattern).empty())
        fail("pattern=" + quote(vals[kPattern]) +
             " is not valid (use uniform, recent:W, clustered:C or strided:S; W, C, S > 0)");
      out.seed = num(kSeed);
      if (out.rows > out.span)
        fail("rows=" + std::to_string(out.rows) + " is more than span=" + std::to_string(out.span) +
             " (rows are picked without repetition)");
      break;
    }
    case Op::kMxuMatmul: {
      out.m = positive(kM);
      out.n = positive(kN);
      out.k = positive(kK);
      std::string_view dt = vals[kDtype];
      if (dt == "bf16")
        out.dtype = DType::kBf16;
      else if (dt == "fp8")
        out.dtype = DType::kFp8;
      else
        fail("dtype=" + quote(dt) + " is unknown (use bf16 or fp8)");
      out.a = addr(kA, Space::kSram);
      out.b = addr(kB, Space::kSram);
      out.c = addr(kC, Space::kSram);
      break;
    }
    case Op::kVpuTopk: {
      out.rows = positive(kRows);
      out.n = positive(kN);
      out.k = positive(kK);
      if (out.k > out.n)
        fail("k=" + std::to_string(out.k) + " is more than n=" + std::to_string(out.n) +
             " (cannot keep more than a row holds)");
      if (has(kCand)) {
        out.cand = num(kCand);
        if (out.cand != 0 && (out.cand < out.k || out.cand > out.n))
          fail("cand=" + std::to_string(out.cand) + " must be 0 or between k=" +
               std::to_string(out.k) + " and n=" + std::to_string(out.n));
      }
      out.src = addr(kSrc, Space::kSram);
      out.dst = addr(kDst, Space::kSram);
      break;
    }
    default: {
      out.elems = positive(kElems);
      if (has(kN)) {
        out.n = positive(kN);
        if (out.elems % out.n != 0)
          fail("elems=" + std::to_string(out.elems) +
               " is not a multiple of the row length n=" + std::to_string(out.n));
      }
      out.src = addr(kSrc, Space::kSram);
      out.dst = addr(kDst, Space::kSram);
      break;
    }
  }
  // Every operand's extent must fit the 64-bit address space (capacity is checked later,
  // against the chip the trace runs on).
  OperandExtent ext[kMaxOperands];
  const int n_ext = operand_extents(out, ext);
  for (int i = 0; i < n_ext; ++i) {
    std::uint64_t end = 0;
    if (ext[i].overflow || add_overflows(ext[i].addr.offset, ext[i].bytes, end))
      fail(std::string(ext[i].key) + " operand (offset " + std::to_string(ext[i].addr.offset) +
           ") with its size overflows the 64-bit address space");
  }

  if (has(kDeps)) {
    std::string_view list = vals[kDeps];
    for (;;) {
      std::size_t comma = list.find(',');
      std::string_view item = list.substr(0, comma);
      std::uint64_t d = 0;
      if (IntError e = parse_u64(item, d); e != IntError::kOk)
        fail(e == IntError::kEmpty ? "deps has an empty entry"
                                   : int_error_message("deps entry", item, e));
      if (d == out.id) fail("deps: instruction " + std::to_string(d) + " depends on itself");
      if (d > out.id)
        fail("deps: " + std::to_string(d) + " is not an earlier instruction (this is " +
             std::to_string(out.id) + "; deps may only name earlier IDs)");
      if (!id_seen(d)) fail("deps: " + std::to_string(d) + " names no earlier instruction");
      if (std::find(out.deps.begin(), out.deps.end(), d) != out.deps.end())
        fail("deps: " + std::to_string(d) + " is listed twice");
      if (out.deps.size() == kMaxDeps)
        fail("deps: more than " + std::to_string(kMaxDeps) + " dependencies");
      out.deps.push_back(d);
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  if (has(kTag)) {
    std::string_view t = vals[kTag];
    if (!is_name_token(t)) fail("tag=" + quote(t) + " must match [A-Za-z0-9_.:-]+");
    out.tag = intern_tag(t);
  }

  record_id(out.id);
  ++m_count;
}

}  // namespace tpusim
