// SystolicTiming: SCALE-Sim closed forms, the pipelined law, fp8, traffic and utilisation.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "models/mxu.h"

using namespace tpusim;

namespace {

struct Shape {
  std::uint64_t m, n, k;
};

MxuConfig array(std::uint32_t rows, std::uint32_t cols, Dataflow df, MxuTimingMode mode) {
  MxuConfig cfg;
  cfg.rows = rows;
  cfg.cols = cols;
  cfg.dataflow = df;
  cfg.timing = mode;
  return cfg;
}

// Folds counted by walking the tiles, independent of the ceil-division in the model.
std::uint64_t tiles(std::uint64_t extent, std::uint64_t tile) {
  std::uint64_t count = 0;
  for (std::uint64_t x = 0; x < extent; x += tile)
    ++count;
  return count;
}

// SCALE-Sim v2 compute cycles (docs/ARCHITECTURE.md), written out per dataflow.
std::uint64_t scalesim_reference(const MxuConfig& cfg, const Shape& s) {
  const std::uint64_t r = cfg.rows, c = cfg.cols;
  if (cfg.dataflow == Dataflow::kWeightStationary)
    return tiles(s.k, r) * tiles(s.n, c) * (2 * r + c + s.m - 2) - 1;
  return tiles(s.m, r) * tiles(s.n, c) * (r + c + s.k - 2) - 1;
}

// Event model of double buffering, fold by fold, to check the closed pipelined law.
// WS: the shadow weight buffer loads fold f+1 (R cycles) once fold f has started streaming;
// a fold streams when its weights are in and the array is free; the last fold drains R+C-2.
// OS: a fold hands its outputs to the single shadow accumulator once it has streamed and the
// shadow has drained (R cycles) the previous fold; the next fold starts at that hand-over.
std::uint64_t pipelined_reference(const MxuConfig& cfg, const Shape& s, std::uint64_t stream) {
  const std::uint64_t r = cfg.rows, c = cfg.cols;
  if (cfg.dataflow == Dataflow::kWeightStationary) {
    const std::uint64_t folds = tiles(s.k, r) * tiles(s.n, c);
    std::uint64_t load_done = r, stream_end = 0;
    for (std::uint64_t f = 0; f < folds; ++f) {
      const std::uint64_t start = std::max(load_done, stream_end);
      stream_end = start + stream;
      load_done = std::max(load_done, start) + r;
    }
    return stream_end + r + c - 2;
  }
  const std::uint64_t folds = tiles(s.m, r) * tiles(s.n, c);
  std::uint64_t start = 0, drain_done = 0, handover = 0;
  for (std::uint64_t f = 0; f < folds; ++f) {
    handover = std::max(start + stream, drain_done);
    drain_done = handover + r;
    start = handover;
  }
  return handover + r + c - 2;
}

const std::vector<std::pair<std::uint32_t, std::uint32_t>> kArrays = {
    {8, 8}, {32, 32}, {128, 128}, {128, 64}, {16, 32}, {256, 128}};

// K < R, N < C, M = 1, exact multiples and non-multiples of every array above.
const std::vector<Shape> kShapes = {
    {1, 1, 1},    {1, 128, 128},  {1, 2048, 7168}, {4, 4, 3},
    {16, 16, 16}, {64, 96, 40},   {128, 128, 128}, {129, 130, 131},
    {300, 17, 5}, {512, 576, 64}, {7, 1000, 33},   {2048, 64, 576},
};

}  // namespace

TEST_CASE("mxu scalesim mode equals SCALE-Sim's closed forms on many shapes", "[mxu]") {
  int checked = 0;
  for (auto [r, c] : kArrays) {
    for (Dataflow df : {Dataflow::kWeightStationary, Dataflow::kOutputStationary}) {
      const MxuConfig cfg = array(r, c, df, MxuTimingMode::kScaleSim);
      SystolicTiming t(cfg);
      for (const Shape& s : kShapes) {
        INFO(r << "x" << c << (df == Dataflow::kWeightStationary ? " ws " : " os ") << s.m << ","
               << s.n << "," << s.k);
        CHECK(t.cycles(s.m, s.n, s.k, DType::kBf16) == scalesim_reference(cfg, s));
        ++checked;
      }
    }
  }
  CHECK(checked == 144);  // 6 arrays x 2 dataflows x 12 shapes
}

TEST_CASE("mxu scalesim hand-computed cycles", "[mxu]") {
  // 8x8 WS, M=N=K=16: folds 2*2 = 4; per fold 2*8 + 8 + 16 - 2 = 38; 4*38 - 1 = 151.
  CHECK(SystolicTiming(array(8, 8, Dataflow::kWeightStationary, MxuTimingMode::kScaleSim))
            .cycles(16, 16, 16, DType::kBf16) == 151);
  // 8x8 OS, M=N=K=16: folds ceil(16/8)*ceil(16/8) = 4; per fold 8 + 8 + 16 - 2 = 30; 119.
  CHECK(SystolicTiming(array(8, 8, Dataflow::kOutputStationary, MxuTimingMode::kScaleSim))
            .cycles(16, 16, 16, DType::kBf16) == 119);
  // 128x128 WS decode GEMV M=1, N=K=128: 1 fold of 256 + 128 + 1 - 2 = 383; minus 1 = 382.
  CHECK(SystolicTiming(array(128, 128, Dataflow::kWeightStationary, MxuTimingMode::kScaleSim))
            .cycles(1, 128, 128, DType::kBf16) == 382);
  // 128x128 OS, M=1, N=K=128: 1 fold of 128 + 128 + 128 - 2 = 382; minus 1 = 381.
  CHECK(SystolicTiming(array(128, 128, Dataflow::kOutputStationary, MxuTimingMode::kScaleSim))
            .cycles(1, 128, 128, DType::kBf16) == 381);
  // 32x16 WS (non-square), M=10, N=40, K=70: folds ceil(70/32)=3 * ceil(40/16)=3 = 9;
  // per fold 64 + 16 + 10 - 2 = 88; 9*88 - 1 = 791.
  CHECK(SystolicTiming(array(32, 16, Dataflow::kWeightStationary, MxuTimingMode::kScaleSim))
            .cycles(10, 40, 70, DType::kBf16) == 791);
}

TEST_CASE("mxu pipelined law matches a fold-by-fold double-buffer model", "[mxu]") {
  for (auto [r, c] : kArrays) {
    for (Dataflow df : {Dataflow::kWeightStationary, Dataflow::kOutputStationary}) {
      const MxuConfig cfg = array(r, c, df, MxuTimingMode::kPipelined);
      SystolicTiming pipe(cfg);
      SystolicTiming scale(array(r, c, df, MxuTimingMode::kScaleSim));
      for (const Shape& s : kShapes) {
        INFO(r << "x" << c << (df == Dataflow::kWeightStationary ? " ws " : " os ") << s.m << ","
               << s.n << "," << s.k);
        const std::uint64_t stream = df == Dataflow::kWeightStationary ? s.m : s.k;
        const Cycle p = pipe.cycles(s.m, s.n, s.k, DType::kBf16);
        CHECK(p == pipelined_reference(cfg, s, stream));
        // Overlap can only help, and one fold is SCALE-Sim's count as a duration (+1).
        const Cycle sc = scale.cycles(s.m, s.n, s.k, DType::kBf16);
        CHECK(p <= sc + 1);
        if (pipe.folds(s.m, s.n, s.k) == 1) CHECK(p == sc + 1);
      }
    }
  }
}

TEST_CASE("mxu pipelined hand-computed cycles", "[mxu]") {
  SystolicTiming ws(array(128, 128, Dataflow::kWeightStationary, MxuTimingMode::kPipelined));
  // M=N=K=256: F = 2*2 = 4, S = 256 >= R: 128 + 3*256 + 256 + (128+128-2) = 1406
  // (SCALE-Sim: 4*(256+128+256-2) - 1 = 2551).
  CHECK(ws.cycles(256, 256, 256, DType::kBf16) == 1406);
  // M=1, N=2048, K=7168 (decode projection): F = 56*16 = 896, S = 1 < R, so each fold but the
  // last is bounded by its R-cycle weight load: 128 + 895*128 + 1 + 254 = 114943.
  CHECK(ws.cycles(1, 2048, 7168, DType::kBf16) == 114943);
  SystolicTiming os(array(128, 128, Dataflow::kOutputStationary, MxuTimingMode::kPipelined));
  // OS M=256, N=128, K=64: F = 2*1 = 2, S = K = 64 < R: 1*128 + 64 + 254 = 446.
  CHECK(os.cycles(256, 128, 64, DType::kBf16) == 446);
  CHECK(ws.cycles(0, 128, 128, DType::kBf16) == 0);
}

TEST_CASE("mxu back-to-back matmuls carry the fold law across instructions", "[mxu]") {
  // The fold-by-fold double-buffer model of the test above, run over the folds of several
  // matmuls in a row (each taken when the previous one's last fold starts streaming, as MxuUnit
  // does): the closed schedule must give each matmul's end exactly.
  for (auto [r, c] : kArrays) {
    const MxuConfig cfg = array(r, c, Dataflow::kWeightStationary, MxuTimingMode::kPipelined);
    SystolicTiming t(cfg);
    const std::vector<Shape> seq = {{128, 256, 576}, {7, 1000, 33}, {512, 64, 64}, {1, 1, 1}};
    std::uint64_t load_done = r, stream_end = 0;  // reference state
    Cycle start = 0, fold_free = 0;               // closed schedule state
    for (const Shape& s : seq) {
      INFO(r << "x" << c << " " << s.m << "," << s.n << "," << s.k);
      for (std::uint64_t f = 0; f < t.folds(s.m, s.n, s.k); ++f) {
        const std::uint64_t begin = std::max(load_done, stream_end);
        stream_end = begin + s.m;
        load_done = std::max(load_done, begin) + r;
      }
      const FoldSchedule fs = t.schedule(s.m, s.n, s.k, DType::kBf16, start, fold_free);
      CHECK(fs.end == stream_end + r + c - 2);
      start = fs.last_fold;
      fold_free = fs.fold_free;
    }
  }
  SystolicTiming ws(array(128, 128, Dataflow::kWeightStationary, MxuTimingMode::kPipelined));
  // Two 256^3 matmuls (F = 4, S = 256): the first ends at 1406 as above; the second, taken when
  // the first's last fold starts (128 + 3*256 = 896), streams from 896 + 256 = 1152 and ends
  // four folds of 256 later: 2430 = 1406 + 1024, where two separate runs would take 2812.
  const FoldSchedule a = ws.schedule(256, 256, 256, DType::kBf16, 0, 0);
  CHECK(a.end == 1406);
  CHECK(a.last_fold == 896);
  CHECK(ws.schedule(256, 256, 256, DType::kBf16, a.last_fold, a.fold_free).end == 2430);
  // An idle array (fold_free at or before the start) pays the whole law again.
  CHECK(ws.schedule(256, 256, 256, DType::kBf16, 5000, a.fold_free).end == 5000 + 1406);
  // scalesim mode keeps SCALE-Sim's serial count: no overlap, taken again only at the end.
  SystolicTiming sc(array(128, 128, Dataflow::kWeightStationary, MxuTimingMode::kScaleSim));
  const FoldSchedule b = sc.schedule(256, 256, 256, DType::kBf16, 0, 0);
  CHECK(b.end == 2551);
  CHECK(b.last_fold == b.end);
}

TEST_CASE("mxu fp8 divides the streaming part by fp8_rate", "[mxu]") {
  MxuConfig cfg = array(128, 128, Dataflow::kWeightStationary, MxuTimingMode::kPipelined);
  SystolicTiming t(cfg);
  // M=256, N=K=128, one fold: bf16 128 + 256 + 254 = 638; fp8 streams 256/2 = 128: 510.
  CHECK(t.cycles(256, 128, 128, DType::kBf16) == 638);
  CHECK(t.cycles(256, 128, 128, DType::kFp8) == 510);
  // Odd M rounds the stream up: ceil(129/2) = 65 -> 128 + 65 + 254 = 447.
  CHECK(t.cycles(129, 128, 128, DType::kFp8) == 447);
  cfg.timing = MxuTimingMode::kScaleSim;
  // scalesim fp8: 1 fold of 2*128 + 128 + 128 - 2 = 510, minus 1 = 509.
  CHECK(SystolicTiming(cfg).cycles(256, 128, 128, DType::kFp8) == 509);
}

TEST_CASE("mxu folds, traffic and utilisation", "[mxu]") {
  SystolicTiming ws(array(128, 128, Dataflow::kWeightStationary, MxuTimingMode::kPipelined));
  CHECK(ws.folds(64, 300, 200) == 2 * 3);  // ceil(200/128) * ceil(300/128)
  // WS m=64, n=300, k=200, bf16: A = 64*200*2 B re-read for ceil(300/128) = 3 column folds =
  // 76800; B = 200*300*2 = 120000; C = 64*300*2 (bf16 out) = 38400.
  MatmulTraffic t = ws.traffic(64, 300, 200, DType::kBf16);
  CHECK(t.a_bytes == 76800);
  CHECK(t.b_bytes == 120000);
  CHECK(t.c_bytes == 38400);
  // fp8 halves the operands, not the bf16 output.
  t = ws.traffic(64, 300, 200, DType::kFp8);
  CHECK(t.a_bytes == 38400);
  CHECK(t.b_bytes == 60000);
  CHECK(t.c_bytes == 38400);
  // OS m=300: B is streamed again for each of ceil(300/128) = 3 row folds: 3*120000.
  SystolicTiming os(array(128, 128, Dataflow::kOutputStationary, MxuTimingMode::kPipelined));
  CHECK(os.folds(300, 300, 200) == 3 * 3);
  CHECK(os.traffic(300, 300, 200, DType::kBf16).b_bytes == 360000);
  // 128^3 MACs in 128 + 128 + 254 = 510 cycles on 128*128 PEs: 128/510.
  const Cycle cyc = ws.cycles(128, 128, 128, DType::kBf16);
  CHECK(cyc == 510);
  CHECK(ws.utilization(128, 128, 128, cyc) == Approx(128.0 / 510.0));
  CHECK(ws.utilization(1, 1, 1, 0) == 0.0);
}

namespace {

// One indexer key tile: 128 keys x 128 dims (A) against 64 heads (B), fp8.
Instruction indexer_tile() {
  Instruction mm;
  mm.op = Op::kMxuMatmul;
  mm.m = 128;
  mm.n = 64;
  mm.k = 128;
  mm.dtype = DType::kFp8;
  mm.a = {Space::kSram, 0};
  mm.b = {Space::kSram, 1 << 20};
  mm.c = {Space::kSram, 2 << 20};
  return mm;
}

}  // namespace

TEST_CASE("mxu held weights: tiles against one B stream like one long matmul", "[mxu]") {
  // The indexer's shape on a 128x128 WS array: 128 key rows x 128 dims against 64 heads, fp8
  // (fp8_rate 2: S' = 64). Alone: R + S' + (R + C - 2) = 128 + 64 + 254 = 446.
  SystolicTiming t(array(128, 128, Dataflow::kWeightStationary, MxuTimingMode::kPipelined));
  REQUIRE(t.can_hold(128, 64, 128));
  const FoldSchedule a = t.schedule(128, 64, 128, DType::kFp8, 0, 0);
  CHECK(a.end == 446);
  CHECK(a.last_fold == 128);
  // The next tile, taken when the first starts streaming (128) and finding B held, streams as
  // soon as the first has streamed (192): 192 + 64 + 254 = 510. A third streams at 256 and ends
  // at 574 = R + 3 S' + R + C - 2, exactly one 384-row matmul: the weights loaded once.
  const FoldSchedule b = t.schedule(128, 64, 128, DType::kFp8, a.last_fold, a.fold_free, true);
  CHECK(b.end == 510);
  const FoldSchedule c = t.schedule(128, 64, 128, DType::kFp8, b.last_fold, b.fold_free, true);
  CHECK(c.end == 574);
  CHECK(c.end == t.cycles(384, 64, 128, DType::kFp8));
  // Reloading instead, each tile waits for its R-cycle load from its own start: 128 apart.
  const FoldSchedule b2 = t.schedule(128, 64, 128, DType::kFp8, a.last_fold, a.fold_free);
  CHECK(b2.end == 574);
  const FoldSchedule c2 = t.schedule(128, 64, 128, DType::kFp8, b2.last_fold, b2.fold_free);
  CHECK(c2.end == 702);
  // Only one fold's weights can stay: K or N beyond the array, scalesim mode, output-stationary
  // dataflow and mxu.hold_weights = false never hold.
  CHECK_FALSE(t.can_hold(128, 64, 129));
  CHECK_FALSE(t.can_hold(128, 129, 128));
  CHECK_FALSE(SystolicTiming(array(128, 128, Dataflow::kWeightStationary, MxuTimingMode::kScaleSim))
                  .can_hold(128, 64, 128));
  CHECK_FALSE(
      SystolicTiming(array(128, 128, Dataflow::kOutputStationary, MxuTimingMode::kPipelined))
          .can_hold(128, 64, 128));
  MxuConfig off = array(128, 128, Dataflow::kWeightStationary, MxuTimingMode::kPipelined);
  off.hold_weights = false;
  CHECK_FALSE(SystolicTiming(off).can_hold(128, 64, 128));
}

TEST_CASE("mxu held weights are dropped by any write that touches them", "[mxu]") {
  const Instruction mm = indexer_tile();  // B: 128 x 64 fp8 = 8 KiB at [1 MiB, 1 MiB + 8 KiB)
  HeldWeights held(2);
  CHECK_FALSE(held.holds(0, mm));
  held.hold(0, mm);
  held.hold(1, mm);
  CHECK(held.holds(0, mm));
  // Another shape or dtype at the same address is other weights.
  Instruction other = mm;
  other.n = 32;
  CHECK_FALSE(held.holds(0, other));
  other = mm;
  other.dtype = DType::kBf16;
  CHECK_FALSE(held.holds(0, other));
  // Writes that end at B or start past it leave it; one byte inside drops it on every array.
  held.written(0, 1 << 20);
  held.written((1 << 20) + 8192, 4096);
  CHECK(held.holds(0, mm));
  CHECK(held.holds(1, mm));
  held.written((1 << 20) + 8191, 1);
  CHECK_FALSE(held.holds(0, mm));
  CHECK_FALSE(held.holds(1, mm));
  // A matmul whose C lands on its own B leaves nothing to reuse.
  Instruction self = mm;
  self.c = self.b;
  held.hold(0, self);
  CHECK_FALSE(held.holds(0, self));
}

TEST_CASE("mxu core counts the matmuls that found their weights held", "[mxu]") {
  SramTiming sram{SramConfig{}};
  MxuCore core(array(128, 128, Dataflow::kWeightStationary, MxuTimingMode::kPipelined), sram);
  const Instruction mm = indexer_tile();
  // The operands (16 + 8 + 16 KiB) take the banks far less than the array's 446 cycles.
  const MxuCore::Issue first = core.issue(mm, 0);
  CHECK(first.end == 446);
  const MxuCore::Issue second = core.issue(mm, first.accept_next);
  CHECK(second.end == 510);
  CHECK(core.stats().held_weights == 1);
  // Another B in between: the array holds that one now and must load the first again.
  Instruction other = mm;
  other.b = {Space::kSram, 3 << 20};
  const MxuCore::Issue third = core.issue(other, second.accept_next);
  core.issue(mm, third.accept_next);
  CHECK(core.stats().held_weights == 1);
}

TEST_CASE("mxu output-stationary matmuls back to back still wait for the shadow drain", "[mxu]") {
  // OS, 128x128, K = 64 < R: one fold streams S = 64 and hands its outputs to the shadow
  // accumulators, which drain for R = 128. A second one-fold matmul must wait for that drain,
  // exactly like the second fold of one two-fold matmul: (F-1) max(S, R) + S + R + C - 2 with
  // F = 2 is 128 + 64 + 254 = 446 (the fold-by-fold reference above gives the same).
  SystolicTiming os(array(128, 128, Dataflow::kOutputStationary, MxuTimingMode::kPipelined));
  const FoldSchedule a = os.schedule(128, 128, 64, DType::kBf16, 0, 0);
  CHECK(a.end == 318);
  CHECK(os.schedule(128, 128, 64, DType::kBf16, a.last_fold, a.fold_free).end == 446);
  CHECK(os.cycles(256, 128, 64, DType::kBf16) == 446);
}
