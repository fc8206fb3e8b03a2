#include "workloads/workload.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <string_view>

#include "base/cycle.h"
#include "base/error.h"
#include "workloads/lowering.h"
#include "workloads/model_config.h"
#include "workloads/params.h"
#include "workloads/roofline.h"
#include "workloads/trace_builder.h"

namespace tpusim {
namespace {

template <typename E, std::size_t N>
E parse_enum(const std::string& flag, const std::string& text,
             const std::array<std::pair<std::string_view, E>, N>& names) {
  for (const auto& [name, value] : names)
    if (text == name) return value;
  std::string list;
  for (const auto& [name, value] : names)
    list += (list.empty() ? "" : ", ") + std::string(name);
  throw UserError(flag + ": '" + text + "' is not one of " + list);
}

template <typename E, std::size_t N>
std::string enum_name(E v, const std::array<std::pair<std::string_view, E>, N>& names) {
  for (const auto& [name, value] : names)
    if (v == value) return std::string(name);
  return "?";
}

constexpr std::array<std::pair<std::string_view, Phase>, 2> kPhases = {
    {{"decode", Phase::kDecode}, {"prefill", Phase::kPrefill}}};
constexpr std::array<std::pair<std::string_view, Attention>, 2> kAttentions = {
    {{"dense", Attention::kDense}, {"dsa", Attention::kDsa}}};
constexpr std::array<std::pair<std::string_view, DenseMode>, 2> kDenseModes = {
    {{"mha", DenseMode::kMha}, {"mqa", DenseMode::kMqa}}};
constexpr std::array<std::pair<std::string_view, KvFormat>, 2> kKvFormats = {
    {{"fp8", KvFormat::kFp8}, {"bf16", KvFormat::kBf16}}};
constexpr std::array<std::pair<std::string_view, Scope>, 2> kScopes = {
    {{"attention", Scope::kAttention}, {"layer", Scope::kLayer}}};
constexpr std::array<std::pair<std::string_view, Residency>, 5> kResidencies = {
    {{"stream", Residency::kStream},
     {"pin", Residency::kPin},
     {"auto", Residency::kAuto},
     {"share", Residency::kShare},
     {"prefetch", Residency::kPrefetch}}};
constexpr std::array<std::pair<std::string_view, TopkAlgo>, 2> kTopkAlgos = {
    {{"radix", TopkAlgo::kRadix}, {"guess", TopkAlgo::kGuess}}};

std::string mib(std::uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

/// Sets of k rows the row cache holds, and the rows a query of the simulated (mean) layer finds
/// there: whole (layer, sequence) sets fit while the budget lasts; a cached set serves the
/// step_overlap share of the step's k rows (docs/DSA.md section 8).
RowCachePlan plan_row_cache(const WorkloadParams& p, std::uint64_t row, std::uint64_t budget_left) {
  RowCachePlan rc;
  if (!p.kv_row_cache || p.attention != Attention::kDsa || p.phase != Phase::kDecode) return rc;
  const std::uint64_t k_eff = std::min(p.topk, p.seq);
  rc.set_bytes = p.mtp * k_eff * row;
  rc.total_pairs = p.layers * p.batch;
  rc.cached_pairs = std::min(rc.total_pairs, budget_left / rc.set_bytes);
  rc.cache_bytes = rc.cached_pairs * rc.set_bytes;
  const double hits = p.step_overlap * static_cast<double>(k_eff) *
                      static_cast<double>(rc.cached_pairs) / static_cast<double>(rc.total_pairs);
  rc.hit_rows = std::min<std::uint64_t>(k_eff, static_cast<std::uint64_t>(std::llround(hits)));
  rc.hit_fraction = static_cast<double>(rc.hit_rows) / static_cast<double>(k_eff);
  return rc;
}

/// The closed-form step time (cycles, mean over the layers) that --residency share minimises:
/// F layers run the indexer, bound by its key stream or its on-chip work, then top-k; every
/// layer gathers its rows (the misses, at HBM bandwidth) and attends, bound by the larger.
double share_model_cycles(const WorkloadParams& p, const HwConfig& hw, std::uint64_t resident,
                          std::uint64_t hit_rows) {
  WorkloadParams f = p;
  f.shared_layer = false;
  const Roofline rf = workload_roofline(f, hw, resident, 0, hit_rows);
  double idx_hbm = 0, idx_chip = 0, topk = 0, gather = 0, attn = 0;
  for (const auto& k : rf.kernels) {
    if (k.tag == kTagIndexerScores) {
      idx_hbm = k.bound.hbm_cycles;
      idx_chip = std::max(k.bound.mxu_cycles, k.bound.vpu_cycles);
    } else if (k.tag == kTagIndexerTopk) {
      topk = k.bound.bound_cycles;
    } else if (k.tag == kTagAttnGather) {
      gather = k.bound.hbm_cycles;
    } else if (k.tag == kTagAttnQk || k.tag == kTagAttnPv || k.tag == kTagAttnSoftmax) {
      attn += k.bound.bound_cycles;
    }
  }
  const double f_share =
      static_cast<double>(index_share_f_layers(p)) / static_cast<double>(p.layers);
  return f_share * (std::max(idx_hbm, idx_chip) + topk) + std::max(gather, attn);
}

/// Tokens per sequence whose indexer keys are pinned (docs/DSA.md section 5.4), and the row
/// cache in what the keys leave of the budget. Only F layers hold indexer keys.
std::uint64_t plan_residency(const WorkloadParams& p, const HwConfig& hw, const ModelConfig& m,
                             std::uint64_t row, IndexerResidency& out) {
  if (p.attention != Attention::kDsa) return 0;
  const std::uint64_t key_layers = index_share_f_layers(p);
  const std::uint64_t per_token = key_layers * p.batch * m.index_key_bytes;
  const auto budget = static_cast<std::uint64_t>(hw.sram.residency_mib * 1024.0 * 1024.0);
  std::uint64_t resident = 0;
  switch (p.residency) {
    case Residency::kStream:
      break;
    case Residency::kPin:
      if (per_token * p.seq > budget)
        throw UserError("sram.residency_mib: pinning the indexer keys of " +
                        std::to_string(key_layers) + " layers x " + std::to_string(p.batch) +
                        " sequences x " + std::to_string(p.seq) + " tokens x " +
                        std::to_string(m.index_key_bytes) + " B = " + mib(per_token * p.seq) +
                        " exceeds the budget sram.residency_mib = " + mib(budget) +
                        " (use --residency auto to pin what fits)");
      resident = p.seq;
      break;
    case Residency::kAuto:
      resident = std::min(p.seq, budget / per_token);
      break;
    case Residency::kPrefetch:
      // Two layers' keys at a time, whatever the layer count: the ones this layer scores and the
      // next layer's, streamed in while this one attends (docs/DSA.md section 5.4).
      resident = std::min(p.seq, budget / (2 * p.batch * m.index_key_bytes));
      break;
    case Residency::kShare: {
      resident = std::min(p.seq, budget / per_token);
      RowCachePlan probe = plan_row_cache(p, row, budget);
      if (probe.set_bytes == 0) break;  // no row cache to share with: as auto
      if (p.share_keys_fraction >= 0) {
        const auto keys = static_cast<std::uint64_t>(p.share_keys_fraction * double(budget));
        resident = std::min(p.seq, keys / per_token);
        break;
      }
      // Every whole number of cached sets c, the keys taking what is left; the closed-form
      // step time picks the split (ties keep more keys).
      double best = -1;
      for (std::uint64_t c = 0; c <= probe.cached_pairs; ++c) {
        const std::uint64_t left = budget - c * probe.set_bytes;
        const std::uint64_t r = std::min(p.seq, left / per_token);
        const RowCachePlan rc = plan_row_cache(p, row, c * probe.set_bytes);
        const double t = share_model_cycles(p, hw, r, rc.hit_rows);
        if (best < 0 || t < best * (1 - 1e-9)) {
          best = t;
          resident = r;
        }
      }
      break;
    }
  }
  out.key_cache_bytes = per_token * p.seq;
  out.resident_bytes = p.residency == Residency::kPrefetch
                           ? 2 * p.batch * m.index_key_bytes * resident
                           : per_token * resident;
  out.resident_fraction = static_cast<double>(resident) / static_cast<double>(p.seq);
  out.row_cache = plan_row_cache(p, row, budget - out.resident_bytes);
  if (p.residency == Residency::kShare)
    out.share_split = mib(out.resident_bytes) + " keys + " + mib(out.row_cache.cache_bytes) +
                      " row cache of " + mib(budget);
  return resident;
}

/// docs/DSA.md sections 5.1-5.2, per layer, summed over B sequences and s_q query tokens.
void decode_closed_form(const WorkloadParams& p, const ModelConfig& m, std::uint64_t row,
                        std::uint64_t resident, std::uint64_t hit_rows, WorkloadClosedForm& cf) {
  const std::uint64_t B = p.batch, L = p.seq, sq = p.mtp, h = m.n_heads;
  const std::uint64_t attn_per_pair = 2 * h * (m.mqa_qk_dim() + m.mqa_v_dim());  // 278,528
  const std::uint64_t q_bytes = h * m.mqa_qk_dim() * kBf16;                      // 147,456
  const std::uint64_t o_bytes = h * m.mqa_v_dim() * kBf16;                       // 131,072
  if (p.attention == Attention::kDense) {
    cf.attention_flops = B * sq * attn_per_pair * L;
    cf.hbm_read_bytes = B * (row * L + sq * q_bytes);
    cf.hbm_write_bytes = B * sq * (row + o_bytes);
    return;
  }
  const std::uint64_t k_eff = std::min(p.topk, L);
  const std::uint64_t kb = m.index_key_bytes;
  cf.attention_flops = B * sq * attn_per_pair * k_eff;
  // Rows the row cache holds are read from SRAM (section 8). At L <= k without it every row is
  // selected and the cache is streamed once for all queries, as dense does (section 5.2).
  const std::uint64_t gathered =
      k_eff < L || hit_rows > 0 ? sq * row * (k_eff - hit_rows) : row * L;
  if (p.shared_layer) {
    // An S layer (section 7): no indexer, the F layer's indices; it still gathers and attends.
    cf.hbm_read_bytes = B * (gathered + sq * q_bytes);
    cf.hbm_write_bytes = B * sq * (row + o_bytes);
    return;
  }
  cf.indexer_flops = B * sq * 2 * m.index_n_heads * m.index_head_dim * L;  // 16,384 per key
  cf.hbm_read_bytes = B * (kb * (L - resident)                             // keys streamed
                           + sq * m.index_n_heads * m.index_head_dim       // q_idx fp8
                           + sq * m.index_n_heads * kFp32                  // head weights
                           + gathered                                      // gathered rows
                           + sq * q_bytes);
  cf.hbm_write_bytes = B * sq * (row + kb + o_bytes);
}

/// docs/DSA.md section 5.3: FLOPs of one prefill chunk (bytes come from the lowering).
void prefill_closed_form_flops(const WorkloadParams& p, const ModelConfig& m, bool mha,
                               WorkloadClosedForm& cf) {
  const std::uint64_t B = p.batch, T = p.chunk, P0 = p.seq - p.chunk, h = m.n_heads;
  const std::uint64_t pairs = T * P0 + T * (T + 1) / 2;
  if (p.attention == Attention::kDsa && !mha) {
    std::uint64_t selected = 0;  // S = sum over queries of min(k, visible keys)
    for (std::uint64_t i = 1; i <= T; ++i)
      selected += std::min(p.topk, P0 + i);
    if (!p.shared_layer) cf.indexer_flops = B * 2 * m.index_n_heads * m.index_head_dim * pairs;
    cf.attention_flops = B * 2 * h * (m.mqa_qk_dim() + m.mqa_v_dim()) * selected;
  } else if (mha) {
    // MHA mode decompresses every visible latent (the cached prefix too) with wkv_b.
    const std::uint64_t decompress = 2 * m.kv_lora_rank * h * (m.qk_nope_head_dim + m.v_head_dim);
    cf.attention_flops = B * (2 * h * (m.mha_qk_dim() + m.v_head_dim) * pairs + decompress * p.seq);
  } else {
    cf.attention_flops = B * 2 * h * (m.mqa_qk_dim() + m.mqa_v_dim()) * pairs;
  }
}

}  // namespace

Phase parse_phase(const std::string& t) {
  return parse_enum("--phase", t, kPhases);
}
Attention parse_attention(const std::string& t) {
  return parse_enum("--attention", t, kAttentions);
}
DenseMode parse_dense_mode(const std::string& t) {
  return parse_enum("--dense-mode", t, kDenseModes);
}
KvFormat parse_kv_format(const std::string& t) {
  return parse_enum("--kv-format", t, kKvFormats);
}
Scope parse_scope(const std::string& t) {
  return parse_enum("--scope", t, kScopes);
}
Residency parse_residency(const std::string& t) {
  return parse_enum("--residency", t, kResidencies);
}
TopkAlgo parse_topk_algo(const std::string& t) {
  return parse_enum("--topk-algo", t, kTopkAlgos);
}
GatherPattern parse_gather_pattern(const std::string& text) {
  GatherPattern out;
  std::string err = parse_pattern(text, out);
  if (!err.empty()) throw UserError("--pattern: " + err);
  return out;
}
std::string to_string(Phase v) {
  return enum_name(v, kPhases);
}
std::string to_string(Attention v) {
  return enum_name(v, kAttentions);
}
std::string to_string(DenseMode v) {
  return enum_name(v, kDenseModes);
}
std::string to_string(KvFormat v) {
  return enum_name(v, kKvFormats);
}
std::string to_string(Scope v) {
  return enum_name(v, kScopes);
}
std::string to_string(Residency v) {
  return enum_name(v, kResidencies);
}
std::string to_string(TopkAlgo v) {
  return enum_name(v, kTopkAlgos);
}

std::uint64_t keys_off_hbm(const WorkloadParams& p, std::uint64_t resident_tokens) {
  return p.residency == Residency::kPrefetch ? 0 : resident_tokens;
}

std::uint64_t index_share_f_layers(const WorkloadParams& p) {
  const std::string& pat = p.index_share.empty() ? std::string("F") : p.index_share;
  // Closed form: whole repeats of the pattern, then its first layers (a loop over --layers
  // would take minutes at 2^40 layers).
  const auto f_in = [&pat](std::size_t n) {
    return static_cast<std::uint64_t>(
        std::count(pat.begin(), pat.begin() + static_cast<std::ptrdiff_t>(n), 'F'));
  };
  return p.layers / pat.size() * f_in(pat.size()) + f_in(p.layers % pat.size());
}

std::uint64_t topk_guess_candidates(const WorkloadParams& p, std::uint64_t n, std::uint64_t k) {
  if (p.topk_algo != TopkAlgo::kGuess || p.phase != Phase::kDecode || k >= n) return 0;
  // The true top-k (k) plus the guessed tokens that dropped out of it ((1 - F) k), which sit
  // just below the new k-th score when scores drift little between steps.
  const auto dropped =
      static_cast<std::uint64_t>(std::llround((1.0 - p.step_overlap) * static_cast<double>(k)));
  return std::min(n, k + dropped);
}

bool has_shared_layers(const WorkloadParams& p) {
  return p.attention == Attention::kDsa && !prefill_uses_mha(p) &&
         index_share_f_layers(p) < p.layers;
}

void validate_workload(const WorkloadParams& p) {
  if (p.seq == 0) throw UserError("--seq must be > 0");
  if (p.topk == 0) throw UserError("--topk must be > 0");
  if (p.batch == 0) throw UserError("--batch must be > 0");
  if (p.mtp == 0) throw UserError("--mtp must be > 0");
  // Far beyond any model (DeepSeek-V3.2 has 61); the per-layer budgets multiply by it.
  constexpr std::uint64_t kMaxLayers = std::uint64_t{1} << 20;
  if (p.layers > kMaxLayers)
    throw UserError(fmt::format(
        "--layers: {} layers is more than the {} tpusim accepts (--layers, or the model's "
        "n_layers when --layers is not given)",
        p.layers, kMaxLayers));
  if (p.phase == Phase::kPrefill) {
    if (p.chunk == 0) throw UserError("--chunk must be > 0");
    if (p.chunk > p.seq)
      throw UserError("--chunk: the chunk (" + std::to_string(p.chunk) +
                      " tokens) must end at --seq (" + std::to_string(p.seq) +
                      "), so it cannot be longer than --seq");
  }
  if (p.phase == Phase::kPrefill && p.kv_row_cache)
    throw UserError(
        "--kv-row-cache: the row cache reuses the previous decode step's rows; it "
        "needs --phase decode");
  if (p.residency == Residency::kPrefetch && p.phase != Phase::kDecode)
    throw UserError(
        "--residency prefetch: the next layer's keys are prefetched in decode only (use "
        "stream, pin, auto or share with --phase prefill)");
  if (p.residency == Residency::kPrefetch && has_shared_layers(p))
    throw UserError(
        "--residency prefetch with --index-share: an S layer would have to prefetch the next F "
        "layer's keys, which is not modelled (use --residency auto)");
  if (p.phase == Phase::kPrefill && p.topk_algo == TopkAlgo::kGuess)
    throw UserError(
        "--topk-algo: guess is seeded by the previous decode step's selection; it "
        "needs --phase decode");
  if (!(p.step_overlap >= 0 && p.step_overlap <= 1))
    throw UserError("--step-overlap must be in [0, 1]");
  if (p.phase == Phase::kDecode && p.mtp > p.seq)
    throw UserError("--mtp: " + std::to_string(p.mtp) + " query tokens exceed --seq (" +
                    std::to_string(p.seq) + ")");
  // The index pattern must be able to pick a query's k rows from the L keys; said here, before
  // anything runs (with --attention both, the dense variant would otherwise simulate first).
  // The lowering checks each gather piece again: pieces round, so this is necessary only.
  if (p.attention == Attention::kDsa && !prefill_uses_mha(p)) {
    const std::uint64_t k = std::min(p.topk, p.seq);
    const std::string pat = pattern_to_string(p.pattern);
    if (p.pattern.kind == PatternKind::kRecent && p.pattern.param < k)
      throw UserError(fmt::format(
          "--pattern: {} picks from the last {} keys, fewer than the k = {} each query selects "
          "(use recent:W with W >= {})",
          pat, p.pattern.param, k, k));
    if (p.pattern.kind == PatternKind::kStrided && p.pattern.param > p.seq / k)
      throw UserError(fmt::format(
          "--pattern: {} takes every S-th key, so the k = {} rows of a query span S x k = {} "
          "keys, more than L = {} (use strided:S with S <= {})",
          pat, k,
          p.pattern.param > ~std::uint64_t{0} / k ? std::string("over 2^64")
                                                  : std::to_string(k * p.pattern.param),
          p.seq, p.seq / k));
  }
}

/// True when a DSA prefill runs as dense MHA (--short-prefill-mha and the context fits in k).
bool prefill_uses_mha(const WorkloadParams& p) {
  if (p.phase != Phase::kPrefill) return false;
  if (p.attention == Attention::kDense) return p.dense_mode == DenseMode::kMha;
  return p.short_prefill_mha && p.seq <= p.topk;
}

namespace {

GeneratedTrace lower_workload(const WorkloadParams& params, const HwConfig& hw);

// The workload flags that size the SRAM tiles and HBM regions, for messages about capacity.
std::string size_flags(const WorkloadParams& p) {
  std::string s = "--seq " + std::to_string(p.seq) + ", --batch " + std::to_string(p.batch);
  if (p.phase == Phase::kPrefill) s += ", --chunk " + std::to_string(p.chunk);
  if (p.phase == Phase::kDecode && p.mtp > 1) s += ", --mtp " + std::to_string(p.mtp);
  if (p.residency != Residency::kStream) s += ", --residency " + to_string(p.residency);
  return s;
}

}  // namespace

GeneratedTrace generate_workload(const WorkloadParams& given, const HwConfig& hw) {
  WorkloadParams params = given;
  resolve_params(params);
  validate_workload(params);
  try {
    return lower_workload(params, hw);
  } catch (const UserError& e) {
    // A capacity message names the chip's key; the user may as well change the workload, so
    // name the flags that size it too.
    const std::string m = e.what();
    for (const char* key : {"sram.capacity_mib", "sram.residency_mib", "hbm.capacity_gib"})
      if (m.rfind(key, 0) == 0)
        throw UserError(m + " (at " + size_flags(params) + ": lower them or raise " + key + ")");
    throw;
  }
}

namespace {

GeneratedTrace lower_workload(const WorkloadParams& params, const HwConfig& hw) {
  const ModelConfig model = load_model_config(params.model);

  GeneratedTrace out;
  TraceBuilder tb(hw.sram.capacity_bytes(), hw.hbm.capacity_bytes());
  LoweringContext c(params, hw, model, tb);
  c.closed_form = &out.closed_form;
  c.kv_row_bytes = params.kv_format == KvFormat::kFp8 ? model.mla_fp8_bytes : model.mla_bf16_bytes;

  const bool mha = prefill_uses_mha(params);
  WorkloadParams effective = params;
  if (mha) effective.attention = Attention::kDense;  // the MHA fallback has no indexer
  c.resident_tokens = plan_residency(effective, hw, model, c.kv_row_bytes, out.indexer);
  // The pinned keys of every F layer and the row cache of every cached (layer, sequence) set
  // occupy SRAM whichever layer runs; an S layer only does not read the keys.
  // --residency prefetch holds two layers' keys: this layer's and the next one's.
  c.prefetch_next_keys = params.residency == Residency::kPrefetch && c.resident_tokens > 0;
  const std::uint64_t key_sets = c.prefetch_next_keys ? 2 : index_share_f_layers(params);
  const std::uint64_t layer_keys = params.batch * c.resident_tokens * model.index_key_bytes;
  const std::uint64_t pinned = key_sets * layer_keys + out.indexer.row_cache.cache_bytes;
  if (pinned > 0) c.pinned_base = tb.sram_pin(pinned);
  c.next_keys_base = c.pinned_base + layer_keys;
  c.row_cache_hits = out.indexer.row_cache.hit_rows;
  c.row_cache_base = c.pinned_base + pinned - out.indexer.row_cache.cache_bytes;

  // Meta lines carry the whole workload (so `trace run` reports it like `run` does) and what the
  // lowering decided.
  for (const auto& [k, v] : workload_meta(params))
    tb.meta(k, v);
  tb.meta("indexer.key_cache_bytes", std::to_string(out.indexer.key_cache_bytes));
  tb.meta("indexer.resident_bytes", std::to_string(out.indexer.resident_bytes));
  tb.meta("indexer.resident_fraction", Json(out.indexer.resident_fraction).dump());
  if (has_shared_layers(params)) tb.meta("index_share.layer", params.shared_layer ? "S" : "F");
  if (out.indexer.row_cache.set_bytes > 0) {
    const RowCachePlan& rc = out.indexer.row_cache;
    tb.meta("row_cache.cached_pairs", std::to_string(rc.cached_pairs));
    tb.meta("row_cache.total_pairs", std::to_string(rc.total_pairs));
    tb.meta("row_cache.bytes", std::to_string(rc.cache_bytes));
    tb.meta("row_cache.hit_rows", std::to_string(rc.hit_rows));
    tb.meta("row_cache.hit_fraction", Json(rc.hit_fraction).dump());
  }
  if (!out.indexer.share_split.empty()) {
    // The split as numbers: a meta value has no spaces (traces/FORMAT.md), and the report's
    // indexer.share_split says it in words.
    tb.meta("residency.share_key_bytes", std::to_string(out.indexer.resident_bytes));
    tb.meta("residency.share_row_cache_bytes", std::to_string(out.indexer.row_cache.cache_bytes));
  }

  const bool layer = params.scope == Scope::kLayer;
  const bool dsa = effective.attention == Attention::kDsa;
  const std::uint64_t tokens =
      params.batch * (params.phase == Phase::kDecode ? params.mtp : params.chunk);
  if (params.phase == Phase::kDecode)
    decode_closed_form(params, model, c.kv_row_bytes, keys_off_hbm(params, c.resident_tokens),
                       c.row_cache_hits, out.closed_form);
  else
    prefill_closed_form_flops(params, model, mha, out.closed_form);
  if (layer) {
    // The projections get a quarter of the working SRAM for the whole step.
    c.proj_arena_bytes = tb.sram_free() / 4;
    c.proj_arena = tb.sram_alloc(c.proj_arena_bytes, "projection arena");
    // An S layer has no indexer, so none of its projections either.
    lower_projections_in(c, tokens, !mha, dsa && !params.shared_layer);
  }
  if (params.phase == Phase::kDecode)
    lower_decode(c);
  else
    lower_prefill(c);
  if (layer) lower_projections_out(c, tokens, !mha);
  out.closed_form.flops = out.closed_form.indexer_flops + out.closed_form.attention_flops +
                          out.closed_form.projection_flops;

  // Reports and sweep columns list kernels from kKernelTags: a tag missing there would vanish
  // from the sweep CSV, so a lowering that emits one is a bug caught here.
  for (std::size_t t = 1; t < tb.tags().size(); ++t) {
    const std::string& name = tb.tags().name(static_cast<std::uint16_t>(t));
    SIM_CHECK("workloads",
              std::find(kKernelTags.begin(), kKernelTags.end(), name) != kKernelTags.end(),
              "tag '" + name + "' is not in kKernelTags (workloads/kernel_tags.h)");
  }
  out.sram_peak_bytes = tb.sram_peak();
  out.instructions = tb.take_instructions();
  out.tags = tb.tags();
  out.meta = tb.trace_meta();
  return out;
}

}  // namespace

}  // namespace tpusim
