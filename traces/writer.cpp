#include "traces/writer.h"

#include <charconv>
#include <stdexcept>

namespace tpusim {
namespace {

bool valid_meta_value(std::string_view s) {
  for (char c : s)
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '#') return false;
  return true;
}

}  // namespace

void TraceWriter::put_uint(std::uint64_t v) {
  char buf[24];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;  // 24 chars always hold a uint64
  m_line.append(buf, ptr);
}

void TraceWriter::put_key(std::string_view key, std::uint64_t v) {
  m_line += ' ';
  put(key);
  m_line += '=';
  put_uint(v);
}

void TraceWriter::put_addr(std::string_view key, const Address& a) {
  m_line += ' ';
  put(key);
  put(a.space == Space::kHbm ? "=hbm:" : "=sram:");
  put_uint(a.offset);
}

void TraceWriter::write_header(const TraceMeta& meta) {
  m_line.assign("tpusim-trace 1\n");
  for (const auto& [key, value] : meta.entries) {
    if (!is_name_token(key)) throw std::invalid_argument("meta key '" + key + "' is not valid");
    if (!valid_meta_value(value))
      throw std::invalid_argument("meta value '" + value + "' of '" + key +
                                  "' contains a space, a line break or '#'");
    m_line += "meta ";
    m_line += key;
    m_line += '=';
    m_line += value;
    m_line += '\n';
  }
  m_out.write(m_line.data(), static_cast<std::streamsize>(m_line.size()));
}

void TraceWriter::write_comment(std::string_view text) {
  m_line.clear();
  for (;;) {
    std::size_t nl = text.find('\n');
    m_line += "# ";
    put(text.substr(0, nl));
    m_line += '\n';
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  m_out.write(m_line.data(), static_cast<std::streamsize>(m_line.size()));
}

void TraceWriter::write(const Instruction& in, const TagTable& tags) {
  m_line.clear();
  put_uint(in.id);
  m_line += ' ';
  put(op_name(in.op));
  switch (in.op) {
    case Op::kDmaLoad:
    case Op::kDmaStore:
      put_addr("src", in.src);
      put_addr("dst", in.dst);
      put_key("bytes", in.bytes);
      if (in.rows != 0) put_key("rows", in.rows);
      if (in.stride != 0) put_key("stride", in.stride);
      break;
    case Op::kDmaGather:
      put_addr("src", in.src);
      put_addr("dst", in.dst);
      put_key("span", in.span);
      put_key("rows", in.rows);
      put_key("row_bytes", in.row_bytes);
      put(" pattern=");
      put(pattern_to_string(in.pattern));
      put_key("seed", in.seed);
      break;
    case Op::kMxuMatmul:
      put_key("m", in.m);
      put_key("n", in.n);
      put_key("k", in.k);
      put(" dtype=");
      put(dtype_name(in.dtype));
      put_addr("a", in.a);
      put_addr("b", in.b);
      put_addr("c", in.c);
      break;
    case Op::kVpuTopk:
      put_key("rows", in.rows);
      put_key("n", in.n);
      put_key("k", in.k);
      if (in.cand != 0) put_key("cand", in.cand);
      put_addr("src", in.src);
      put_addr("dst", in.dst);
      break;
    default:
      put_key("elems", in.elems);
      if (in.n != 0) put_key("n", in.n);
      put_addr("src", in.src);
      put_addr("dst", in.dst);
      break;
  }
  if (!in.deps.empty()) {
    put(" deps=");
    for (std::size_t i = 0; i < in.deps.size(); ++i) {
      if (i) m_line += ',';
      put_uint(in.deps[i]);
    }
  }
  if (in.tag != 0) {
    put(" tag=");
    put(tags.name(in.tag));
  }
  m_line += '\n';
  m_out.write(m_line.data(), static_cast<std::streamsize>(m_line.size()));
}

}  // namespace tpusim
