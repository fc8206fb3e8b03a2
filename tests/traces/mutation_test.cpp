// Deterministic mutation testing of the two user-facing parsers: 10,000 corrupted variants of
// the example traces and the presets (truncated lines, huge numbers, negative sizes, unknown
// ops, duplicate keys, binary garbage, deleted/duplicated/swapped lines, swapped tokens). Each
// must be accepted, or rejected with the right error type and a message that says where:
// `file:line` for traces, the key (or `file:line`) for configs. Any other exception fails.
// The fuzzers in tests/fuzz explore further; this is the fixed, fast regression net.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "base/splitmix64.h"
#include "sim/config.h"
#include "sim/simulation.h"
#include "traces/reader.h"

using namespace tpusim;

namespace {

/// splitmix64: the same cases on every platform (std distributions are not portable).
class Rng : public tpusim::SplitMix64 {
 public:
  using SplitMix64::SplitMix64;
  std::size_t below(std::size_t n) { return n ? static_cast<std::size_t>(next() % n) : 0; }
};

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::filesystem::path> files_in(const std::string& dir, const std::string& ext) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ext) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return lines;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines)
    s += l + "\n";
  return s;
}

std::vector<std::string> tokens_of(const std::string& line) {
  std::vector<std::string> t;
  std::istringstream in(line);
  for (std::string w; in >> w;)
    t.push_back(w);
  return t;
}

std::string join_tokens(const std::vector<std::string>& t) {
  std::string s;
  for (const auto& w : t)
    s += (s.empty() ? "" : " ") + w;
  return s;
}

const char* const kHugeNumbers[] = {"18446744073709551615",       "18446744073709551616",
                                    "99999999999999999999999999", "0xffffffffffffffff",
                                    "0x10000000000000000",        "4294967296",
                                    "9223372036854775808"};
const char* const kNegatives[] = {"-1", "-0", "-9223372036854775808", "-4096"};

/// Replaces the value of a random KEY=VALUE token (or the token itself) with `value`.
void set_random_value(std::vector<std::string>& toks, Rng& rng, const std::string& value) {
  if (toks.empty()) return;
  std::string& t = toks[rng.below(toks.size())];
  const auto eq = t.find('=');
  t = eq == std::string::npos ? value : t.substr(0, eq + 1) + value;
}

/// One mutation of one line or of the line list; `kind` picks which of the classes.
void mutate(std::vector<std::string>& lines, Rng& rng, int kind, bool toml) {
  if (lines.empty()) lines.push_back("");
  const std::size_t li = rng.below(lines.size());
  std::string& line = lines[li];
  std::vector<std::string> toks = tokens_of(line);
  switch (kind) {
    case 0:  // truncated line
      line = line.substr(0, rng.below(line.size() + 1));
      break;
    case 1:  // huge number
      set_random_value(toks, rng, kHugeNumbers[rng.below(std::size(kHugeNumbers))]);
      if (toml && toks.size() >= 3) toks[2] = kHugeNumbers[rng.below(std::size(kHugeNumbers))];
      line = join_tokens(toks);
      break;
    case 2:  // negative size
      set_random_value(toks, rng, kNegatives[rng.below(std::size(kNegatives))]);
      if (toml && toks.size() >= 3) toks[2] = kNegatives[rng.below(std::size(kNegatives))];
      line = join_tokens(toks);
      break;
    case 3:  // unknown op / unknown key
      if (toks.size() >= 2) {
        static const char* const kBad[] = {"dma.copy", "mxu.conv",     "vpu.tanh",  "x",
                                           "meta",     "tpusim-trace", "bogus_key", "[bogus]"};
        toks[toml ? 0 : 1] = kBad[rng.below(std::size(kBad))];
      }
      line = join_tokens(toks);
      break;
    case 4:  // duplicate key
      if (!toks.empty()) toks.push_back(toks[rng.below(toks.size())]);
      line = join_tokens(toks);
      if (toml) lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(li), line);
      break;
    case 5: {  // binary garbage
      std::string junk;
      const std::size_t n = 1 + rng.below(16);
      for (std::size_t i = 0; i < n; ++i)
        junk += static_cast<char>(rng.below(256));
      line.insert(rng.below(line.size() + 1), junk);
      break;
    }
    case 6:  // deleted line
      lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(li));
      break;
    case 7:  // duplicated line
      lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(li), line);
      break;
    case 8:  // swapped tokens
      if (toks.size() >= 2) std::swap(toks[rng.below(toks.size())], toks[rng.below(toks.size())]);
      line = join_tokens(toks);
      break;
    default:  // swapped lines
      std::swap(lines[li], lines[rng.below(lines.size())]);
      break;
  }
}

constexpr int kMutationKinds = 10;

/// True if `msg` starts with `name:LINE: `.
bool names_line(const std::string& msg, const std::string& name) {
  if (msg.compare(0, name.size() + 1, name + ":") != 0) return false;
  std::size_t i = name.size() + 1;
  const std::size_t digits_start = i;
  while (i < msg.size() && std::isdigit(static_cast<unsigned char>(msg[i])))
    ++i;
  return i > digits_start && msg.compare(i, 2, ": ") == 0;
}

/// Reads (and, when accepted, range-checks) a mutated trace. Returns "" when the outcome is
/// allowed, else what went wrong.
std::string check_trace(const std::string& text, const std::string& name, const HwConfig& hw,
                        bool& accepted) {
  accepted = false;
  try {
    std::istringstream in(text);
    TraceReader reader(in, name);
    Instruction inst;
    while (reader.next(inst))
      validate_instruction(inst, hw, name);
    accepted = true;
  } catch (const TraceError& e) {
    if (!names_line(e.what(), name)) return std::string("no file:line in: ") + e.what();
  } catch (const std::exception& e) {
    return std::string("unexpected exception: ") + e.what();
  }
  return "";
}

/// Loads a mutated preset (and overrides). Returns "" when accepted or rejected properly.
std::string check_config(const std::string& text, const std::string& origin,
                         const std::vector<std::string>& sets) {
  try {
    HwConfig cfg = parse_hw_config(text, origin);
    for (const auto& s : sets)
      apply_override(cfg, s);
    cfg.validate();
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    // Where: a file position, the --set being applied, or a full key name.
    if (msg.find(origin + ":") != std::string::npos || msg.find("--set") != std::string::npos)
      return "";
    static const std::vector<ConfigEntry> entries = config_entries(HwConfig());
    for (const auto& entry : entries)
      if (msg.find(entry.key) != std::string::npos) return "";
    return "config error names no key or position: " + msg;
  } catch (const std::exception& e) {
    return std::string("unexpected exception: ") + e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("mutated example traces are accepted or rejected with file:line", "[traces][mutation]") {
  const HwConfig hw = load_hw_config(kDefaultPreset);
  const auto files = files_in(std::string(TPUSIM_SOURCE_DIR) + "/traces/examples", ".trace");
  REQUIRE(files.size() >= 4);
  Rng rng(20240601);
  int cases = 0, rejected = 0;
  constexpr int kCases = 6000;
  for (int c = 0; c < kCases; ++c) {
    const auto& path = files[static_cast<std::size_t>(c) % files.size()];
    std::vector<std::string> lines = split_lines(slurp(path));
    // One to three mutations, every class equally often as the first.
    mutate(lines, rng, c % kMutationKinds, false);
    for (std::size_t extra = rng.below(3); extra > 0; --extra)
      mutate(lines, rng, static_cast<int>(rng.below(kMutationKinds)), false);
    const std::string text = join_lines(lines);
    bool accepted = false;
    const std::string problem = check_trace(text, path.filename().string(), hw, accepted);
    if (!problem.empty()) {
      INFO("case " << c << " of " << path.filename() << ":\n" << text);
      FAIL_CHECK(problem);
    }
    rejected += accepted ? 0 : 1;
    ++cases;
  }
  CHECK(cases == kCases);
  // The mutations must bite, but not always: some variants stay valid (a deleted comment, a
  // swapped pair of independent lines).
  CHECK(rejected > kCases / 2);
  CHECK(rejected < kCases);
}

TEST_CASE("mutated presets and overrides are accepted or rejected naming the key",
          "[config][mutation]") {
  const auto files = files_in(std::string(TPUSIM_SOURCE_DIR) + "/models/presets", ".toml");
  REQUIRE(files.size() >= 3);
  std::vector<std::string> keys;
  const HwConfig defaults;
  for (const auto& e : config_entries(defaults))
    keys.push_back(e.key);
  Rng rng(777);
  constexpr int kFileCases = 3000, kSetCases = 1000;
  for (int c = 0; c < kFileCases; ++c) {
    const auto& path = files[static_cast<std::size_t>(c) % files.size()];
    std::vector<std::string> lines = split_lines(slurp(path));
    mutate(lines, rng, c % kMutationKinds, true);
    for (std::size_t extra = rng.below(3); extra > 0; --extra)
      mutate(lines, rng, static_cast<int>(rng.below(kMutationKinds)), true);
    const std::string text = join_lines(lines);
    const std::string problem = check_config(text, path.filename().string(), {});
    if (!problem.empty()) {
      INFO("case " << c << " of " << path.filename() << ":\n" << text);
      FAIL_CHECK(problem);
    }
  }
  // Overrides: a real key (sometimes mangled) with a hostile value.
  static const char* const kValues[] = {"0",
                                        "-1",
                                        "1e308",
                                        "nan",
                                        "inf",
                                        "\"ws\"",
                                        "os",
                                        "true",
                                        "[1,2]",
                                        "{a=1}",
                                        "\"",
                                        "",
                                        "1.5",
                                        "0x10",
                                        "1_0",
                                        "18446744073709551616",
                                        "9223372036854775807",
                                        "\xff\xfe",
                                        "\"a\\u0000b\"",
                                        "4294967296"};
  for (int c = 0; c < kSetCases; ++c) {
    std::string key = keys[rng.below(keys.size())];
    if (rng.below(5) == 0)
      key.insert(rng.below(key.size() + 1), 1, static_cast<char>(rng.below(256)));
    std::string set = key + "=" + kValues[rng.below(std::size(kValues))];
    if (rng.below(10) == 0) set = key;  // no '='
    const std::string problem = check_config(slurp(files[0]), files[0].filename().string(), {set});
    if (!problem.empty()) {
      INFO("case " << c << ": --set " << set);
      FAIL_CHECK(problem);
    }
  }
}
