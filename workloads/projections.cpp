// --scope layer: the L-independent per-token projections around the attention core
// (docs/DSA.md section 5, "L-independent per-token work"). Each is a linear layer run
// weight-stationary: weight column blocks stream from HBM exactly once per step (shared by the
// whole batch, assumption A5) while token blocks of activations stream past them; outputs go
// back to HBM, where the attention kernel reads Q and where wo reads O (kernel boundaries as in
// FlashMLA/vLLM). Weights are fp8 (1 B/param) and run as FP8 GEMMs (V3.2's act_quant + fp8_gemm),
// except the indexer's weights_proj, which stays bf16.
#include <algorithm>
#include <string>

#include "base/cycle.h"
#include "base/error.h"
#include "workloads/lowering.h"

namespace tpusim {
namespace {

struct Linear {
  const char* name;
  std::uint64_t rows_per_token;  ///< m per token (heads for the per-head absorptions)
  std::uint64_t k, n;
  std::uint64_t weight_bytes_per_param;
  /// Weight matrices: 1, or the heads of a per-head absorption (each head its own k x n, batched
  /// into m = tokens x heads; the MXU shape is the same, the weights are `groups` times larger).
  std::uint64_t groups = 1;
};

/// Emits one linear layer over `tokens` tokens; returns its output stores.
Ids emit_linear(LoweringContext& c, std::string_view tag, const Linear& l, std::uint64_t tokens,
                const Ids& deps) {
  TraceBuilder& tb = c.tb;
  WorkloadClosedForm& cf = *c.closed_form;
  const std::uint64_t m_total = tokens * l.rows_per_token;
  const std::uint64_t w_col = l.groups * l.k * l.weight_bytes_per_param;  // HBM bytes per column
  const std::uint64_t w_hbm = tb.hbm_region(std::string("w.") + l.name, l.n * w_col);
  const std::uint64_t in_hbm = tb.hbm_region(std::string("in.") + l.name, m_total * l.k * kBf16);
  const std::uint64_t out_hbm = tb.hbm_region(std::string("out.") + l.name, m_total * l.n * kBf16);
  // The arena (its own SRAM, so the attention never overwrites it) holds two weight slots in its
  // first half and two activation + output slots in the second. Slots are sized for the bf16
  // operand the MXU reads.
  const std::uint64_t half = c.proj_arena_bytes / 2;
  const std::uint64_t wb = std::max<std::uint64_t>(l.weight_bytes_per_param, 2);
  std::uint64_t nb = fit_tile(half / 2, l.groups * l.k * wb, 512, l.n, c.hw.mxu.cols,
                              std::string("weights of ") + l.name);
  std::uint64_t mb = fit_tile(half / 2, l.k * kBf16 + nb * kFp32, 1024, m_total, c.hw.mxu.rows,
                              std::string("activations of ") + l.name);
  auto slots = [](std::uint64_t base, std::uint64_t bytes) {
    return BufferRing(base, base + bytes);
  };
  const std::uint64_t a0 = c.proj_arena;
  BufferRing w = slots(a0, l.groups * l.k * nb * wb);
  BufferRing x = slots(a0 + half, mb * l.k * kBf16);
  BufferRing y = slots(a0 + half + 2 * mb * l.k * kBf16, mb * nb * kFp32);
  Ids y_readers[2], stores;
  const bool x_once = mb >= m_total;  // all tokens in one block: load them once
  std::uint64_t x_id = kNoId;
  for (std::uint64_t n0 = 0; n0 < l.n; n0 += nb) {
    const std::uint64_t n1 = std::min(l.n, n0 + nb);
    std::size_t ws = w.take();
    Ids w_ready;
    Ids wd = deps;
    wd.push_back(w.last_reader[ws]);
    load_rows(c, tag, w_hbm + n0 * w_col, w.addr[ws], n1 - n0, w_col, wd, w_ready);
    cf.hbm_read_bytes += (n1 - n0) * w_col;
    for (std::uint64_t m0 = 0; m0 < m_total; m0 += mb) {
      const std::uint64_t m1 = std::min(m_total, m0 + mb);
      std::size_t xs = x_once ? 0 : x.take();
      if (!x_once || x_id == kNoId) {
        Ids xd = deps;
        xd.push_back(x.last_reader[xs]);
        x_id = tb.load(tag, in_hbm + m0 * l.k * kBf16, x.addr[xs], (m1 - m0) * l.k * kBf16, xd);
        cf.hbm_read_bytes += (m1 - m0) * l.k * kBf16;
      }
      std::size_t ys = y.take();
      Ids md = w_ready;
      md.push_back(x_id);
      md.insert(md.end(), y_readers[ys].begin(), y_readers[ys].end());
      std::uint64_t mm = tb.matmul(tag, m1 - m0, n1 - n0, l.k,
                                   l.weight_bytes_per_param == 1 ? DType::kFp8 : DType::kBf16,
                                   x.addr[xs], w.addr[ws], y.addr[ys], md);
      cf.projection_flops += 2 * (m1 - m0) * (n1 - n0) * l.k;
      w.last_reader[ws] = mm;
      x.last_reader[xs] = mm;
      y_readers[ys].clear();
      y_readers[ys].push_back(tb.store(tag, y.addr[ys], out_hbm + (m0 * l.n + n0) * kBf16,
                                       (m1 - m0) * (n1 - n0) * kBf16, {mm}));
      cf.hbm_write_bytes += (m1 - m0) * (n1 - n0) * kBf16;
      stores.push_back(y_readers[ys].back());
    }
  }
  return stores;
}

Ids chain(LoweringContext& c, std::string_view tag, const std::vector<Linear>& ls,
          std::uint64_t tokens, Ids deps) {
  for (const Linear& l : ls)
    deps = emit_linear(c, tag, l, tokens, deps);
  return deps;
}

}  // namespace

void lower_projections_in(LoweringContext& c, std::uint64_t tokens, bool mqa, bool dsa) {
  const ModelConfig& m = c.model;
  const std::uint64_t h = m.n_heads, qk = m.qk_nope_head_dim + m.qk_rope_head_dim;
  // Each linear waits for the previous one's stores, so SRAM reuse between them is ordered.
  Ids done = chain(c, kTagAttnProj,
                   {{"wq_a", 1, m.dim, m.q_lora_rank, 1},
                    {"wq_b", 1, m.q_lora_rank, h * qk, 1},
                    {"wkv_a", 1, m.dim, m.kv_lora_rank + m.qk_rope_head_dim, 1}},
                   tokens, {});
  if (mqa)  // W_UK: each head's q_nope into the latent space
    done = emit_linear(c, kTagAttnProj, {"w_uk", h, m.qk_nope_head_dim, m.kv_lora_rank, 1, h},
                       tokens, done);
  if (dsa)
    done = chain(c, kTagIndexerProj,
                 {{"indexer.wq_b", 1, m.q_lora_rank, m.index_n_heads * m.index_head_dim, 1},
                  {"indexer.wk", 1, m.dim, m.index_head_dim, 1},
                  {"indexer.weights_proj", 1, m.dim, m.index_n_heads, 2}},
                 tokens, done);
  c.proj_ready = done;
}

void lower_projections_out(LoweringContext& c, std::uint64_t tokens, bool mqa) {
  const ModelConfig& m = c.model;
  const std::uint64_t h = m.n_heads;
  Ids deps = c.o_stores;
  if (mqa)  // W_UV: each head's latent output back to v_head_dim
    deps =
        emit_linear(c, kTagAttnProj, {"w_uv", h, m.kv_lora_rank, m.v_head_dim, 1, h}, tokens, deps);
  emit_linear(c, kTagAttnProj, {"wo", 1, h * m.v_head_dim, m.dim, 1}, tokens, deps);
}

}  // namespace tpusim
