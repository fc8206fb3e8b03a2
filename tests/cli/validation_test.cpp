// What a new user trips over (issue 12), through the built binary: every mistake exits with the
// documented code, a message naming the flag, key or path, before any simulation, and leaves no
// file behind.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_util.h"

using Json = nlohmann::json;
using tpusim_test::run_tpusim;
using tpusim_test::slurp;
using tpusim_test::TempDir;
namespace fs = std::filesystem;

namespace {

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

// A process whose parent is `parent`, from /proc/PID/stat ("pid (comm) state ppid ..."), or 0.
pid_t child_of(pid_t parent) {
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string text = slurp(e.path().string() + "/stat");
    auto close = text.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(text.substr(close + 1));
    std::string state;
    long ppid = 0;
    if (rest >> state >> ppid && ppid == parent) return static_cast<pid_t>(std::stol(name));
  }
  return 0;
}

// A small, fast point: the tiny model decoding 1k tokens.
const std::string kTiny = " --model tiny --seq 1k --topk 256 ";

// The measured value of one `hw selftest` benchmark row, with extra flags (" --set k=v").
double selftest_value(const std::string& sets, const std::string& name) {
  auto r = run_tpusim("hw selftest --format json" + sets);
  REQUIRE(r.exit_code == 0);
  const Json j = Json::parse(r.out);
  for (const Json& b : j["benchmarks"])
    if (b["name"] == name) return b["measured"]["value"].get<double>();
  FAIL("no selftest row named " << name);
  return 0.0;
}

}  // namespace

TEST_CASE("sweep: a typo in any list exits 2 naming it before anything runs", "[cli][sweep]") {
  TempDir dir;
  const std::string csv = dir.path() + "/s.csv";
  // Each list has a good first value, so only checking every value finds the typo.
  const std::pair<const char*, const char*> cases[] = {
      {"--hw tpu-v5e,tpu-v7", "tpu-v7"},
      {"--phase decode,foo", "--phase"},
      {"--set mxu.count=4,four", "mxu.count"},
      {"--residency stream,pinn", "--residency"},
      {"--model tiny,tinyy", "--model"},
      {"--topk 512,0", "--topk"},
      {"--set mxu.bogus=1,2", "mxu.bogus"},
      // Needs the values together: a 4k chunk cannot end at L = 2k.
      {"--phase prefill --seq 2k,8k --chunk 4k", "--chunk"},
      // Prefetching the next layer's keys is modelled in decode only.
      {"--phase decode,prefill --residency prefetch", "--residency prefetch"},
  };
  for (const auto& [flags, culprit] : cases) {
    INFO(flags);
    const std::string f = flags;
    std::string base = "sweep";
    if (!has(f, "--model")) base += " --model tiny";
    if (!has(f, "--seq")) base += " --seq 1k";
    auto r = run_tpusim(base + " " + f + " -q -o " + csv);
    CHECK(r.exit_code == 2);
    CHECK(has(r.err, "tpusim: error:"));
    CHECK(has(r.err, culprit));
    CHECK(has(r.err, "nothing was run"));
    CHECK_FALSE(fs::exists(csv));
  }
}

TEST_CASE("sweep --dry-run prints the grid and its cost and writes nothing", "[cli][sweep]") {
  TempDir dir;
  const std::string csv = dir.path() + "/s.csv";
  auto r = run_tpusim("sweep --model tiny --seq 1k:4k:x2 --topk 256,512 --dry-run -o " + csv);
  REQUIRE(r.exit_code == 0);
  // 3 values of L x 2 of k = 6 points; "both" gives 12 rows, of which dense (which does not
  // depend on k) is simulated once per L: 6 DSA runs + 3 dense runs.
  CHECK(has(r.out, "grid: 6 points, 9 runs to do (12 rows;"));
  int point_lines = 0;
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line))
    point_lines += line.rfind("hw=tpu-v5e model=tiny seq=", 0) == 0;
  CHECK(point_lines == 12);
  CHECK(has(r.out, "estimated cost:"));
  CHECK_FALSE(fs::exists(csv));
  CHECK(fs::is_empty(dir.path()));
}

TEST_CASE("a DMA request that would cut HBM bursts is refused, naming both keys", "[cli]") {
  // tpu-v5e's bursts are 32 B: 48-B requests would end mid-burst (that burst crossing the bus
  // twice); 1-B ones would make every byte a simulated request.
  for (const char* req : {"48", "1"}) {
    auto r = run_tpusim(std::string("hw selftest --set dma.request_bytes=") + req);
    CHECK(r.exit_code == 2);
    CHECK(has(r.err, std::string("tpusim: error: dma.request_bytes (") + req +
                         ") must be a multiple of hbm.burst_bytes (32)"));
  }
  CHECK(run_tpusim("run" + kTiny + "--set dma.request_bytes=64").exit_code == 0);
}

TEST_CASE("output paths are checked before any simulation", "[cli][paths]") {
  TempDir dir;
  const std::string bad = dir.path() + "/missing/r.txt";
  // --seq 20m fails only once lowered for the chip (no SRAM tile fits): the path error must come
  // first, as it would before a long simulation.
  auto r = run_tpusim("run --seq 20m --attention dsa -o " + bad);
  CHECK(r.exit_code == 2);
  CHECK(has(r.err, "-o: cannot write '" + bad + "'"));
  CHECK_FALSE(has(r.err, "sram.capacity_mib"));
  auto s = run_tpusim("sweep --seq 20m --attention dsa -o " + dir.path() + "/missing/s.csv");
  CHECK(s.exit_code == 2);
  CHECK(has(s.err, "-o: cannot write"));
  auto g = run_tpusim("trace gen --seq 20m -o " + bad);
  CHECK(g.exit_code == 2);
  CHECK(has(g.err, "-o: cannot write"));
  auto d = run_tpusim("run" + kTiny + "-o " + dir.path());
  CHECK(d.exit_code == 2);
  CHECK(has(d.err, "is a directory"));
  CHECK(fs::is_empty(dir.path()));
}

TEST_CASE("a bad --timeline path costs the timeline, not the report", "[cli][paths]") {
  TempDir dir;
  auto r = run_tpusim("run" + kTiny + "--timeline " + dir.path() + "/missing/t.json");
  CHECK(r.exit_code == 1);
  CHECK(has(r.err, "--timeline: cannot write"));
  CHECK(has(r.out, "speedup"));  // the comparison table is complete
  CHECK(fs::is_empty(dir.path()));
}

TEST_CASE("run --timeline with both variants names the two files it wrote", "[cli][paths]") {
  TempDir dir;
  const std::string t = dir.path() + "/t.json";
  auto r = run_tpusim("run" + kTiny + "--timeline " + t);
  REQUIRE(r.exit_code == 0);
  CHECK(has(r.err, "written to " + dir.path() + "/t.dense.json"));
  CHECK(has(r.err, "written to " + dir.path() + "/t.dsa.json"));
  CHECK(fs::exists(dir.path() + "/t.dense.json"));
  CHECK(fs::exists(dir.path() + "/t.dsa.json"));
}

TEST_CASE("errors name what the user can change, numbers the right way round", "[cli][errors]") {
  // A smaller SRAM shrinks the residency budget the user did not set; the error (the tiles no
  // longer fit) names the capacity.
  auto cap = run_tpusim("run --seq 4k --set sram.capacity_mib=1");
  CHECK(cap.exit_code == 2);
  CHECK(has(cap.err, "sram.capacity_mib"));
  CHECK_FALSE(has(cap.err, "sram.residency_mib"));
  // A budget set last and too large is the budget's fault.
  auto res = run_tpusim("hw show --set sram.capacity_mib=8 --set sram.residency_mib=16");
  CHECK(res.exit_code == 2);
  CHECK(has(res.err, "--set sram.residency_mib: sram.residency_mib (16 MiB"));
  CHECK(has(res.err, "sram.capacity_mib (8 MiB)"));
  // L = 20M tokens: the tile does not fit, and the message names --seq.
  auto seq = run_tpusim("run --seq 20m --attention dsa");
  CHECK(seq.exit_code == 2);
  CHECK(has(seq.err, "--seq 20971520"));
  // B = 100000 needs 100000 x 32768 x 656 B = 2,050,000 MiB of MLA cache against 16 GiB.
  auto batch = run_tpusim("run --batch 100000");
  CHECK(batch.exit_code == 2);
  CHECK(has(batch.err, "--batch 100000"));
  CHECK(has(batch.err, "needs at least 2050000.00 MiB, the chip has 16384.00 MiB"));
}

TEST_CASE("trace run on a small SRAM does not blame the residency budget", "[cli][errors]") {
  TempDir dir;
  const std::string trace = dir.path() + "/g.trace";
  // The 4k decode step of DeepSeek-V3.2 uses more than 2 MiB of SRAM (its 64 MiB residency
  // budget, unused by trace run, is larger than 2 MiB too).
  REQUIRE(run_tpusim("trace gen --seq 4k -o " + trace).exit_code == 0);
  auto r = run_tpusim("trace run " + trace + " --set sram.capacity_mib=2");
  CHECK(r.exit_code == 2);
  CHECK(has(r.err, "sram.capacity_mib"));
  CHECK_FALSE(has(r.err, "residency"));
}

TEST_CASE("run --attention both reports the variant that succeeded", "[cli][errors]") {
  // Pinning the indexer keys into a zero budget fails for DSA only; dense runs.
  auto r = run_tpusim("run" + kTiny + "--residency pin --set sram.residency_mib=0");
  CHECK(r.exit_code == 1);
  CHECK(has(r.out, "dense"));
  CHECK(has(r.out, "cycles"));
  CHECK(has(r.err, "tpusim: error: --attention both: the dsa variant failed: sram.residency_mib"));
  auto j = run_tpusim("run" + kTiny + "--residency pin --set sram.residency_mib=0 --format json");
  CHECK(j.exit_code == 1);
  const Json report = Json::parse(j.out);
  CHECK(report["workload"]["attention"] == "dense");
  CHECK_FALSE(report.contains("failed_variant"));
}

TEST_CASE("an index pattern that cannot pick k rows from L fails before anything runs",
          "[cli][errors]") {
  // k = 2048 rows from L = 4096 keys: recent:W needs W >= 2048, strided:S needs S x 2048 <= 4096.
  auto recent = run_tpusim("run --seq 4k --pattern recent:1");
  CHECK(recent.exit_code == 2);  // not 1 after simulating dense, as with --attention both it was
  CHECK(recent.out.empty());
  CHECK(has(recent.err, "use recent:W with W >= 2048"));
  auto strided = run_tpusim("run --seq 4k --pattern strided:3");
  CHECK(strided.exit_code == 2);
  CHECK(has(strided.err, "S x k = 6144 keys, more than L = 4096 (use strided:S with S <= 2)"));
  // 2^59 x 2048 wraps past 2^64 to 0: once accepted, now refused.
  auto wraps = run_tpusim("run --seq 4k --attention dsa --pattern strided:576460752303423488");
  CHECK(wraps.exit_code == 2);
  CHECK(has(wraps.err, "over 2^64"));
  CHECK(run_tpusim("run --seq 4k --pattern strided:2 --attention dsa").exit_code == 0);
  // Dense attention gathers nothing by the pattern.
  CHECK(run_tpusim("run --seq 4k --pattern strided:3 --attention dense").exit_code == 0);
  // A sweep refuses the point before it writes its CSV.
  TempDir dir;
  auto sweep = run_tpusim("sweep --seq 4k,8k --pattern strided:3 -o " + dir.path() + "/s.csv");
  CHECK(sweep.exit_code == 2);
  CHECK(has(sweep.err, "strided:3"));
  CHECK(fs::is_empty(dir.path()));
}

TEST_CASE("the layer count and a model file's values are bounded and located", "[cli][errors]") {
  // 2^40 layers once hung (the F layers were counted one by one); it is refused at once now,
  // and the F-layer count is closed-form: 2^20 layers of FSS hold ceil(2^20 / 3) F layers.
  auto many = run_tpusim("run --seq 4k --layers 99999999999");
  CHECK(many.exit_code == 2);
  CHECK(has(many.err, "--layers: 99999999999 layers is more than the 1048576"));
  auto most =
      run_tpusim("run --seq 4k --attention dsa --index-share FSS --layers 1m --format json");
  REQUIRE(most.exit_code == 0);
  CHECK(Json::parse(most.out)["index_share"]["f_layers"] == 349526);  // 1048576 = 3 x 349525 + 1
  TempDir dir;
  // A float where an integer belongs, and an unknown key: both named with their line.
  write_text(dir.path() + "/m.toml", "n_layers = 61\ndim = 1e12\n");
  auto f = run_tpusim("run --model " + dir.path() + "/m.toml");
  CHECK(f.exit_code == 2);
  CHECK(has(f.err, "m.toml:2: key 'dim' must be a positive integer"));
  write_text(dir.path() + "/u.toml", "n_layers = 61\n\nfoo = 3\n");
  auto u = run_tpusim("run --model " + dir.path() + "/u.toml");
  CHECK(u.exit_code == 2);
  CHECK(has(u.err, "u.toml:3: unknown key 'foo'"));
}

TEST_CASE("the timeline limit is a size and run --attention lists every choice", "[cli][errors]") {
  TempDir dir;
  const std::string t = " --timeline " + dir.path() + "/t.json --timeline-limit ";
  // "-3" was wrapped into a huge unsigned limit (no limit at all) and accepted.
  auto neg = run_tpusim("run" + kTiny + t + "-3");
  CHECK(neg.exit_code == 2);
  CHECK(has(neg.err, "--timeline-limit: '-3' is not a whole number >= 0"));
  auto big = run_tpusim("run" + kTiny + t + "99999999999999999999");
  CHECK(big.exit_code == 2);
  CHECK(has(big.err, "--timeline-limit: '99999999999999999999' is too large"));
  CHECK(fs::is_empty(dir.path()));
  CHECK(run_tpusim("run" + kTiny + "--attention dsa" + t + "1m").exit_code == 0);
  // run's default is both: the message lists it too.
  auto att = run_tpusim("run --attention dens");
  CHECK(att.exit_code == 2);
  CHECK(has(att.err, "--attention: 'dens' is not one of dense, dsa, both"));
}

TEST_CASE("a report and a timeline never share a file", "[cli][paths]") {
  TempDir dir;
  const std::string same = dir.path() + "/same.json";
  // One variant: both would go to same.json and the timeline would replace the report.
  auto one = run_tpusim("run" + kTiny + "--attention dsa -o " + same + " --timeline " + same);
  CHECK(one.exit_code == 2);
  CHECK(has(one.err, "-o and --timeline both write"));
  CHECK(fs::is_empty(dir.path()));
  // Both variants: the timelines are same.dense.json and same.dsa.json, so -o same.json is fine,
  // but -o same.dsa.json is not.
  auto clash = run_tpusim("run" + kTiny + "-o " + dir.path() + "/same.dsa.json --timeline " + same);
  CHECK(clash.exit_code == 2);
  CHECK(fs::is_empty(dir.path()));
  CHECK(run_tpusim("run" + kTiny + "-o " + same + " --timeline " + same).exit_code == 0);
}

TEST_CASE("the table says what ran: scope, clipped k, short prefill as MHA", "[cli][notes]") {
  auto layer = run_tpusim("run" + kTiny + "--scope layer --attention dsa");
  REQUIRE(layer.exit_code == 0);
  CHECK(has(layer.out, "tiny decode layer, L = 1k"));
  // k = 100000 at L = 1k: all 1024 tokens are selected.
  auto clip = run_tpusim("run --model tiny --seq 1k --topk 100000 --attention dsa");
  REQUIRE(clip.exit_code == 0);
  CHECK(has(clip.out, "k clipped to L"));
  auto clip_json =
      run_tpusim("run --model tiny --seq 1k --topk 100000 --attention dsa --format json");
  CHECK(Json::parse(clip_json.out)["lowering"]["topk_clipped_to"] == 1024);
  auto unclipped = run_tpusim("run" + kTiny + "--attention dsa --format json");
  CHECK_FALSE(Json::parse(unclipped.out)["lowering"].contains("topk_clipped_to"));
  // L = 1k <= k = 2048 with --short-prefill-mha: the DSA column is dense MHA.
  const std::string mha = "run --model tiny --phase prefill --seq 1k --short-prefill-mha";
  auto table = run_tpusim(mha);
  REQUIRE(table.exit_code == 0);
  CHECK(has(table.out, "note: the DSA column ran dense MHA"));
  auto json = run_tpusim(mha + " --attention dsa --format json");
  CHECK(Json::parse(json.out)["lowering"]["ran_as"] == "dense-mha");
  // The generated trace carries the workload, so trace run says the same.
  TempDir dir;
  const std::string trace = dir.path() + "/mha.trace";
  REQUIRE(
      run_tpusim("trace gen --model tiny --phase prefill --seq 1k --short-prefill-mha -o " + trace)
          .exit_code == 0);
  auto traced = run_tpusim("trace run " + trace);
  CHECK(has(traced.out, "note: the DSA column ran dense MHA"));
  auto plain =
      run_tpusim("run --model tiny --phase prefill --seq 1k --attention dsa --format json");
  CHECK_FALSE(Json::parse(plain.out)["lowering"].contains("ran_as"));
}

TEST_CASE("cli: --version prints the version and commit", "[cli]") {
  auto r = run_tpusim("--version");
  CHECK(r.exit_code == 0);
  CHECK(r.out.rfind("tpusim 0.", 0) == 0);
  CHECK((has(r.out, "(commit ") || has(r.out, "(git commit unknown)")));
}

TEST_CASE("a partial hardware file says which preset it extends", "[cli][config]") {
  TempDir dir;
  const std::string f = dir.path() + "/hw.toml";
  write_text(f, "extends = \"tpu-v6e\"\n[mxu]\ncount = 2\n");
  auto show = run_tpusim("hw show " + f);
  REQUIRE(show.exit_code == 0);
  CHECK(has(show.out, "# resolved configuration of " + f + " (extends tpu-v6e)"));
  auto v6e = run_tpusim("hw show tpu-v6e");
  // Everything but mxu.count comes from the preset: compare the clock line.
  auto clock_of = [](const std::string& toml) {
    auto at = toml.find("clock_ghz = ");
    return toml.substr(at, toml.find('\n', at) - at);
  };
  CHECK(clock_of(show.out) == clock_of(v6e.out));
  CHECK(has(show.out, "count = 2"));
  // The default base is tpu-v5e.
  write_text(f, "[mxu]\ncount = 2\n");
  CHECK(has(run_tpusim("hw show " + f).out, "(extends tpu-v5e)"));
  write_text(f, "\nextends = \"tpu-v9\"\n");
  auto bad = run_tpusim("hw show " + f);
  CHECK(bad.exit_code == 2);
  CHECK(has(bad.err, f + ":2: extends: unknown preset 'tpu-v9'"));
}

TEST_CASE("small CLI defects of issue 12", "[cli]") {
  auto limit = run_tpusim("run" + kTiny + "--timeline /tmp/x.json --timeline-limit 0");
  CHECK(limit.exit_code == 2);
  CHECK(has(limit.err, "--timeline-limit must be >= 1"));
  auto jobs = run_tpusim("sweep" + kTiny + "-j 0 -o /tmp/tpusim_never.csv");
  CHECK(jobs.exit_code == 2);
  CHECK(has(jobs.err, "-j: must be >= 1"));
  CHECK_FALSE(fs::exists("/tmp/tpusim_never.csv"));
  auto layers = run_tpusim("run" + kTiny + "--layers 0");
  CHECK(layers.exit_code == 2);
  CHECK(has(layers.err, "--layers"));
  auto help = run_tpusim("trace run --help");
  CHECK(help.exit_code == 0);
  CHECK_FALSE(has(help.out, "--attention both"));
  auto frac = run_tpusim("run --seq 1.5k");
  CHECK(frac.exit_code == 2);
  CHECK(has(frac.err, "--seq: '1.5k': fractions are not accepted"));
  auto neg = run_tpusim("hw show --set mxu.count=-2");
  auto zero = run_tpusim("hw show --set mxu.count=0");
  CHECK(neg.exit_code == 2);
  CHECK(zero.exit_code == 2);
  CHECK(has(neg.err, "mxu.count must be > 0 (got -2)"));
  CHECK(has(zero.err, "mxu.count must be > 0 (got 0)"));
  auto cli11 = run_tpusim("run --no-such-flag");
  CHECK(cli11.exit_code == 2);
  CHECK(cli11.err.rfind("tpusim: error: ", 0) == 0);
  auto missing = run_tpusim("sweep --seq 1k");  // -o is required
  CHECK(missing.exit_code == 2);
  CHECK(missing.err.rfind("tpusim: error: ", 0) == 0);
}

TEST_CASE("hw selftest --format json is machine-readable", "[cli]") {
  auto r = run_tpusim("hw selftest --format json");
  REQUIRE(r.exit_code == 0);
  const Json j = Json::parse(r.out);
  CHECK(j["tpusim_selftest"] == 1);
  REQUIRE(j["benchmarks"].size() > 3);
  const Json& first = j["benchmarks"][0];
  CHECK(first["name"] == "sequential read");
  CHECK(first["measured"]["value"].get<double>() > 0);
  CHECK(first["measured"]["unit"] == "GB/s");
}

TEST_CASE("hw selftest: 64 KiB loads stream at the stream's rate with instructions in flight",
          "[cli][dma]") {
  auto row = [](const std::string& sets) {
    return selftest_value(sets, "sequential, 64 KiB loads");
  };
  // tpu-v5e: 819 GB/s x (1 - 260/3900) = 764 GB/s with refresh. In flight (default 8 per
  // engine), the 1024 loads form one stream: at least 95% of it.
  CHECK(row("") >= 0.95 * 764);
  // One at a time, each engine pays the path latency per load: 234.75 + 14 (tRCD) + ~1 ns of
  // burst = 250 ns, then 64 KiB at a quarter of 764 GB/s = 343 ns; 4 x 65,536 B / 593 ns =
  // 442 GB/s.
  CHECK(row(" --set dma.max_in_flight=1") == Approx(442).epsilon(0.03));
}

TEST_CASE("hw selftest: the idle read measures the idle latency whatever hbm.refresh_start says",
          "[cli][hbm]") {
  auto idle_ns = [](const std::string& sets) {
    return selftest_value(sets, "idle latency, one burst");
  };
  // tpu-v5e: path latency 234.75 + tRCD 14 + one 32-B burst at 25.6 GB/s (1.25 ns) = 250 ns =
  // 375 cycles at 1.5 GHz, plus the one cycle the data's 32-B SRAM write takes on its bank: 376
  // cycles = 250.7 ns. With "phase" the refresh of
  // channel 0 (stagger offset 0) covers the first 260 ns, so a read there would take 510 ns;
  // channel 1's first refresh is 0.62 x 3900 ns in.
  CHECK(idle_ns("") == Approx(250.7).margin(0.5));
  CHECK(idle_ns(" --set hbm.refresh_start=phase") == Approx(250.7).margin(0.5));
}

TEST_CASE("hw selftest: a stream that may owe refreshes is held to the law with them owed",
          "[cli][hbm]") {
  // tpu-v5e, 64 MiB: T0 = 67,108,864 B / 819 GB/s = 81,940 ns. Paying every refresh the stream
  // runs at 819 x (1 - 260/3900) = 764 GB/s (99% of which the selftest measures). Owing eight
  // (hbm.refresh_postpone=8): T = (81,940 - 8 x 260) / (1 - 260/3900) = 85,564 ns, so
  // 67,108,864 B / 85,564 ns = 784 GB/s: faster than the unpostponed law, as the chip would be
  // until it paid them back.
  const double paid = selftest_value("", "sequential read");
  const double owed = selftest_value(" --set hbm.refresh_postpone=8", "sequential read");
  CHECK(paid <= 764);
  CHECK(owed > 764);
  CHECK(owed == Approx(784).epsilon(0.01));
}

TEST_CASE("hw selftest: the SRAM row measures every bank however coarse the interleave",
          "[cli][sram]") {
  // tpu-v5e with a 16-KiB interleave: the row's access (128 banks x 16 KiB x 256 rounds =
  // 512 MiB) is larger than the 128-MiB SRAM, which used to fail an internal check. Each bank
  // serves 256 granules of 16 KiB at 64 B a cycle (65,536 cycles), all banks at once: 128 x 64 B
  // x 1.5 GHz = 12.29 TB/s, the peak.
  const double tbs = selftest_value(" --set sram.interleave_bytes=16384", "SRAM, all banks");
  CHECK(tbs == Approx(12.29).epsilon(0.01));
}

TEST_CASE("run --attention both: children die with a SIGKILLed parent", "[cli]") {
  // The dense half of L = 20M runs for seconds; kill the parent while it does.
  const pid_t parent = ::fork();
  REQUIRE(parent >= 0);
  if (parent == 0) {
    ::execl(TPUSIM_BINARY, "tpusim", "run", "--seq", "20m", "-o", "/dev/null",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Find the simulating child (the parent's only child) once it exists.
  pid_t child = 0;
  for (int i = 0; i < 100 && child == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    child = child_of(parent);
  }
  REQUIRE(child > 0);
  ::kill(parent, SIGKILL);
  int status = 0;
  ::waitpid(parent, &status, 0);
  // PR_SET_PDEATHSIG delivers SIGKILL to the child; it is gone (or a zombie awaiting its reaper).
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    std::ifstream stat("/proc/" + std::to_string(child) + "/stat");
    std::string pid, comm, state;
    gone = !(stat >> pid >> comm >> state) || state == "Z" || state == "X";
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(gone);
  if (!gone) ::kill(child, SIGKILL);
}
