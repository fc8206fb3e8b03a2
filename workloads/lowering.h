#pragma once
/// Internal to workloads/: the shared state of one lowering and the kernel building blocks
/// (piecewise DMA, top-k gathers, the flash-attention tile pipeline, the indexer scorer).

#include <algorithm>
#include <cstdint>
#include <deque>
#include <string_view>
#include <vector>

#include "base/math.h"
#include "models/hw_config.h"
#include "workloads/kernel_tags.h"
#include "workloads/model_config.h"
#include "workloads/trace_builder.h"
#include "workloads/workload.h"

namespace tpusim {

/// Bytes per bf16 / fp32 element.
constexpr std::uint64_t kBf16 = 2;
constexpr std::uint64_t kFp32 = 4;

using Ids = std::vector<std::uint64_t>;

/// Everything a lowering needs; one per generate_workload call.
struct LoweringContext {
  LoweringContext(const WorkloadParams& params, const HwConfig& hw_cfg, const ModelConfig& m,
                  TraceBuilder& builder)
      : p(params), hw(hw_cfg), model(m), tb(builder) {}

  const WorkloadParams& p;
  const HwConfig& hw;
  const ModelConfig& model;
  TraceBuilder& tb;
  std::uint64_t kv_row_bytes = 0;     ///< MLA cache row: 656 (fp8) or 1152 (bf16)
  std::uint64_t resident_tokens = 0;  ///< per sequence, indexer keys [0, R) pinned in SRAM
  std::uint64_t pinned_base = 0;      ///< SRAM address of this layer's pinned keys
  /// --residency prefetch: the pinned keys were streamed in by the previous layer, and this one
  /// streams the next layer's [0, R) into `next_keys_base` while it attends.
  bool prefetch_next_keys = false;
  std::uint64_t next_keys_base = 0;
  std::uint64_t gather_count = 0;    ///< gathers emitted so far (seeds)
  std::uint64_t row_cache_hits = 0;  ///< --kv-row-cache: rows per query read from the row cache
  std::uint64_t row_cache_base = 0;  ///< SRAM address of the row cache
  WorkloadClosedForm* closed_form = nullptr;  ///< prefill fills in its tile-dependent bytes
  Ids proj_ready;  ///< --scope layer: stores of Q (and indexer q/weights) the attention reads
  Ids o_stores;    ///< O stores of the attention (the output projection reads them)
  std::uint64_t proj_arena = 0, proj_arena_bytes = 0;  ///< SRAM kept for the projections

  /// SRAM address of sequence b's pinned key for position `pos` (< resident_tokens).
  std::uint64_t pinned_key(std::uint64_t b, std::uint64_t pos) const {
    return pinned_base + (b * resident_tokens + pos) * model.index_key_bytes;
  }
  /// Pieces a transfer of `bytes` is split into so that several DMA engines share it.
  std::uint64_t dma_pieces(std::uint64_t bytes, std::uint64_t rows) const;
  std::uint64_t next_seed() { return p.seed * 1000003u + gather_count++; }
};

/// Largest tile (in tokens) whose `per_token` bytes plus `fixed` bytes fit in `budget`, capped
/// at `target`, rounded down to a multiple of `align` (the MXU width) when at least that big.
/// Throws UserError naming sram.capacity_mib when not even one token fits.
std::uint64_t fit_tile(std::uint64_t budget, std::uint64_t per_token, std::uint64_t fixed,
                       std::uint64_t target, std::uint64_t align, std::string_view what);

/// Linear load of `rows` contiguous rows, split into dma_pieces pieces (at most `max_pieces`);
/// appends their ids. A stream of many tiles in flight does better with whole-tile loads
/// (max_pieces = 1): the engines then take successive tiles and their latency ramps stagger,
/// instead of all engines starting and draining one tile together.
void load_rows(LoweringContext& c, std::string_view tag, std::uint64_t hbm, std::uint64_t sram,
               std::uint64_t rows, std::uint64_t row_bytes, const Ids& deps, Ids& out,
               std::uint64_t max_pieces = ~std::uint64_t{0});
/// Linear store, split the same way; appends ids.
void store_rows(LoweringContext& c, std::string_view tag, std::uint64_t sram, std::uint64_t hbm,
                std::uint64_t rows, std::uint64_t row_bytes, const Ids& deps, Ids& out,
                std::uint64_t max_pieces = ~std::uint64_t{0});

/// Gathers rows [sel_begin, sel_end) of a top-`sel_total` selection out of a table of `span`
/// rows at `table`. Indices come out of top-k sorted, so that slice of the selection lies in the
/// proportional slice of the table (for recent:W, of its last W rows); each piece gathers its
/// share of rows from its share of the table, pieces spread over the DMA engines. There are at
/// most `max_pieces` pieces of at least 64 KiB each; with `exact_pieces`, exactly `max_pieces`
/// (at most one per row) whatever their size.
void gather_selection(LoweringContext& c, std::uint64_t table, std::uint64_t span,
                      std::uint64_t sel_total, std::uint64_t sel_begin, std::uint64_t sel_end,
                      std::uint64_t sram, std::uint64_t max_pieces, const Ids& deps, Ids& out,
                      bool exact_pieces = false);

/// A ring of SRAM buffers for streamed tiles; each remembers the last instruction reading it
/// so the next load into it waits for exactly that (double buffering with slots = 2).
struct BufferRing {
  std::vector<std::uint64_t> addr;
  std::vector<std::uint64_t> last_reader;  ///< id, or kNoId
  std::vector<std::size_t> last_push;      ///< FlashPipeline push index, or kNoPush
  std::size_t next = 0;
  static constexpr std::size_t kNoPush = ~std::size_t{0};

  BufferRing(TraceBuilder& tb, std::size_t slots, std::uint64_t slot_bytes, std::string_view what);
  /// Two slots at caller-chosen addresses (inside a region the caller manages).
  BufferRing(std::uint64_t addr0, std::uint64_t addr1)
      : addr{addr0, addr1}, last_reader(2, kNoId), last_push(2, kNoPush) {}
  std::size_t take() {
    std::size_t s = next;
    next = (next + 1) % addr.size();
    return s;
  }
};

/// Flash attention over key/value tiles with online softmax, software-pipelined by `skew`
/// tiles: the MXU issues in order, so qk of tile i+skew is emitted before pv of tile i and the
/// MXUs work on it while the VPU runs tile i's softmax. Per tile: qk matmul, softmax, pv
/// matmul, and a fused rescale-and-accumulate (acc = acc*alpha + o_tile) into the tile's
/// accumulator rows (except a chain's first tile, whose pv writes the accumulator). Scores and
/// partial outputs live in `slots` slots each, reused `slots` tiles later. Consecutive pushes may
/// belong to different accumulators (independent chains, e.g. query blocks), which is what lets
/// several MXUs work at once.
class FlashPipeline {
 public:
  struct Tile {
    std::uint64_t m = 0;  ///< score rows (heads x queries)
    std::uint64_t n = 0;  ///< keys in the tile
    std::uint64_t q_addr = 0, kv_addr = 0, acc_addr = 0;
    Ids deps;  ///< Q and KV ready
    /// The first tile of its accumulator's chain: pv writes the accumulator itself (there is
    /// nothing to rescale or add to), so the tile has no accumulate.
    bool first = false;
    /// pv as this many matmuls over consecutive column ranges of d_v (the same FLOPs and operand
    /// traffic in all; one per MXU column fold when d_v is a multiple of mxu.cols), which as many
    /// arrays can take at once: for the last tiles of a step, whose pvs would otherwise leave
    /// the arrays finishing up to a whole pv apart.
    std::uint64_t pv_pieces = 1;
    /// With pv_pieces > 1: the accumulate too, one VPU pass per piece, each after its own
    /// matmul (for the partials the final combine reads column by column; elsewhere the extra
    /// passes' issue latency is not worth it).
    bool split_accumulate = false;
  };

  FlashPipeline(TraceBuilder& tb, std::uint64_t d_qk, std::uint64_t d_v, std::uint64_t max_m,
                std::uint64_t max_n, std::size_t slots = 2, std::size_t skew = 1);
  /// Static SRAM bytes for given maxima (to size tiles before constructing).
  static std::uint64_t sram_bytes(std::uint64_t d_v, std::uint64_t max_m, std::uint64_t max_n,
                                  std::size_t slots = 2);

  std::size_t push(Tile t);
  /// Emits everything up to and including pv of push `i`.
  void ensure_emitted(std::size_t i);
  /// The pv matmul(s) of push `i` (two when the tile splits its pv).
  const Ids& pv_ids(std::size_t i) const { return m_pv[i]; }
  std::size_t size() const { return m_tiles.size(); }
  /// Emits everything up to and including the accumulate of push `i`; returns the ids that
  /// finish every accumulator written since the previous ensure_merged() or flush() (the last
  /// accumulate, and first-tile pvs after it).
  Ids ensure_merged(std::size_t i);
  /// Emits all pending work; returns ids as ensure_merged() does (none if nothing was pushed).
  Ids flush();

 private:
  void emit_softmax_pv(std::size_t i);
  void emit_merge(std::size_t i);
  Ids cover(std::size_t i);

  TraceBuilder& m_tb;
  std::uint64_t m_d_qk, m_d_v;
  std::size_t m_slots, m_skew;
  std::vector<std::uint64_t> m_scores, m_partial;
  // Per push, for the whole step or chunk (a prefill chunk pushes a tile per key tile and
  // query block): deques, which grow without copying or leaving half their capacity unused.
  std::deque<Tile> m_tiles;  ///< without their deps, which only the qk matmul reads
  std::deque<std::uint64_t> m_qk;
  std::deque<Ids> m_pv, m_merge;  ///< a first tile's m_merge is its pv
  std::size_t m_pv_done = 0, m_merge_done = 0;
  std::vector<std::size_t> m_open_firsts;  ///< first tiles since the last real merge
  std::size_t m_covered = 0;               ///< pushes already handed out by cover()
};

/// Takes a BufferRing slot for a flash tile: waits for (and emits if needed) the pv of the last
/// tile that read it. Returns the dependencies to put on the load (none for a fresh slot).
Ids take_flash_slot(BufferRing& ring, FlashPipeline& pipe, std::size_t& slot);

/// Split-KV combine (flash-decoding): `parts` partial results, each `rows` x `d_v` fp32
/// accumulators with their own running row max and row sum (at `stats`, 2 x rows fp32 per part),
/// laid out `part_stride` bytes apart from `acc`, are merged into part 0's accumulator on the VPU:
/// global row max (max over parts x rows), correction factors exp(m_p - m) (parts x rows), and
/// the weighted sum of every part's accumulator and row sum, one multiply-add per element
/// (parts x rows x (d_v + 1)). Returns the last op's id (deps when parts == 1).
std::uint64_t combine_partials(TraceBuilder& tb, std::uint64_t parts, std::uint64_t rows,
                               std::uint64_t d_v, std::uint64_t acc, std::uint64_t stats,
                               const Ids& deps);

/// Split-KV partitions merged in rounds as they finish: while more than `round` partitions
/// remain after them, the next `round` of `done` (each partition's finishing ids, in the order
/// the lowering emitted them) and the previous round's result are combined (combine_partials'
/// law, one multiply-add per element of each part) into one running partial result. The last
/// partitions are left to the caller's final combine, with `running` as one more part: merged
/// all at once at the end, the partials of a step whose arrays finish together are the
/// step's serial tail. Partition p's accumulator is at acc + p * part_stride, its statistics at
/// stats + p * stats_stride.
struct SplitKvRounds {
  std::uint64_t merged_parts = 0;  ///< partitions [0, merged_parts) are in `running`
  std::uint64_t running = kNoId;   ///< the last round's combine, or kNoId when there was none
};
/// How many of `parts` partitions merge_rounds merges in its rounds of `round`: while more
/// than `round` remain, the next `round` go (so the final combine always gets 1 to `round`).
std::uint64_t merged_in_rounds(std::uint64_t parts, std::uint64_t round);
SplitKvRounds merge_rounds(TraceBuilder& tb, const std::vector<Ids>& done, std::uint64_t round,
                           std::uint64_t rows, std::uint64_t d_v, std::uint64_t acc,
                           std::uint64_t part_stride, std::uint64_t stats,
                           std::uint64_t stats_stride);

/// Lightning-indexer scoring: fp8 logits, ReLU, per-head weight multiply, sum over heads. The
/// logits matmul streams the longer of keys and (heads x queries) through the MXU and keeps the
/// other stationary: in decode logits^T = K (keys x d_I) . Q^T (d_I x heads*queries), one weight
/// fold per key tile whose m = keys fill the array's rows, instead of 64 query rows streaming
/// against every 128-key fold. Keys come from pinned SRAM or stream through a ring of `slots`
/// slots (enough for loads to run ahead of all MXUs); logits through the same number of slots.
class IndexerScorer {
 public:
  struct Keys {
    std::uint64_t addr = 0;
    Ids ready;
    std::size_t slot = ~std::size_t{0};  ///< ring slot, or none when pinned
  };

  IndexerScorer(LoweringContext& c, std::uint64_t max_q, std::uint64_t max_n,
                std::size_t slots = 2);
  static std::uint64_t sram_bytes(const LoweringContext& c, std::uint64_t max_q,
                                  std::uint64_t max_n, std::size_t slots = 2);
  /// Keys of sequence b, positions [begin, end): from pinned SRAM if end <= R, else streamed
  /// (a block straddling R is streamed whole).
  Keys acquire(std::uint64_t b, std::uint64_t key_table, std::uint64_t begin, std::uint64_t end,
               const Ids& deps);
  /// Scores `q` queries against `n` keys starting `key_offset` keys into `keys`; the head-summed
  /// scores go to `out`. Returns the id of the head-sum.
  std::uint64_t score(Keys& keys, std::uint64_t key_offset, std::uint64_t n, std::uint64_t q,
                      std::uint64_t q_addr, std::uint64_t w_addr, const Ids& q_deps,
                      std::uint64_t out);

 private:
  LoweringContext& m_c;
  BufferRing m_keys;
  BufferRing m_logits;
  std::uint64_t m_load_pieces = ~std::uint64_t{0};

 public:
  /// DMA pieces per streamed key tile (see load_rows).
  void set_load_pieces(std::uint64_t n) { m_load_pieces = n; }
};

/// Calls fn(begin, end) for tiles of at most `tile` positions over [begin, end), never crossing
/// `split` (the pinned/streamed boundary).
template <typename Fn>
void for_each_tile(std::uint64_t begin, std::uint64_t end, std::uint64_t split, std::uint64_t tile,
                   Fn&& fn) {
  std::uint64_t pos = begin;
  while (pos < end) {
    std::uint64_t stop = std::min(end, pos + tile);
    if (pos < split && stop > split) stop = split;
    fn(pos, stop);
    pos = stop;
  }
}

/// The decode indexer's top-k of `rows` rows of `n` scores (k per row) under --topk-algo.
std::uint64_t emit_topk(LoweringContext& c, std::uint64_t rows, std::uint64_t n, std::uint64_t k,
                        std::uint64_t src, std::uint64_t dst, const Ids& deps);

/// True when this prefill runs dense MHA (dense --dense-mode mha, or DSA with
/// --short-prefill-mha and a context of at most k tokens).
bool prefill_uses_mha(const WorkloadParams& p);

void lower_decode(LoweringContext& c);
void lower_prefill(LoweringContext& c);
/// --scope layer, before the attention: query/KV projections (MLA wq_a, wq_b, wkv_a, and W_UK
/// absorption in MQA mode; indexer wq_b, wk, weights_proj for DSA) of `tokens` tokens. Sets
/// c.proj_ready. Adds FLOPs and HBM bytes to *c.closed_form.
void lower_projections_in(LoweringContext& c, std::uint64_t tokens, bool mqa, bool dsa);
/// --scope layer, after the attention: W_UV absorption (MQA mode) and wo, reading c.o_stores.
void lower_projections_out(LoweringContext& c, std::uint64_t tokens, bool mqa);

}  // namespace tpusim
