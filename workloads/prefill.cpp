// One prefill chunk of one layer: T new tokens at positions P0 = L - T .. L - 1 of each of B
// sequences, causal.
//
// Dense, MQA mode: flash attention of query tiles (Tq tokens x 128 heads share each KV tile)
// over the FP8 MLA cache. Keys before the tile's first query are visible to all its queries and
// stream in Tk-token tiles; the tile's own diagonal block [P0+q0, P0+q1) is loaded once and
// attended in sub-blocks of kDiagRows queries, each over the keys up to its last query, so
// masked work is at most T*(kDiagRows-1)/2 pairs (0.17% of T^2/2 at T = 4k).
// Dense, MHA mode (V3.1 practice): first every visible latent row is decompressed once with
// wkv_b (33.6 MFLOP per token) into per-head K_nope/V plus the shared k_pe, written to HBM; then
// the same flash loop runs with 128 heads, d_qk 192, d_v 128 over those expanded rows. Heads are
// batched into the matmul's m (same folds as 128 head matmuls in pipelined mode).
// DSA: per indexer query tile, fp8 logits against every visible key (same full/diagonal split),
// top-k per query row on chip; then sparse MLA (MQA mode) per group of Tq_a queries.
//
// Gather choice (docs/DSA.md section 5.3 counts "up to 656*S"): each query gathers its own
// min(k, visible) rows, as FlashMLA's sparse prefill kernel does (one query per CTA, no reuse
// across queries). Sparse-attention HBM bytes are therefore exactly 656 * S. A group's queries
// are concatenated along n (128 heads x sum of their selections), so FLOPs equal
// 278,528 * S exactly.
#include <algorithm>
#include <functional>
#include <memory>
#include <string>

#include "base/cycle.h"
#include "base/error.h"
#include "workloads/lowering.h"

namespace tpusim {
namespace {

// Query rows per diagonal sub-block: the masked waste is (kDiagRows-1)/2 pairs per query, while
// m = heads x kDiagRows still fills the MXU's rows.
constexpr std::uint64_t kDiagRows = 8;
// Key tiles of this many MXU column folds amortise each tile's fixed costs (DMA latency, array
// fill) while keeping the scores tile small enough for large query tiles.
constexpr std::uint64_t kKeyTileFolds = 8;
constexpr std::uint64_t kIndexerKeyTileFolds = 16;
// DSA prefill: queries whose Q loads and O stores are batched (each query is its own chain).
constexpr std::uint64_t kSparseQueryGroup = 16;
// Dense MQA: every KV tile is pushed once per query sub-block (mxu.count of them), so its tiles
// are longer, keeping T = 4k at L = 128k under 150k instructions.
constexpr std::uint64_t kMqaKeyTileFolds = 32;
// Staging for the new tokens' cache rows (they are produced on chip a tile at a time).
constexpr std::uint64_t kAppendRows = 1024;

std::uint64_t align_down(std::uint64_t x, std::uint64_t a) {
  return x >= a ? x / a * a : x;
}

struct Geometry {
  std::uint64_t B, L, T, P0, h, row, kb, hi, di, k;
};

/// Staging buffer for the new rows, kept for the whole step so nothing overwrites it while the
/// appends still read it.
std::uint64_t alloc_append_stage(LoweringContext& c, const Geometry& g) {
  return c.tb.sram_alloc(std::min(g.T, kAppendRows) * (g.row + g.kb), "new cache rows");
}

/// Stores the chunk's new MLA rows (and indexer keys) of sequence b; returns their ids.
Ids append_chunk(LoweringContext& c, const Geometry& g, std::uint64_t stage, std::uint64_t b,
                 std::uint64_t kv_cache, std::uint64_t key_cache, bool dsa) {
  const std::uint64_t rows = std::min(g.T, kAppendRows);
  Ids ids;
  for (std::uint64_t a = 0; a < g.T; a += rows) {
    std::uint64_t n = std::min(rows, g.T - a), pos = g.P0 + a;
    store_rows(c, kTagKvAppend, stage, kv_cache + (b * g.L + pos) * g.row, n, g.row, {}, ids);
    if (dsa)
      store_rows(c, kTagKvAppend, stage + rows * g.row, key_cache + (b * g.L + pos) * g.kb, n, g.kb,
                 {}, ids);
  }
  return ids;
}

/// A tiny vector op that completes after all `ids`: a fence so one dependency stands for many.
std::uint64_t fence(LoweringContext& c, std::string_view tag, const Ids& ids, std::uint64_t addr) {
  return c.tb.vpu(tag, Op::kVpuScale, 1, addr, addr, ids);
}

// ---------------------------------------------------------------------------------------------
// Dense attention, MQA mode over the latent cache.
//
// A query tile (Tq tokens x 128 heads) is split into P = mxu.count sub-blocks, each its own
// online-softmax chain with its own accumulator rows; for every KV tile the sub-blocks are
// pushed in turn, so the in-order MXU queue holds P independent matmuls (one chain per tile
// would keep at most two arrays busy).

void mqa_prefill(LoweringContext& c, const Geometry& g) {
  TraceBuilder& tb = c.tb;
  const ModelConfig& md = c.model;
  const std::uint64_t cols = c.hw.mxu.cols;
  const std::uint64_t d_qk = md.mqa_qk_dim(), d_v = md.mqa_v_dim();
  const std::uint64_t slot_row = std::max(g.row, d_qk * kBf16);
  const std::uint64_t q_tok = g.h * d_qk * kBf16, o_tok = g.h * d_v * kBf16;
  const std::uint64_t parts = std::max<std::uint64_t>(1, c.hw.mxu.count);
  const std::size_t slots = parts + 1;  // one per array, one being softmaxed

  const std::uint64_t kv_cache = tb.hbm_region("mla_cache", g.B * g.L * g.row);
  const std::uint64_t q_hbm = tb.hbm_region("q", g.B * g.T * q_tok);
  const std::uint64_t o_hbm = tb.hbm_region("o", g.B * g.T * o_tok);
  const std::uint64_t stage = alloc_append_stage(c, g);

  // Query and key tiles (the same for every sequence). Per query: Q and accumulators in both
  // sets, and its share of the pipeline's score and partial slots (a push is a sub-block).
  const std::uint64_t free = tb.sram_free();
  const std::uint64_t tk = fit_tile(free / 2, 2 * slot_row, 0,
                                    std::min(g.L, kMqaKeyTileFolds * cols), cols, "prefill KV");
  const std::uint64_t per_query =
      2 * q_tok + 2 * g.h * d_v * kFp32 + ceil_div(slots * g.h * (tk + d_v) * kFp32, parts);
  std::uint64_t tq = fit_tile(free - 2 * tk * slot_row, per_query, (slots + 8) * 2 * 512,
                              std::min(g.T, tk), kDiagRows, "prefill query");
  tq = align_down(tq, kDiagRows);
  const std::uint64_t sub = std::max(kDiagRows, align_down(ceil_div(tq, parts), kDiagRows));
  tb.meta("tile.prefill_key_tokens", std::to_string(tk));
  tb.meta("tile.prefill_query_tokens", std::to_string(tq));

  std::uint64_t sum_visible = 0;  // sum over query tiles of P0 + q1 (keys each tile reads)
  for (std::uint64_t b = 0; b < g.B; ++b) {
    const Ids append = append_chunk(c, g, stage, b, kv_cache, 0, false);
    const std::uint64_t src_table = kv_cache + b * g.L * g.row;

    std::uint64_t mark = tb.sram_mark();
    FlashPipeline pipe(tb, d_qk, d_v, g.h * sub, tk, slots, slots - 2);
    BufferRing kv(tb, 2, tk * slot_row, "prefill KV");
    std::uint64_t q_buf[2], acc_buf[2];
    Ids release[2];
    for (int i = 0; i < 2; ++i) {
      q_buf[i] = tb.sram_alloc(tq * q_tok, "prefill query");
      acc_buf[i] = tb.sram_alloc(tq * g.h * d_v * kFp32, "prefill accumulator");
    }
    auto load_kv = [&](std::uint64_t a, std::uint64_t e, Ids& ready) {
      std::size_t slot;
      Ids deps = take_flash_slot(kv, pipe, slot);
      if (e > g.P0) deps.insert(deps.end(), append.begin(), append.end());
      load_rows(c, kTagAttnLoad, src_table + a * g.row, kv.addr[slot], e - a, g.row, deps, ready);
      return slot;
    };

    std::uint64_t tile_index = 0;
    for (std::uint64_t q0 = 0; q0 < g.T; q0 += tq, ++tile_index) {
      const std::uint64_t q1 = std::min(g.T, q0 + tq), nq = q1 - q0, set = tile_index % 2;
      sum_visible += g.P0 + q1;
      Ids q_deps = release[set];
      q_deps.insert(q_deps.end(), c.proj_ready.begin(), c.proj_ready.end());
      Ids q_ready = {
          tb.load(kTagAttnLoad, q_hbm + (b * g.T + q0) * q_tok, q_buf[set], nq * q_tok, q_deps)};
      // `first`: the tile holds key 0, the first every query of the block sees.
      auto push = [&](std::size_t slot, std::uint64_t r0, std::uint64_t r1, std::uint64_t n,
                      const Ids& ready, bool first) {
        kv.last_push[slot] = pipe.push({g.h * (r1 - r0), n, q_buf[set] + r0 * q_tok, kv.addr[slot],
                                        acc_buf[set] + r0 * g.h * d_v * kFp32, ready, first});
      };
      // Keys before the first query: visible to every query of the tile.
      for_each_tile(0, g.P0 + q0, 0, tk, [&](std::uint64_t a, std::uint64_t e) {
        Ids ready = q_ready;
        std::size_t slot = load_kv(a, e, ready);
        for (std::uint64_t r0 = 0; r0 < nq; r0 += sub)
          push(slot, r0, std::min(nq, r0 + sub), e - a, ready, a == 0);
      });
      // The diagonal block, causal in sub-blocks.
      Ids ready = q_ready;
      std::size_t slot = load_kv(g.P0 + q0, g.P0 + q1, ready);
      for (std::uint64_t r0 = 0; r0 < nq; r0 += kDiagRows) {
        std::uint64_t r1 = std::min(nq, r0 + kDiagRows);
        push(slot, r0, r1, r1, ready, g.P0 + q0 == 0);
      }
      const Ids merged = pipe.flush();
      std::uint64_t norm = tb.vpu(kTagAttnSoftmax, Op::kVpuScale, nq * g.h * d_v, acc_buf[set],
                                  acc_buf[set], merged);
      release[set].clear();
      store_rows(c, kTagAttnPv, acc_buf[set], o_hbm + (b * g.T + q0) * o_tok, nq, o_tok, {norm},
                 release[set]);
    }
    tb.sram_release(mark);
  }

  WorkloadClosedForm& cf = *c.closed_form;
  cf.hbm_read_bytes += g.B * g.T * q_tok + g.row * sum_visible;  // Q, keys per query tile
  cf.hbm_write_bytes += g.B * g.T * (g.row + o_tok);             // appended rows, O
}

// ---------------------------------------------------------------------------------------------
// Dense MHA (V3.1 practice), head-blocked flash attention.
//
// Expanded K/V are 65,536 B per token (128 heads x [K_nope; V] bf16) plus the shared 128-B
// k_pe: far too big to keep, and re-read by every query tile if the loop is query-major. So the
// loop is head-major: for a group of G heads, the whole chunk's queries (T x G x 192 bf16) and
// accumulators (T x G x 128 fp32, plus row max and sum) stay in SRAM while that group's K/V
// stream past once. The decompression writes each group's slice contiguously (head-major), and
// k_pe once beside it; every group reads its slice and k_pe once:
//   expanded reads = (L) x (H x 512 + (H / G) x 128)   instead of (T / Tq) x (L) x 65,664.
// G is the largest divisor of H whose queries and accumulators fit beside the streaming
// buffers. If not even G = 1 fits the whole chunk, the chunk is cut into query super-tiles of
// Ts tokens, each re-streaming the keys it sees (the closed form sums what is read).
//
// Inside a group, query blocks of Tq tokens (m = G x Tq score rows per push; heads batched into
// m, which costs the same folds as G separate head matmuls when Tq >= R) are independent
// online-softmax chains; for each key tile every visible block is pushed in turn, so the
// in-order MXU queue always holds matmuls of different chains and all arrays work. Blocks on
// the diagonal run in sub-blocks of mxu.rows queries over the keys up to their last query.

// Score rows per push (G heads x Tq queries). Half as many as the 32 folds this used to be: the
// score slots then leave room for a head group four times larger on tpu-v5e (G = 16, Tq = 128
// instead of G = 4, Tq = 1024), so each KV tile serves more heads and a causal chunk has many
// short query blocks instead of a few long ones whose chains end at very different times (at
// T = 4k from position 0 the MXUs were half idle). T = 4k at L = 128k stays under 150k
// instructions; smaller pushes would not (8 folds doubled the trace and the resident set).
constexpr std::uint64_t kMhaPushRowFolds = 16;
// Query-block granule. Diagonal sub-blocks are at least this and at least one fold of array
// rows: sub-blocks of 16 queries made pushes of 16 G score rows whose fixed costs (fill, drain,
// a softmax instruction each) outweighed the masked pairs saved; a sub-block of R queries
// wastes (R - 1) / 2 pairs per query (3% of a 4k chunk from position 0 at R = 128).
constexpr std::uint64_t kMhaDiagRows = 16;
// KV slots per stream: loads run a tile ahead of the tile whose pushes are in flight.
constexpr std::size_t kMhaKvSlots = 3;

struct MhaPlan {
  std::uint64_t G = 1, tq = 1, tk = 1, ts = 1;
  std::size_t slots = 2;
};

void mha_prefill(LoweringContext& c, const Geometry& g) {
  TraceBuilder& tb = c.tb;
  const ModelConfig& md = c.model;
  const std::uint64_t cols = c.hw.mxu.cols, rows = c.hw.mxu.rows;
  const std::uint64_t H = g.h, dn = md.qk_nope_head_dim, dr = md.qk_rope_head_dim;
  const std::uint64_t dv = md.v_head_dim, dqk = md.mha_qk_dim(), lora = md.kv_lora_rank;
  const std::uint64_t head_kv = (dn + dv) * kBf16;  // one head's K_nope and V of one token
  const std::uint64_t kpe_row = dr * kBf16;         // the shared rope key of one token
  const std::uint64_t q_head = dqk * kBf16, o_head = dv * kBf16;
  const std::uint64_t exp_cols = H * (dn + dv);       // wkv_b outputs
  const std::uint64_t wkv_b_bytes = lora * exp_cols;  // fp8 weights

  // HBM. Q, O and the expanded K/V are head-group-major: [b][group][token][G heads].
  const std::uint64_t kv_cache = tb.hbm_region("mla_cache", g.B * g.L * g.row);
  const std::uint64_t q_hbm = tb.hbm_region("q", g.B * g.T * H * q_head);
  const std::uint64_t o_hbm = tb.hbm_region("o", g.B * g.T * H * o_head);
  const std::uint64_t expanded = tb.hbm_region("expanded_kv", g.B * g.L * H * head_kv);
  const std::uint64_t kpe_hbm = tb.hbm_region("expanded_kpe", g.B * g.L * kpe_row);
  const std::uint64_t wkv_b_hbm = tb.hbm_region("wkv_b", wkv_b_bytes);
  const std::uint64_t stage = alloc_append_stage(c, g);
  // Streamed tiles go to half the DMA engines each, so two are in flight and their latency
  // ramps stagger (as in decode).
  const std::uint64_t stream_pieces = std::max<std::uint64_t>(1, c.hw.dma.engines / 2);

  // Plan: the largest head group whose whole chunk fits beside pushes of the target size; if
  // none does, G = 1 with smaller pushes; if still not, query super-tiles.
  const std::uint64_t free = tb.sram_free();
  MhaPlan plan;
  plan.tk = std::min(g.L, kKeyTileFolds * cols);
  // Score slots: one per array plus one being softmaxed on the VPU; pv's trail their qk's by
  // mxu.count - 1 pushes so the VPU (the bottleneck at d_qk = 192: 6 passes per score against
  // 320 MACs) always finds a finished qk to work on.
  plan.slots = c.hw.mxu.count + 1;
  std::uint64_t fixed = 0, per_token = 0;
  auto size = [&](std::uint64_t G, std::uint64_t tq) {
    plan.G = G;
    plan.tq = tq;
    fixed = FlashPipeline::sram_bytes(dv, G * tq, plan.tk, plan.slots) +
            kMhaKvSlots * (plan.tk * (G * head_kv + kpe_row) + 2 * 512) + 8 * 512;
    per_token = G * (q_head + dv * kFp32 + 2 * kFp32);
    return free > fixed && (free - fixed) / per_token >= g.T;
  };
  bool fits = false;
  for (std::uint64_t G = H; G >= 1 && !fits; --G) {
    if (H % G != 0) continue;
    fits = size(G, std::min(g.T, std::max(kMhaDiagRows,
                                          align_down(kMhaPushRowFolds * rows / G, kMhaDiagRows))));
  }
  for (std::uint64_t tq = plan.tq / 2; !fits && tq >= kMhaDiagRows; tq /= 2)
    fits = size(1, tq);
  plan.ts = fit_tile(free, per_token, fixed, g.T, plan.tq, "prefill query");
  plan.tq = std::min(plan.tq, plan.ts);
  const std::uint64_t G = plan.G, groups = H / G;
  const std::uint64_t kv_tok = G * head_kv + kpe_row;
  const std::uint64_t diag_rows = std::max(kMhaDiagRows, rows);
  tb.meta("tile.mha_head_group", std::to_string(G));
  tb.meta("tile.prefill_key_tokens", std::to_string(plan.tk));
  tb.meta("tile.prefill_query_tokens", std::to_string(plan.ts));
  tb.meta("tile.mha_query_block", std::to_string(plan.tq));

  std::uint64_t weights_read = 0, expanded_read = 0, masked_pairs = 0;  // pairs of one head
  Ids prev_release;  // the previous sequence's last O stores (SRAM reuse)
  for (std::uint64_t b = 0; b < g.B; ++b) {
    const Ids append = append_chunk(c, g, stage, b, kv_cache, 0, false);
    const std::uint64_t latent_b = kv_cache + b * g.L * g.row;
    const std::uint64_t exp_b = expanded + b * g.L * H * head_kv,
                        kpe_b = kpe_hbm + b * g.L * kpe_row;

    // Decompression: every visible latent row once through wkv_b (fp8 GEMM, as V3.2 runs its
    // linear layers), one matmul per head group so each group's slice is stored contiguously.
    std::uint64_t decomp_fence = kNoId;
    {
      std::uint64_t mark = tb.sram_mark();
      std::uint64_t w = tb.sram_alloc(wkv_b_bytes, "wkv_b weights");
      Ids w_ready;
      load_rows(c, kTagAttnProj, wkv_b_hbm, w, 1, wkv_b_bytes, prev_release, w_ready);
      weights_read += wkv_b_bytes;
      const std::uint64_t in_row = std::max(g.row, lora * kBf16);
      const std::uint64_t out_row = G * (dn + dv) * kFp32;  // fp32 accumulators of one group
      const std::size_t out_slots = plan.slots + 1;         // one per array, one draining to HBM
      const std::uint64_t td = fit_tile(tb.sram_free(), 2 * in_row + out_slots * out_row,
                                        (2 + out_slots) * 512, plan.tk, cols, "decompression");
      BufferRing in(tb, 2, td * in_row, "latent rows");
      BufferRing out(tb, out_slots, td * out_row, "expanded rows");
      std::vector<Ids> out_readers(out_slots);  // the stores that last read each output slot
      Ids in_readers[2];                        // the k_pe store and matmuls of each input slot
      Ids all;
      for_each_tile(0, g.L, 0, td, [&](std::uint64_t a, std::uint64_t e) {
        std::size_t si = in.take();
        Ids deps = in_readers[si];
        in_readers[si].clear();
        if (e > g.P0) deps.insert(deps.end(), append.begin(), append.end());
        Ids ready;
        load_rows(c, kTagAttnLoad, latent_b + a * g.row, in.addr[si], e - a, g.row, deps, ready);
        // k_pe is stored once, beside the groups' slices.
        store_rows(c, kTagAttnProj, in.addr[si], kpe_b + a * kpe_row, e - a, kpe_row, ready,
                   in_readers[si]);
        all.insert(all.end(), in_readers[si].begin(), in_readers[si].end());
        ready.insert(ready.end(), w_ready.begin(), w_ready.end());
        for (std::uint64_t gi = 0; gi < groups; ++gi) {
          std::size_t so = out.take();
          Ids mdeps = ready;
          mdeps.insert(mdeps.end(), out_readers[so].begin(), out_readers[so].end());
          std::uint64_t mm = tb.matmul(kTagAttnProj, e - a, G * (dn + dv), lora, DType::kFp8,
                                       in.addr[si], w + gi * G * (dn + dv), out.addr[so], mdeps);
          in_readers[si].push_back(mm);
          out_readers[so].clear();
          store_rows(c, kTagAttnProj, out.addr[so], exp_b + (gi * g.L + a) * G * head_kv, e - a,
                     G * head_kv, {mm}, out_readers[so], stream_pieces);
          all.insert(all.end(), out_readers[so].begin(), out_readers[so].end());
        }
      });
      // The attention below reuses this SRAM and reads these rows: one fence for all stores.
      decomp_fence = fence(c, kTagAttnProj, all, stage);
      tb.sram_release(mark);
    }

    // Attention, one head group (and query super-tile) at a time.
    std::uint64_t mark = tb.sram_mark();
    FlashPipeline pipe(tb, dqk, dv, G * plan.tq, plan.tk, plan.slots, plan.slots - 2);
    BufferRing kv(tb, kMhaKvSlots, plan.tk * kv_tok, "prefill KV");
    const std::uint64_t q_buf = tb.sram_alloc(plan.ts * G * q_head, "prefill query");
    const std::uint64_t acc_buf =
        tb.sram_alloc(plan.ts * G * (dv + 2) * kFp32, "prefill accumulator");
    Ids release = {decomp_fence};
    for (std::uint64_t gi = 0; gi < groups; ++gi) {
      const std::uint64_t exp_g = exp_b + gi * g.L * G * head_kv;
      for (std::uint64_t s0 = 0; s0 < g.T; s0 += plan.ts) {
        const std::uint64_t s1 = std::min(g.T, s0 + plan.ts);
        Ids q_deps = release;
        q_deps.insert(q_deps.end(), c.proj_ready.begin(), c.proj_ready.end());
        Ids q_ready;
        load_rows(c, kTagAttnLoad, q_hbm + ((b * groups + gi) * g.T + s0) * G * q_head, q_buf,
                  s1 - s0, G * q_head, q_deps, q_ready);
        // Keys [0, P0 + s1), tiles aligned to the chunk start so diagonal tiles line up.
        for_each_tile(0, g.P0 + s1, g.P0, plan.tk, [&](std::uint64_t a, std::uint64_t e) {
          std::size_t slot;
          Ids deps = take_flash_slot(kv, pipe, slot);
          deps.push_back(decomp_fence);
          Ids ready = q_ready;
          load_rows(c, kTagAttnLoad, exp_g + a * G * head_kv, kv.addr[slot], e - a, G * head_kv,
                    deps, ready, stream_pieces);
          ready.push_back(tb.load(kTagAttnLoad, kpe_b + a * kpe_row,
                                  kv.addr[slot] + (e - a) * G * head_kv, (e - a) * kpe_row, deps));
          expanded_read += (e - a) * kv_tok;
          auto push = [&](std::uint64_t r0, std::uint64_t r1, std::uint64_t n) {
            kv.last_push[slot] =
                pipe.push({G * (r1 - r0), n, q_buf + (r0 - s0) * G * q_head, kv.addr[slot],
                           acc_buf + (r0 - s0) * G * dv * kFp32, ready, a == 0});
          };
          for (std::uint64_t q0 = s0; q0 < s1; q0 += plan.tq) {
            const std::uint64_t q1 = std::min(s1, q0 + plan.tq);
            if (a >= g.P0 + q1) continue;  // every key after the block's last query
            if (e <= g.P0 + q0 + 1) {      // every key visible to every query of the block
              push(q0, q1, e - a);
              continue;
            }
            for (std::uint64_t r0 = q0; r0 < q1; r0 += diag_rows) {
              const std::uint64_t r1 = std::min(q1, r0 + diag_rows);
              const std::uint64_t last = std::min(e, g.P0 + r1);  // keys up to the last query
              if (last <= a) continue;
              push(r0, r1, last - a);
              // Query q sees keys [a, P0 + q + 1) of the pushed [a, last): the rest is masked.
              for (std::uint64_t q = r0; q < r1; ++q)
                masked_pairs += last - std::clamp(g.P0 + q + 1, a, last);
            }
          }
        });
        const Ids merged = pipe.flush();
        std::uint64_t norm =
            tb.vpu(kTagAttnSoftmax, Op::kVpuScale, (s1 - s0) * G * dv, acc_buf, acc_buf, merged);
        release.clear();
        store_rows(c, kTagAttnPv, acc_buf, o_hbm + ((b * groups + gi) * g.T + s0) * G * o_head,
                   s1 - s0, G * o_head, {norm}, release);
        c.o_stores.insert(c.o_stores.end(), release.begin(), release.end());
      }
    }
    prev_release = release;
    tb.sram_release(mark);
  }

  WorkloadClosedForm& cf = *c.closed_form;
  // Q once, the streamed K/V slices and k_pe per group (and super-tile), wkv_b per sequence,
  // every latent row once.
  cf.hbm_read_bytes += g.B * g.T * H * q_head + expanded_read + weights_read + g.B * g.L * g.row;
  // Appended latent rows, O, the expanded slices and k_pe.
  cf.hbm_write_bytes += g.B * g.T * (g.row + H * o_head) + g.B * g.L * (H * head_kv + kpe_row);
  cf.masked_flops += 2 * G * masked_pairs * (dqk + dv);
}

// ---------------------------------------------------------------------------------------------
// DSA: indexer + top-k + sparse MLA (MQA mode).

void dsa_prefill(LoweringContext& c, const Geometry& g) {
  TraceBuilder& tb = c.tb;
  const ModelConfig& md = c.model;
  const std::uint64_t cols = c.hw.mxu.cols;
  const std::uint64_t dqk = md.mqa_qk_dim(), dv = md.mqa_v_dim();
  const std::uint64_t q_tok = g.h * dqk * kBf16, o_tok = g.h * dv * kBf16;
  const std::uint64_t qi_tok = g.hi * g.di, w_tok = g.hi * kFp32;
  const std::uint64_t slot_row = std::max(g.row, dqk * kBf16);
  const std::uint64_t R = c.resident_tokens;

  // An S layer of --index-share reuses the F layer's top-k: no keys, no scoring, no top-k.
  const bool indexer = !c.p.shared_layer;
  const std::uint64_t kv_cache = tb.hbm_region("mla_cache", g.B * g.L * g.row);
  const std::uint64_t key_cache = indexer ? tb.hbm_region("indexer_keys", g.B * g.L * g.kb) : 0;
  const std::uint64_t q_hbm = tb.hbm_region("q", g.B * g.T * q_tok);
  const std::uint64_t o_hbm = tb.hbm_region("o", g.B * g.T * o_tok);
  const std::uint64_t qi_hbm = tb.hbm_region("indexer_q", g.B * g.T * qi_tok);
  const std::uint64_t w_hbm = tb.hbm_region("indexer_weights", g.B * g.T * w_tok);

  const std::uint64_t stage = alloc_append_stage(c, g);
  // Half the SRAM for the sparse attention (its selections are large), half for the indexer.
  const std::uint64_t free = tb.sram_free();
  const std::uint64_t k_max = std::min(g.k, g.L);
  const std::uint64_t mxus = std::max<std::uint64_t>(1, c.hw.mxu.count);
  // Sparse attention: every query is its own flash chain (m = 128 heads, n = its k rows, as
  // FlashMLA's sparse prefill gives each query its own CTA). The pipeline has one score and KV
  // slot per MXU plus two (one being softmaxed, one being gathered), so mxu.count chains are in
  // flight while the next query's rows arrive. Per query only Q and its accumulator stay.
  // When the slots cannot each hold a whole selection (little SRAM per array), a query's
  // selection streams through them in tiles of `ta` rows (its chain then has several pushes, as
  // FlashMLA streams a query's selected rows through shared memory in blocks); below one MXU
  // column fold per tile, the slots shrink instead (at least two: one computing, one loading).
  const std::uint64_t per_query_attn = 2 * (q_tok + g.h * dv * kFp32);
  const std::uint64_t per_row = slot_row + g.h * kFp32, slot_fixed = g.h * dv * kFp32 + 3 * 512;
  const std::uint64_t want_slots = mxus + 2;
  const std::uint64_t reserve =
      8 * 512 + std::min<std::uint64_t>(g.T, kSparseQueryGroup) * per_query_attn;
  const std::uint64_t slot_budget = free / 2 > reserve ? free / 2 - reserve : 0;
  std::uint64_t ta = k_max;
  if (want_slots * (ta * per_row + slot_fixed) > slot_budget) {
    const std::uint64_t each = slot_budget / want_slots;
    ta = each > slot_fixed ? align_down((each - slot_fixed) / per_row, cols) : 0;
    ta = std::clamp<std::uint64_t>(ta, std::min(k_max, cols), k_max);
  }
  const std::uint64_t per_slot = ta * per_row + slot_fixed;
  const std::size_t attn_slots =
      std::max<std::uint64_t>(2, std::min(want_slots, slot_budget / per_slot));
  const std::uint64_t attn_fixed = attn_slots * per_slot + 8 * 512;
  tb.meta("tile.attn_selection_rows", std::to_string(ta));
  tb.meta("tile.attn_slots", std::to_string(attn_slots));
  const std::uint64_t tqa =
      fit_tile(free / 2, per_query_attn, attn_fixed,
               std::min<std::uint64_t>(g.T, kSparseQueryGroup), 1, "sparse attention");
  // Indexer key and logits slots: one per MXU plus one, so every array has a logits matmul to
  // work on while the VPU runs the fused epilogue of another. The logits slots are per query,
  // so the key tile shrinks as the slots grow (the logits SRAM per query stays that of two
  // slots of kIndexerKeyTileFolds folds), keeping the query tile and hence the key re-reads.
  const std::size_t idx_slots = mxus + 1;
  const std::uint64_t tki_target =
      std::max<std::uint64_t>(2, 2 * kIndexerKeyTileFolds / idx_slots) * cols;
  const std::uint64_t tki =
      fit_tile(free / 4, idx_slots * g.kb, 0, std::min(g.L, tki_target), cols, "indexer key");
  const std::uint64_t per_query_idx =
      2 * (qi_tok + w_tok + g.L * kFp32 + k_max * kFp32) + idx_slots * g.hi * tki * kFp32;
  std::uint64_t tqi =
      fit_tile(free - free / 2 - idx_slots * tki * g.kb, per_query_idx, (idx_slots + 4) * 2 * 512,
               std::min(g.T, tki), kDiagRows, "indexer query");
  tqi = align_down(tqi, kDiagRows);
  tb.meta("tile.attn_query_tokens", std::to_string(tqa));
  tb.meta("tile.indexer_key_tokens", std::to_string(tki));
  tb.meta("tile.indexer_query_tokens", std::to_string(tqi));

  // Scores rows first (lowest addresses): the head-sum is counted over its fp32 inputs, and any
  // extent beyond a row stays inside the buffers above it.
  struct IdxSet {
    std::uint64_t scores, qi, w, idx;
    Ids release;  ///< the gathers that consumed its indices
  } isets[2];
  for (auto& st : isets)
    st.scores = tb.sram_alloc(tqi * g.L * kFp32, "indexer scores");
  for (auto& st : isets) {
    st.qi = tb.sram_alloc(tqi * qi_tok, "indexer query");
    st.w = tb.sram_alloc(tqi * w_tok, "indexer weights");
    st.idx = tb.sram_alloc(tqi * k_max * kFp32, "top-k indices");
  }
  IndexerScorer scorer(c, tqi, tki, idx_slots);
  FlashPipeline pipe(tb, dqk, dv, g.h, ta, attn_slots, attn_slots - 2);
  BufferRing kv(tb, attn_slots, ta * slot_row, "selected rows");
  std::uint64_t q_buf[2], acc_buf[2];
  Ids arelease[2];  ///< O stores of the group that last used each set
  for (int i = 0; i < 2; ++i) {
    q_buf[i] = tb.sram_alloc(tqa * q_tok, "query");
    acc_buf[i] = tb.sram_alloc(tqa * g.h * dv * kFp32, "attention accumulator");
  }

  std::uint64_t streamed_keys = 0, selected = 0;
  std::uint64_t group_index = 0;
  // Finishes a query group: normalise its accumulators and store O (deferred by one group so
  // the pipeline keeps its skew).
  struct Pending {
    std::size_t push;
    std::uint64_t set, nq, o_addr;
  };
  std::vector<Pending> pending;
  auto finish = [&](const Pending& pd) {
    const Ids merged = pipe.ensure_merged(pd.push);
    std::uint64_t norm = tb.vpu(kTagAttnSoftmax, Op::kVpuScale, pd.nq * g.h * dv, acc_buf[pd.set],
                                acc_buf[pd.set], merged);
    arelease[pd.set].clear();
    store_rows(c, kTagAttnPv, acc_buf[pd.set], pd.o_addr, pd.nq, o_tok, {norm}, arelease[pd.set]);
    c.o_stores.insert(c.o_stores.end(), arelease[pd.set].begin(), arelease[pd.set].end());
  };

  // The previous indexer tile's sparse attention, emitted one query at a time interleaved with
  // the next tile's indexer: emitted as one block after it, its matmuls sat more than an issue
  // window behind the indexer's in the MXU queue, so the phases alternated (indexer: VPU-bound
  // with the arrays half idle; attention: MXU-bound with the VPU half idle).
  struct AttnWork {
    std::uint64_t b = 0, q0 = 0, q1 = 0, topk = kNoId, kv_b = 0, si = 0, next = 0;
    Ids append, q_ready;
    std::size_t push = 0;
  };
  AttnWork work;
  bool have_work = false;
  auto attn_remaining = [&]() -> std::uint64_t { return have_work ? work.q1 - work.next : 0; };
  // Emits the sparse attention of the next query of `work`.
  auto attn_step = [&] {
    AttnWork& w = work;
    const std::uint64_t i = w.next++;
    const std::uint64_t a0 = w.q0 + (i - w.q0) / tqa * tqa, a1 = std::min(w.q1, a0 + tqa);
    const std::uint64_t set = group_index % 2;
    IdxSet& st = isets[w.si];
    if (i == w.q0) st.release.clear();
    if (i == a0) {
      Ids q_deps = arelease[set];
      q_deps.insert(q_deps.end(), c.proj_ready.begin(), c.proj_ready.end());
      w.q_ready = {tb.load(kTagAttnLoad, q_hbm + (w.b * g.T + a0) * q_tok, q_buf[set],
                           (a1 - a0) * q_tok, q_deps)};
    }
    const std::uint64_t visible = g.P0 + i + 1, r = std::min(g.k, visible);
    for (std::uint64_t t0 = 0; t0 < r; t0 += ta) {
      const std::uint64_t t1 = std::min(r, t0 + ta);
      std::size_t slot;
      Ids deps = take_flash_slot(kv, pipe, slot);
      deps.push_back(w.topk);
      deps.insert(deps.end(), w.append.begin(), w.append.end());
      Ids ready = w.q_ready;
      const std::size_t before = ready.size();
      gather_selection(c, w.kv_b, visible, r, t0, t1, kv.addr[slot], 1, deps, ready);
      st.release.insert(st.release.end(), ready.begin() + before, ready.end());
      w.push = pipe.push({g.h, t1 - t0, q_buf[set] + (i - a0) * q_tok, kv.addr[slot],
                          acc_buf[set] + (i - a0) * g.h * dv * kFp32, ready, t0 == 0});
      kv.last_push[slot] = w.push;
    }
    selected += r;
    if (i + 1 == a1) {
      // Finish the previous group now that this one's qk's are in flight.
      if (!pending.empty()) {
        finish(pending.back());
        pending.pop_back();
      }
      pending.push_back({w.push, set, a1 - a0, o_hbm + (w.b * g.T + a0) * o_tok});
      ++group_index;
    }
    if (w.next == w.q1) have_work = false;
  };
  auto attn_until = [&](std::uint64_t left) {
    while (attn_remaining() > left)
      attn_step();
  };
  std::uint64_t tile_index = 0;
  for (std::uint64_t b = 0; b < g.B; ++b) {
    const Ids append = append_chunk(c, g, stage, b, kv_cache, key_cache, indexer);
    const std::uint64_t keys_b = key_cache + b * g.L * g.kb, kv_b = kv_cache + b * g.L * g.row;
    for (std::uint64_t q0 = 0; q0 < g.T; q0 += tqi, ++tile_index) {
      const std::uint64_t q1 = std::min(g.T, q0 + tqi), nq = q1 - q0;
      IdxSet& st = isets[tile_index % 2];
      if (!indexer) {
        attn_until(0);
        work = AttnWork{b, q0, q1, kNoId, kv_b, tile_index % 2, q0, append, {}, 0};
        have_work = true;
        continue;
      }
      st.release.insert(st.release.end(), c.proj_ready.begin(), c.proj_ready.end());
      Ids qi_ready = {
          tb.load(kTagIndexerScores, qi_hbm + (b * g.T + q0) * qi_tok, st.qi, nq * qi_tok,
                  st.release),
          tb.load(kTagIndexerScores, w_hbm + (b * g.T + q0) * w_tok, st.w, nq * w_tok, st.release)};
      // Spread the previous tile's queries evenly over this tile's scoring steps.
      const std::uint64_t steps =
          ceil_div(g.P0 + q0, tki) + (R > 0 ? 1 : 0) + ceil_div(nq, kDiagRows);
      const std::uint64_t owed = attn_remaining();
      std::uint64_t step = 0;
      auto interleave = [&] {
        ++step;
        attn_until(owed - std::min(owed, owed * step / std::max<std::uint64_t>(steps, 1)));
      };
      Ids sums;
      for_each_tile(0, g.P0 + q0, R, tki, [&](std::uint64_t a, std::uint64_t e) {
        IndexerScorer::Keys keys = scorer.acquire(b, keys_b, a, e, e > g.P0 ? append : Ids{});
        if (e > R) streamed_keys += e - a;
        sums.push_back(
            scorer.score(keys, 0, e - a, nq, st.qi, st.w, qi_ready, st.scores + a * kFp32));
        interleave();
      });
      {
        std::uint64_t a = g.P0 + q0, e = g.P0 + q1;
        IndexerScorer::Keys keys = scorer.acquire(b, keys_b, a, e, append);
        if (e > R) streamed_keys += e - a;
        for (std::uint64_t r0 = 0; r0 < nq; r0 += kDiagRows) {
          std::uint64_t r1 = std::min(nq, r0 + kDiagRows);
          sums.push_back(scorer.score(keys, 0, r1, r1 - r0, st.qi + r0 * qi_tok, st.w + r0 * w_tok,
                                      qi_ready, st.scores + a * kFp32));
          interleave();
        }
      }
      const std::uint64_t row_len = g.P0 + q1;
      std::uint64_t topk =
          tb.topk(kTagIndexerTopk, nq, row_len, std::min(g.k, row_len), st.scores, st.idx, sums);
      attn_until(0);
      work = AttnWork{b, q0, q1, topk, kv_b, tile_index % 2, q0, append, {}, 0};
      have_work = true;
    }
  }
  attn_until(0);
  for (const Pending& pd : pending)
    finish(pd);

  WorkloadClosedForm& cf = *c.closed_form;
  if (!indexer) {
    cf.indexer_flops = 0;
    cf.hbm_read_bytes += g.row * selected + g.B * g.T * q_tok;
    cf.hbm_write_bytes += g.B * g.T * (g.row + o_tok);
    return;
  }
  cf.hbm_read_bytes += g.kb * streamed_keys            // indexer keys per query tile
                       + g.B * g.T * (qi_tok + w_tok)  // indexer q and weights
                       + g.row * selected              // 656 * S: every query's own rows
                       + g.B * g.T * q_tok;            // Q
  cf.hbm_write_bytes += g.B * g.T * (g.row + g.kb + o_tok);
}

}  // namespace

void lower_prefill(LoweringContext& c) {
  const WorkloadParams& p = c.p;
  const ModelConfig& md = c.model;
  Geometry g{p.batch,
             p.seq,
             p.chunk,
             p.seq - p.chunk,
             md.n_heads,
             c.kv_row_bytes,
             md.index_key_bytes,
             md.index_n_heads,
             md.index_head_dim,
             p.topk};
  if (prefill_uses_mha(p))
    mha_prefill(c, g);
  else if (p.attention == Attention::kDense)
    mqa_prefill(c, g);
  else
    dsa_prefill(c, g);
}

}  // namespace tpusim
