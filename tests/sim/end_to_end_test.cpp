// End to end: a generated decode step runs on the simulated chip, and the bytes the HBM model
// actually moved equal the closed forms of docs/DSA.md section 5 (DeepSeek-V3.2, FP8 MLA
// cache of 656 B/token, indexer keys of 132 B/token, 128 heads x 576 bf16 queries).
#include <catch2/catch.hpp>

#include "sim/config.h"
#include "sim/simulation.h"
#include "workloads/workload.h"

using namespace tpusim;

namespace {

RunResult simulate_decode(Attention att, std::uint64_t seq, std::uint64_t topk) {
  HwConfig hw = load_hw_config(kDefaultPreset);
  WorkloadParams p;
  p.attention = att;
  p.seq = seq;
  p.topk = topk;
  GeneratedTrace g = generate_workload(p, hw);
  PackedSource src(g.instructions);
  return simulate(hw, src, g.tags, SimOptions{});
}

// Bytes every decode step moves besides the caches (§9.1): the queries in, the outputs out.
constexpr double kQBytes = 128.0 * 576 * 2;  // 147,456
constexpr double kOBytes = 128.0 * 512 * 2;  // 131,072

}  // namespace

TEST_CASE("end to end: dense decode reads the whole MLA cache once", "[e2e]") {
  const double L = 32768;
  RunResult r = simulate_decode(Attention::kDense, 32768, 2048);
  // Reads: every cached row once (656 * L) + Q.
  const double read = 656 * L + kQBytes;
  // Writes: the new token's cache row + O.
  const double write = 656 + kOBytes;
  CHECK(static_cast<double>(r.hbm.read_bytes) == Approx(read).epsilon(0.01));
  CHECK(static_cast<double>(r.hbm.write_bytes) == Approx(write).epsilon(0.01));
  // Every byte is counted once: what HBM served equals what the trace declared.
  CHECK(r.hbm.read_bytes + r.hbm.write_bytes == r.stats.declared_hbm_bytes);
  CHECK(r.cycles > 0);
}

TEST_CASE("end to end: DSA decode reads the indexer keys and k gathered rows", "[e2e]") {
  const double L = 32768, k = 2048;
  RunResult r = simulate_decode(Attention::kDsa, 32768, 2048);
  const double read = 132 * L                // every indexer key
                      + 656 * k              // the k selected MLA rows, gathered
                      + 8192                 // indexer query, 64 heads x 128 fp8
                      + 256                  // per-head weights, 64 x fp32
                      + kQBytes;             // MLA query
  const double write = 656 + 132 + kOBytes;  // new MLA row and key, O
  CHECK(static_cast<double>(r.hbm.read_bytes) == Approx(read).epsilon(0.01));
  CHECK(static_cast<double>(r.hbm.write_bytes) == Approx(write).epsilon(0.01));
  CHECK(r.hbm.read_bytes + r.hbm.write_bytes == r.stats.declared_hbm_bytes);
}

TEST_CASE("end to end: DSA at L <= k still pays the indexer and attends to all L", "[e2e]") {
  const double L = 1024;
  RunResult r = simulate_decode(Attention::kDsa, 1024, 2048);
  const double read = 132 * L + 656 * L + 8192 + 256 + kQBytes;
  CHECK(static_cast<double>(r.hbm.read_bytes) == Approx(read).epsilon(0.01));
}
