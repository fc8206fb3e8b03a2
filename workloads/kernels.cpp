// Kernel building blocks shared by the decode and prefill lowerings.
#include <algorithm>
#include <string>

#include "base/cycle.h"
#include "base/error.h"
#include "workloads/lowering.h"

namespace tpusim {
namespace {

// A DMA piece smaller than this gains little from another engine: its fixed latency dominates.
constexpr std::uint64_t kMinPieceBytes = 64 * 1024;

}  // namespace

std::uint64_t LoweringContext::dma_pieces(std::uint64_t bytes, std::uint64_t rows) const {
  std::uint64_t engines = std::max<std::uint64_t>(1, hw.dma.engines);
  std::uint64_t by_size = std::max<std::uint64_t>(1, bytes / kMinPieceBytes);
  return std::max<std::uint64_t>(1, std::min({engines, by_size, rows}));
}

std::uint64_t fit_tile(std::uint64_t budget, std::uint64_t per_token, std::uint64_t fixed,
                       std::uint64_t target, std::uint64_t align, std::string_view what) {
  std::uint64_t fit = budget > fixed ? (budget - fixed) / per_token : 0;
  std::uint64_t t = std::min(fit, target);
  if (t == 0)
    throw UserError("sram.capacity_mib: not even one token of the " + std::string(what) +
                    " tile fits in SRAM (" + std::to_string(per_token) + " B per token, " +
                    std::to_string(budget > fixed ? budget - fixed : 0) + " B free)");
  // Whole MXU column folds waste nothing; below one fold any size is as good.
  if (t >= align && t != target) t = t / align * align;
  return t;
}

namespace {

// Splits `rows` contiguous rows into dma_pieces pieces and emits one copy per piece.
template <class EmitPiece>
void split_rows(LoweringContext& c, std::uint64_t rows, std::uint64_t row_bytes,
                std::uint64_t max_pieces, EmitPiece&& emit_piece) {
  std::uint64_t pieces =
      std::max<std::uint64_t>(1, std::min(max_pieces, c.dma_pieces(rows * row_bytes, rows)));
  for (std::uint64_t i = 0; i < pieces; ++i) {
    std::uint64_t r0 = rows * i / pieces, r1 = rows * (i + 1) / pieces;
    if (r1 != r0) emit_piece(r0 * row_bytes, (r1 - r0) * row_bytes);
  }
}

}  // namespace

void load_rows(LoweringContext& c, std::string_view tag, std::uint64_t hbm, std::uint64_t sram,
               std::uint64_t rows, std::uint64_t row_bytes, const Ids& deps, Ids& out,
               std::uint64_t max_pieces) {
  split_rows(c, rows, row_bytes, max_pieces, [&](std::uint64_t off, std::uint64_t bytes) {
    out.push_back(c.tb.load(tag, hbm + off, sram + off, bytes, deps));
  });
}

void store_rows(LoweringContext& c, std::string_view tag, std::uint64_t sram, std::uint64_t hbm,
                std::uint64_t rows, std::uint64_t row_bytes, const Ids& deps, Ids& out,
                std::uint64_t max_pieces) {
  split_rows(c, rows, row_bytes, max_pieces, [&](std::uint64_t off, std::uint64_t bytes) {
    out.push_back(c.tb.store(tag, sram + off, hbm + off, bytes, deps));
  });
}

void gather_selection(LoweringContext& c, std::uint64_t table, std::uint64_t span,
                      std::uint64_t sel_total, std::uint64_t sel_begin, std::uint64_t sel_end,
                      std::uint64_t sram, std::uint64_t max_pieces, const Ids& deps, Ids& out,
                      bool exact_pieces) {
  const GatherPattern& pat = c.p.pattern;
  const std::uint64_t row = c.kv_row_bytes;
  // The rows the selection is drawn from: the whole table, or its last W rows for recent:W.
  std::uint64_t win_begin = 0, win = span;
  if (pat.kind == PatternKind::kRecent && pat.param < span) {
    win = pat.param;
    win_begin = span - win;
  }
  if (sel_total > win)
    throw UserError("--pattern: " + pattern_to_string(pat) + " cannot select " +
                    std::to_string(sel_total) + " rows from a window of " + std::to_string(win));
  // This slice of the sorted selection lies in the proportional slice of the window.
  std::uint64_t t0 = win * sel_begin / sel_total, t1 = win * sel_end / sel_total;
  std::uint64_t rows = sel_end - sel_begin;
  std::uint64_t pieces = exact_pieces ? std::max<std::uint64_t>(1, std::min(max_pieces, rows))
                                      : std::min(max_pieces, c.dma_pieces(rows * row, rows));
  for (std::uint64_t i = 0; i < pieces; ++i) {
    std::uint64_t r0 = rows * i / pieces, r1 = rows * (i + 1) / pieces;
    std::uint64_t s0 = t0 + (t1 - t0) * i / pieces, s1 = t0 + (t1 - t0) * (i + 1) / pieces;
    std::uint64_t n = r1 - r0, sub_span = s1 - s0;
    if (n == 0) continue;
    SIM_CHECK("workloads", n <= sub_span, "gather piece has more rows than its table slice");
    GatherPattern piece_pat = pat;
    if (n == sub_span) {
      piece_pat = GatherPattern{};  // every row is taken: the pattern is moot
    } else if (pat.kind == PatternKind::kRecent) {
      piece_pat.param = sub_span;  // the piece's slice lies inside the recent window
    } else if (pat.kind == PatternKind::kStrided && pat.param > sub_span / n) {
      // n x S > sub_span, written so that it cannot wrap.
      throw UserError("--pattern: " + pattern_to_string(pat) + " cannot pick " + std::to_string(n) +
                      " rows from " + std::to_string(sub_span) +
                      " keys in one gather piece of this lowering (each piece needs rows x "
                      "stride <= its keys; use a smaller stride)");
    }
    out.push_back(c.tb.gather(kTagAttnGather, table + (win_begin + s0) * row, sram + r0 * row,
                              sub_span, n, row, piece_pat, c.next_seed(), deps));
  }
}

BufferRing::BufferRing(TraceBuilder& tb, std::size_t slots, std::uint64_t slot_bytes,
                       std::string_view what)
    : last_reader(slots, kNoId), last_push(slots, kNoPush) {
  for (std::size_t i = 0; i < slots; ++i)
    addr.push_back(tb.sram_alloc(slot_bytes, what));
}

// ---------------------------------------------------------------------------------------------
// FlashPipeline

FlashPipeline::FlashPipeline(TraceBuilder& tb, std::uint64_t d_qk, std::uint64_t d_v,
                             std::uint64_t max_m, std::uint64_t max_n, std::size_t slots,
                             std::size_t skew)
    : m_tb(tb),
      m_d_qk(d_qk),
      m_d_v(d_v),
      m_slots(std::max<std::size_t>(2, slots)),
      m_skew(std::clamp<std::size_t>(skew, 1, m_slots - 1)) {
  for (std::size_t s = 0; s < m_slots; ++s) {
    m_scores.push_back(tb.sram_alloc(max_m * max_n * kFp32, "attention scores"));
    m_partial.push_back(tb.sram_alloc(max_m * d_v * kFp32, "attention partial output"));
  }
}

std::uint64_t FlashPipeline::sram_bytes(std::uint64_t d_v, std::uint64_t max_m, std::uint64_t max_n,
                                        std::size_t slots) {
  slots = std::max<std::size_t>(2, slots);
  return slots * (max_m * max_n * kFp32 + max_m * d_v * kFp32 + 2 * 512);
}

std::size_t FlashPipeline::push(Tile t) {
  std::size_t i = m_tiles.size();
  // The scores slot was last read by pv of tile i - slots.
  if (i >= m_slots) {
    ensure_emitted(i - m_slots);
    t.deps.insert(t.deps.end(), m_pv[i - m_slots].begin(), m_pv[i - m_slots].end());
  }
  m_qk.push_back(m_tb.matmul(kTagAttnQk, t.m, t.n, m_d_qk, DType::kBf16, t.q_addr, t.kv_addr,
                             m_scores[i % m_slots], t.deps));
  m_pv.emplace_back();
  m_merge.emplace_back();
  Ids().swap(t.deps);
  m_tiles.push_back(std::move(t));
  if (i >= m_skew) ensure_emitted(i - m_skew);
  return i;
}

void FlashPipeline::ensure_emitted(std::size_t i) {
  while (m_pv_done <= i) {
    // pv of tile j overwrites the partial slot that merge of tile j - slots reads.
    while (m_merge_done + m_slots <= m_pv_done)
      emit_merge(m_merge_done);
    emit_softmax_pv(m_pv_done);
  }
  // Merges trail their pv's by `skew` tiles, so the in-order VPU reaches them once they can run.
  while (m_merge_done + m_skew < m_pv_done)
    emit_merge(m_merge_done);
}

void FlashPipeline::emit_softmax_pv(std::size_t i) {
  const Tile& t = m_tiles[i];
  std::uint64_t s = m_scores[i % m_slots];
  // Online softmax over the tile: running max, exp, row sums, in place.
  std::uint64_t sm = m_tb.vpu(kTagAttnSoftmax, Op::kVpuSoftmax, t.m * t.n, s, s, {m_qk[i]});
  Ids deps = {sm};
  if (i >= m_slots)
    deps.insert(deps.end(), m_merge[i - m_slots].begin(), m_merge[i - m_slots].end());
  const std::uint64_t out = t.first ? t.acc_addr : m_partial[i % m_slots];
  // Column pieces of V's d_v columns (bf16 in the slot's rows) into the output's (fp32)
  // columns, each piece's block of m rows stored contiguously (as VMEM holds 128-lane tiles), so
  // the bytes a piece writes are its own and a reader of one piece needs only that matmul.
  // Addresses only place the SRAM traffic.
  const std::uint64_t pieces = std::clamp<std::uint64_t>(t.pv_pieces, 1, m_d_v);
  m_pv[i].clear();
  for (std::uint64_t k = 0; k < pieces; ++k) {
    const std::uint64_t c0 = m_d_v * k / pieces, c1 = m_d_v * (k + 1) / pieces;
    m_pv[i].push_back(m_tb.matmul(kTagAttnPv, t.m, c1 - c0, t.n, DType::kBf16, s,
                                  t.kv_addr + c0 * kBf16, out + t.m * c0 * kFp32, deps));
  }
  ++m_pv_done;
}

void FlashPipeline::emit_merge(std::size_t i) {
  const Tile& t = m_tiles[i];
  if (t.first) {
    // pv wrote the accumulator: done when it is. Merges are chained in push order, but a first
    // pv is not in that chain, so the next real merge waits for it (it may be its chain's).
    m_merge[i] = m_pv[i];
    m_open_firsts.push_back(i);
    ++m_merge_done;
    return;
  }
  // The chain's previous merge, and first pvs since it.
  Ids earlier;
  if (i >= 1) earlier = m_merge[i - 1];
  for (std::size_t j : m_open_firsts)
    earlier.insert(earlier.end(), m_pv[j].begin(), m_pv[j].end());
  m_open_firsts.clear();
  // A split pv is accumulated in the same column pieces, each as soon as its own matmul is done
  // (the caller's final combine can then start on the first columns while the arrays finish the
  // last ones); the same lane work in all.
  const std::uint64_t pieces = t.split_accumulate ? m_pv[i].size() : 1;
  m_merge[i].clear();
  for (std::uint64_t k = 0; k < pieces; ++k) {
    const std::uint64_t c0 = m_d_v * k / pieces, c1 = m_d_v * (k + 1) / pieces;
    Ids deps = pieces == 1 ? m_pv[i] : Ids{m_pv[i][k]};
    deps.insert(deps.end(), earlier.begin(), earlier.end());
    m_merge[i].push_back(m_tb.vpu(kTagAttnSoftmax, Op::kVpuAdd, t.m * (c1 - c0),
                                  m_partial[i % m_slots] + t.m * c0 * kFp32,
                                  t.acc_addr + t.m * c0 * kFp32, deps));
  }
  ++m_merge_done;
}

Ids FlashPipeline::cover(std::size_t i) {
  // The last real merge at or before i covers every earlier merge (they are chained) and the
  // first pvs before it (it waits for them); the first pvs after it stand for themselves.
  // Tiles up to the previous cover belong to groups the caller has already finished.
  Ids out;
  for (std::size_t j = i + 1; j-- > m_covered;) {
    out.insert(out.end(), m_merge[j].begin(), m_merge[j].end());
    if (!m_tiles[j].first) break;
  }
  m_covered = std::max(m_covered, i + 1);
  // Those groups' chains are complete: no later merge needs their first pvs.
  m_open_firsts.erase(m_open_firsts.begin(),
                      std::upper_bound(m_open_firsts.begin(), m_open_firsts.end(), i));
  return out;
}

Ids FlashPipeline::ensure_merged(std::size_t i) {
  ensure_emitted(i);
  while (m_merge_done <= i)
    emit_merge(m_merge_done);
  return cover(i);
}

Ids FlashPipeline::flush() {
  if (m_tiles.empty()) return {};
  ensure_emitted(m_tiles.size() - 1);
  while (m_merge_done < m_tiles.size())
    emit_merge(m_merge_done);
  return cover(m_tiles.size() - 1);
}

Ids take_flash_slot(BufferRing& ring, FlashPipeline& pipe, std::size_t& slot) {
  slot = ring.take();
  std::size_t last = ring.last_push[slot];
  if (last == BufferRing::kNoPush) return {};
  pipe.ensure_emitted(last);
  return pipe.pv_ids(last);
}

std::uint64_t combine_partials(TraceBuilder& tb, std::uint64_t parts, std::uint64_t rows,
                               std::uint64_t d_v, std::uint64_t acc, std::uint64_t stats,
                               const Ids& deps) {
  if (parts <= 1) {
    // Nothing to combine: a fence so the caller has one id to depend on.
    return deps.size() == 1 ? deps.front()
                            : tb.vpu(kTagAttnSoftmax, Op::kVpuScale, 1, stats, stats, deps);
  }
  // m = max_p m_p; f_p = exp(m_p - m); acc = sum_p f_p acc_p, l = sum_p f_p l_p. (The caller's
  // final 1/l scale follows.) The weighted sum is one multiply-add per element of each partial,
  // the same fused rescale-and-add as a flash tile's accumulate, so one pass over the partials.
  std::uint64_t mx = tb.vpu(kTagAttnSoftmax, Op::kVpuMax, parts * rows, stats, stats, deps);
  std::uint64_t ex = tb.vpu(kTagAttnSoftmax, Op::kVpuExp, parts * rows, stats, stats, {mx});
  return tb.vpu(kTagAttnSoftmax, Op::kVpuAdd, parts * rows * (d_v + 1), acc, acc, {ex});
}

std::uint64_t merged_in_rounds(std::uint64_t parts, std::uint64_t round) {
  round = std::max<std::uint64_t>(1, round);
  return parts > round ? (parts - 1) / round * round : 0;
}

SplitKvRounds merge_rounds(TraceBuilder& tb, const std::vector<Ids>& done, std::uint64_t round,
                           std::uint64_t rows, std::uint64_t d_v, std::uint64_t acc,
                           std::uint64_t part_stride, std::uint64_t stats,
                           std::uint64_t stats_stride) {
  SplitKvRounds out;
  round = std::max<std::uint64_t>(1, round);
  const std::uint64_t merged = merged_in_rounds(done.size(), round);
  while (out.merged_parts < merged) {
    const std::uint64_t a = out.merged_parts;
    Ids deps;
    for (std::uint64_t i = a; i < a + round; ++i)
      deps.insert(deps.end(), done[i].begin(), done[i].end());
    const bool chained = out.running != kNoId;
    if (chained) deps.push_back(out.running);
    // The round's partitions and the running result (which the previous round left in the
    // accumulator it read first).
    out.running = combine_partials(tb, round + (chained ? 1 : 0), rows, d_v, acc + a * part_stride,
                                   stats + a * stats_stride, deps);
    out.merged_parts = a + round;
  }
  return out;
}

std::uint64_t emit_topk(LoweringContext& c, std::uint64_t rows, std::uint64_t n, std::uint64_t k,
                        std::uint64_t src, std::uint64_t dst, const Ids& deps) {
  return c.tb.topk(kTagIndexerTopk, rows, n, k, src, dst, deps, topk_guess_candidates(c.p, n, k));
}

// ---------------------------------------------------------------------------------------------
// IndexerScorer

IndexerScorer::IndexerScorer(LoweringContext& c, std::uint64_t max_q, std::uint64_t max_n,
                             std::size_t slots)
    : m_c(c),
      m_keys(c.tb, slots, max_n * c.model.index_key_bytes, "indexer keys"),
      m_logits(c.tb, slots, c.model.index_n_heads * max_q * max_n * kFp32, "indexer logits") {}

std::uint64_t IndexerScorer::sram_bytes(const LoweringContext& c, std::uint64_t max_q,
                                        std::uint64_t max_n, std::size_t slots) {
  return slots * (max_n * c.model.index_key_bytes + c.model.index_n_heads * max_q * max_n * kFp32 +
                  2 * 512);
}

IndexerScorer::Keys IndexerScorer::acquire(std::uint64_t b, std::uint64_t key_table,
                                           std::uint64_t begin, std::uint64_t end,
                                           const Ids& deps) {
  Keys k;
  if (end <= m_c.resident_tokens) {
    k.addr = m_c.pinned_key(b, begin);
    return k;
  }
  k.slot = m_keys.take();
  k.addr = m_keys.addr[k.slot];
  Ids d = deps;
  d.push_back(m_keys.last_reader[k.slot]);
  const std::uint64_t kb = m_c.model.index_key_bytes;
  load_rows(m_c, kTagIndexerScores, key_table + begin * kb, k.addr, end - begin, kb, d, k.ready,
            m_load_pieces);
  return k;
}

std::uint64_t IndexerScorer::score(Keys& keys, std::uint64_t key_offset, std::uint64_t n,
                                   std::uint64_t q, std::uint64_t q_addr, std::uint64_t w_addr,
                                   const Ids& q_deps, std::uint64_t out) {
  const std::uint64_t heads = m_c.model.index_n_heads;
  std::size_t ls = m_logits.take();
  std::uint64_t logits = m_logits.addr[ls];
  Ids deps = keys.ready;
  deps.insert(deps.end(), q_deps.begin(), q_deps.end());
  deps.push_back(m_logits.last_reader[ls]);
  std::uint64_t kaddr = keys.addr + key_offset * m_c.model.index_key_bytes;
  // Stream the longer operand (it fills the array's rows), keep the shorter one stationary.
  const std::uint64_t di = m_c.model.index_head_dim;
  std::uint64_t mm = n >= heads * q ? m_c.tb.matmul(kTagIndexerScores, n, heads * q, di,
                                                    DType::kFp8, kaddr, q_addr, logits, deps)
                                    : m_c.tb.matmul(kTagIndexerScores, heads * q, n, di,
                                                    DType::kFp8, q_addr, kaddr, logits, deps);
  if (keys.slot != ~std::size_t{0}) m_keys.last_reader[keys.slot] = mm;
  // ReLU, head weights (with the q and k scales folded in, docs/DSA.md section 2) and the
  // sum over heads in one vector pass, as a TPU kernel keeps them in vector registers: it reads
  // the logits once and writes one score per (key, query). With the keys streamed the groups of
  // `heads` logits are contiguous rows; in the other orientation it is a reduction across rows
  // with the same traffic. (w_addr is tiny and broadcast per head; the op streams the logits.)
  (void)w_addr;
  std::uint64_t sum =
      m_c.tb.vpu(kTagIndexerScores, Op::kVpuReluWsum, heads * q * n, logits, out, {mm}, heads);
  m_logits.last_reader[ls] = sum;
  return sum;
}

}  // namespace tpusim
