// The top-k laws (traces/FORMAT.md "vpu.topk", docs/DSA.md section 9): radix select against the
// guided select of --topk-algo guess, from first principles, and their VPU timing.
#include <catch2/catch.hpp>

#include "models/vpu.h"
#include "tests/traces/trace_test_util.h"
#include "traces/isa.h"
#include "workloads/params.h"
#include "workloads/workload.h"

using namespace tpusim;

TEST_CASE("guided top-k: candidates and remaining radix passes follow the overlap",
          "[models][topk]") {
  // 4 passes of 8-bit digits (256 buckets). Surplus s = C - K; passes r: the smallest with
  // 256^r >= s + 1. s = 0 -> 0; s = 1..255 -> 1; s = 256..65535 -> 2.
  CHECK(topk_refine_passes(2048, 2048, 4) == 0);
  CHECK(topk_refine_passes(2048, 2049, 4) == 1);
  CHECK(topk_refine_passes(2048, 2048 + 255, 4) == 1);
  CHECK(topk_refine_passes(2048, 2048 + 256, 4) == 2);
  CHECK(topk_refine_passes(2048, 4096, 4) == 2);
  CHECK(topk_refine_passes(2048, 4096, 1) == 1);  // one 32-bit pass at most

  // Candidates: C = k + round((1 - F) k), capped at n. F = 0.6, k = 2048: 2048 + 819 = 2867.
  WorkloadParams p;
  p.topk_algo = TopkAlgo::kGuess;
  p.step_overlap = 0.6;
  CHECK(topk_guess_candidates(p, 32768, 2048) == 2867);
  p.step_overlap = 1.0;
  CHECK(topk_guess_candidates(p, 32768, 2048) == 2048);
  p.step_overlap = 0.0;
  CHECK(topk_guess_candidates(p, 32768, 2048) == 4096);
  CHECK(topk_guess_candidates(p, 3000, 2048) == 3000);
  CHECK(topk_guess_candidates(p, 2048, 2048) == 0);  // L <= k: nothing to select
  p.topk_algo = TopkAlgo::kRadix;
  CHECK(topk_guess_candidates(p, 32768, 2048) == 0);

  // Score reads per row at n = 128k, k = 2048, F = 0.6 (C = 2867, r = 2):
  // radix 4 x 131072 = 524,288; guided 2048 + 131072 + 2 x 2867 = 138,854 (3.78x fewer).
  CHECK(topk_score_reads(131072, 2048, 0, 4) == 524288);
  CHECK(topk_score_reads(131072, 2048, 2867, 4) == 138854);
  CHECK(topk_lane_ops(131072, 2048, 2867, 4) == 138854 + 2048);
}

TEST_CASE("guided top-k runs on the VPU by its law; without cand nothing changes",
          "[models][topk]") {
  VpuTiming vpu{VpuConfig{}};  // 1024 lanes, 8-cycle latency, 4 passes
  Instruction in;
  in.op = Op::kVpuTopk;
  in.rows = 1;
  in.n = 131072;
  in.k = 2048;
  // Radix: 8 + ceil((4 x 131072 + 2048) / 1024) = 8 + 514 = 522 cycles; reads 4 x 131072 x 4 B.
  CHECK(vpu.cycles(in) == 522);
  CHECK(vpu.read_bytes(in) == 4 * 131072 * 4);
  // Guided, C = 2867: 8 + ceil(140,902 / 1024) = 8 + 138 = 146 cycles; reads 138,854 x 4 B.
  in.cand = 2867;
  CHECK(vpu.cycles(in) == 146);
  CHECK(vpu.read_bytes(in) == 138854 * 4);
  // A trace line without cand= reads as a radix select (format v1 unchanged).
  auto v = test::read_all(
      test::with_header("0 vpu.topk rows=1 n=4096 k=2048 src=sram:0 dst=sram:65536\n"
                        "1 vpu.topk rows=1 n=4096 k=2048 cand=2500 src=sram:0 dst=sram:65536\n"));
  CHECK(v[0].cand == 0);
  CHECK(v[1].cand == 2500);
  CHECK(test::error_of(test::with_header(
                           "0 vpu.topk rows=1 n=4096 k=2048 cand=100 src=sram:0 dst=sram:65536\n"))
            .find("cand=100") != std::string::npos);
}
