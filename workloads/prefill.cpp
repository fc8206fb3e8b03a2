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
// Gather choice (reference/dsa.md 9.3 counts "up to 656*S"): each query gathers its own
// min(k, visible) rows, as FlashMLA's sparse prefill kernel does (one query per CTA, no reuse
// across queries). Sparse-attention HBM bytes are therefore exactly 656 * S. A group's queries
// are concatenated along n (128 heads x sum of their selections), so FLOPs equal
// 278,528 * S exactly.
#include <algorithm>
#include <memory>
#include <string>

#include "sim/common.h"
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
// Dense attention (MQA over the latent cache, or MHA over expanded rows).

struct DenseShape {
  std::uint64_t d_qk, d_v, q_tok, o_tok, slot_row, src_row;
};

void dense_prefill(LoweringContext& c, const Geometry& g, bool mha) {
  TraceBuilder& tb = c.tb;
  const ModelConfig& md = c.model;
  const std::uint64_t cols = c.hw.mxu.cols;
  const std::uint64_t exp_cols = g.h * (md.qk_nope_head_dim + md.v_head_dim);  // wkv_b outputs
  // Expanded row: per-head K_nope and V in bf16, plus the shared bf16 k_pe.
  const std::uint64_t exp_row = exp_cols * kBf16 + md.qk_rope_head_dim * kBf16;
  DenseShape s;
  if (mha) {
    s.d_qk = md.mha_qk_dim();
    s.d_v = md.v_head_dim;
    s.slot_row = exp_row;
    s.src_row = exp_row;
  } else {
    s.d_qk = md.mqa_qk_dim();
    s.d_v = md.mqa_v_dim();
    s.slot_row = std::max(g.row, s.d_qk * kBf16);
    s.src_row = g.row;
  }
  s.q_tok = g.h * s.d_qk * kBf16;
  s.o_tok = g.h * s.d_v * kBf16;

  const std::uint64_t kv_cache = tb.hbm_region("mla_cache", g.B * g.L * g.row);
  const std::uint64_t q_hbm = tb.hbm_region("q", g.B * g.T * s.q_tok);
  const std::uint64_t o_hbm = tb.hbm_region("o", g.B * g.T * s.o_tok);
  const std::uint64_t expanded = mha ? tb.hbm_region("expanded_kv", g.B * g.L * exp_row) : 0;
  const std::uint64_t wkv_b_bytes = md.kv_lora_rank * exp_cols;  // fp8 weights
  const std::uint64_t wkv_b_hbm = mha ? tb.hbm_region("wkv_b", wkv_b_bytes) : 0;
  const std::uint64_t stage = alloc_append_stage(c, g);
  const std::uint64_t base = tb.sram_mark();

  // Query and key tiles (the same for every sequence).
  const std::uint64_t free = tb.sram_free();
  const std::uint64_t tk = fit_tile(free / 2, 2 * s.slot_row, 0,
                                    std::min(g.L, kKeyTileFolds * cols), cols, "prefill KV");
  const std::uint64_t per_query =
      2 * s.q_tok + 2 * g.h * s.d_v * kFp32 + FlashPipeline::sram_bytes(s.d_v, g.h, tk) - 4 * 512;
  std::uint64_t tq = fit_tile(free - 2 * tk * s.slot_row, per_query, 16 * 512, std::min(g.T, tk),
                              kDiagRows, "prefill query");
  tq = align_down(tq, kDiagRows);
  tb.meta("tile.prefill_key_tokens", std::to_string(tk));
  tb.meta("tile.prefill_query_tokens", std::to_string(tq));

  std::uint64_t td = 0, weights_read = 0;
  std::uint64_t sum_visible = 0;  // sum over query tiles of P0 + q1 (keys each tile reads)
  for (std::uint64_t b = 0; b < g.B; ++b) {
    const Ids append = append_chunk(c, g, stage, b, kv_cache, 0, false);
    std::uint64_t src_table = kv_cache + b * g.L * g.row;
    // Tiles of keys whose rows are ready in HBM: latent rows after the append, expanded rows
    // after their decompression.
    std::vector<Ids> decomp_stores;  // per decompression tile
    std::uint64_t decomp_fence = kNoId;
    if (mha) {
      // Decompression pass: every visible latent row once through wkv_b.
      std::uint64_t mark = tb.sram_mark();
      std::uint64_t w = tb.sram_alloc(wkv_b_bytes, "wkv_b weights");
      Ids w_ready;
      load_rows(c, kTagAttnProj, wkv_b_hbm, w, 1, wkv_b_bytes, {}, w_ready);
      weights_read += wkv_b_bytes;
      const std::uint64_t in_row = std::max(g.row, md.kv_lora_rank * kBf16);
      const std::uint64_t out_row = exp_cols * kFp32;  // fp32 accumulators before rounding
      td = fit_tile(tb.sram_free(), 2 * (in_row + out_row), 4 * 512,
                    std::min(g.L, kKeyTileFolds * cols), cols, "decompression");
      BufferRing in(tb, 2, td * in_row, "latent rows"), out(tb, 2, td * out_row, "expanded rows");
      Ids out_readers[2];  // the stores that last read each output slot
      for_each_tile(0, g.L, 0, td, [&](std::uint64_t a, std::uint64_t e) {
        std::size_t si = in.take(), so = out.take();
        Ids deps = {in.last_reader[si]};
        if (e > g.P0) deps.insert(deps.end(), append.begin(), append.end());
        Ids ready;
        load_rows(c, kTagAttnLoad, src_table + a * g.row, in.addr[si], e - a, g.row, deps, ready);
        ready.insert(ready.end(), w_ready.begin(), w_ready.end());
        ready.insert(ready.end(), out_readers[so].begin(), out_readers[so].end());
        // V3.2 runs its linear layers as FP8 GEMMs (fp8 weights, activations quantised per
        // 128-block), wkv_b included.
        std::uint64_t mm = tb.matmul(kTagAttnProj, e - a, exp_cols, md.kv_lora_rank, DType::kFp8,
                                     in.addr[si], w, out.addr[so], ready);
        in.last_reader[si] = mm;
        out_readers[so].clear();
        store_rows(c, kTagAttnProj, out.addr[so], expanded + (b * g.L + a) * exp_row, e - a,
                   exp_row, {mm}, out_readers[so]);
        decomp_stores.push_back(out_readers[so]);
      });
      // The attention below reuses this SRAM: its writers wait for the whole pass (one fence
      // stands for all its stores; nothing else is queued on the VPU at this point).
      Ids all;
      for (const Ids& ids : decomp_stores)
        all.insert(all.end(), ids.begin(), ids.end());
      decomp_fence = fence(c, kTagAttnProj, all, base);
      tb.sram_release(mark);
      src_table = expanded + b * g.L * exp_row;
    }
    auto key_ready = [&](std::uint64_t a, std::uint64_t e, Ids& deps) {
      if (mha) {
        for (std::uint64_t t = a / td; t * td < e; ++t)
          deps.insert(deps.end(), decomp_stores[t].begin(), decomp_stores[t].end());
      } else if (e > g.P0) {
        deps.insert(deps.end(), append.begin(), append.end());
      }
    };

    std::uint64_t mark = tb.sram_mark();
    FlashPipeline pipe(tb, s.d_qk, s.d_v, g.h * tq, tk);
    BufferRing kv(tb, 2, tk * s.slot_row, "prefill KV");
    std::uint64_t q_buf[2], acc_buf[2];
    Ids release[2] = {{decomp_fence}, {decomp_fence}};
    for (int i = 0; i < 2; ++i) {
      q_buf[i] = tb.sram_alloc(tq * s.q_tok, "prefill query");
      acc_buf[i] = tb.sram_alloc(tq * g.h * s.d_v * kFp32, "prefill accumulator");
    }
    auto load_kv = [&](std::uint64_t a, std::uint64_t e, Ids& ready) {
      std::size_t slot;
      Ids deps = {take_flash_slot(kv, pipe, slot), decomp_fence};
      key_ready(a, e, deps);
      load_rows(c, kTagAttnLoad, src_table + a * s.src_row, kv.addr[slot], e - a, s.src_row, deps,
                ready);
      return slot;
    };

    std::uint64_t tile_index = 0;
    for (std::uint64_t q0 = 0; q0 < g.T; q0 += tq, ++tile_index) {
      const std::uint64_t q1 = std::min(g.T, q0 + tq), nq = q1 - q0, set = tile_index % 2;
      sum_visible += g.P0 + q1;
      Ids q_deps = release[set];
      q_deps.insert(q_deps.end(), c.proj_ready.begin(), c.proj_ready.end());
      Ids q_ready = {tb.load(kTagAttnLoad, q_hbm + (b * g.T + q0) * s.q_tok, q_buf[set],
                             nq * s.q_tok, q_deps)};
      // Keys before the first query: visible to every query of the tile.
      for_each_tile(0, g.P0 + q0, 0, tk, [&](std::uint64_t a, std::uint64_t e) {
        Ids ready = q_ready;
        std::size_t slot = load_kv(a, e, ready);
        kv.last_push[slot] =
            pipe.push({g.h * nq, e - a, q_buf[set], kv.addr[slot], acc_buf[set], ready});
      });
      // The diagonal block, causal in sub-blocks.
      Ids ready = q_ready;
      std::size_t slot = load_kv(g.P0 + q0, g.P0 + q1, ready);
      for (std::uint64_t r0 = 0; r0 < nq; r0 += kDiagRows) {
        std::uint64_t r1 = std::min(nq, r0 + kDiagRows);
        kv.last_push[slot] =
            pipe.push({g.h * (r1 - r0), r1, q_buf[set] + r0 * s.q_tok, kv.addr[slot],
                       acc_buf[set] + r0 * g.h * s.d_v * kFp32, ready});
      }
      std::uint64_t merged = pipe.flush();
      std::uint64_t norm = tb.vpu(kTagAttnSoftmax, Op::kVpuScale, nq * g.h * s.d_v, acc_buf[set],
                                  acc_buf[set], {merged});
      release[set].clear();
      store_rows(c, kTagAttnPv, acc_buf[set], o_hbm + (b * g.T + q0) * s.o_tok, nq, s.o_tok, {norm},
                 release[set]);
    }
    tb.sram_release(mark);
  }

  WorkloadClosedForm& cf = *c.closed_form;
  cf.hbm_read_bytes += g.B * g.T * s.q_tok + s.src_row * sum_visible;  // Q, keys per query tile
  cf.hbm_write_bytes += g.B * g.T * (g.row + s.o_tok);                 // appended rows, O
  if (mha) {
    cf.hbm_read_bytes += weights_read + g.B * g.L * g.row;  // wkv_b, every latent once
    cf.hbm_write_bytes += g.B * g.L * exp_row;              // expanded rows
  }
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

  const std::uint64_t kv_cache = tb.hbm_region("mla_cache", g.B * g.L * g.row);
  const std::uint64_t key_cache = tb.hbm_region("indexer_keys", g.B * g.L * g.kb);
  const std::uint64_t q_hbm = tb.hbm_region("q", g.B * g.T * q_tok);
  const std::uint64_t o_hbm = tb.hbm_region("o", g.B * g.T * o_tok);
  const std::uint64_t qi_hbm = tb.hbm_region("indexer_q", g.B * g.T * qi_tok);
  const std::uint64_t w_hbm = tb.hbm_region("indexer_weights", g.B * g.T * w_tok);

  const std::uint64_t stage = alloc_append_stage(c, g);
  // Half the SRAM for the sparse attention (its selections are large), half for the indexer.
  const std::uint64_t free = tb.sram_free();
  const std::uint64_t k_max = std::min(g.k, g.L);
  const std::uint64_t per_query_attn =
      2 * (q_tok + g.h * dv * kFp32 + k_max * slot_row) + 2 * g.h * k_max * kFp32;
  const std::uint64_t tqa = fit_tile(free / 2, per_query_attn, 2 * g.h * dv * kFp32 + 8 * 512,
                                     std::min<std::uint64_t>(g.T, 16), 1, "sparse attention");
  const std::uint64_t tki = fit_tile(
      free / 4, 2 * g.kb, 0, std::min(g.L, kIndexerKeyTileFolds * cols), cols, "indexer key");
  const std::uint64_t per_query_idx =
      2 * (qi_tok + w_tok + g.L * kFp32 + k_max * kFp32) + 2 * g.hi * tki * kFp32;
  std::uint64_t tqi = fit_tile(free - free / 2 - 2 * tki * g.kb, per_query_idx, 12 * 512,
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
  IndexerScorer scorer(c, tqi, tki);
  FlashPipeline pipe(tb, dqk, dv, g.h, tqa * k_max);
  BufferRing kv(tb, 2, tqa * k_max * slot_row, "selected rows");
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
    std::uint64_t merged = pipe.ensure_merged(pd.push);
    std::uint64_t norm = tb.vpu(kTagAttnSoftmax, Op::kVpuScale, pd.nq * g.h * dv, acc_buf[pd.set],
                                acc_buf[pd.set], {merged});
    arelease[pd.set].clear();
    store_rows(c, kTagAttnPv, acc_buf[pd.set], pd.o_addr, pd.nq, o_tok, {norm}, arelease[pd.set]);
    c.o_stores.insert(c.o_stores.end(), arelease[pd.set].begin(), arelease[pd.set].end());
  };

  std::uint64_t tile_index = 0;
  for (std::uint64_t b = 0; b < g.B; ++b) {
    const Ids append = append_chunk(c, g, stage, b, kv_cache, key_cache, true);
    const std::uint64_t keys_b = key_cache + b * g.L * g.kb, kv_b = kv_cache + b * g.L * g.row;
    for (std::uint64_t q0 = 0; q0 < g.T; q0 += tqi, ++tile_index) {
      const std::uint64_t q1 = std::min(g.T, q0 + tqi), nq = q1 - q0;
      IdxSet& st = isets[tile_index % 2];
      st.release.insert(st.release.end(), c.proj_ready.begin(), c.proj_ready.end());
      Ids qi_ready = {
          tb.load(kTagIndexerScores, qi_hbm + (b * g.T + q0) * qi_tok, st.qi, nq * qi_tok,
                  st.release),
          tb.load(kTagIndexerScores, w_hbm + (b * g.T + q0) * w_tok, st.w, nq * w_tok, st.release)};
      Ids sums;
      for_each_tile(0, g.P0 + q0, R, tki, [&](std::uint64_t a, std::uint64_t e) {
        IndexerScorer::Keys keys = scorer.acquire(b, keys_b, a, e, e > g.P0 ? append : Ids{});
        if (e > R) streamed_keys += e - a;
        sums.push_back(
            scorer.score(keys, 0, e - a, nq, st.qi, st.w, qi_ready, st.scores + a * kFp32));
      });
      {
        std::uint64_t a = g.P0 + q0, e = g.P0 + q1;
        IndexerScorer::Keys keys = scorer.acquire(b, keys_b, a, e, append);
        if (e > R) streamed_keys += e - a;
        for (std::uint64_t r0 = 0; r0 < nq; r0 += kDiagRows) {
          std::uint64_t r1 = std::min(nq, r0 + kDiagRows);
          sums.push_back(scorer.score(keys, 0, r1, r1 - r0, st.qi + r0 * qi_tok, st.w + r0 * w_tok,
                                      qi_ready, st.scores + a * kFp32));
        }
      }
      const std::uint64_t row_len = g.P0 + q1;
      std::uint64_t topk =
          tb.topk(kTagIndexerTopk, nq, row_len, std::min(g.k, row_len), st.scores, st.idx, sums);

      // Sparse MLA for this tile's queries, in groups of tqa.
      st.release.clear();
      for (std::uint64_t a0 = q0; a0 < q1; a0 += tqa, ++group_index) {
        const std::uint64_t a1 = std::min(q1, a0 + tqa), set = group_index % 2;
        Ids q_deps = arelease[set];
        q_deps.insert(q_deps.end(), c.proj_ready.begin(), c.proj_ready.end());
        Ids q_ready = {tb.load(kTagAttnLoad, q_hbm + (b * g.T + a0) * q_tok, q_buf[set],
                               (a1 - a0) * q_tok, q_deps)};
        std::size_t slot;
        Ids deps = {take_flash_slot(kv, pipe, slot), topk};
        deps.insert(deps.end(), append.begin(), append.end());
        Ids ready = q_ready;
        std::uint64_t rows = 0;
        for (std::uint64_t i = a0; i < a1; ++i) {
          const std::uint64_t visible = g.P0 + i + 1, r = std::min(g.k, visible);
          std::size_t before = ready.size();
          gather_selection(c, kv_b, visible, r, 0, r, kv.addr[slot] + rows * g.row, 1, deps, ready);
          st.release.insert(st.release.end(), ready.begin() + before, ready.end());
          rows += r;
        }
        selected += rows;
        std::size_t push = pipe.push({g.h, rows, q_buf[set], kv.addr[slot], acc_buf[set], ready});
        kv.last_push[slot] = push;
        // Finish the previous group now that this one's qk is in flight.
        if (!pending.empty()) {
          finish(pending.back());
          pending.pop_back();
        }
        pending.push_back({push, set, a1 - a0, o_hbm + (b * g.T + a0) * o_tok});
      }
      // (The indexer set is free once these gathers have consumed its indices.)
    }
  }
  for (const Pending& pd : pending)
    finish(pd);

  WorkloadClosedForm& cf = *c.closed_form;
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
    dense_prefill(c, g, true);
  else if (p.attention == Attention::kDense)
    dense_prefill(c, g, false);
  else
    dsa_prefill(c, g);
}

}  // namespace tpusim
