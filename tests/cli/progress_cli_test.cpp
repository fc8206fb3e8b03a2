// The progress line of a long `run`, drawn on a pseudo-terminal as a user sees it: present on a
// terminal, erased before the command exits, absent with --quiet or when stderr is not a
// terminal, and never touching stdout or the simulated numbers.
#include <fcntl.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cerrno>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/cli/cli_util.h"

using tpusim_test::run_tpusim;
using tpusim_test::TempDir;
using Json = nlohmann::json;

namespace {

struct TtyRun {
  int exit_code = -1;
  std::string tty;  // what the terminal received on stderr
  std::string out;  // stdout, written to a file
};

// Runs tpusim with stderr on a fresh pseudo-terminal 200 columns wide and stdout in a file.
TtyRun run_on_tty(const std::vector<std::string>& args, const std::string& dir) {
  TtyRun r;
  int master = -1, slave = -1;
  winsize ws{};
  ws.ws_row = 24;
  ws.ws_col = 200;
  REQUIRE(::openpty(&master, &slave, nullptr, nullptr, &ws) == 0);
  const std::string out_path = dir + "/stdout";
  std::vector<std::string> argv_text = {TPUSIM_BINARY};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  argv.reserve(argv_text.size() + 1);
  for (auto& a : argv_text)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(master);
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || ::dup2(out, STDOUT_FILENO) < 0 || ::dup2(slave, STDERR_FILENO) < 0) ::_exit(127);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(slave);
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(master, buf, sizeof buf);
    if (n > 0) {
      r.tty.append(buf, static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;  // EIO once every process holding the terminal has exited
    }
  }
  ::close(master);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = tpusim_test::slurp(out_path);
  return r;
}

// A DSA prefill chunk that simulates for several seconds (its gathers do not shrink with L), so
// the line, drawn only after the first second, must appear. It simulates in a child process, so
// the line crosses from the child's slot to the parent that draws it.
const std::vector<std::string> kLongRun = {"run", "--phase",  "prefill", "--chunk",
                                           "4k",  "--seq",    "16k",     "--attention",
                                           "dsa", "--format", "json"};

}  // namespace

TEST_CASE("run draws a progress line on a terminal and erases it before exiting",
          "[cli][progress]") {
  TempDir dir;
  const TtyRun r = run_on_tty(kLongRun, dir.path());
  REQUIRE(r.exit_code == 0);
  INFO(r.tty);
  const auto first = r.tty.find("\rrun: ");
  REQUIRE(first != std::string::npos);
  CHECK(r.tty.find("instructions retired: dsa ", first) != std::string::npos);
  // Redrawn in place, and erased after its last drawing: the line is gone when the shell
  // prompt returns.
  const std::string erase = "\r\x1b[K";
  const auto last = r.tty.rfind("instructions retired");
  CHECK(r.tty.find(erase, last) != std::string::npos);
#ifndef TPUSIM_SANITIZE_BUILD
  // Nothing else on the terminal: the erase is the last thing, and no line was printed below.
  // (Under ASan the runtime's coroutine notice, tests/cli/cli_util.h, lands on stderr too.)
  REQUIRE(r.tty.size() >= erase.size());
  CHECK(r.tty.compare(r.tty.size() - erase.size(), erase.size(), erase) == 0);
  CHECK(r.tty.find('\n', first) == std::string::npos);
#endif

  // stdout carries the report alone, with the same numbers as a run without a terminal.
  const Json with_line = Json::parse(r.out);
  auto plain = run_tpusim("run --phase prefill --chunk 4k --seq 16k --attention dsa --format json");
  REQUIRE(plain.exit_code == 0);
  CHECK(plain.err.empty());  // stderr is a file here: no line
  const Json without = Json::parse(plain.out);
  CHECK(with_line == without);  // every number, not just the cycles
}

TEST_CASE("run --quiet draws no progress line even on a terminal", "[cli][progress]") {
  TempDir dir;
  std::vector<std::string> args = kLongRun;
  args.push_back("--quiet");
  const TtyRun r = run_on_tty(args, dir.path());
  REQUIRE(r.exit_code == 0);
  CHECK(r.tty.find("instructions retired") == std::string::npos);
  CHECK(Json::parse(r.out).contains("cycles"));
}

TEST_CASE("sweep shows each running run's share of its instructions on a terminal",
          "[cli][progress]") {
  // Two DSA prefill points (the run above at two k), so the line is redrawn while they
  // simulate: each worker's slot crosses from its forked child to the sweep, which draws its
  // own line and names each share by its point (both are "dsa").
  TempDir dir;
  const std::string csv = dir.path() + "/sweep.csv";
  const TtyRun r = run_on_tty({"sweep", "--phase", "prefill", "--chunk", "4k", "--seq", "16k",
                               "--topk", "1024,2048", "--attention", "dsa", "-j", "2", "-o", csv},
                              dir.path());
  REQUIRE(r.exit_code == 0);
  INFO(r.tty);
  // "0/2 runs done, 2 running (topk=1k dsa 37%, topk=2k dsa 20%), 0 failed  elapsed 1s  ETA ?"
  CHECK(r.tty.find(" running (topk=") != std::string::npos);
  CHECK(r.tty.find(" running (dsa ") == std::string::npos);  // 200 columns: room for names
  // The last drawing says every run is done and lists no share: the workers' slots are free.
  const auto last = r.tty.rfind("\rsweep: ");
  REQUIRE(last != std::string::npos);
  const std::string done = "\rsweep: 2/2 runs done, 0 running, 0 failed ";
  CHECK(r.tty.compare(last, done.size(), done) == 0);
  CHECK(tpusim_test::slurp(csv).find(",dsa,ok,") != std::string::npos);
}
