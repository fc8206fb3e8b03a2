#pragma once
// Runs the built tpusim binary as a user would, capturing stdout, stderr and the exit code.

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace tpusim_test {

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

/// Under ASan, SystemC's coroutine switches make the runtime print a three-line notice
/// (google/sanitizers issue 189) on stderr; it is the sanitizer's, not tpusim's, so the tests
/// that want a silent stderr drop exactly those lines in sanitizer builds.
inline std::string without_sanitizer_notices(const std::string& err) {
#ifdef TPUSIM_SANITIZE_BUILD
  std::istringstream in(err);
  std::string line, out;
  while (std::getline(in, line)) {
    if (line.find("ASan is ignoring requested __asan_handle_no_return") != std::string::npos ||
        line == "False positive error reports may follow" ||
        line == "For details see https://github.com/google/sanitizers/issues/189")
      continue;
    out += line + "\n";
  }
  return out;
#else
  return err;
#endif
}

/// Runs a shell command line, capturing its stdout and stderr in files under `dir` (/tmp by
/// default) that are removed again.
inline CliResult run_shell(const std::string& command, const std::string& dir = "") {
  static int counter = 0;
  std::string base = dir.empty() ? std::string("/tmp") : dir;
  std::string tag = std::to_string(::getpid()) + "_" + std::to_string(counter++);
  std::string out = base + "/tpusim_out_" + tag, err = base + "/tpusim_err_" + tag;
  std::string cmd = "{ " + command + "; } >" + out + " 2>" + err;
  int status = std::system(cmd.c_str());
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = without_sanitizer_notices(slurp(err));
  std::remove(out.c_str());
  std::remove(err.c_str());
  return r;
}

/// Runs `tpusim ARGS` through the shell; output files go to `dir` (/tmp by default).
inline CliResult run_tpusim(const std::string& args, const std::string& dir = "") {
  return run_shell(std::string(TPUSIM_BINARY) + " " + args, dir);
}

/// A fresh temporary directory for one test.
inline std::string temp_dir() {
  char tmpl[] = "/tmp/tpusim_test_XXXXXX";
  const char* d = ::mkdtemp(tmpl);
  return d ? d : "/tmp";
}

/// A fresh temporary directory that is removed, with everything in it, when the test ends.
class TempDir {
 public:
  TempDir() : m_path(temp_dir()) {}
  ~TempDir() {
    std::error_code ec;
    if (m_path != "/tmp") std::filesystem::remove_all(m_path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return m_path; }

 private:
  std::string m_path;
};

}  // namespace tpusim_test
