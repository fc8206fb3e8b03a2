#pragma once
// Helpers for the tests that drive scripts/ (plot_sweep.py, the shard workflow) through a shell:
// a scratch directory that is removed with everything in it when the test case ends (pass or
// fail), a shell runner, and an RFC 4180 CSV reader independent of the code under test.

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace tpusim_test {

/// A fresh directory under /tmp, removed recursively by the destructor.
class ScratchDir {
 public:
  ScratchDir() {
    char tmpl[] = "/tmp/tpusim_scripts_XXXXXX";
    const char* d = ::mkdtemp(tmpl);
    path_ = d ? d : "";
  }
  ~ScratchDir() {
    if (!path_.empty()) std::system(("rm -rf '" + path_ + "'").c_str());
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

/// Exit code of `sh -c CMD` (128 + signal when killed).
inline int sh(const std::string& cmd) {
  int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline bool file_exists(const std::string& path) {
  return ::access(path.c_str(), F_OK) == 0;
}

/// The records of a CSV text (quoted fields may hold commas, quotes and newlines).
inline std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row(1);
  bool quoted = false, any = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        row.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        row.back() += c;
      }
    } else if (c == '"') {
      quoted = any = true;
    } else if (c == ',') {
      row.emplace_back();
      any = true;
    } else if (c == '\n') {
      rows.push_back(row);
      row.assign(1, "");
      any = false;
    } else if (c != '\r') {
      row.back() += c;
      any = true;
    }
  }
  if (any) rows.push_back(row);
  return rows;
}

using CsvRow = std::map<std::string, std::string>;

/// Data rows of a CSV file keyed by the header's column names.
inline std::vector<CsvRow> read_csv_rows(const std::string& path) {
  auto recs = parse_csv(read_text(path));
  std::vector<CsvRow> out;
  for (std::size_t r = 1; r < recs.size(); ++r) {
    CsvRow m;
    for (std::size_t c = 0; c < recs[0].size() && c < recs[r].size(); ++c)
      m[recs[0][c]] = recs[r][c];
    out.push_back(m);
  }
  return out;
}

/// The lines of a CSV file after the header, as a set (row order is completion order).
inline std::multiset<std::string> data_lines(const std::string& path) {
  std::istringstream in(read_text(path));
  std::string line;
  std::multiset<std::string> out;
  bool header = true;
  while (std::getline(in, line)) {
    if (header) {
      header = false;
      continue;
    }
    out.insert(line);
  }
  return out;
}

inline std::string first_line(const std::string& path) {
  std::istringstream in(read_text(path));
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace tpusim_test
