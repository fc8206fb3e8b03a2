#include "workloads/roofline.h"

#include <algorithm>

#include "workloads/lowering.h"
#include "workloads/model_config.h"

namespace tpusim {

RooflineWork& RooflineWork::operator+=(const RooflineWork& o) {
  bf16_flops += o.bf16_flops;
  fp8_flops += o.fp8_flops;
  hbm_bytes += o.hbm_bytes;
  vpu_ops += o.vpu_ops;
  return *this;
}

RooflineBound roofline_bound(const RooflineWork& w, const HwConfig& hw) {
  RooflineBound b;
  const double mxu_flops_per_cycle =
      2.0 * static_cast<double>(hw.mxu.count * hw.mxu.rows * hw.mxu.cols);
  b.mxu_cycles = (w.bf16_flops + w.fp8_flops / hw.mxu.fp8_rate) / mxu_flops_per_cycle;
  b.hbm_cycles = w.hbm_bytes / (hw.hbm.bandwidth_gbs / hw.chip.clock_ghz);
  b.vpu_cycles = w.vpu_ops / static_cast<double>(hw.vpu.lanes);
  b.bound_cycles = b.mxu_cycles;
  b.bound_by = "mxu";
  if (b.hbm_cycles > b.bound_cycles) {
    b.bound_cycles = b.hbm_cycles;
    b.bound_by = "hbm";
  }
  if (b.vpu_cycles > b.bound_cycles) {
    b.bound_cycles = b.vpu_cycles;
    b.bound_by = "vpu";
  }
  return b;
}

namespace {

double cost(const HwConfig& hw, Op op) {
  return hw.vpu.cost[static_cast<std::size_t>(vpu_op_index(op))];
}

}  // namespace

Roofline workload_roofline(const WorkloadParams& p, const HwConfig& hw,
                           std::uint64_t resident_tokens, double projection_flops,
                           std::uint64_t row_cache_hits) {
  const ModelConfig m = load_model_config(p.model);
  const double B = static_cast<double>(p.batch), L = static_cast<double>(p.seq);
  const double h = static_cast<double>(m.n_heads), hi = static_cast<double>(m.index_n_heads);
  const double di = static_cast<double>(m.index_head_dim);
  const double row =
      static_cast<double>(p.kv_format == KvFormat::kFp8 ? m.mla_fp8_bytes : m.mla_bf16_bytes);
  const double kb = static_cast<double>(m.index_key_bytes);
  const bool mha = prefill_uses_mha(p);
  const bool dsa = p.attention == Attention::kDsa && !mha;
  const bool indexer = dsa && !p.shared_layer;  // an S layer of --index-share has none
  const double passes = static_cast<double>(hw.vpu.topk_passes);

  // Per-tag work, filled below in pipeline order.
  RooflineWork append, idx_scores, idx_topk, proj, gather, load, qk, softmax, pv;
  // Attention over `pairs` (query, key) pairs with d_qk / d_v, `queries` query tokens.
  auto attention = [&](double pairs, double queries, double dqk, double dv) {
    qk.bf16_flops += 2 * h * dqk * pairs;
    pv.bf16_flops += 2 * h * dv * pairs;
    softmax.vpu_ops += h * pairs * cost(hw, Op::kVpuSoftmax) + queries * h * dv;  // + 1/l scale
  };
  const double q_mqa = h * static_cast<double>(m.mqa_qk_dim()) * kBf16;
  const double o_mqa = h * static_cast<double>(m.mqa_v_dim()) * kBf16;
  if (p.phase == Phase::kDecode) {
    const double sq = static_cast<double>(p.mtp);
    const double k_eff = static_cast<double>(std::min(p.topk, p.seq));
    append.hbm_bytes = B * sq * (row + (indexer ? kb : 0));
    load.hbm_bytes = B * sq * q_mqa;
    pv.hbm_bytes = B * sq * o_mqa;
    const double dqk = static_cast<double>(m.mqa_qk_dim()), dv = static_cast<double>(m.mqa_v_dim());
    if (!dsa) {
      load.hbm_bytes += B * row * L;
      attention(B * sq * L, B * sq, dqk, dv);
    } else {
      const double R = static_cast<double>(resident_tokens);
      if (indexer) {
        idx_scores.fp8_flops = B * sq * 2 * hi * di * L;
        idx_scores.hbm_bytes = B * (kb * (L - R) + sq * hi * di + sq * hi * kFp32);
        idx_scores.vpu_ops = B * sq * hi * L * cost(hw, Op::kVpuReluWsum);
        idx_topk.vpu_ops =
            B * sq *
            static_cast<double>(topk_lane_ops(
                p.seq, std::min(p.topk, p.seq),
                topk_guess_candidates(p, p.seq, std::min(p.topk, p.seq)), hw.vpu.topk_passes));
      }
      // At L <= k without the row cache every row is selected and streamed once for all
      // queries (attn.load); otherwise the misses are gathered per query.
      if (k_eff < L || row_cache_hits > 0)
        gather.hbm_bytes = B * sq * row * (k_eff - static_cast<double>(row_cache_hits));
      else
        load.hbm_bytes += B * row * L;
      attention(B * sq * k_eff, B * sq, dqk, dv);
    }
  } else {
    const double T = static_cast<double>(p.chunk), P0 = L - T;
    const double pairs = T * P0 + T * (T + 1) / 2;
    append.hbm_bytes = B * T * (row + (indexer ? kb : 0));
    if (mha) {
      // Masked MHA (V3.1 practice): every visible latent is decompressed with wkv_b, then
      // attention with d_qk 192, d_v 128. Minimum bytes: the latent cache once, Q and O.
      const double dqk = static_cast<double>(m.mha_qk_dim()),
                   dv = static_cast<double>(m.v_head_dim);
      proj.bf16_flops = B * 2 * static_cast<double>(m.kv_lora_rank) * h *
                        static_cast<double>(m.qk_nope_head_dim + m.v_head_dim) * L;
      load.hbm_bytes = B * (row * L + T * h * dqk * kBf16);
      pv.hbm_bytes = B * T * h * dv * kBf16;
      attention(B * pairs, B * T, dqk, dv);
    } else if (!dsa) {
      const double dqk = static_cast<double>(m.mqa_qk_dim()),
                   dv = static_cast<double>(m.mqa_v_dim());
      load.hbm_bytes = B * (row * L + T * q_mqa);
      pv.hbm_bytes = B * T * o_mqa;
      attention(B * pairs, B * T, dqk, dv);
    } else {
      double S = 0, topk_ops = 0;  // selected pairs; radix-select lane-ops
      for (std::uint64_t i = 1; i <= p.chunk; ++i) {
        const double vis = static_cast<double>(p.seq - p.chunk + i);
        const double r = std::min(static_cast<double>(p.topk), vis);
        S += r;
        topk_ops += passes * vis + r;
      }
      const double dqk = static_cast<double>(m.mqa_qk_dim()),
                   dv = static_cast<double>(m.mqa_v_dim());
      if (indexer) {
        idx_scores.fp8_flops = B * 2 * hi * di * pairs;
        // Keys once (the chunk's own keys are produced on chip but read back like the cache),
        // indexer q and head weights per token.
        idx_scores.hbm_bytes = B * (kb * L + T * (hi * di + hi * kFp32));
        idx_scores.vpu_ops = B * hi * pairs * cost(hw, Op::kVpuReluWsum);
        idx_topk.vpu_ops = B * topk_ops;
      }
      // Each query gathers its own selected rows (FlashMLA's sparse prefill does the same).
      gather.hbm_bytes = B * row * S;
      load.hbm_bytes = B * T * q_mqa;
      pv.hbm_bytes = B * T * o_mqa;
      attention(B * S, B * T, dqk, dv);
    }
  }
  // --scope layer: the projections' FLOPs (weights and activations are not counted).
  proj.bf16_flops += projection_flops;

  Roofline out;
  const std::pair<std::string_view, RooflineWork*> tags[] = {
      {kTagKvAppend, &append}, {kTagIndexerScores, &idx_scores}, {kTagIndexerTopk, &idx_topk},
      {kTagAttnProj, &proj},   {kTagAttnGather, &gather},        {kTagAttnLoad, &load},
      {kTagAttnQk, &qk},       {kTagAttnSoftmax, &softmax},      {kTagAttnPv, &pv}};
  for (const auto& [tag, w] : tags) {
    if (w->bf16_flops == 0 && w->fp8_flops == 0 && w->hbm_bytes == 0 && w->vpu_ops == 0) continue;
    out.work += *w;
    out.kernels.push_back({std::string(tag), *w, roofline_bound(*w, hw)});
  }
  out.bound = roofline_bound(out.work, hw);
  return out;
}

}  // namespace tpusim
