#include "sim/sweep.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "base/format.h"
#include "sim/config.h"
#include "sim/progress.h"
#include "workloads/kernel_tags.h"

namespace tpusim {
namespace {

// Workload flags whose values are sizes: canonicalised to decimal ("4k" -> "4096") so that a
// point's key does not depend on how it was typed, which --resume relies on.
bool is_size_flag(const std::string& flag) {
  const WorkloadParam* row =
      flag.rfind("--", 0) == 0 ? find_workload_param(flag.substr(2)) : nullptr;
  return row && row->kind == ParamKind::kSize;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    auto pos = s.find(sep, start);
    out.push_back(s.substr(start, pos == std::string::npos ? std::string::npos : pos - start));
    if (pos == std::string::npos) return out;
    start = pos + 1;
  }
}

std::vector<std::string> expand_range(const std::vector<std::string>& parts,
                                      const std::string& item, const std::string& flag) {
  const std::string usage = "start:stop:xF, e.g. 4k:128k:x2";
  if (parts[2].size() < 2 || parts[2][0] != 'x')
    throw UserError(fmt::format("{}: '{}' is not a range ({})", flag, item, usage));
  std::uint64_t start = parse_size(parts[0], flag);
  std::uint64_t stop = parse_size(parts[1], flag);
  double factor = 0;
  std::size_t used = 0;
  try {
    factor = std::stod(parts[2].substr(1), &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != parts[2].size() - 1 || !(factor > 1.0) || !std::isfinite(factor))
    throw UserError(
        fmt::format("{}: '{}': the factor must be a number > 1 ({})", flag, item, usage));
  if (start == 0 || stop < start)
    throw UserError(fmt::format("{}: '{}': need 0 < start <= stop ({})", flag, item, usage));
  std::vector<std::string> out;
  // Exact integer steps for integer factors; rounding (never stalling) for fractional ones.
  for (std::uint64_t v = start; v <= stop;) {
    out.push_back(std::to_string(v));
    if (out.size() > 100000)
      throw UserError(fmt::format("{}: '{}' expands to too many values", flag, item));
    auto next = static_cast<std::uint64_t>(std::llround(static_cast<double>(v) * factor));
    if (next <= v) next = v + 1;
    v = next;
  }
  return out;
}

// ---- CSV lines ----------------------------------------------------------------------------

// Splits one CSV line as csv_escape writes it (quotes around fields with , or ").
std::vector<std::string> parse_csv_line(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

std::string join_csv(const std::vector<std::string>& fields) {
  std::string line;
  for (std::size_t i = 0; i < fields.size(); ++i)
    line += (i ? "," : "") + csv_escape(fields[i]);
  return line;
}

// Rows must stay single lines (resume reads the file line by line), so messages lose newlines.
std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  std::replace(s.begin(), s.end(), '\r', ' ');
  return s;
}

// ---- signals ------------------------------------------------------------------------------

volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void on_stop_signal(int sig) {
  g_stop_signal = sig;
}

// Installs the Ctrl-C/SIGTERM handlers for the sweep's lifetime. No SA_RESTART: the signal must
// interrupt poll() so the parent stops promptly.
class StopSignals {
 public:
  StopSignals() {
    g_stop_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    ::sigaction(SIGINT, &sa, &m_old_int);
    ::sigaction(SIGTERM, &sa, &m_old_term);
  }
  ~StopSignals() {
    ::sigaction(SIGINT, &m_old_int, nullptr);
    ::sigaction(SIGTERM, &m_old_term, nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct sigaction m_old_int {};
  struct sigaction m_old_term {};
};

// ---- the output file ----------------------------------------------------------------------

/// The sweep CSV: header once, then rows appended with one write() each and synced, so a killed
/// sweep leaves whole rows (and --resume drops a trailing partial one if the OS left one).
class SweepCsv {
 public:
  explicit SweepCsv(std::string path) : m_path(std::move(path)) {}
  ~SweepCsv() {
    if (m_fd >= 0) ::close(m_fd);
  }
  SweepCsv(const SweepCsv&) = delete;
  SweepCsv& operator=(const SweepCsv&) = delete;

  /// Opens a fresh file (refusing to clobber existing results) or, with `resume`, reads the
  /// finished rows of an existing one. Returns the ids ("key|variant") already present.
  /// With `dry_run` nothing is created, truncated or opened for writing.
  std::set<std::string> open(bool resume, bool dry_run = false) {
    std::set<std::string> done;
    struct stat st {};
    bool exists = ::stat(m_path.c_str(), &st) == 0 && st.st_size > 0;
    if (exists && !resume)
      throw UserError(fmt::format(
          "-o: '{}' already exists; pass --resume to continue that sweep, or remove it", m_path));
    if (!exists) check_output_dir();
    if (exists) done = read_existing(!dry_run);
    if (dry_run) return done;
    m_fd = ::open(m_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (m_fd < 0)
      throw UserError(fmt::format("-o: cannot open '{}': {}", m_path, std::strerror(errno)));
    return done;
  }

  /// What --resume found: finished rows, and whether a partial last line was dropped.
  std::size_t resumed_rows() const { return m_resumed_rows; }
  bool dropped_partial() const { return m_dropped_partial; }

  /// Appends a finished row. Rows wait in memory until the first report fixes the columns.
  void add(const std::vector<std::string>& point_fields, const Json* report) {
    if (report && m_report_columns.empty()) set_report_columns(standard_csv_columns(*report));
    if (report && m_check_columns) {
      // A resumed file's columns come from its header; rows of this sweep must line up with them.
      m_check_columns = false;
      check_same_columns(standard_csv_columns(*report));
    }
    Row row{point_fields, report ? csv_row(*report, m_report_columns) : std::string()};
    if (!m_header_written && m_report_columns.empty()) {
      m_pending.push_back(row);
      return;
    }
    write_rows({row});
  }

  /// Writes what is still held back (only error rows: no report ever came), header included.
  void finish() {
    if (!m_pending.empty() || !m_header_written) write_rows({});
  }

 private:
  struct Row {
    std::vector<std::string> point;
    std::string report;  // csv_row text of the report columns, empty for an error
  };

  std::string line_of(const Row& r) const {
    std::string line = join_csv(r.point);
    if (!m_report_columns.empty()) {
      line += ',';
      line += r.report.empty() ? std::string(m_report_columns.size() - 1, ',') : r.report;
    }
    return line + "\n";
  }

  std::string header() const {
    std::vector<std::string> cols = sweep_point_columns();
    cols.insert(cols.end(), m_report_columns.begin(), m_report_columns.end());
    return join_csv(cols) + "\n";
  }

  void write_rows(const std::vector<Row>& rows) {
    std::string text;
    if (!m_header_written) text += header();
    for (const auto& r : m_pending)
      text += line_of(r);
    m_pending.clear();
    for (const auto& r : rows)
      text += line_of(r);
    write_all_fd(m_fd, text, m_path);
    ::fdatasync(m_fd);
    m_header_written = true;
  }

  void set_report_columns(std::vector<std::string> cols) {
    m_report_columns = std::move(cols);
    if (!m_header_written) return;
    // A resumed file whose points had all failed has no report columns yet: rewrite it once
    // (atomically) with the full header, its error rows padded.
    std::ifstream in(m_path);
    std::string line, text = header();
    std::getline(in, line);
    while (std::getline(in, line))
      text += line + std::string(m_report_columns.size(), ',') + "\n";
    in.close();
    write_file_atomic(m_path, text);
    ::close(m_fd);
    m_fd = ::open(m_path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (m_fd < 0)
      throw UserError(fmt::format("-o: cannot reopen '{}': {}", m_path, std::strerror(errno)));
  }

  // The directory of a new CSV must exist and be writable before any simulation runs.
  void check_output_dir() const {
    const auto slash = m_path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : m_path.substr(0, slash + 1);
    if (::access(dir.c_str(), W_OK | X_OK) != 0)
      throw UserError(fmt::format("-o: cannot write '{}': directory '{}': {}", m_path, dir,
                                  std::strerror(errno)));
  }

  [[noreturn]] void column_mismatch(std::size_t i, const std::vector<std::string>& have,
                                    const std::vector<std::string>& want) const {
    throw UserError(fmt::format(
        "--resume: '{}' has other columns than this sweep writes: column {} is '{}' in the "
        "file but '{}' in this sweep (was it written by another tpusim version or with other "
        "--hw/--set?); start a new CSV",
        m_path, i + 1, i < have.size() ? have[i] : "(none)", i < want.size() ? want[i] : "(none)"));
  }

  // The report columns of the file against those this sweep produces (point columns excluded).
  void check_same_columns(const std::vector<std::string>& want) const {
    const std::size_t base = sweep_point_columns().size();
    for (std::size_t i = 0; i < std::max(want.size(), m_report_columns.size()); ++i) {
      if (i >= want.size() || i >= m_report_columns.size() || want[i] != m_report_columns[i]) {
        std::vector<std::string> have = sweep_point_columns(), w = sweep_point_columns();
        have.insert(have.end(), m_report_columns.begin(), m_report_columns.end());
        w.insert(w.end(), want.begin(), want.end());
        column_mismatch(base + i, have, w);
      }
    }
  }

  std::set<std::string> read_existing(bool modify) {
    std::string text;
    {
      std::ifstream in(m_path, std::ios::binary);
      std::ostringstream ss;
      ss << in.rdbuf();
      text = ss.str();
    }
    // A crash in the middle of a write can leave a partial last line: drop it, its point reruns.
    if (!text.empty() && text.back() != '\n') {
      auto keep = text.rfind('\n');
      keep = keep == std::string::npos ? 0 : keep + 1;
      m_dropped_partial = true;
      if (modify && ::truncate(m_path.c_str(), static_cast<off_t>(keep)) != 0)
        throw UserError(
            fmt::format("--resume: cannot truncate the partial last row of '{}'", m_path));
      text.resize(keep);
    }
    std::set<std::string> done;
    std::istringstream lines(text);
    std::string line;
    if (!std::getline(lines, line)) return done;
    auto cols = parse_csv_line(line);
    const auto& want = sweep_point_columns();
    for (std::size_t i = 0; i < want.size(); ++i)
      if (i >= cols.size() || cols[i] != want[i]) column_mismatch(i, cols, want);
    m_report_columns.assign(cols.begin() + static_cast<long>(want.size()), cols.end());
    // The kernel columns end every header (standard_csv_columns) and are known without a run.
    const auto& tags = kernel_tags();
    const auto& fields = kernel_csv_fields();
    const std::size_t nk = fields.size() * tags.size();
    // A file from a version with other per-kernel fields: say that, not which column first
    // differs (the shift makes that one look unrelated).
    if (!m_report_columns.empty() && !tags.empty()) {
      const std::string prefix = "kernel." + tags.front();
      std::vector<std::string> file_fields;
      for (const auto& c : m_report_columns)
        if (c.rfind(prefix + ".", 0) == 0) file_fields.push_back(c.substr(prefix.size()));
      if (!file_fields.empty() && file_fields != fields) {
        auto list = [](const std::vector<std::string>& v) {
          std::string out;
          for (const auto& f : v)
            out += (out.empty() ? "" : " ") + f.substr(1);
          return out;
        };
        throw UserError(fmt::format(
            "--resume: '{}' was written by another tpusim version: its per-kernel columns are "
            "({}), this version writes ({}); start a new CSV",
            m_path, list(file_fields), list(fields)));
      }
    }
    if (!m_report_columns.empty()) {
      if (m_report_columns.size() < nk) column_mismatch(cols.size(), cols, {});
      const std::size_t first = cols.size() - nk;
      for (std::size_t t = 0; t < tags.size(); ++t) {
        for (std::size_t j = 0; j < fields.size(); ++j) {
          const std::string expect = "kernel." + tags[t] + fields[j];
          const std::size_t i = first + fields.size() * t + j;
          if (cols[i] != expect) {
            std::vector<std::string> w = cols;
            w[i] = expect;
            column_mismatch(i, cols, w);
          }
        }
      }
      m_check_columns = true;
    }
    m_header_written = true;
    std::size_t line_no = 1;
    while (std::getline(lines, line)) {
      ++line_no;
      if (line.empty()) continue;
      auto f = parse_csv_line(line);
      // A row this sweep could have written has every column and a status; anything else
      // (a line edited in, another file appended) would be counted as a finished point.
      if (f.size() != cols.size() || (f[2] != "ok" && f[2] != "error"))
        throw UserError(
            fmt::format("--resume: {}:{}: this line is not a row of a sweep CSV ({} of {} "
                        "columns{}); fix or remove "
                        "that line, or start a new CSV",
                        m_path, line_no, f.size(), cols.size(),
                        f.size() > 2 ? fmt::format(", status '{}'", f[2]) : std::string()));
      done.insert(point_match_id(f[0]) + "|" + f[1]);
      ++m_resumed_rows;
    }
    return done;
  }

  std::string m_path;
  int m_fd = -1;
  bool m_header_written = false;
  std::vector<std::string> m_report_columns;
  std::vector<Row> m_pending;
  std::size_t m_resumed_rows = 0;
  bool m_dropped_partial = false;
  bool m_check_columns = false;
};

// ---- scheduling ---------------------------------------------------------------------------

/// One simulated variant of a point: a child process and a CSV row.
struct Task {
  const SweepPoint* point;
  std::string variant;  // dense | dsa
  double cost;
};

// A rough relative cost, only to start the longest simulations first (so that -j N does not end
// with one core busy on a 128k prefill while the others idle).
double estimated_cost(const PointSpec& spec, const std::string& variant) {
  WorkloadParams p;
  try {
    p = params_from_flags(spec.flags, parse_attention(variant));
  } catch (const UserError&) {
    return 0.0;  // fails at once in its child; its order does not matter
  }
  const double seq = static_cast<double>(p.seq);
  if (p.phase == Phase::kPrefill)
    return seq * static_cast<double>(p.chunk) * (variant == "dense" ? 4.0 : 1.0);
  return seq * static_cast<double>(p.batch) * static_cast<double>(p.mtp);
}

// A dense run is shared by every point that differs only in parameters dense attention does not
// depend on (a k sweep simulates dense once per other parameter set, not once per k); the test
// "sweep rows equal single runs" checks that the shared rows are what a run would report.
std::string dense_share_key(const PointSpec& spec) {
  std::string key = spec.hw;
  for (const auto& s : spec.sets)
    key += "|set:" + s;
  for (const auto& [k, v] : spec.flags) {
    const WorkloadParam* row = find_workload_param(k);
    const std::string_view relevant = row ? dense_relevant_value(*row, v) : std::string_view(v);
    if (!relevant.empty()) key += "|" + k + "=" + std::string(relevant);
  }
  return key;
}

struct Running {
  pid_t pid;
  int fd;
  const Task* task;
  std::string text;
};

}  // namespace

const std::vector<std::string>& sweep_point_columns() {
  static const std::vector<std::string> cols = {"point.key", "point.attention", "status", "error"};
  return cols;
}

std::vector<std::string> expand_list(const std::string& text, const std::string& flag) {
  if (text.empty()) throw UserError(flag + ": empty list");
  std::vector<std::string> out;
  for (const auto& item : split(text, ',')) {
    if (item.empty())
      throw UserError(
          fmt::format("{}: empty item in list '{}' (lists are a,b,c or "
                      "start:stop:xF)",
                      flag, text));
    auto parts = split(item, ':');
    // Colons also appear in values (--pattern recent:4096), so only three parts ending in xF, or
    // any colon in a size, make a range.
    bool range = parts.size() == 3 && (is_size_flag(flag) || parts[2].rfind('x', 0) == 0);
    if (range) {
      auto v = expand_range(parts, item, flag);
      out.insert(out.end(), v.begin(), v.end());
    } else if (is_size_flag(flag)) {
      out.push_back(std::to_string(parse_size(item, flag)));
    } else {
      out.push_back(item);
    }
  }
  return out;
}

std::pair<std::size_t, std::size_t> parse_shard(const std::string& text) {
  auto slash = text.find('/');
  auto bad = [&] {
    return UserError(fmt::format("--shard: '{}' is not I/N with 1 <= I <= N (e.g. 1/4)", text));
  };
  if (slash == std::string::npos) throw bad();
  std::string a = text.substr(0, slash), b = text.substr(slash + 1);
  auto digits = [](const std::string& s) {
    return !s.empty() && s.size() < 10 && s.find_first_not_of("0123456789") == std::string::npos;
  };
  if (!digits(a) || !digits(b)) throw bad();
  std::size_t i = std::stoul(a), n = std::stoul(b);
  if (n == 0 || i == 0 || i > n) throw bad();
  return {i, n};
}

namespace {

// "seq=32k topk=2k" -> "32k 2k".
std::string values_only(const std::string& label) {
  std::string out;
  for (const std::string& item : split(label, ' ')) {
    const std::size_t eq = item.find('=');
    out += (out.empty() ? "" : " ") + (eq == std::string::npos ? item : item.substr(eq + 1));
  }
  return out;
}

}  // namespace

std::vector<SweepPoint> sweep_grid(const SweepOptions& opts) {
  // Each dimension: a name for the key and its values. The last dimension varies fastest.
  struct Dim {
    std::string name;  // "hw", "set:K" or a workload flag
    std::vector<std::string> values;
  };
  std::vector<Dim> dims;
  dims.push_back({"hw", expand_list(opts.hw, "--hw")});
  for (const auto& s : opts.sets) {
    auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0)
      throw UserError(fmt::format("--set: '{}' is not section.key=LIST", s));
    std::string key = s.substr(0, eq);
    dims.push_back({"set:" + key, expand_list(s.substr(eq + 1), "--set " + key)});
  }
  for (const auto& row : workload_params()) {
    for (const auto& [k, v] : opts.flag_lists)
      if (k == row.flag) dims.push_back({k, expand_list(v, "--" + k)});
  }
  if (opts.steady_state != "exact" && opts.steady_state != "extrapolate")
    throw UserError(
        fmt::format("--steady-state: '{}' is not one of exact, extrapolate", opts.steady_state));
  const bool extrapolate = opts.steady_state == "extrapolate";
  auto attentions = expand_list(opts.attention, "--attention");
  for (const auto& a : attentions)
    if (a != "dense" && a != "dsa" && a != "both")
      throw UserError(fmt::format("--attention: '{}' is not one of dense, dsa, both", a));
  dims.push_back({"attention", attentions});

  std::vector<SweepPoint> grid;
  std::vector<std::size_t> idx(dims.size(), 0);
  std::set<std::string> seen;
  for (;;) {
    SweepPoint p;
    std::vector<std::string> key;
    for (std::size_t d = 0; d < dims.size(); ++d) {
      const std::string& name = dims[d].name;
      const std::string& v = dims[d].values[idx[d]];
      if (name == "hw") {
        p.spec.hw = v;
      } else if (name.rfind("set:", 0) == 0) {
        p.spec.sets.push_back(name.substr(4) + "=" + v);
      } else if (name == "attention") {
        p.spec.attention = v;
        continue;  // the variant is its own CSV column
      } else {
        p.spec.flags.emplace_back(name, v);
      }
      key.push_back(name + "=" + v);
      if (dims[d].values.size() > 1) {
        const std::string item =
            fmt::format("{}={}", name.rfind("set:", 0) == 0 ? name.substr(4) : name,
                        // Sizes are decimal here (expand_list), shown as reports do.
                        is_size_flag("--" + name) ? format_count(std::stod(v)) : v);
        p.label += (p.label.empty() ? "" : " ") + item;
        const WorkloadParam* row = find_workload_param(name);
        if (row == nullptr || !dense_relevant_value(*row, v).empty())
          p.dense_label += (p.dense_label.empty() ? "" : " ") + item;
      }
    }
    // An extrapolated point is another result than the exact one: its key says so, so that
    // --resume never takes one for the other.
    if (extrapolate) key.emplace_back("steady_state=extrapolate");
    p.spec.extrapolate = extrapolate;
    std::string joined;
    for (const auto& k : key)
      joined += (joined.empty() ? "" : " ") + k;
    p.key = joined;
    // A value listed twice is one point, not two rows for the same parameters, even when it
    // is spelled two ways (--seq 4k,4096).
    if (seen.insert(point_match_id(p.key) + "|" + p.spec.attention).second)
      grid.push_back(std::move(p));
    std::size_t d = dims.size();
    while (d > 0) {
      --d;
      if (++idx[d] < dims[d].values.size()) break;
      idx[d] = 0;
      if (d == 0) return grid;
    }
    if (dims.empty()) return grid;
  }
}

std::string point_match_id(std::string_view key) {
  // Split into name=value tokens; a token without '=' continues the previous value (a path
  // with a space in it).
  std::vector<std::pair<std::string, std::string>> parts;
  std::size_t i = 0;
  while (i < key.size()) {
    std::size_t j = key.find(' ', i);
    if (j == std::string_view::npos) j = key.size();
    const std::string_view tok = key.substr(i, j - i);
    const std::size_t eq = tok.find('=');
    if (eq == std::string_view::npos && !parts.empty())
      parts.back().second += " " + std::string(tok);
    else if (!tok.empty())
      parts.emplace_back(std::string(tok.substr(0, eq)),
                         eq == std::string_view::npos ? "" : std::string(tok.substr(eq + 1)));
    i = j + 1;
  }
  FlagList flags;
  for (const auto& [name, value] : parts)
    if (find_workload_param(name)) flags.emplace_back(name, value);
  // Each workload flag as the report writes its value, unless the flags without it resolve it
  // the same (its default, or a default derived from the others). A key that does not parse
  // (a hand-edited CSV) is kept as it is.
  std::string out;
  try {
    const WorkloadParams all = params_from_flags(flags, Attention::kDsa);
    for (const auto& [name, value] : parts) {
      std::string text = name + "=" + value;
      if (const WorkloadParam* row = find_workload_param(name)) {
        FlagList without;
        for (const auto& f : flags)
          if (f.first != name) without.push_back(f);
        const std::string v = row->get(all);
        if (v == row->get(params_from_flags(without, Attention::kDsa))) continue;
        text = name + "=" + v;
      }
      out += (out.empty() ? "" : " ") + text;
    }
  } catch (const UserError&) {
    return std::string(key);
  }
  return out;
}

void validate_sweep_grid(const std::vector<SweepPoint>& grid) {
  // Hardware configs repeat across the grid: load each distinct --hw/--set combination once.
  std::set<std::string> hw_ok;
  for (const SweepPoint& p : grid) {
    std::string hw_id = p.spec.hw;
    for (const auto& s : p.spec.sets)
      hw_id += "\n" + s;
    const std::vector<std::string> variants = p.spec.attention == "both"
                                                  ? std::vector<std::string>{"dense", "dsa"}
                                                  : std::vector<std::string>{p.spec.attention};
    try {
      if (hw_ok.insert(hw_id).second) load_hw_config(p.spec.hw, p.spec.sets);
      for (const auto& v : variants)
        validate_workload(params_from_flags(p.spec.flags, parse_attention(v)));
    } catch (const UserError& e) {
      throw UserError(fmt::format("{} (at grid point {}); nothing was run", e.what(), p.key));
    }
  }
}

int run_sweep(const SweepOptions& opts) {
  if (opts.output.empty()) throw UserError("-o: the sweep needs an output CSV file");
  std::vector<SweepPoint> grid = sweep_grid(opts);
  std::size_t shard_i = 1, shard_n = 1;
  if (!opts.shard.empty()) std::tie(shard_i, shard_n) = parse_shard(opts.shard);
  validate_sweep_grid(grid);

  SweepCsv csv(opts.output);
  std::set<std::string> done = csv.open(opts.resume, opts.dry_run);
  if (opts.resume) {
    std::fprintf(stderr, "tpusim: sweep --resume: %zu rows already in %s%s\n", csv.resumed_rows(),
                 opts.output.c_str(),
                 csv.dropped_partial()
                     ? (opts.dry_run ? "; a partial last line would be dropped (its point reruns)"
                                     : "; dropped a partial last line (its point reruns)")
                     : "");
  }

  // Tasks of this shard not yet in the file; a "both" point is two tasks (two rows).
  std::vector<Task> tasks;
  std::size_t skipped = 0;
  std::set<std::string> queued;
  for (std::size_t i = 0; i < grid.size(); ++i) {
    if (i % shard_n != shard_i - 1) continue;
    const SweepPoint& p = grid[i];
    std::vector<std::string> variants = p.spec.attention == "both"
                                            ? std::vector<std::string>{"dense", "dsa"}
                                            : std::vector<std::string>{p.spec.attention};
    for (const auto& v : variants) {
      std::string id = point_match_id(p.key) + "|" + v;
      if (done.count(id)) {
        ++skipped;
        continue;
      }
      if (!queued.insert(id).second) continue;  // --attention dense,both: dense once
      tasks.push_back({&p, v, estimated_cost(p.spec, v)});
    }
  }

  if (opts.dry_run) {
    // The cost is the scheduler's ordering estimate (decode L*B*mtp, prefill L*T, dense prefill
    // x4), scaled so the default decode step is 1; it ranks runs, it does not predict seconds.
    const double unit = 32768.0;
    double total = 0;
    std::size_t shared = 0;
    // The dense run that gives each shared row (the first in grid order; the run sorts by a
    // cost that does not depend on the fields dense ignores, stably, so the same one leads).
    std::map<std::string, const SweepPoint*> dense_leader;
    std::vector<const SweepPoint*> copied_from(tasks.size(), nullptr);
    for (std::size_t i = 0; i < tasks.size(); ++i) {
      const Task& t = tasks[i];
      if (t.variant == "dense") {
        auto [it, fresh] = dense_leader.try_emplace(dense_share_key(t.point->spec), t.point);
        if (!fresh) {
          ++shared;  // its row is copied from another point's dense run
          copied_from[i] = it->second;
          continue;
        }
      }
      total += t.cost;
    }
    std::size_t in_shard = 0;
    for (std::size_t i = 0; i < grid.size(); ++i)
      if (i % shard_n == shard_i - 1) ++in_shard;
    fmt::print(
        "grid: {} points{}, {} runs to do ({} rows; {} already in {}; {} dense rows shared)\n",
        grid.size(),
        shard_n > 1 ? fmt::format(" ({} in shard {}/{})", in_shard, shard_i, shard_n) : "",
        tasks.size() - shared, tasks.size(), skipped, opts.output, shared);
    for (std::size_t i = 0; i < tasks.size(); ++i) {
      const Task& t = tasks[i];
      if (copied_from[i])
        fmt::print("{} attention={}  shared: copied from {}\n", t.point->key, t.variant,
                   copied_from[i]->key);
      else
        fmt::print("{} attention={}  cost {:.3g}\n", t.point->key, t.variant, t.cost / unit);
    }
    fmt::print(
        "estimated cost: {:.3g} (relative: a decode step at L = 32k, batch 1 is 1; prefill "
        "counts L x chunk, so its cost ranks runs but is not calibrated to seconds)\n"
        "dry run: nothing was simulated or written\n",
        total / unit);
    return 0;
  }
  std::stable_sort(tasks.begin(), tasks.end(),
                   [](const Task& a, const Task& b) { return a.cost > b.cost; });

  unsigned jobs = opts.jobs;
  if (jobs == 0) {
    long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    jobs = n > 0 ? static_cast<unsigned>(n) : 1;
  }
  const bool progress = !opts.quiet && ::isatty(STDERR_FILENO);
  // The slots each worker's simulation reports into (sim/progress.h); this process draws the
  // sweep's own line from them, so the board never draws by itself here.
  ProgressLine board("sweep", opts.quiet);

  StopSignals signals;
  std::vector<Running> running;
  std::size_t next = 0, finished = 0, failed = 0;
  const auto t0 = std::chrono::steady_clock::now();
  auto last_draw = t0 - std::chrono::seconds(10);
  auto draw = [&](bool force) {
    if (!progress) return;
    auto now = std::chrono::steady_clock::now();
    if (!force && now - last_draw < std::chrono::milliseconds(500)) return;
    last_draw = now;
    double elapsed = std::chrono::duration<double>(now - t0).count();
    std::string eta = "?";
    if (finished > 0)
      eta = format_duration(elapsed / static_cast<double>(finished) *
                            static_cast<double>(tasks.size() - finished));
    // Each running simulation's share of its instructions too, early in the line so that a
    // narrow terminal cuts the clock first: one prefill run can take most of a minute.
    const std::vector<ProgressEntry> shares =
        running.empty() ? std::vector<ProgressEntry>{} : Progress::running();
    auto line_with = [&](const std::vector<ProgressEntry>& e) {
      return fmt::format("sweep: {}/{} runs done, {} running{}, {} failed{}  elapsed {}  ETA {}",
                         finished, tasks.size(), running.size(),
                         e.empty() ? "" : " (" + format_progress_shares(e, false) + ")", failed,
                         skipped ? fmt::format(" ({} already in the CSV)", skipped) : "",
                         format_duration(elapsed), eta);
    };
    // Each share named by its point too ("seq=32k topk=2k dsa 45%"), where the terminal has
    // room for that, else by the values alone ("32k 2k dsa 45%"): two runs of one variant
    // are otherwise both "dsa". A worker is its own process group, and the simulations it
    // forks share it, so a slot's group names the worker and so the point.
    auto named = [&](bool with_names) {
      std::vector<ProgressEntry> e = shares;
      for (ProgressEntry& x : e)
        for (const Running& r : running)
          if (r.pid == x.group) {
            const SweepPoint& point = *r.task->point;
            const std::string& label = r.task->variant == "dense" ? point.dense_label : point.label;
            if (!label.empty()) x.label = (with_names ? label : values_only(label)) + " " + x.label;
          }
      std::stable_sort(e.begin(), e.end(), [](const ProgressEntry& a, const ProgressEntry& b) {
        return a.label < b.label;
      });
      return e;
    };
    const std::size_t width = progress_line_width();
    std::string line = line_with(named(true));
    if (width > 0 && line.size() > width) line = line_with(named(false));
    if (width > 0 && line.size() > width) line = line_with(shares);
    // Cut to the terminal, or the next "\r" would redraw only the wrapped part.
    if (width > 0 && line.size() > width) line.resize(width);
    std::fputs(("\r" + line + "\x1b[K").c_str(), stderr);
    std::fflush(stderr);
  };

  // Dense runs in flight, by dense_share_key, with the tasks waiting for their result.
  std::map<std::string, std::vector<const Task*>> dense_followers;
  auto record_one = [&](const Task& t, const Json* report, const std::string& error) {
    csv.add({t.point->key, t.variant, report ? "ok" : "error", one_line(error)}, report);
    ++finished;
    if (!report) ++failed;
  };
  auto record = [&](const Task& t, const Json* report, const std::string& error) {
    record_one(t, report, error);
    if (t.variant != "dense") return;
    auto it = dense_followers.find(dense_share_key(t.point->spec));
    if (it == dense_followers.end()) return;
    for (const Task* f : it->second) {
      if (!report) {
        record_one(*f, nullptr, error);
        continue;
      }
      Json copy = *report;
      try {
        copy["workload"] = workload_json_of(f->point->spec, "dense");
      } catch (const std::exception& e) {
        record_one(*f, nullptr, e.what());
        continue;
      }
      record_one(*f, &copy, "");
    }
    // Later dense tasks with this key (none are queued after their leader finishes, but keep
    // the map consistent) would start a fresh run.
    dense_followers.erase(it);
  };

  while ((next < tasks.size() || !running.empty()) && !g_stop_signal) {
    while (running.size() < jobs && next < tasks.size()) {
      const Task& t = tasks[next++];
      const PointSpec& spec = t.point->spec;
      const std::string variant = t.variant;
      if (variant == "dense") {
        // Another point's dense run gives this one's row; wait for it instead of re-simulating.
        auto [it, fresh] = dense_followers.try_emplace(dense_share_key(spec));
        if (!fresh) {
          it->second.push_back(&t);
          continue;
        }
      }
      try {
        ChildProcess c =
            start_child([&spec, variant] { return simulate_point_variant(spec, variant); }, true);
        running.push_back({c.pid, c.fd, &t, {}});
      } catch (const SimError& e) {
        record(t, nullptr, e.what());
      }
    }
    draw(false);
    std::vector<pollfd> fds;
    fds.reserve(running.size());
    for (const auto& r : running)
      fds.push_back({r.fd, POLLIN, 0});
    int n = ::poll(fds.data(), fds.size(), 250);
    if (n < 0 && errno != EINTR)
      throw SimError(std::string("poll failed: ") + std::strerror(errno));
    if (n <= 0 || g_stop_signal) continue;
    std::vector<Running> still;
    for (std::size_t i = 0; i < running.size(); ++i) {
      Running& r = running[i];
      if (fds[i].revents == 0) {
        still.push_back(std::move(r));
        continue;
      }
      char buf[65536];
      ssize_t got = ::read(r.fd, buf, sizeof buf);
      if (got > 0 || (got < 0 && errno == EINTR)) {
        if (got > 0) r.text.append(buf, static_cast<std::size_t>(got));
        still.push_back(std::move(r));
        continue;
      }
      ::close(r.fd);
      Progress::release_group(r.pid);  // the worker's group: its own slots and its children's
      // Only the child's failure is a row; an error writing the CSV (or a resumed file whose
      // columns differ from this sweep's) stops the sweep.
      Json report;
      std::string error;
      try {
        report = finish_child(r.pid, r.text);
      } catch (const std::exception& e) {
        error = e.what();
      }
      record(*r.task, error.empty() ? &report : nullptr, error);
    }
    bool changed = still.size() != running.size();
    running = std::move(still);
    draw(changed);
  }

  if (g_stop_signal) {
    // Rows are written whole between polls, so nothing is half done: stop the children and
    // leave the file ready for --resume.
    for (const auto& r : running) {
      ::kill(r.pid, SIGKILL);
      ::close(r.fd);
    }
    for (const auto& r : running) {
      while (::waitpid(r.pid, nullptr, 0) < 0 && errno == EINTR) {
      }
      Progress::release_group(r.pid);
    }
    running.clear();  // the last line says what is left: nothing running
  }
  csv.finish();
  if (progress) {
    draw(true);
    std::fputs("\n", stderr);
  }
  if (g_stop_signal) {
    std::fprintf(stderr,
                 "tpusim: sweep interrupted (%s): %zu of %zu runs written to %s; continue with "
                 "--resume\n",
                 g_stop_signal == SIGINT ? "SIGINT" : "SIGTERM", finished, tasks.size(),
                 opts.output.c_str());
    return 130;
  }
  if (failed) {
    std::fprintf(stderr,
                 "tpusim: sweep: %zu of %zu runs failed (status=error rows in %s, message in "
                 "the error column)\n",
                 failed, tasks.size(), opts.output.c_str());
    return 1;
  }
  return 0;
}

}  // namespace tpusim
