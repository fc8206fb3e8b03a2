#include "base/format.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include "base/cycle.h"
#include "base/error.h"

namespace tpusim {
namespace {

// Three significant digits, trailing zeros dropped: 1.50 -> "1.5", 20.0 -> "20".
std::string short_number(double v) {
  std::string s = v >= 100  ? fmt::format("{:.0f}", v)
                  : v >= 10 ? fmt::format("{:.1f}", v)
                            : fmt::format("{:.2f}", v);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0')
      s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s;
}

std::string scaled(double v, double base, const char* const* prefixes, int n, const char* unit) {
  int i = 0;
  double a = std::fabs(v);
  while (i + 1 < n && a >= base) {
    a /= base;
    v /= base;
    ++i;
  }
  return short_number(v) + prefixes[i] + unit;
}

}  // namespace

std::string format_count(double n) {
  static const char* const p[] = {"", "k", "m", "g"};
  return scaled(n, 1024.0, p, 4, "");
}

std::string format_bytes(double bytes) {
  static const char* const p[] = {" B", " KiB", " MiB", " GiB", " TiB"};
  return scaled(bytes, 1024.0, p, 5, "");
}

std::string format_bandwidth(double bytes_per_s) {
  static const char* const p[] = {" B/s", " kB/s", " MB/s", " GB/s", " TB/s"};
  return scaled(bytes_per_s, 1000.0, p, 5, "");
}

std::string format_si(double n) {
  static const char* const p[] = {"", "k", "M", "G", "T", "P"};
  return scaled(n, 1000.0, p, 6, "");
}

std::string format_flops(double flops) {
  static const char* const p[] = {" FLOP", " kFLOP", " MFLOP", " GFLOP", " TFLOP", " PFLOP"};
  return scaled(flops, 1000.0, p, 6, "");
}

std::string format_duration(double s) {
  const auto t = static_cast<long>(std::llround(std::max(s, 0.0)));
  if (t >= 3600) return fmt::format("{}h{:02}m{:02}s", t / 3600, t / 60 % 60, t % 60);
  if (t >= 60) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{}s", t);
}

std::string format_seconds(double s) {
  if (s == 0) return "0 s";
  double a = std::fabs(s);
  if (a >= 1) return short_number(s) + " s";
  if (a >= 1e-3) return short_number(s * 1e3) + " ms";
  if (a >= 1e-6) return short_number(s * 1e6) + " us";
  return short_number(s * 1e9) + " ns";
}

std::uint64_t parse_size(const std::string& text, const std::string& what) {
  if (text.empty()) throw UserError(what + ": empty value");
  std::size_t i = 0;
  std::uint64_t v = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    std::uint64_t d = static_cast<std::uint64_t>(text[i] - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10)
      throw UserError(what + ": '" + text + "' is too large");
    v = v * 10 + d;
    ++i;
  }
  if (i == 0)
    throw UserError(what + ": '" + text +
                    "' is not a whole number >= 0 (examples: 2048, 128k, 1m)");
  if (i < text.size() && (text[i] == '.' || text[i] == ','))
    throw UserError(what + ": '" + text +
                    "': fractions are not accepted; give a whole number (1.5k = 1536)");
  std::uint64_t mult = 1;
  if (i < text.size()) {
    char c = static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
    if (c == 'k')
      mult = 1024;
    else if (c == 'm')
      mult = 1024ull * 1024;
    else if (c == 'g')
      mult = 1024ull * 1024 * 1024;
    else
      throw UserError(what + ": '" + text + "' has an unknown suffix (use k, m or g)");
    ++i;
  }
  if (i != text.size()) throw UserError(what + ": '" + text + "' has trailing characters");
  if (v > std::numeric_limits<std::uint64_t>::max() / mult)
    throw UserError(what + ": '" + text + "' is too large");
  return v * mult;
}

}  // namespace tpusim
