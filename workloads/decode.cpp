// One decode step of one layer: B sequences at context L, s_q = mtp query tokens each.
//
// Dense MLA (MQA/absorbed mode): per sequence, load Q (heads x s_q rows of 576), stream the whole
// MLA cache through flash attention, store O. DSA: per sequence, score every cached indexer key
// (pinned keys from SRAM, the rest streamed), top-k over the L scores on chip (fused: logits and
// indices never touch HBM), then per query token gather its k_eff selected MLA rows and run the
// same flash attention over them. Each query token has its own selection, so with MTP its sparse
// attention is heads rows x its own rows (concatenated along n: FLOPs exact).
//
// Split-KV (flash-decoding, as FlashMLA splits the KV range over SMs): one online-softmax chain
// qk -> softmax -> pv -> accumulate is serial, and the MXUs take matmuls in trace order, so a
// single chain keeps at most two arrays busy. The KV range (dense: L rows; DSA: each query's
// k_eff selected rows) is cut into P = 2 x mxu.count partitions (a single-query sparse
// selection: one per tile, up to 4 x mxu.count), each with its own chain, its own accumulator
// and its own KV slots; their tiles are emitted round-robin so the MXU queue always holds P
// independent matmuls. The P partial results are merged on the VPU (combine_partials: max,
// exp, rescale, add; counted) in rounds of mxu.count partitions as they finish, the last round
// at the end (merge_rounds).
#include <algorithm>
#include <functional>
#include <memory>
#include <string>

#include "base/cycle.h"
#include "base/error.h"
#include "workloads/lowering.h"

namespace tpusim {
namespace {

// Split-KV partitions per MXU. Each partition is one qk -> softmax -> pv chain, so with one per
// array an array waits for the VPU's softmax between its qk and its pv; with two it runs the
// other partition's matmul meanwhile. (Merging twice as many partials costs the VPU more at the
// end; the arrays' gain outweighs it at every L measured, dense and DSA.)
constexpr std::uint64_t kPartitionsPerMxu = 2;
// The step's tail (merge the partials, normalise, store O) runs in this many slices of the
// query heads, so the first slice's store overlaps the second's merge on the VPU. Four slices
// came out within 1% of two either way: each store still pays the path latency.
constexpr std::uint64_t kOutputPieces = 2;
// Dense KV tiles per partition: the pipeline's fill (one tile per partition loaded before its
// array starts) and drain then cost ~1/16 of a partition. SRAM can only shrink tiles below this.
constexpr std::uint64_t kTargetTilesPerPart = 16;
// A tile of fewer MXU column folds than this wastes the per-matmul weight preload and array
// drain (2R + C cycles, ~8% of an 8-fold x 5 K-fold qk); below it, fewer larger tiles win.
constexpr std::uint64_t kMinTileFolds = 8;
// At short context the fold floor would leave one tile per partition, loaded whole before its
// array starts; at least this many tiles let the loads of one overlap the matmuls of another.
constexpr std::uint64_t kMinTilesPerPart = 4;
// A top-k selection is only k rows. With one query token per sequence each selected tile is a
// partition of its own (at most kSparsePartitionsPerMxu per array; k 2048 gives 16 of 128 rows
// on tpu-v5e): no accumulate inside a partition, and the partitions are merged in rounds as they
// finish (merge_rounds below). DSA at L <= k cuts the whole cache the same way, so the step
// keeps its shape across L = k (with dense's plan there, DSA at 2k was slower than at 3k). With MTP
// the queries' own chains already multiply the independent work, and two tiles per partition came
// out faster (tests/bench/RESULTS.md, issue 11, eleventh round).
constexpr std::uint64_t kSparsePartitionsPerMxu = 4;
constexpr std::uint64_t kSparseMtpTilesPerPart = 2;
// KV slots per partition. Two would make the load of tile t+2 wait for pv of tile t, which the
// in-order MXU queue only reaches after every other partition's qk of tile t+1; a third slot
// lets the loads run a whole round ahead.
constexpr std::size_t kKvSlots = 3;
// Indexer key tiles per sequence, and key/logits slots per MXU: a tile's fp8 matmul streams
// Lt/2 rows against one stationary fold, several times longer than loading its 132-B keys, so
// the loads must run several tiles ahead for all arrays to work at once. Eight slots per MXU
// rather than two or four: a slot is held from its load through the matmul and the in-order
// VPU's epilogue; with fewer, the loads in flight were bounded by slots, not by HBM (at short
// context, where a sequence needs most of its tiles in flight at once). 64 tiles rather than
// 32 (at least one fold of keys each) since an array overlaps consecutive matmuls: a smaller
// tile no longer pays its own preload and drain, and the last tile's matmul and epilogue, the
// indexer's tail before top-k, are half as long.
// With every key pinned the indexer is bound on chip (SRAM traffic of the logits and the fused
// epilogue, and the VPU's lane-ops), not by scheduling. Leading tiles of equal size: halving the
// first ones let the VPU start earlier but then wait for the first full tile (measurements in
// tests/bench/RESULTS.md, "Indexer key tiles").
constexpr std::uint64_t kIndexerTiles = 64;
// Grid tiles at the end of the key range cut into one-fold pieces. A tile's matmul streams
// Lt/(fp8 rate) rows and drains after its keys arrive, while the HBM brings the next tile in
// Lt x 132 B / bandwidth: on tpu-v5e (fp8 rate 2, 3.8 keys per cycle) the second-to-last whole
// tile still finished after the last key had arrived, so two tiles are cut, not one.
constexpr std::uint64_t kIndexerTailTiles = 2;
constexpr std::size_t kIndexerSlotsPerMxu = 8;

std::uint64_t round_up(std::uint64_t a, std::uint64_t b) {
  return ceil_div(a, b) * b;
}

/// Calls fn(begin, end) for the indexer key tiles of [0, L): tiles of `tile` keys on a grid
/// anchored at key 0, and a cut at R (the pinned/streamed boundary). Streamed tiles start on
/// the grid, not at R: R x 132 B is generally not a multiple of the HBM burst or channel
/// granule, and tiles anchored at R made every 512-B request of the whole key stream straddle
/// one more burst and granule (DMA pieces took 2,984 instead of 2,356 cycles at L = 128k, so
/// --residency auto was 11% slower than stream). Only the tile straddling R is shortened.
///
/// The last kIndexerTailTiles tiles of the grid are cut into pieces of `fine` keys (when `fine`
/// divides `tile`): top-k waits for the last score, and a whole tile's matmul, which streams its
/// keys through one array after they arrive, was the indexer's tail. The cut keeps the grid (a
/// piece never straddles a tile boundary); fn's third argument says a piece closes its tile.
template <typename Fn>
void for_each_key_tile(std::uint64_t L, std::uint64_t R, std::uint64_t tile, std::uint64_t fine,
                       Fn&& fn) {
  const std::uint64_t tiles = ceil_div(L, tile);
  const bool cut = fine > 0 && fine < tile && tile % fine == 0;
  const std::uint64_t tail_from =
      cut ? (tiles > kIndexerTailTiles ? tiles - kIndexerTailTiles : 0) * tile : L;
  for (std::uint64_t pos = 0; pos < L;) {
    const std::uint64_t step = pos >= tail_from ? fine : tile;
    std::uint64_t stop = std::min(L, (pos / step + 1) * step);
    if (pos < R && stop > R) stop = R;
    fn(pos, stop, stop == L || stop == R || stop % tile == 0);
    pos = stop;
  }
}

/// Per-sequence buffers; two sets alternate so sequence b+1's inputs load while b computes.
/// `acc` holds P partition accumulators (`part_acc` bytes apart), `stats` their row max/sum.
struct SeqBuffers {
  std::uint64_t q = 0, acc = 0, stats = 0, qi = 0, w = 0, scores = 0, idx = 0;
  Ids release;  ///< the last instructions of the sequence that used this set (its O stores)
};

/// Partition p of [0, n) in P parts whose boundaries are multiples of `align` (MXU columns).
struct Partition {
  std::uint64_t parts = 1, chunk = 0, n = 0;
  std::uint64_t begin(std::uint64_t p) const { return std::min(n, p * chunk); }
  std::uint64_t end(std::uint64_t p) const { return std::min(n, (p + 1) * chunk); }
};

Partition partition(std::uint64_t n, std::uint64_t parts, std::uint64_t align) {
  Partition pt;
  pt.n = n;
  pt.chunk = std::min(n, round_up(ceil_div(n, parts), align));
  pt.parts = ceil_div(n, pt.chunk);
  return pt;
}

}  // namespace

void lower_decode(LoweringContext& c) {
  const WorkloadParams& p = c.p;
  const ModelConfig& md = c.model;
  TraceBuilder& tb = c.tb;
  const bool dsa = p.attention == Attention::kDsa;
  // An S layer of --index-share runs no indexer: it reuses the indices of the F layer before it
  // (kept on chip; they are k x 4 B per query) and only gathers and attends.
  const bool indexer = dsa && !p.shared_layer;
  const std::uint64_t B = p.batch, L = p.seq, sq = p.mtp, h = md.n_heads;
  const std::uint64_t dqk = md.mqa_qk_dim(), dv = md.mqa_v_dim();
  const std::uint64_t row = c.kv_row_bytes, kb = md.index_key_bytes;
  const std::uint64_t hi = md.index_n_heads, di = md.index_head_dim;
  const std::uint64_t k_eff = std::min(p.topk, L);
  // At L <= k the selection is the whole cache: DSA attends it as dense does (streamed tiles,
  // one load per tile for all MTP queries) once top-k is done, so it does exactly dense's
  // attention plus the indexer and can never be faster (a gather of every row on a different
  // tile grid came out up to 1% faster than dense's stream on H800-like chips). With the row
  // cache holding part of the selection, only the misses are gathered, at any L.
  const bool sparse_attn = dsa && (k_eff < L || c.row_cache_hits > 0);
  const std::uint64_t cols = c.hw.mxu.cols, mxus = c.hw.mxu.count;
  // KV slots hold a tile as the MXU reads it: bf16 [latent; rope] (FP8 rows dequantized in place).
  const std::uint64_t slot_row = std::max(row, dqk * kBf16);
  if (sq > L) throw UserError("--mtp: " + std::to_string(sq) + " query tokens exceed --seq");

  // HBM: this layer's caches for all sequences, and Q/O (plus indexer q and weights) in and out.
  const std::uint64_t kv_cache = tb.hbm_region("mla_cache", B * L * row);
  const std::uint64_t key_cache = indexer ? tb.hbm_region("indexer_keys", B * L * kb) : 0;
  const std::uint64_t q_bytes = sq * h * dqk * kBf16, o_bytes = sq * h * dv * kBf16;
  const std::uint64_t qi_bytes = sq * hi * di, w_bytes = sq * hi * kFp32;
  const std::uint64_t q_hbm = tb.hbm_region("q", B * q_bytes);
  const std::uint64_t o_hbm = tb.hbm_region("o", B * o_bytes);
  const std::uint64_t qi_hbm = indexer ? tb.hbm_region("indexer_q", B * qi_bytes) : 0;
  const std::uint64_t w_hbm = indexer ? tb.hbm_region("indexer_weights", B * w_bytes) : 0;

  // SRAM: the new token's rows (produced on chip), two per-sequence sets, then tiles.
  const std::uint64_t new_rows = tb.sram_alloc(sq * (row + kb), "new cache rows");
  // Score rows per push: one query's heads. Dense pushes each KV tile once per MTP query (the
  // tile is loaded once), so its s_q queries are independent chains like DSA's, instead of one
  // m = heads x s_q chain that left half the partitions' arrays idle next to DSA's.
  const std::uint64_t m_attn = h;
  const std::uint64_t attn_rows = dsa ? k_eff : L;     // per query: the cache or its selection
  const std::uint64_t part_acc = sq * h * dv * kFp32;  // one partition's accumulators
  const std::uint64_t scores_bytes = sq * L * kFp32, idx_bytes = sq * k_eff * kFp32;

  // Split-KV plan: P partitions of the attended rows, each with kKvSlots KV slots, its own
  // pipeline (scores and partial slots) and accumulators in both sets. Dense: m = heads x s_q
  // rows share each KV tile. DSA: the indexer and the sparse attention of consecutive sequences
  // overlap, so they share the SRAM left after the sets: the indexer takes what its key tiles
  // need (at most half) and the attention the rest; the indexer gets kIndexerSlotsPerMxu key
  // and logits slots per array (of the arrays the partitions use). P starts at
  // 2 x mxu.count and shrinks only when SRAM cannot give every partition a tile of one full MXU
  // fold (and the indexer one fold of keys).
  Partition part;
  std::uint64_t P = 0, set_bytes = 0, stats_bytes = 0, lt = 0, lt_idx = 0, free = 0;
  std::uint64_t attn_budget = 0;
  std::size_t idx_slots = 0;
  const bool one_tile_parts = dsa && sq == 1;
  const std::uint64_t per_mxu = one_tile_parts ? kSparsePartitionsPerMxu : kPartitionsPerMxu;
  const std::uint64_t sparse_tiles = one_tile_parts ? 1 : kSparseMtpTilesPerPart;
  for (std::uint64_t want = std::max<std::uint64_t>(1, per_mxu * mxus);; --want) {
    part = partition(attn_rows, want, cols);
    // Short context on a many-array chip leaves a streamed partition one tile of one fold. Its
    // array then waits for that tile to load, but the other partitions' tiles keep the arrays
    // fed and the merge rounds take each partial as it finishes, so all the partitions still
    // beat half as many of two tiles each (tests/bench/RESULTS.md, issue 11, twelfth round).
    P = part.parts;
    stats_bytes = P * sq * h * 2 * kFp32;
    set_bytes = q_bytes + P * part_acc + stats_bytes + 3 * 512;
    if (dsa) set_bytes += qi_bytes + w_bytes + scores_bytes + idx_bytes + 4 * 512;
    free = tb.sram_free() > 2 * set_bytes ? tb.sram_free() - 2 * set_bytes : 0;
    const std::uint64_t attn_token = P * (kKvSlots * slot_row + 2 * m_attn * kFp32);
    const std::uint64_t attn_fixed = P * (FlashPipeline::sram_bytes(dv, m_attn, 0) + 2 * 512);
    std::uint64_t target = round_up(
        ceil_div(part.chunk, one_tile_parts || sparse_attn ? sparse_tiles : kTargetTilesPerPart),
        cols);
    if (!one_tile_parts && !sparse_attn)
      target = std::max(target, std::min(kMinTileFolds * cols,
                                         round_up(ceil_div(part.chunk, kMinTilesPerPart), cols)));
    target = std::min(part.chunk, target);
    // Key slots: kIndexerSlotsPerMxu per array the partitions use, and at least enough for every
    // DMA engine to keep dma.max_in_flight key loads going; below that the key stream is bound
    // by slots, not HBM (a top-k of 128 rows is one partition: with its 8 slots DSA decode at 8k
    // took 11,464 cycles, with k 512 7,463). Never more than the SRAM-bounded `want` allows.
    idx_slots = std::min(kIndexerSlotsPerMxu * std::min(want, mxus),
                         std::max(kIndexerSlotsPerMxu * std::min(P, mxus),
                                  std::uint64_t{c.hw.dma.engines} * c.hw.dma.max_in_flight));
    // Per key: the key and logits slots, and the head-sum's tail in both sets' scores (the sum
    // is counted over its fp32 inputs, heads x keys, so its extent is that long).
    const std::uint64_t idx_token = idx_slots * (kb + hi * sq * kFp32) + 2 * hi * sq * kFp32;
    const std::uint64_t idx_fixed = idx_slots * 2 * 512;
    // The indexer's share is what its key tiles need at their target size, and at most half:
    // an even split held a DSA attention with room for more partitions to fewer (same round).
    const std::uint64_t idx_target = std::min(L, round_up(ceil_div(L, kIndexerTiles), cols));
    const std::uint64_t idx_need = idx_fixed + idx_token * idx_target;
    attn_budget = !dsa ? free : std::max(free / 2, free > idx_need ? free - idx_need : 0);
    const std::uint64_t idx_budget = free - attn_budget;
    auto fits = [](std::uint64_t budget, std::uint64_t per, std::uint64_t fixed) {
      return budget > fixed ? (budget - fixed) / per : 0;
    };
    bool ok = fits(attn_budget, attn_token, attn_fixed) >= std::min(target, cols);
    if (dsa) ok = ok && fits(idx_budget, idx_token, idx_fixed) >= std::min(L, cols);
    if (!ok && want > 1) continue;
    lt = fit_tile(attn_budget, attn_token, attn_fixed, target, cols, "attention KV");
    if (dsa) lt_idx = fit_tile(idx_budget, idx_token, idx_fixed, idx_target, cols, "indexer key");
    break;
  }
  tb.meta("split_kv.partitions", std::to_string(P));
  tb.meta("tile.attn_kv_tokens", std::to_string(lt));
  if (dsa) tb.meta("tile.indexer_key_tokens", std::to_string(lt_idx));

  SeqBuffers sets[2];
  for (auto& s : sets) {
    s.q = tb.sram_alloc(q_bytes, "query");
    s.acc = tb.sram_alloc(P * part_acc, "attention accumulators");
    s.stats = tb.sram_alloc(stats_bytes, "softmax statistics");
    if (dsa) {
      s.qi = tb.sram_alloc(qi_bytes, "indexer query");
      s.w = tb.sram_alloc(w_bytes, "indexer weights");
      s.scores = tb.sram_alloc(scores_bytes + hi * sq * lt_idx * kFp32, "indexer scores");
      s.idx = tb.sram_alloc(idx_bytes, "top-k indices");
    }
  }

  std::vector<std::unique_ptr<FlashPipeline>> pipes;
  std::vector<BufferRing> rings;
  for (std::uint64_t i = 0; i < P; ++i) {
    pipes.push_back(std::make_unique<FlashPipeline>(tb, dqk, dv, m_attn, lt));
    rings.emplace_back(tb, kKvSlots, lt * slot_row, "attention KV");
  }
  // Streamed tiles (KV rows, indexer keys) go to half the DMA engines each: with several tiles
  // in flight, two tiles then stream at once and one's latency ramp hides under the other's
  // transfer, where splitting every tile over all engines makes them start and drain together.
  const std::uint64_t stream_pieces = std::max<std::uint64_t>(1, c.hw.dma.engines / 2);
  // The first sequence's first gathered tiles (those of the first 2 x mxu.count partitions, which
  // the arrays start on) go to every engine, unless other loads queue behind its gathers (the
  // next sequence's keys, the next layer's prefetched keys): 2 x mxu.count tiles of that many
  // pieces waiting for top-k would fill the DMA issue window and hold those loads until top-k,
  // so there each of the tiles is split in two (tests/bench/RESULTS.md, ninth round of issue
  // 11). Splitting all 4 x mxu.count one-tile partitions' made that 32 pieces again (DSA decode
  // with --residency prefetch at 64k 20,870 -> 22,779 cycles).
  const std::uint64_t first_tile_pieces = (c.prefetch_next_keys || B > 1)
                                              ? std::min<std::uint64_t>(2, c.hw.dma.engines)
                                              : c.hw.dma.engines;
  std::unique_ptr<IndexerScorer> scorer;
  if (dsa) {
    scorer = std::make_unique<IndexerScorer>(c, sq, lt_idx, idx_slots);
    scorer->set_load_pieces(stream_pieces);
  }
  // --residency prefetch for a streamed attention (dense, or DSA at L <= k): the run is one layer
  // of a steady stack, as for the indexer keys. The first KV tile of each partition of the first
  // sequence arrived during the previous layer, so the arrays start at once; this layer loads
  // the next layer's first tiles into a second buffer once its own last tiles have arrived,
  // under its compute tail (the HBM is otherwise idle then). HBM bytes are unchanged. A tile
  // holding the new token's row is not prefetched (that row is written during this step), and
  // nothing is when both buffers do not fit in what SRAM and sram.residency_mib leave. They are
  // allocated last, after the indexer's slots, so that a prefetch never costs a run a buffer
  // the stream lowering would have had; a row cache (--kv-row-cache) keeps its budget to itself.
  std::vector<std::uint64_t> pf_rows(P, 0);  // rows of each partition's first tile, prefetched
  std::uint64_t pf_base[2] = {0, 0};
  if (p.residency == Residency::kPrefetch && !sparse_attn && !p.kv_row_cache) {
    std::uint64_t per_set = 0;
    for (std::uint64_t i = 0; i < P; ++i) {
      const std::uint64_t a = part.begin(i), e = std::min(part.end(i), a + lt);
      if (e <= L - sq) pf_rows[i] = e - a;
      per_set += pf_rows[i] * slot_row;
    }
    // The budget less what is pinned (the indexer keys of DSA at L <= k), each buffer rounded
    // as sram_alloc rounds it.
    const auto budget = static_cast<std::uint64_t>(c.hw.sram.residency_mib * 1024.0 * 1024.0);
    const std::uint64_t left = budget > tb.sram_pinned() ? budget - tb.sram_pinned() : 0;
    const std::uint64_t both = 2 * round_up(per_set, TraceBuilder::kSramAlign);
    if (per_set > 0 && both <= std::min(left, tb.sram_free())) {
      pf_base[0] = tb.sram_alloc(per_set, "prefetched KV tiles");
      pf_base[1] = tb.sram_alloc(per_set, "next layer's prefetched KV tiles");
    } else {
      std::fill(pf_rows.begin(), pf_rows.end(), 0);
    }
  }
  std::vector<std::uint64_t> pf_addr(P, 0);  // partition i's tile in a prefetch buffer (offset)
  std::uint64_t pf_total = 0;
  for (std::uint64_t i = 0; i < P; ++i) {
    pf_addr[i] = pf_total;
    pf_total += pf_rows[i] * slot_row;
  }
  if (p.residency == Residency::kPrefetch)
    tb.meta("prefetch.kv_rows", std::to_string(pf_total / slot_row));
  // The last tile's loads of each partition (the next layer's prefetch waits for them).
  std::vector<Ids> last_loads(P);

  // The previous sequence's combine and O store, emitted once the next sequence's first tiles
  // are queued: emitted at its own end, the store would sit in the in-order DMA queue ahead of
  // the next sequence's loads until the whole attention is done, serialising the batch.
  std::function<void()> finish_prev;
  auto run_pending = [&] {
    if (!finish_prev) return;
    auto f = std::move(finish_prev);
    finish_prev = nullptr;
    f();
  };

  // Emits the attention over rows [0, n) of one query's (or the dense) KV range, split over the
  // partitions and interleaved tile by tile. `load(a, e, slot_addr, deps, ready, first)` brings
  // rows [a, e) into a slot (`first`: the first tile of one of the first 2 x mxu.count
  // partitions, which the arrays start on).
  bool first_seq = true;
  // The step's last chain (its last sequence's last query): each partition's last tile splits
  // its pv into one matmul per MXU column fold of d_v. The arrays take the step's last matmuls
  // as they free up, and with whole pvs (4 column folds on a 128-column array) they finished up
  // to one pv apart while the merge waited for the last; in halves they still finished up to
  // half a pv apart, in folds a quarter (docs/LOWERING.md; tests/bench/RESULTS.md, issue 11,
  // eleventh and fourteenth rounds).
  bool last_chain = false;
  const std::uint64_t last_pv_pieces = std::max<std::uint64_t>(1, ceil_div(dv, cols));
  // The first of the partitions the merge rounds leave to the final combine.
  const std::uint64_t final_first = merged_in_rounds(P, mxus);
  std::uint64_t topk = kNoId;  // this sequence's top-k (DSA), or kNoId
  auto attend = [&](std::uint64_t q_addr, std::uint64_t acc_addr, const Ids& q_ready,
                    std::uint64_t queries, auto&& load) {
    for (std::uint64_t t = 0;; ++t) {
      if (t == 2) run_pending();
      bool any = false;
      for (std::uint64_t i = 0; i < P; ++i) {
        const std::uint64_t a = part.begin(i) + t * lt, e = std::min(part.end(i), a + lt);
        if (a >= e) continue;
        any = true;
        Ids ready = q_ready;
        const bool part_last = e == part.end(i);
        auto pv_pieces = [&](std::uint64_t j) -> std::uint64_t {
          return last_chain && part_last && j + 1 == queries ? last_pv_pieces : 1;
        };
        const bool split_acc = sq == 1 && i >= final_first;
        if (t == 0 && first_seq && pf_rows[i] > 0) {
          // Prefetched during the previous layer: in SRAM from the start.
          if (topk != kNoId) ready.push_back(topk);
          for (std::uint64_t j = 0; j < queries; ++j)
            pipes[i]->push({m_attn, e - a, q_addr + j * h * dqk * kBf16, pf_base[0] + pf_addr[i],
                            acc_addr + i * part_acc + j * h * dv * kFp32, ready, true, pv_pieces(j),
                            split_acc});
          continue;
        }
        std::size_t slot;
        Ids deps = take_flash_slot(rings[i], *pipes[i], slot);
        load(a, e, rings[i].addr[slot], deps, ready, t == 0 && i < kPartitionsPerMxu * mxus);
        last_loads[i] = ready;
        for (std::uint64_t j = 0; j < queries; ++j)
          rings[i].last_push[slot] =
              pipes[i]->push({m_attn, e - a, q_addr + j * h * dqk * kBf16, rings[i].addr[slot],
                              acc_addr + i * part_acc + j * h * dv * kFp32, ready, t == 0,
                              pv_pieces(j), split_acc});
      }
      if (!any) break;
    }
  };

  for (std::uint64_t b = 0; b < B; ++b) {
    SeqBuffers& s = sets[b % 2];
    const std::uint64_t kv_b = kv_cache + b * L * row, keys_b = key_cache + b * L * kb;
    const std::uint64_t first_new = L - sq;

    // kv.append: the new tokens' MLA rows (and indexer keys) go to the caches of record.
    std::uint64_t app_kv = tb.store(kTagKvAppend, new_rows, kv_b + first_new * row, sq * row, {});
    std::uint64_t app_key = kNoId;
    if (indexer)
      app_key = tb.store(kTagKvAppend, new_rows + sq * row, keys_b + first_new * kb, sq * kb, {});

    // --residency prefetch: this layer's pinned keys [0, R) were streamed in during the previous
    // layer; it streams the next layer's into the other buffer. Nothing in this layer reads them.
    // Every DMA engine takes its queue in order, so where they sit in it decides what they
    // delay: the part HBM can move while the indexer scores keys on chip (its MXU and VPU
    // bounds; HBM is otherwise idle then) goes before the gathers, in the scoring loop, and the
    // rest after them, where it runs under the attention. Placed by the issue window instead,
    // it started at once with few gathers and after all of them with many (MTP 2: 30-50% slower
    // than streaming).
    std::uint64_t prefetched = 0, prefetch_early = 0;
    const std::uint64_t next_keys = c.next_keys_base + b * c.resident_tokens * kb;
    auto prefetch_next = [&](std::uint64_t upto) {
      while (indexer && c.prefetch_next_keys && prefetched < upto) {
        const std::uint64_t a = prefetched, e = std::min(upto, a + lt_idx);
        Ids deps, done;
        if (e > first_new) deps.push_back(app_key);  // the new token's key is in the cache
        load_rows(c, kTagIndexerScores, keys_b + a * kb, next_keys + a * kb, e - a, kb, deps, done,
                  stream_pieces);
        prefetched = e;
      }
    };
    if (indexer && c.prefetch_next_keys) {
      const double mxu_per_cycle = 2.0 * double(c.hw.mxu.count) * double(c.hw.mxu.rows) *
                                   double(c.hw.mxu.cols) * c.hw.mxu.fp8_rate;
      const double scoring_cycles =
          std::max(double(sq) * 2 * double(hi) * double(di) * double(L) / mxu_per_cycle,
                   double(sq) * double(hi) * double(L) *
                       c.hw.vpu.cost[static_cast<std::size_t>(vpu_op_index(Op::kVpuReluWsum))] /
                       double(c.hw.vpu.lanes));
      const double hbm_bytes = scoring_cycles * c.hw.hbm.bandwidth_gbs / c.hw.chip.clock_ghz;
      // Keys past R stream in the same window and take their share of it.
      const double streamed = double(L - c.resident_tokens) * double(kb);
      prefetch_early = hbm_bytes > streamed
                           ? std::min<std::uint64_t>(c.resident_tokens,
                                                     std::uint64_t((hbm_bytes - streamed) / kb))
                           : 0;
    }

    Ids q_ready, q_deps = c.proj_ready;
    q_deps.insert(q_deps.end(), s.release.begin(), s.release.end());
    // Attention deps beyond the tile's slot: top-k for DSA (its indices, or at L <= k its
    // completion), the appended row for whatever reaches the new tokens.
    topk = kNoId;
    auto attend_dense = [&] {
      last_chain = b + 1 == B;
      attend(s.q, s.acc, q_ready, sq,
             [&](std::uint64_t a, std::uint64_t e, std::uint64_t dst, Ids& deps, Ids& ready, bool) {
               if (e > first_new) deps.push_back(app_kv);
               if (topk != kNoId) deps.push_back(topk);
               load_rows(c, kTagAttnLoad, kv_b + a * row, dst, e - a, row, deps, ready,
                         stream_pieces);
             });
    };
    if (indexer) {
      // Indexer: q and head weights in, every key scored, top-k on chip.
      Ids qi_ready = {tb.load(kTagIndexerScores, qi_hbm + b * qi_bytes, s.qi, qi_bytes, q_deps),
                      tb.load(kTagIndexerScores, w_hbm + b * w_bytes, s.w, w_bytes, q_deps)};
      Ids sums;
      std::size_t idx_tiles = 0;
      for_each_key_tile(L, c.resident_tokens, lt_idx, cols,
                        [&](std::uint64_t a, std::uint64_t e, bool closes_tile) {
                          if (++idx_tiles == idx_slots) run_pending();
                          Ids deps;
                          // A pinned new key is written into SRAM on chip; a streamed one is read
                          // back from HBM.
                          if (e > first_new) deps.push_back(app_key);
                          IndexerScorer::Keys keys = scorer->acquire(b, keys_b, a, e, deps);
                          sums.push_back(scorer->score(keys, 0, e - a, sq, s.qi, s.w, qi_ready,
                                                       s.scores + a * kFp32));
                          if (closes_tile)
                            prefetch_next(std::min(prefetch_early, prefetched + lt_idx));
                        });
      prefetch_next(prefetch_early);
      topk = emit_topk(c, sq, L, k_eff, s.scores, s.idx, sums);
    }
    // Q (s_q x 128 heads x 576 bf16, 147 KiB per query) is split over the engines like a
    // KV tile: on one engine its latency and transfer would precede every first matmul.
    load_rows(c, kTagAttnLoad, q_hbm + b * q_bytes, s.q, sq * h, dqk * kBf16, q_deps, q_ready);
    if (!sparse_attn) {
      attend_dense();
    } else {
      // --kv-row-cache: `hits` of each query's k_eff rows are already in SRAM from the previous
      // step (the cached set is where the attention reads them, so they need no copy); the
      // misses are spread evenly over the selection's tiles and gathered into the slot.
      const std::uint64_t hits = c.row_cache_hits;
      auto hits_before = [&](std::uint64_t x) { return x * hits / k_eff; };
      for (std::uint64_t j = 0; j < sq; ++j) {
        last_chain = b + 1 == B && j + 1 == sq;
        attend(s.q + j * h * dqk * kBf16, s.acc + j * h * dv * kFp32, q_ready, 1,
               [&](std::uint64_t a, std::uint64_t e, std::uint64_t dst, Ids& deps, Ids& ready,
                   bool first_tile) {
                 // Any selection may include the new token's row.
                 deps.push_back(topk);
                 deps.push_back(app_kv);
                 const std::uint64_t ma = a - hits_before(a), me = e - hits_before(e);
                 // The step's first sequence starts on an idle chip that waits for every
                 // partition's first tile: each of those is split over the engines, so that the
                 // first partition's rows head every engine's queue and its array starts after
                 // one tile's transfer, the next soon after (docs/LOWERING.md).
                 const bool split = first_tile && first_seq;
                 if (me > ma)
                   gather_selection(c, kv_b, L, k_eff - hits, ma, me, dst,
                                    split ? first_tile_pieces : c.hw.dma.engines, deps, ready,
                                    split);
                 else
                   ready.insert(ready.end(), deps.begin(), deps.end());
               });
      }
    }
    first_seq = false;
    // The rest of the next layer's keys: behind this sequence's gathers, under its attention.
    prefetch_next(c.resident_tokens);
    run_pending();
    std::vector<std::size_t> last;
    last.reserve(pipes.size());
    for (auto& pipe : pipes)
      last.push_back(pipe->size() - 1);
    // Drain the partitions together: every last pv before any last accumulate, so the in-order
    // VPU does not hold partition p+1's softmax behind partition p's final merge. Done now, not
    // deferred into the next sequence: deferred, dense's tail interleaved with the next
    // sequence's first tiles and its batch pipelined worse than DSA's, whose next indexer comes
    // first (at L <= k, batch 8 on h800-like, DSA came out up to 1.1x faster than dense).
    for (std::size_t i = 0; i < pipes.size(); ++i)
      pipes[i]->ensure_emitted(last[i]);
    finish_prev = [&, last, b] {
      SeqBuffers& s = sets[b % 2];
      std::vector<Ids> part_done(P);
      for (std::uint64_t i = 0; i < P; ++i)
        part_done[i] = pipes[i]->ensure_merged(last[i]);
      // The partitions in rounds of mxu.count as they finish (merge_rounds); the rest, with the
      // rounds' running result, in the final combine. Dense too: its 2 x mxu.count partitions
      // finish together, but the final combine then has mxu.count + 1 parts instead of
      // 2 x mxu.count (dense decode at 4k 12,695 -> 12,584 cycles), and DSA at L <= k, which
      // attends as dense does, would otherwise be slower at 2k than the sparse path at 3k.
      const SplitKvRounds rounds =
          merge_rounds(tb, part_done, mxus, sq * h, dv, s.acc, part_acc, s.stats, stats_bytes / P);
      Ids merged;
      for (std::uint64_t i = rounds.merged_parts; i < P; ++i)
        merged.insert(merged.end(), part_done[i].begin(), part_done[i].end());
      if (rounds.running != kNoId) merged.push_back(rounds.running);
      const std::uint64_t final_parts = P - rounds.merged_parts + (rounds.running != kNoId ? 1 : 0);
      // Merge the partitions, divide by the softmax row sums and round to bf16 before O leaves,
      // in kOutputPieces slices of the rows: each slice's store overlaps the next one's merge.
      s.release.clear();
      const std::uint64_t rows = sq * h;
      // The step's last chain (one query) ends in pvs of one matmul per column fold, and the
      // partitions left to this combine finish fold by fold (their last pv, or its accumulate,
      // in pieces). The combine then runs by fold too: fold f's pass waits only for fold f of
      // those partitions, so the VPU starts on the first folds while the arrays finish the
      // last, and each fold is scaled and stored on its own (its columns of every O row: a 2-D
      // store). Merged whole, the tail began after the last fold (DSA decode at 8k 10,722 ->
      // 10,551 cycles; tests/bench/RESULTS.md, issue 11, fifteenth round).
      bool by_fold = sq == 1 && b + 1 == B && last_pv_pieces > 1 && final_parts > 1;
      for (std::uint64_t i = rounds.merged_parts; i < P && by_fold; ++i)
        by_fold = pipes[i]->pv_ids(last[i]).size() == last_pv_pieces &&
                  part_done[i].size() == last_pv_pieces;
      if (by_fold) {
        // As FlashMLA's combine kernel does, the weights come from the statistics alone, before
        // any fold: m = max_p m_p, f_p = exp(m_p - m), l = sum_p f_p l_p, w_p = f_p / l (four
        // small passes over parts x rows). Each fold's pass is then one multiply-add per
        // element into normalised O, with no separate 1/l pass over O. The statistics need
        // only the partitions' softmaxes, which every piece of their last pv follows: the first
        // piece stands for them.
        Ids stat_deps;
        for (std::uint64_t i = rounds.merged_parts; i < P; ++i)
          stat_deps.push_back(pipes[i]->pv_ids(last[i]).front());
        if (rounds.running != kNoId) stat_deps.push_back(rounds.running);
        const std::uint64_t n_stats = final_parts * rows;
        const std::uint64_t mx =
            tb.vpu(kTagAttnSoftmax, Op::kVpuMax, n_stats, s.stats, s.stats, stat_deps);
        const std::uint64_t ex =
            tb.vpu(kTagAttnSoftmax, Op::kVpuExp, n_stats, s.stats, s.stats, {mx});
        const std::uint64_t l =
            tb.vpu(kTagAttnSoftmax, Op::kVpuAdd, n_stats, s.stats, s.stats, {ex});
        const std::uint64_t w =
            tb.vpu(kTagAttnSoftmax, Op::kVpuScale, n_stats, s.stats, s.stats, {l});
        for (std::uint64_t f = 0; f < last_pv_pieces; ++f) {
          const std::uint64_t c0 = dv * f / last_pv_pieces, c1 = dv * (f + 1) / last_pv_pieces;
          Ids deps = {w};
          for (std::uint64_t i = rounds.merged_parts; i < P; ++i)
            deps.push_back(part_done[i][f]);
          // Fold f's column block, stored contiguously (FlashPipeline's pv pieces).
          const std::uint64_t acc = s.acc + rows * c0 * kFp32;
          const std::uint64_t add =
              tb.vpu(kTagAttnSoftmax, Op::kVpuAdd, final_parts * rows * (c1 - c0), acc, acc, deps);
          s.release.push_back(tb.store_2d(kTagAttnPv, acc, o_hbm + b * o_bytes + c0 * kBf16, rows,
                                          (c1 - c0) * kBf16, dv * kBf16, {add}));
        }
        c.o_stores.insert(c.o_stores.end(), s.release.begin(), s.release.end());
        return;
      }
      for (std::uint64_t pc = 0; pc < kOutputPieces; ++pc) {
        const std::uint64_t r0 = rows * pc / kOutputPieces, r1 = rows * (pc + 1) / kOutputPieces;
        if (r1 == r0) continue;
        const std::uint64_t acc = s.acc + r0 * dv * kFp32;
        const std::uint64_t comb =
            combine_partials(tb, final_parts, r1 - r0, dv, acc, s.stats + r0 * 2 * kFp32, merged);
        const std::uint64_t norm =
            tb.vpu(kTagAttnSoftmax, Op::kVpuScale, (r1 - r0) * dv, acc, acc, {comb});
        // O is split over the engines like Q: on one engine the store's latency and transfer
        // were the step's serial tail.
        store_rows(c, kTagAttnPv, acc, o_hbm + b * o_bytes + r0 * dv * kBf16, r1 - r0, dv * kBf16,
                   {norm}, s.release);
      }
      c.o_stores.insert(c.o_stores.end(), s.release.begin(), s.release.end());
    };
  }
  // The next layer's first tiles, once this layer's last tiles have arrived. A partition whose
  // only tile was prefetched (L below two tiles) loaded nothing; it waits for the other
  // partitions' last tiles instead, so that its load still runs under the compute tail.
  Ids all_last;
  for (const Ids& ids : last_loads)
    all_last.insert(all_last.end(), ids.begin(), ids.end());
  for (std::uint64_t i = 0; i < P; ++i) {
    if (pf_rows[i] == 0) continue;
    Ids done;
    load_rows(c, kTagAttnLoad, kv_cache + part.begin(i) * row, pf_base[1] + pf_addr[i], pf_rows[i],
              row, last_loads[i].empty() ? all_last : last_loads[i], done, stream_pieces);
  }
  run_pending();
}

}  // namespace tpusim
