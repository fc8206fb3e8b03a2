// tpusim sweep end to end (the built binary, TPUSIM_BINARY): rows equal single runs, SIGKILL and
// --resume lose and duplicate nothing, shards concatenate to the whole sweep, a failing point is
// an error row; plus list parsing, plot_sweep.py and the timeline of `run`.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/cycle.h"
#include "base/error.h"
#include "sim/sweep.h"

#include "tests/cli/cli_util.h"

namespace {

using tpusim::expand_list;
using Strings = std::vector<std::string>;

const std::string kTpusim = TPUSIM_BINARY;
const std::string kSourceDir = TPUSIM_SOURCE_DIR;

int shell(const std::string& cmd) {
  int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Strings lines_of(const std::string& text) {
  Strings out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(line);
  return out;
}

// An independent CSV splitter (quotes as RFC 4180), so the tests do not trust the sweep's own.
Strings split_csv(const std::string& line) {
  Strings out(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      out.back() += '"';
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

using Row = std::map<std::string, std::string>;

std::vector<Row> read_csv(const std::string& path) {
  Strings lines = lines_of(slurp(path));
  REQUIRE(!lines.empty());
  Strings header = split_csv(lines[0]);
  std::vector<Row> rows;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    Strings f = split_csv(lines[i]);
    REQUIRE(f.size() == header.size());
    Row r;
    for (std::size_t c = 0; c < header.size(); ++c)
      r[header[c]] = f[c];
    rows.push_back(r);
  }
  return rows;
}

std::multiset<std::string> row_set(const std::string& path) {
  Strings lines = lines_of(slurp(path));
  return {lines.begin() + 1, lines.end()};
}

const std::string kTiny = " --model tiny ";

}  // namespace

TEST_CASE("sweep lists: ranges, plain lists and errors naming the flag", "[sweep]") {
  CHECK(expand_list("4k:128k:x2", "--seq") ==
        Strings{"4096", "8192", "16384", "32768", "65536", "131072"});
  CHECK(expand_list("a,b,c", "--phase") == Strings{"a", "b", "c"});
  CHECK(expand_list("1k,4k:16k:x4", "--seq") == Strings{"1024", "4096", "16384"});
  // A range stops at the last value not above stop.
  CHECK(expand_list("1:10:x3", "--batch") == Strings{"1", "3", "9"});
  // Colons inside a value (a pattern) do not make a range.
  CHECK(expand_list("uniform,recent:4096", "--pattern") == Strings{"uniform", "recent:4096"});
  CHECK(expand_list("64:256:x2", "--set sram.capacity_mib") == Strings{"64", "128", "256"});

  auto fails_naming = [](const std::string& text, const std::string& flag) {
    try {
      expand_list(text, flag);
    } catch (const tpusim::UserError& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find(flag) != std::string::npos);
      return;
    }
    FAIL("no error for '" + text + "'");
  };
  fails_naming("4k,,8k", "--seq");
  fails_naming("", "--topk");
  fails_naming("4k:1k:x2", "--seq");
  fails_naming("4k:8k:2", "--seq");
  fails_naming("4k:8k:x1", "--seq");
  fails_naming("4k:8k:xabc", "--seq");
  fails_naming("12q", "--topk");

  CHECK(tpusim::parse_shard("2/4") == std::make_pair<std::size_t, std::size_t>(2, 4));
  CHECK_THROWS_AS(tpusim::parse_shard("0/4"), tpusim::UserError);
  CHECK_THROWS_AS(tpusim::parse_shard("5/4"), tpusim::UserError);
  CHECK_THROWS_AS(tpusim::parse_shard("1-4"), tpusim::UserError);

  tpusim::SweepOptions o;
  o.flag_lists = {{"seq", "1k,2k"}, {"topk", "64,128,256"}};
  o.sets = {"sram.capacity_mib=64,128"};
  auto grid = tpusim::sweep_grid(o);
  REQUIRE(grid.size() == 12);
  CHECK(grid[0].key == "hw=tpu-v5e set:sram.capacity_mib=64 seq=1024 topk=64");
  CHECK(grid[0].spec.attention == "both");
  // The progress line names a running point by the values the grid varies, sizes shortened.
  CHECK(grid[0].label == "sram.capacity_mib=64 seq=1k topk=64");
  CHECK(grid[11].label == "sram.capacity_mib=128 seq=2k topk=256");
  // One dense run serves every k, so its label leaves k out; a --set always matters to it.
  CHECK(grid[0].dense_label == "sram.capacity_mib=64 seq=1k");
  CHECK(grid[11].dense_label == "sram.capacity_mib=128 seq=2k");
  o.sets = {"dma.engines=1024,2048"};  // a count, not a size
  o.flag_lists = {{"seq", "1k"}};
  CHECK(tpusim::sweep_grid(o)[1].label == "dma.engines=2048");
  // --residency matters to dense only as prefetch (dense_relevant_value).
  o.sets.clear();
  o.flag_lists = {{"residency", "stream,prefetch"}, {"topk", "64,128"}};
  grid = tpusim::sweep_grid(o);
  REQUIRE(grid.size() == 4);
  CHECK(grid[0].dense_label.empty());
  CHECK(grid[3].dense_label == "residency=prefetch");
  // "4k" and "4096" are the same point: keys are canonical.
  o.flag_lists = {{"seq", "4k,4096"}};
  o.sets.clear();
  CHECK(tpusim::sweep_grid(o).size() == 1);
}

TEST_CASE("sweep rows equal single runs", "[sweep]") {
  tpusim_test::TempDir scratch;
  const std::string& dir = scratch.path();
  std::string csv = dir + "/s.csv";
  REQUIRE(shell(kTpusim + " sweep" + kTiny + "--seq 1k,2k --topk 64,128 -j 2 -q -o " + csv) == 0);
  auto rows = read_csv(csv);
  REQUIRE(rows.size() == 8);  // 4 points x (dense, dsa)
  int compared = 0;
  for (std::string seq : {"1k", "2k"}) {
    for (std::string topk : {"64", "128"}) {
      std::string one = dir + "/one.csv";
      REQUIRE(shell(kTpusim + " run" + kTiny + "--seq " + seq + " --topk " + topk +
                    " --format csv -o " + one) == 0);
      for (const auto& run_row : read_csv(one)) {
        const Row* match = nullptr;
        for (const auto& r : rows)
          if (r.at("workload.seq") == run_row.at("workload.seq") &&
              r.at("workload.topk") == run_row.at("workload.topk") &&
              r.at("workload.attention") == run_row.at("workload.attention"))
            match = &r;
        REQUIRE(match != nullptr);
        CHECK(match->at("status") == "ok");
        CHECK(match->at("point.attention") == run_row.at("workload.attention"));
        for (const auto& [col, value] : run_row) {
          INFO(col);
          REQUIRE(match->count(col) == 1);
          CHECK(match->at(col) == value);
        }
        ++compared;
      }
    }
  }
  CHECK(compared == 8);
}

TEST_CASE("sweep shares dense rows across residencies, except prefetch", "[sweep]") {
  tpusim_test::TempDir scratch;
  const std::string csv = scratch.path() + "/r.csv";
  const std::string log = scratch.path() + "/r.log";
  const std::string grid = " sweep" + kTiny + "--seq 2k --residency stream,auto,prefetch -o " + csv;
  // Three points: dense under auto is stream's run; under prefetch its first KV tiles come
  // from the previous layer, so it is a run of its own.
  REQUIRE(shell(kTpusim + grid + " --dry-run > " + log) == 0);
  const std::string plan = slurp(log);
  CHECK_THAT(plan, Catch::Contains("1 dense rows shared"));
  // The listing names the shared row and the run it is copied from, and gives it no cost.
  CHECK_THAT(plan, Catch::Contains("residency=auto attention=dense  shared: copied from "
                                   "hw=tpu-v5e model=tiny seq=2048 residency=stream\n"));
  CHECK_THAT(plan, Catch::Contains("residency=prefetch attention=dense  cost "));
  REQUIRE(shell(kTpusim + grid + " -j 2 -q") == 0);
  std::map<std::string, std::string> dense;
  for (const auto& r : read_csv(csv))
    if (r.at("workload.attention") == "dense") dense[r.at("workload.residency")] = r.at("cycles");
  REQUIRE(dense.size() == 3);
  CHECK(dense["auto"] == dense["stream"]);
  const std::string one = scratch.path() + "/one.csv";
  REQUIRE(shell(kTpusim + " run" + kTiny +
                "--seq 2k --attention dense --residency prefetch --format csv -o " + one) == 0);
  CHECK(read_csv(one).at(0).at("cycles") == dense["prefetch"]);
  CHECK(dense["prefetch"] != dense["stream"]);
}

TEST_CASE("sweep killed with SIGKILL and resumed has every point exactly once", "[sweep]") {
  tpusim_test::TempDir scratch;
  const std::string& dir = scratch.path();
  std::string csv = dir + "/s.csv";
  // 10 points x 2 variants = 20 rows; prefill makes each take long enough to kill midway.
  const std::string args = kTiny +
                           "--phase prefill --chunk 1k --seq 1k,2k,3k,4k,5k --topk 64,128 -j 1 "
                           "-q -o " +
                           csv;
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::string cmd = kTpusim + " sweep" + args;
    ::execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  bool killed = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) break;  // finished before we could kill it
    if (lines_of(slurp(csv)).size() >= 4) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      killed = true;
      break;
    }
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (!killed) WARN("the sweep finished before it could be killed; resume is checked anyway");
  std::size_t before = lines_of(slurp(csv)).size() - 1;
  CHECK(before < 20);
  // What a crash in the middle of a write could leave: a partial row without its newline.
  {
    std::ofstream f(csv, std::ios::app);
    f << "hw=tpu-v5e model=tiny phase=prefill seq=5120 topk=128,ds";
  }
  REQUIRE(shell(kTpusim + " sweep --resume" + args) == 0);
  auto rows = read_csv(csv);
  CHECK(rows.size() == 20);
  std::map<std::string, int> seen;
  for (const auto& r : rows) {
    CHECK(r.at("status") == "ok");
    ++seen[r.at("point.key") + "|" + r.at("point.attention")];
  }
  CHECK(seen.size() == 20);
  for (const auto& [id, n] : seen) {
    INFO(id);
    CHECK(n == 1);
  }
  // Resuming a complete sweep runs nothing and changes nothing.
  std::string full = slurp(csv);
  REQUIRE(shell(kTpusim + " sweep --resume" + args) == 0);
  CHECK(slurp(csv) == full);
}

TEST_CASE("sweep shards concatenate to the whole sweep", "[sweep]") {
  tpusim_test::TempDir scratch;
  const std::string& dir = scratch.path();
  const std::string grid = kTiny + "--seq 1k,2k,4k --topk 64,128 --attention dense,dsa -j 2 -q";
  REQUIRE(shell(kTpusim + " sweep" + grid + " -o " + dir + "/all.csv") == 0);
  REQUIRE(shell(kTpusim + " sweep" + grid + " --shard 1/2 -o " + dir + "/p1.csv") == 0);
  REQUIRE(shell(kTpusim + " sweep" + grid + " --shard 2/2 -o " + dir + "/p2.csv") == 0);
  // Header once: the first file whole, the others without their first line.
  REQUIRE(shell("cat " + dir + "/p1.csv > " + dir + "/cat.csv && tail -n +2 " + dir +
                "/p2.csv >> " + dir + "/cat.csv") == 0);
  CHECK(lines_of(slurp(dir + "/all.csv"))[0] == lines_of(slurp(dir + "/cat.csv"))[0]);
  CHECK(row_set(dir + "/all.csv").size() == 12);
  CHECK(row_set(dir + "/p1.csv").size() == 6);
  CHECK(row_set(dir + "/cat.csv") == row_set(dir + "/all.csv"));

  if (shell("command -v parallel >/dev/null 2>&1") != 0) {
    WARN("GNU parallel is not on PATH: skipping the parallel part (Debian package parallel)");
    return;
  }
  REQUIRE(shell("cd " + dir + " && parallel --will-cite " + kTpusim + " sweep" + grid +
                " --shard {}/3 -o gp{}.csv ::: 1 2 3") == 0);
  REQUIRE(shell("cd " + dir +
                " && head -n 1 gp1.csv > gp.csv && for f in gp1.csv gp2.csv "
                "gp3.csv; do tail -n +2 $f >> gp.csv; done") == 0);
  CHECK(row_set(dir + "/gp.csv") == row_set(dir + "/all.csv"));
}

TEST_CASE("sweep records a failing point as an error row and finishes the others", "[sweep]") {
  tpusim_test::TempDir scratch;
  const std::string& dir = scratch.path();
  std::string csv = dir + "/s.csv";
  // Pinning the indexer keys into a zero budget fails only when lowered (a config error would
  // stop the sweep before it starts): those points are error rows.
  int rc = shell(kTpusim + " sweep" + kTiny +
                 "--seq 1k,2k --attention dsa --residency pin --set sram.residency_mib=32,0 -q "
                 "-o " +
                 csv + " 2>" + dir + "/err.txt");
  CHECK(rc == 1);
  CHECK(slurp(dir + "/err.txt").find("2 of 4 runs failed") != std::string::npos);
  auto rows = read_csv(csv);
  REQUIRE(rows.size() == 4);
  int ok = 0, errors = 0;
  for (const auto& r : rows) {
    if (r.at("status") == "ok") {
      ++ok;
      CHECK(r.at("point.key").find("residency_mib=32") != std::string::npos);
      CHECK(!r.at("cycles").empty());
    } else {
      ++errors;
      CHECK(r.at("status") == "error");
      CHECK(r.at("point.key").find("residency_mib=0") != std::string::npos);
      CHECK(r.at("error").find("sram.residency_mib") != std::string::npos);
      CHECK(r.at("cycles").empty());
    }
  }
  CHECK(ok == 2);
  CHECK(errors == 2);
}

TEST_CASE("sweep usage errors exit 2 and name the flag", "[sweep]") {
  tpusim_test::TempDir scratch;
  const std::string& dir = scratch.path();
  std::string err = dir + "/err.txt";
  CHECK(shell(kTpusim + " sweep --seq 4k,,8k -o " + dir + "/a.csv 2>" + err) == 2);
  CHECK(slurp(err).find("--seq") != std::string::npos);
  CHECK(shell(kTpusim + " sweep --seq 4k --shard 3/2 -o " + dir + "/a.csv 2>" + err) == 2);
  CHECK(slurp(err).find("--shard") != std::string::npos);
  CHECK(shell(kTpusim + " sweep --seq 4k 2>" + err) == 2);  // -o is required
  // An existing CSV is never clobbered without --resume.
  { std::ofstream(dir + "/old.csv") << "x\n"; }
  CHECK(shell(kTpusim + " sweep --seq 4k -o " + dir + "/old.csv 2>" + err) == 2);
  CHECK(slurp(dir + "/old.csv") == "x\n");
}

TEST_CASE("sweep on SIGINT keeps whole rows, kills its children and exits 130", "[sweep]") {
  tpusim_test::TempDir scratch;
  const std::string& dir = scratch.path();
  std::string csv = dir + "/s.csv";
  const std::string args =
      kTiny + "--phase prefill --chunk 1k --seq 2k,3k,4k,5k --topk 64,128 -j 2 -q -o " + csv;
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", ("exec " + kTpusim + " sweep" + args).c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Interrupt once a row is written, with more to come: mid-sweep.
  int status = 0;
  bool exited = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (lines_of(slurp(csv)).size() < 2 && !exited) {
    exited = ::waitpid(pid, &status, WNOHANG) == pid;
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (!exited) {
    ::kill(pid, SIGINT);
    ::waitpid(pid, &status, 0);
  }
  REQUIRE(WIFEXITED(status));
  std::string text = slurp(csv);
  if (WEXITSTATUS(status) == 0) {
    WARN("the sweep finished before SIGINT arrived");
  } else {
    CHECK(WEXITSTATUS(status) == 130);
  }
  CHECK((text.empty() || text.back() == '\n'));
  // No orphaned simulation keeps running (they would hold the pipe; pgrep by parent is racy,
  // so check that a resume completes the sweep with each row once).
  REQUIRE(shell(kTpusim + " sweep --resume" + args) == 0);
  auto rows = read_csv(csv);
  std::set<std::string> ids;
  for (const auto& r : rows)
    ids.insert(r.at("point.key") + "|" + r.at("point.attention"));
  CHECK(rows.size() == 16);
  CHECK(ids.size() == 16);
}

TEST_CASE("plot_sweep.py writes the PNG plots of a sweep", "[sweep][plot]") {
  if (shell("/usr/bin/python3 -c 'import matplotlib, pandas' 2>/dev/null") != 0) {
    WARN("skipped: /usr/bin/python3 lacks matplotlib or pandas (scripts/setup.sh installs them)");
    return;
  }
  tpusim_test::TempDir scratch;
  const std::string& dir = scratch.path();
  std::string csv = dir + "/s.csv";
  REQUIRE(shell(kTpusim + " sweep" + kTiny +
                "--seq 1k,2k --topk 64,128 --phase decode,prefill --chunk 512 --residency "
                "auto --set sram.residency_mib=1,64 -j 2 -q -o " +
                csv) == 0);
  REQUIRE(shell("/usr/bin/python3 " + kSourceDir + "/scripts/plot_sweep.py " + csv + " -o " + dir +
                "/plots") == 0);
  for (std::string phase : {"decode", "prefill"}) {
    // indexer_resident is skipped here: 1 MiB holds all of the tiny model's keys at L <= 2k,
    // so the fraction does not vary (tests/cli/plot_sweep_test.cpp covers it and the tables).
    for (std::string plot : {"speedup", "step_time", "hbm_bytes", "units", "kernels"}) {
      std::string png = dir + "/plots/" + plot + "_" + phase + ".png";
      INFO(png);
      std::string bytes = slurp(png);
      REQUIRE(bytes.size() > 1000);
      CHECK(bytes.compare(0, 4, "\x89PNG") == 0);
    }
  }
  // A CSV without the needed columns is a clear error, not a traceback.
  { std::ofstream(dir + "/bad.csv") << "a,b\n1,2\n"; }
  CHECK(shell("/usr/bin/python3 " + kSourceDir + "/scripts/plot_sweep.py " + dir + "/bad.csv -o " +
              dir + "/p2 2>" + dir + "/err.txt") == 2);
  CHECK(slurp(dir + "/err.txt").find("workload.seq") != std::string::npos);
}

TEST_CASE("run --timeline writes one slice per instruction, none overlapping on a track",
          "[timeline]") {
  tpusim_test::TempDir scratch;
  const std::string& dir = scratch.path();
  REQUIRE(shell(kTpusim + " run" + kTiny + "--seq 2k --attention dsa --format json -o " + dir +
                "/r.json --timeline " + dir + "/t.json") == 0);
  auto report = nlohmann::json::parse(slurp(dir + "/r.json"));
  auto tl = nlohmann::json::parse(slurp(dir + "/t.json"));
  REQUIRE(tl.contains("traceEvents"));
  std::map<std::pair<int, int>, std::vector<std::pair<double, double>>> tracks;
  std::size_t slices = 0, path_slices = 0;
  double path_cycles = 0;
  for (const auto& e : tl["traceEvents"]) {
    if (e.at("ph") != "X") continue;
    if (e.value("cat", std::string()) == "critical_path") {
      // The critical path's own track: one slice per step charged, tiling the run.
      ++path_slices;
      path_cycles += e.at("args").at("cycles").get<double>();
    } else {
      ++slices;
    }
    CHECK(e.at("name").get<std::string>() != "");
    double ts = e.at("ts"), dur = e.at("dur");
    CHECK(dur >= 0);
    tracks[{e.at("pid").get<int>(), e.at("tid").get<int>()}].emplace_back(ts, ts + dur);
  }
  CHECK(slices == report.at("instructions").get<std::size_t>());
  // Every step is listed (the limit is far above them) and the slices tile the run.
  CHECK(path_slices == report.at("critical_path").at("steps").get<std::size_t>());
  CHECK(tl.at("otherData").at("dropped_critical_path_slices") == 0);
  CHECK(path_cycles + report.at("critical_path").at("wait_cycles").get<double>() ==
        report.at("cycles").get<double>());
  CHECK(tracks.size() > 1);
  // Half a cycle of slack (1.5 GHz) absorbs the rounding of cycles to microseconds.
  const double eps = 0.5e-3 / 1.5;
  for (auto& [track, v] : tracks) {
    std::sort(v.begin(), v.end());
    for (std::size_t i = 1; i < v.size(); ++i) {
      INFO("track tid " << track.second << " slice " << i);
      CHECK(v[i].first + eps >= v[i - 1].second);
    }
  }
}
