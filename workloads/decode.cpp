// One decode step of one layer: B sequences at context L, s_q = mtp query tokens each.
//
// Dense MLA (MQA/absorbed mode): per sequence, load Q (heads x s_q rows of 576), stream the whole
// MLA cache through a flash-attention pipeline, store O. DSA: per sequence, score every cached
// indexer key (pinned keys from SRAM, the rest streamed), top-k over the L scores on chip (fused:
// logits and indices never touch HBM), then per query token gather its k_eff selected MLA rows
// and run the same flash pipeline over them. Each query token has its own selection, so with
// MTP its sparse attention is heads rows x its own rows (concatenated along n: FLOPs exact).
#include <algorithm>
#include <memory>
#include <string>

#include "sim/common.h"
#include "workloads/lowering.h"

namespace tpusim {
namespace {

// Streamed tiles aim at this many per sequence: the double-buffered pipeline's fill and drain
// then cost at most ~1/16 of the stream, and instruction counts stay small. SRAM can only
// shrink tiles below this.
constexpr std::uint64_t kTargetTiles = 16;
// A top-k selection is only k rows: four tiles already overlap its gathers with compute, and
// larger gathers keep more rows in flight per DMA engine.
constexpr std::uint64_t kSparseTargetTiles = 4;

std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) {
  return (a + b - 1) / b;
}

std::uint64_t round_up(std::uint64_t a, std::uint64_t b) {
  return ceil_div(a, b) * b;
}

/// Per-sequence buffers; two sets alternate so sequence b+1's inputs load while b computes.
struct SeqBuffers {
  std::uint64_t q = 0, acc = 0, qi = 0, w = 0, scores = 0, idx = 0;
  std::uint64_t release = kNoId;  ///< last instruction of the sequence that used this set
};

}  // namespace

void lower_decode(LoweringContext& c) {
  const WorkloadParams& p = c.p;
  const ModelConfig& md = c.model;
  TraceBuilder& tb = c.tb;
  const bool dsa = p.attention == Attention::kDsa;
  const std::uint64_t B = p.batch, L = p.seq, sq = p.mtp, h = md.n_heads;
  const std::uint64_t dqk = md.mqa_qk_dim(), dv = md.mqa_v_dim();
  const std::uint64_t row = c.kv_row_bytes, kb = md.index_key_bytes;
  const std::uint64_t hi = md.index_n_heads, di = md.index_head_dim;
  const std::uint64_t k_eff = std::min(p.topk, L);
  const std::uint64_t cols = c.hw.mxu.cols;
  // KV slots hold a tile as the MXU reads it: bf16 [latent; rope] (FP8 rows dequantized in place).
  const std::uint64_t slot_row = std::max(row, dqk * kBf16);
  const std::uint64_t idx_target = std::min(L, round_up(ceil_div(L, kTargetTiles), cols));
  if (sq > L) throw UserError("--mtp: " + std::to_string(sq) + " query tokens exceed --seq");

  // HBM: this layer's caches for all sequences, and Q/O (plus indexer q and weights) in and out.
  const std::uint64_t kv_cache = tb.hbm_region("mla_cache", B * L * row);
  const std::uint64_t key_cache = dsa ? tb.hbm_region("indexer_keys", B * L * kb) : 0;
  const std::uint64_t q_bytes = sq * h * dqk * kBf16, o_bytes = sq * h * dv * kBf16;
  const std::uint64_t qi_bytes = sq * hi * di, w_bytes = sq * hi * kFp32;
  const std::uint64_t q_hbm = tb.hbm_region("q", B * q_bytes);
  const std::uint64_t o_hbm = tb.hbm_region("o", B * o_bytes);
  const std::uint64_t qi_hbm = dsa ? tb.hbm_region("indexer_q", B * qi_bytes) : 0;
  const std::uint64_t w_hbm = dsa ? tb.hbm_region("indexer_weights", B * w_bytes) : 0;

  // SRAM: the new token's rows (produced on chip), two per-sequence sets, then tiles.
  const std::uint64_t new_rows = tb.sram_alloc(sq * (row + kb), "new cache rows");
  const std::uint64_t acc_bytes = sq * h * dv * kFp32;
  const std::uint64_t scores_bytes = sq * L * kFp32, idx_bytes = sq * k_eff * kFp32;
  std::uint64_t set_bytes = q_bytes + acc_bytes + 2 * 512;
  if (dsa) set_bytes += qi_bytes + w_bytes + scores_bytes + idx_bytes + 4 * 512;

  // Tiles. Dense: m = heads x s_q rows share each KV tile. DSA: the indexer and the sparse
  // attention of consecutive sequences overlap, so they split the SRAM left after the sets.
  const std::uint64_t m_attn = dsa ? h : h * sq;
  const std::uint64_t attn_rows = dsa ? k_eff : L;
  const std::uint64_t free = tb.sram_free() > 2 * set_bytes ? tb.sram_free() - 2 * set_bytes : 0;
  const std::uint64_t attn_budget = dsa ? free / 2 : free;
  const std::uint64_t lt = fit_tile(
      attn_budget, 2 * (slot_row + m_attn * kFp32), FlashPipeline::sram_bytes(dv, m_attn, 0),
      std::min(attn_rows,
               round_up(ceil_div(attn_rows, dsa ? kSparseTargetTiles : kTargetTiles), cols)),
      cols, "attention KV");
  tb.meta("tile.attn_kv_tokens", std::to_string(lt));
  std::uint64_t lt_idx = 0;
  if (dsa) {
    // Per key: two key slots, two logits slots, and the head-sum's tail in both sets' scores
    // (the sum is counted over its fp32 inputs, heads x keys, so its extent is that long).
    lt_idx = fit_tile(free - attn_budget, 2 * (kb + hi * sq * kFp32) + 2 * hi * sq * kFp32, 4 * 512,
                      idx_target, cols, "indexer key");
    tb.meta("tile.indexer_key_tokens", std::to_string(lt_idx));
  }

  SeqBuffers sets[2];
  for (auto& s : sets) {
    s.q = tb.sram_alloc(q_bytes, "query");
    s.acc = tb.sram_alloc(acc_bytes, "attention accumulator");
    if (dsa) {
      s.qi = tb.sram_alloc(qi_bytes, "indexer query");
      s.w = tb.sram_alloc(w_bytes, "indexer weights");
      s.scores = tb.sram_alloc(scores_bytes + hi * sq * lt_idx * kFp32, "indexer scores");
      s.idx = tb.sram_alloc(idx_bytes, "top-k indices");
    }
  }

  FlashPipeline pipe(tb, dqk, dv, m_attn, lt);
  BufferRing kv_ring(tb, 2, lt * slot_row, "attention KV");
  IndexerScorer* scorer = nullptr;
  std::unique_ptr<IndexerScorer> scorer_owner;
  if (dsa) {
    scorer_owner = std::make_unique<IndexerScorer>(c, sq, lt_idx);
    scorer = scorer_owner.get();
  }

  for (std::uint64_t b = 0; b < B; ++b) {
    SeqBuffers& s = sets[b % 2];
    const std::uint64_t kv_b = kv_cache + b * L * row, keys_b = key_cache + b * L * kb;
    const std::uint64_t first_new = L - sq;

    // kv.append: the new tokens' MLA rows (and indexer keys) go to the caches of record.
    std::uint64_t app_kv = tb.store(kTagKvAppend, new_rows, kv_b + first_new * row, sq * row, {});
    std::uint64_t app_key = kNoId;
    if (dsa)
      app_key = tb.store(kTagKvAppend, new_rows + sq * row, keys_b + first_new * kb, sq * kb, {});

    Ids q_ready, q_deps = c.proj_ready;
    q_deps.push_back(s.release);
    if (!dsa) {
      q_ready.push_back(tb.load(kTagAttnLoad, q_hbm + b * q_bytes, s.q, q_bytes, q_deps));
      for_each_tile(0, L, 0, lt, [&](std::uint64_t a, std::uint64_t e) {
        std::size_t slot;
        Ids deps = {take_flash_slot(kv_ring, pipe, slot)};
        if (e > first_new) deps.push_back(app_kv);
        Ids ready = q_ready;
        load_rows(c, kTagAttnLoad, kv_b + a * row, kv_ring.addr[slot], e - a, row, deps, ready);
        kv_ring.last_push[slot] = pipe.push({m_attn, e - a, s.q, kv_ring.addr[slot], s.acc, ready});
      });
    } else {
      // Indexer: q and head weights in, every key scored, top-k on chip.
      Ids qi_ready = {tb.load(kTagIndexerScores, qi_hbm + b * qi_bytes, s.qi, qi_bytes, q_deps),
                      tb.load(kTagIndexerScores, w_hbm + b * w_bytes, s.w, w_bytes, q_deps)};
      Ids sums;
      for_each_tile(0, L, c.resident_tokens, lt_idx, [&](std::uint64_t a, std::uint64_t e) {
        Ids deps;
        // A pinned new key is written into SRAM on chip; a streamed one is read back from HBM.
        if (e > first_new) deps.push_back(app_key);
        IndexerScorer::Keys keys = scorer->acquire(b, keys_b, a, e, deps);
        sums.push_back(
            scorer->score(keys, 0, e - a, sq, s.qi, s.w, qi_ready, s.scores + a * kFp32));
      });
      std::uint64_t topk = tb.topk(kTagIndexerTopk, sq, L, k_eff, s.scores, s.idx, sums);

      q_ready.push_back(tb.load(kTagAttnLoad, q_hbm + b * q_bytes, s.q, q_bytes, q_deps));
      for (std::uint64_t j = 0; j < sq; ++j) {
        for_each_tile(0, k_eff, 0, lt, [&](std::uint64_t a, std::uint64_t e) {
          std::size_t slot;
          // Any selection may include the new token's row.
          Ids deps = {take_flash_slot(kv_ring, pipe, slot), topk, app_kv};
          Ids ready = q_ready;
          gather_selection(c, kv_b, L, k_eff, a, e, kv_ring.addr[slot], c.hw.dma.engines, deps,
                           ready);
          kv_ring.last_push[slot] =
              pipe.push({h, e - a, s.q + j * h * dqk * kBf16, kv_ring.addr[slot],
                         s.acc + j * h * dv * kFp32, ready});
        });
      }
    }
    std::uint64_t merged = pipe.flush();
    // Divide by the softmax row sums and round to bf16 before O leaves the chip.
    std::uint64_t norm =
        tb.vpu(kTagAttnSoftmax, Op::kVpuScale, sq * h * dv, s.acc, s.acc, {merged});
    s.release = tb.store(kTagAttnPv, s.acc, o_hbm + b * o_bytes, o_bytes, {norm});
    c.o_stores.push_back(s.release);
  }
}

}  // namespace tpusim
