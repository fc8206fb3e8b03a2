// End-to-end error handling through the tpusim binary (docs/ARCHITECTURE.md "Errors"): malformed
// input exits 2 with a message that says where, and output files are all-or-nothing.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "base/cycle.h"
#include "base/error.h"
#include "sim/report.h"
#include "tests/cli/cli_util.h"

namespace fs = std::filesystem;

namespace {

struct Run {
  int exit_code = -1;
  std::string out, err;
};

std::string read_fd(int fd) {
  std::string s;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    s.append(buf, static_cast<std::size_t>(n));
  }
  return s;
}

/// Runs the tpusim binary with `args`; stdout and stderr captured (stdout to a file, so a large
/// report cannot block the pipe while we read stderr).
Run run_tpusim(const std::vector<std::string>& args) {
  const fs::path out_file =
      fs::temp_directory_path() / ("tpusim_cli_" + std::to_string(::getpid()));
  int err_pipe[2];
  REQUIRE(::pipe(err_pipe) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(err_pipe[0]);
    ::dup2(err_pipe[1], 2);
    const int fd = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(TPUSIM_BINARY));
    for (const auto& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::setenv("SC_COPYRIGHT_MESSAGE", "DISABLE", 1);
    ::execv(TPUSIM_BINARY, argv.data());
    ::_exit(127);
  }
  ::close(err_pipe[1]);
  Run r;
  r.err = read_fd(err_pipe[0]);
  ::close(err_pipe[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream in(out_file);
  std::stringstream ss;
  ss << in.rdbuf();
  r.out = ss.str();
  fs::remove(out_file);
  return r;
}

/// A fresh scratch directory, removed at the end of the test.
struct ScratchDir {
  fs::path path;
  ScratchDir() {
    path = fs::temp_directory_path() / ("tpusim_robust_" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
  /// Files in the directory other than `keep` (leftover temporaries).
  std::vector<std::string> others(const std::string& keep) const {
    std::vector<std::string> v;
    for (const auto& e : fs::directory_iterator(path))
      if (e.path().filename() != keep) v.push_back(e.path().filename().string());
    return v;
  }
};

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const char* const kGoodTrace =
    "tpusim-trace 1\n"
    "0 dma.load src=hbm:0 dst=sram:0 bytes=4096 tag=load\n"
    "1 vpu.exp elems=1024 src=sram:0 dst=sram:4096 deps=0 tag=exp\n";

}  // namespace

TEST_CASE("cli: a malformed trace exits 2 naming file:line", "[cli][robust]") {
  ScratchDir dir;
  const std::string trace = dir.file("bad.trace");
  write_text(trace, std::string(kGoodTrace) + "2 vpu.exp elems=-4 src=sram:0 dst=sram:0\n");
  const Run r = run_tpusim({"trace", "run", trace});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains(trace + ":4:") && Catch::Contains("negative"));
  CHECK(r.out.empty());

  // Binary garbage: still one line on stderr, with the position.
  static const char kGarbage[] = "tpusim-trace 1\n\x01\xff\0\xfe garbage\n";
  write_text(trace, std::string(kGarbage, sizeof kGarbage - 1));
  const Run g = run_tpusim({"trace", "run", trace});
  CHECK(g.exit_code == 2);
  CHECK_THAT(g.err, Catch::Contains(trace + ":2:"));
  CHECK(std::count(g.err.begin(), g.err.end(), '\n') == 1);
}

TEST_CASE("cli: a trace beyond the chip's SRAM exits 2 naming file:line", "[cli][robust]") {
  ScratchDir dir;
  const std::string trace = dir.file("big.trace");
  write_text(trace, "tpusim-trace 1\n0 vpu.exp elems=1024 src=sram:0 dst=sram:0xffffffff\n");
  const Run r = run_tpusim({"trace", "run", trace});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains(trace + ":2:") && Catch::Contains("sram.capacity_mib"));
}

TEST_CASE("cli: a bad --set exits 2 naming the key", "[cli][robust]") {
  const Run unknown = run_tpusim({"run", "--seq", "4k", "--set", "hbm.chanels=8"});
  CHECK(unknown.exit_code == 2);
  CHECK_THAT(unknown.err, Catch::Contains("hbm.chanels"));
  const Run range = run_tpusim({"run", "--seq", "4k", "--set", "sram.banks=100000000"});
  CHECK(range.exit_code == 2);
  CHECK_THAT(range.err, Catch::Contains("sram.banks"));
  const Run type = run_tpusim({"hw", "show", "--set", "mxu.dataflow=diagonal"});
  CHECK(type.exit_code == 2);
  CHECK_THAT(type.err, Catch::Contains("mxu.dataflow"));
  // Past TOML's 64-bit integers: the error says so, and gives the key's own range.
  const Run huge = run_tpusim({"hw", "show", "--set", "dma.group_requests=99999999999999999999"});
  CHECK(huge.exit_code == 2);
  CHECK_THAT(huge.err, Catch::Contains("dma.group_requests is beyond TOML's integers") &&
                           Catch::Contains("this key takes at most 4294967295"));
  // 4.0 is a count written as a float.
  const Run as_float = run_tpusim({"hw", "show", "--set", "mxu.count=4.0"});
  CHECK(as_float.exit_code == 2);
  CHECK_THAT(as_float.err, Catch::Contains("mxu.count must be written as an integer (4, not"));
  // A denormal is a valid value (it is the report that once failed on it, with "stod").
  const Run denormal =
      run_tpusim({"run", "--model", "tiny", "--seq", "1k", "--topk", "256", "--attention", "dsa",
                  "--set", "hbm.trp_ns=1e-310", "--format", "json"});
  CHECK(denormal.exit_code == 0);
  CHECK_THAT(denormal.out, Catch::Contains("\"trp_ns\": 1e-310"));
  // A clock of 1e-300 GHz gave times of 1e294 s and a selftest of inf; 1 MHz is the floor.
  const Run slow = run_tpusim({"hw", "show", "--set", "chip.clock_ghz=1e-300"});
  CHECK(slow.exit_code == 2);
  CHECK_THAT(slow.err, Catch::Contains("chip.clock_ghz must be in [0.001, 100]"));
  // A fraction is not a count: said so, not given the storage range.
  const Run frac = run_tpusim({"hw", "show", "--set", "mxu.count=1.5"});
  CHECK(frac.exit_code == 2);
  CHECK_THAT(frac.err, Catch::Contains("mxu.count must be a whole number (got 1.5)"));
}

TEST_CASE("cli: an unknown flag or subcommand exits 2", "[cli][robust]") {
  CHECK(run_tpusim({"run", "--sequence", "4k"}).exit_code == 2);
  CHECK(run_tpusim({"frobnicate"}).exit_code == 2);
  CHECK(run_tpusim({"run", "--seq", "lots"}).exit_code == 2);
}

TEST_CASE("cli: usage errors say what was not understood, and where to look", "[cli][robust]") {
  // CLI11's own words were "The following arguments were not expected: 8k --sq" (reversed),
  // "A subcommand is required" for a mistyped command, "At Most 1 required but received 2".
  auto err = [](const std::vector<std::string>& args) {
    const Run r = run_tpusim(args);
    CHECK(r.exit_code == 2);
    return r.err;
  };
  CHECK_THAT(err({"run", "--sq", "8k"}),
             Catch::Contains("unknown option '--sq' for tpusim run (see tpusim run --help)"));
  CHECK_THAT(err({"run", "8k"}), Catch::Contains("unexpected argument '8k' for tpusim run"));
  CHECK_THAT(err({"trace", "run", "f.trace", "--seq", "8k"}),
             Catch::Contains("unknown option '--seq' for tpusim trace run"));
  CHECK_THAT(err({"runn"}),
             Catch::Contains("unknown command 'runn' for tpusim (its commands: run, trace, "
                             "sweep, hw)"));
  CHECK_THAT(err({"--verison"}), Catch::Contains("unknown option '--verison' for tpusim"));
  CHECK_THAT(err({"hw"}), Catch::Contains("tpusim hw needs a command: one of list, selftest, "
                                          "show"));
  CHECK_THAT(err({"run", "--seq", "4k", "--seq", "8k"}),
             Catch::Contains("--seq is given more than once to tpusim run"));
  // hw show's argument is PRESET, not --hw.
  CHECK_THAT(err({"hw", "show", "nope"}), Catch::Contains("error: PRESET: unknown preset 'nope'"));
  // An empty --hw once meant the default preset, unlike every other empty value.
  CHECK_THAT(err({"run", "--hw", ""}), Catch::Contains("--hw: empty value"));
}

TEST_CASE("cli: -o into a missing directory fails cleanly and leaves no file", "[cli][robust]") {
  ScratchDir dir;
  const std::string trace = dir.file("ok.trace");
  write_text(trace, kGoodTrace);
  const std::string out = dir.file("missing/report.json");
  const Run r = run_tpusim({"trace", "run", trace, "--format", "json", "-o", out});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains(out));
  CHECK_FALSE(fs::exists(out));
  CHECK(dir.others("ok.trace").empty());
}

TEST_CASE("cli: every output file is written atomically (-o, --timeline, trace gen)",
          "[cli][robust]") {
  ScratchDir dir;
  const std::string trace = dir.file("gen.trace");
  const Run gen = run_tpusim({"trace", "gen", "--seq", "4k", "-o", trace});
  REQUIRE(gen.exit_code == 0);
  const Run run = run_tpusim({"trace", "run", trace, "--format", "json", "-o", dir.file("r.json"),
                              "--timeline", dir.file("t.json")});
  REQUIRE(run.exit_code == 0);
  CHECK(read_text(dir.file("r.json")).find("\"tpusim_report\"") != std::string::npos);
  CHECK(read_text(dir.file("t.json")).find("traceEvents") != std::string::npos);
  // No temporaries left behind.
  for (const auto& f : dir.others(""))
    CHECK(f.find(".tmp.") == std::string::npos);
}

TEST_CASE("write_file_atomic: an interrupted write keeps the old file and leaves no partial one",
          "[report][robust]") {
  ScratchDir dir;
  const std::string path = dir.file("report.json");
  tpusim::write_file_atomic(path, "old contents\n");
  // The file-size limit makes the kernel refuse the write part-way (as a full disk would); do
  // it in a child so the limit does not outlive the case.
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    rlimit lim{4096, 4096};
    ::setrlimit(RLIMIT_FSIZE, &lim);
    try {
      tpusim::write_file_atomic(path, std::string(1 << 20, 'x'));
    } catch (const tpusim::UserError&) {
      ::_exit(0);  // the expected clean error
    }
    ::_exit(1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(read_text(path) == "old contents\n");
  CHECK(dir.others("report.json").empty());
}

TEST_CASE("AtomicFile: pieces appear at commit, and an abandoned file leaves the old one",
          "[report][robust]") {
  ScratchDir dir;
  const std::string path = dir.file("gen.trace");
  tpusim::write_file_atomic(path, "old\n");
  {
    tpusim::AtomicFile f(path);
    f.write("first ");
    f.write("second\n");
    CHECK(read_text(path) == "old\n");  // nothing visible before commit
    f.commit();
  }
  CHECK(read_text(path) == "first second\n");
  {
    // An error between pieces (trace gen's formatting, say) destroys the file uncommitted.
    tpusim::AtomicFile f(path);
    f.write("half of a new trace");
  }
  CHECK(read_text(path) == "first second\n");
  CHECK(dir.others("gen.trace").empty());  // and its temporary is gone
}

TEST_CASE("write_file_atomic: an unwritable target is a UserError naming the path",
          "[report][robust]") {
  ScratchDir dir;
  // A regular file where a directory should be: fails even for root (unlike permissions).
  write_text(dir.file("file"), "x");
  const std::string path = dir.file("file/report.json");
  CHECK_THROWS_MATCHES(
      tpusim::write_file_atomic(path, "data"), tpusim::UserError,
      Catch::Matchers::Message(std::string("cannot write '") + path + "': Not a directory"));
  // Renaming over a directory fails after the data was written: the temporary is removed.
  fs::create_directories(dir.file("adir"));
  CHECK_THROWS_AS(tpusim::write_file_atomic(dir.file("adir"), "data"), tpusim::UserError);
  CHECK(dir.others("file").size() == 1);  // only adir
}

TEST_CASE("AtomicFile: a symbolic link's file is replaced, not the link", "[report][robust]") {
  ScratchDir dir;
  fs::create_directories(dir.file("real"));
  const std::string target = dir.file("real/report.json");
  write_text(target, "old\n");
  fs::create_symlink(target, dir.file("link.json"));
  tpusim::write_file_atomic(dir.file("link.json"), "new\n");
  CHECK(fs::is_symlink(dir.file("link.json")));
  CHECK(read_text(target) == "new\n");
  CHECK(dir.others("real").size() == 1);  // the link; no temporary beside it
  CHECK(fs::directory_iterator(dir.file("real"))->path().filename() == "report.json");
}

TEST_CASE("AtomicFile: a FIFO or a device is written into, not replaced by a file",
          "[report][robust]") {
  ScratchDir dir;
  const std::string fifo = dir.file("pipe");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  // A reader on the other end, as `tpusim run -o pipe` would have one.
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::ifstream in(fifo);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ::_exit(text == "through the pipe\n" ? 0 : 1);
  }
  tpusim::write_file_atomic(fifo, "through the pipe\n");
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(fs::is_fifo(fifo));
  CHECK(dir.others("pipe").empty());

  // /dev/null stays the device (as root a rename would have replaced it), and /dev/stdout is
  // written through: the report arrives on stdout.
  const Run null_run = run_tpusim({"run", "--seq", "4k", "--attention", "dsa", "-o", "/dev/null"});
  CHECK(null_run.exit_code == 0);
  CHECK(fs::is_character_file("/dev/null"));
  const Run out_run = run_tpusim(
      {"run", "--seq", "4k", "--attention", "dsa", "--format", "json", "-o", "/dev/stdout"});
  CHECK(out_run.exit_code == 0);
  CHECK(out_run.out.find("\"tpusim_report\"") != std::string::npos);
  // /dev/stdout into a file the shell appends to: appended, not replaced.
  const std::string log = dir.file("log");
  write_text(log, "earlier line\n");
  const int code = std::system((std::string(TPUSIM_BINARY) +
                                " run --seq 4k --attention dsa --format csv -o /dev/stdout >> " +
                                log + " 2>/dev/null")
                                   .c_str());
  CHECK(code == 0);
  const std::string text = read_text(log);
  CHECK(text.rfind("earlier line\n", 0) == 0);
  CHECK(text.find("tpusim_report,workload.attention") != std::string::npos);

  // Two variants cannot make FILE.dense.json and FILE.dsa.json from a device: said at once,
  // and nothing is created beside it.
  const Run both = run_tpusim({"run", "--seq", "4k", "--timeline", "/dev/null"});
  CHECK(both.exit_code == 1);
  CHECK_THAT(both.err, Catch::Contains("FILE.dense.json"));
  CHECK_FALSE(fs::exists("/dev/null.dense.json"));
  CHECK_FALSE(fs::exists("/dev/null.dsa.json"));
}

TEST_CASE("cli: a guided top-k at the top of SRAM reads inside its operand", "[cli][robust]") {
  // 1024 scores (4 KiB) at the last 4 KiB of the 128-MiB SRAM, guided by a guess (cand=1): the
  // select reads k + n + refine x cand scores, more than the operand. As one stream from src it
  // ran past SRAM's end and stopped on an internal check; it is passes over the operand now.
  ScratchDir dir;
  const std::string trace = dir.file("topk.trace");
  write_text(trace,
             "tpusim-trace 1\n"
             "0 vpu.topk rows=1 n=1024 k=1 cand=1 src=sram:134213632 dst=sram:0\n");
  const Run r = run_tpusim({"trace", "run", trace, "--format", "json"});
  CHECK(r.exit_code == 0);
  CHECK(tpusim_test::without_sanitizer_notices(r.err).empty());
  CHECK(r.out.find("\"tpusim_report\"") != std::string::npos);
}

TEST_CASE("cli: hw selftest runs on any SRAM a run accepts", "[cli][robust]") {
  // With 4 engines each streams a 16-MiB piece, placed within half the SRAM: 17 MiB once
  // failed with an error about the selftest's own instruction, 16 and 24 MiB did not.
  for (const char* mib : {"8", "17", "23.5"}) {
    const Run r = run_tpusim({"hw", "selftest", "--set", std::string("sram.capacity_mib=") + mib});
    INFO(mib << ": " << r.err);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("sequential read"));
  }
}

TEST_CASE("cli: one gather picks at most 2^22 rows", "[cli][robust]") {
  // 2^26 one-byte rows from a 16-GiB span fit the chip (64 MiB of SRAM), but drawing their
  // indices took 3.7 GB and minutes; refused at once, before the run, naming file:line.
  ScratchDir dir;
  const std::string trace = dir.file("g.trace");
  write_text(trace,
             "tpusim-trace 1\n"
             "0 dma.gather src=hbm:0 dst=sram:0 span=17179869184 rows=4194305 row_bytes=1 "
             "pattern=uniform seed=1\n");
  const Run r = run_tpusim({"trace", "run", trace});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("g.trace:2:") &&
                        Catch::Contains("rows=4194305 is more than the 4194304 rows"));
}

TEST_CASE("cli: a meta key named trace is refused; a denormal overlap is a number",
          "[cli][robust]") {
  // The report's workload.trace is the file's path: a meta 'trace' was overwritten silently.
  ScratchDir dir;
  const std::string trace = dir.file("m.trace");
  write_text(trace, std::string("tpusim-trace 1\nmeta trace=mine\n") +
                        "0 dma.load src=hbm:0 dst=sram:0 bytes=64\n");
  const Run r = run_tpusim({"trace", "run", trace});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("meta key 'trace' is reserved"));
  // 1e-310 lies in [0, 1]; std::stod had called it "not a number", then the report failed.
  const Run tiny =
      run_tpusim({"run", "--model", "tiny", "--seq", "1k", "--topk", "256", "--attention", "dsa",
                  "--step-overlap", "1e-310", "--format", "json"});
  CHECK(tiny.exit_code == 0);
  CHECK_THAT(tiny.out, Catch::Contains("\"step_overlap\": 1e-310"));
}

TEST_CASE("cli: FLOPs past what the report can count exit 2, not a wrapped total",
          "[cli][robust]") {
  // In a 1-TiB SRAM one fp8 matmul of m = n = 2^19, k = 2^20 has operands of at most 2^39 B
  // and does 2 x 2^58 = 2^59 FLOPs, so 32 of them reach 2^64: the 32nd (id 31, on line 33 after
  // the header) passes it. The trace's first pass refuses it, before any simulation.
  ScratchDir dir;
  const std::string trace = dir.file("flops.trace");
  const auto matmuls = [&trace](int count) {
    std::string text = "tpusim-trace 1\n";
    for (int i = 0; i < count; ++i)
      text += std::to_string(i) +
              " mxu.matmul m=524288 n=524288 k=1048576 dtype=fp8 a=sram:0 b=sram:0 c=sram:0\n";
    write_text(trace, text);
  };
  matmuls(33);
  const Run r = run_tpusim({"trace", "run", trace, "--set", "sram.capacity_mib=1048576"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains(trace + ":33: instruction 31: the trace's matmuls up to "
                                            "here add up to more than 2^64 FLOPs"));
  CHECK(r.out.empty());
  // 31 of them are counted exactly.
  matmuls(31);
  const Run ok =
      run_tpusim({"trace", "run", trace, "--set", "sram.capacity_mib=1048576", "--format", "json"});
  REQUIRE(ok.exit_code == 0);
  CHECK(nlohmann::json::parse(ok.out)["flops"].get<std::uint64_t>() ==
        31 * (std::uint64_t{1} << 59));
}
