#include "workloads/params.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

#include "base/error.h"
#include "base/format.h"
#include "workloads/model_config.h"

namespace tpusim {
namespace {

std::uint64_t positive_size(const std::string& text, const char* flag) {
  const std::uint64_t v = parse_size(text, std::string("--") + flag);
  if (v == 0) throw UserError(fmt::format("--{} must be > 0 (got {})", flag, text));
  return v;
}

bool parse_bool(const std::string& text, const char* flag) {
  if (text == "true" || text == "1" || text == "on" || text == "yes") return true;
  if (text == "false" || text == "0" || text == "off" || text == "no") return false;
  throw UserError(fmt::format("--{}: '{}' is not a boolean (true or false)", flag, text));
}

double parse_fraction(const std::string& text, const char* flag) {
  // strtod, not stod: stod throws out_of_range for a denormal such as 1e-310, which is in [0, 1].
  char* stop = nullptr;
  const double v = text.empty() ? 0.0 : std::strtod(text.c_str(), &stop);
  const std::size_t used = text.empty() ? 0 : static_cast<std::size_t>(stop - text.c_str());
  if (used == 0 || used != text.size() || !(v >= 0 && v <= 1))
    throw UserError(fmt::format("--{}: '{}' is not a number in [0, 1]", flag, text));
  return v;
}

// F and S only, starting with F: an S layer reuses the nearest preceding F layer's indices.
std::string parse_index_share(const std::string& text) {
  if (text.empty()) throw UserError("--index-share: empty pattern (use F, FS, FSSS, ...)");
  if (text.find_first_not_of("FS") != std::string::npos)
    throw UserError("--index-share: '" + text + "' may hold only F and S (e.g. FSSS)");
  if (text.front() != 'F')
    throw UserError("--index-share: '" + text +
                    "' must start with F (an S layer reuses the indices of an F layer before it)");
  return text;
}

std::string size_text(std::uint64_t v) {
  return std::to_string(v);
}

// The table. Defaults live in WorkloadParams (workload.h); `default_text` only shows them.
std::vector<WorkloadParam> make_table() {
  using P = WorkloadParams;
  using S = const std::string&;
  return {
      {"model",
       "model",
       "model config: a bundled name (deepseek-v3.2, tiny) or a TOML file",
       "deepseek-v3.2",
       ParamKind::kModel,
       {},
       true,
       "tiny",
       [](P& p, S t) {
         if (t.empty()) throw UserError("--model: empty value");
         p.model = t;
       },
       [](const P& p) { return p.model; }},
      {"phase",
       "phase",
       "one decode step, or one prefill chunk",
       "decode",
       ParamKind::kEnum,
       {"decode", "prefill"},
       true,
       "prefill",
       [](P& p, S t) { p.phase = parse_phase(t); },
       [](const P& p) { return to_string(p.phase); }},
      {"seq",
       "seq",
       "context length L in tokens (k/m suffixes are powers of 2)",
       "32k",
       ParamKind::kSize,
       {},
       true,
       "64k",
       [](P& p, S t) { p.seq = positive_size(t, "seq"); },
       [](const P& p) { return size_text(p.seq); }},
      {"topk",
       "topk",
       "tokens DSA selects per query (k)",
       "2048",
       ParamKind::kSize,
       {},
       false,
       "1k",
       [](P& p, S t) { p.topk = positive_size(t, "topk"); },
       [](const P& p) { return size_text(p.topk); }},
      {"batch",
       "batch",
       "sequences per decode step or prefill chunk",
       "1",
       ParamKind::kSize,
       {},
       true,
       "2",
       [](P& p, S t) { p.batch = positive_size(t, "batch"); },
       [](const P& p) { return size_text(p.batch); }},
      {"chunk",
       "chunk",
       "prefill chunk T in tokens, ending at L (0 in decode)",
       "min(4k, L)",
       ParamKind::kSize,
       {},
       true,
       "2k",
       [](P& p, S t) { p.chunk = positive_size(t, "chunk"); },
       [](const P& p) { return size_text(p.chunk); }},
      {"mtp",
       "mtp",
       "query tokens per sequence in decode (multi-token prediction)",
       "1",
       ParamKind::kSize,
       {},
       true,
       "2",
       [](P& p, S t) { p.mtp = positive_size(t, "mtp"); },
       [](const P& p) { return size_text(p.mtp); }},
      {"dense-mode",
       "dense_mode",
       "dense prefill as MHA or MQA (decode is always MQA)",
       "mha",
       ParamKind::kEnum,
       {"mha", "mqa"},
       true,
       "mqa",
       [](P& p, S t) { p.dense_mode = parse_dense_mode(t); },
       [](const P& p) { return to_string(p.dense_mode); }},
      {"kv-format",
       "kv_format",
       "MLA cache rows of 656 B (fp8) or 1152 B (bf16)",
       "fp8",
       ParamKind::kEnum,
       {"fp8", "bf16"},
       true,
       "bf16",
       [](P& p, S t) { p.kv_format = parse_kv_format(t); },
       [](const P& p) { return to_string(p.kv_format); }},
      {"scope",
       "scope",
       "attention only, or the whole layer with its projections",
       "attention",
       ParamKind::kEnum,
       {"attention", "layer"},
       true,
       "layer",
       [](P& p, S t) { p.scope = parse_scope(t); },
       [](const P& p) { return to_string(p.scope); }},
      {"residency",
       "residency",
       "indexer key cache streamed from HBM, pinned in SRAM, auto (pin what fits), share "
       "(split the budget with --kv-row-cache), or prefetch (decode, one layer of a steady "
       "stack: each layer streams the next layer's keys into SRAM during its own step, as many "
       "as two layers' worth of the budget hold, and a streamed attention (dense) the first KV "
       "tile of each split-KV partition; same HBM bytes as stream)",
       "stream",
       ParamKind::kEnum,
       {"stream", "pin", "auto", "share", "prefetch"},
       false,
       "auto",
       [](P& p, S t) { p.residency = parse_residency(t); },
       [](const P& p) { return to_string(p.residency); }},
      {"layers",
       "layers",
       "layers sharing the SRAM residency budget",
       "the model's layer count",
       ParamKind::kSize,
       {},
       false,
       "4",
       [](P& p, S t) { p.layers = positive_size(t, "layers"); },
       [](const P& p) { return size_text(p.layers); }},
      {"pattern",
       "pattern",
       "top-k index pattern: uniform | recent:W | clustered:C | strided:S",
       "uniform",
       ParamKind::kText,
       {},
       false,
       "clustered:16",
       [](P& p, S t) { p.pattern = parse_gather_pattern(t); },
       [](const P& p) { return pattern_to_string(p.pattern); }},
      {"short-prefill-mha",
       "short_prefill_mha",
       "DSA prefill of short contexts (L <= k) in masked MHA mode, as DeepSeek does",
       "off",
       ParamKind::kBool,
       {},
       false,
       "true",
       [](P& p, S t) { p.short_prefill_mha = parse_bool(t, "short-prefill-mha"); },
       [](const P& p) { return std::string(p.short_prefill_mha ? "true" : "false"); }},
      {"seed",
       "seed",
       "seed of the gathers' index patterns",
       "1",
       ParamKind::kSize,
       {},
       false,
       "9",
       [](P& p, S t) { p.seed = parse_size(t, "--seed"); },
       [](const P& p) { return size_text(p.seed); }},
      {"index-share",
       "index_share",
       "indexer per layer: F runs it, S reuses the last F layer's top-k; repeated over --layers",
       "F",
       ParamKind::kText,
       {},
       false,
       "FSSS",
       [](P& p, S t) { p.index_share = parse_index_share(t); },
       [](const P& p) { return p.index_share; }},
      {"kv-row-cache",
       "kv_row_cache",
       "decode: keep each layer's last gathered rows in SRAM, gather only the new ones",
       "off",
       ParamKind::kBool,
       {},
       false,
       "true",
       [](P& p, S t) { p.kv_row_cache = parse_bool(t, "kv-row-cache"); },
       [](const P& p) { return std::string(p.kv_row_cache ? "true" : "false"); }},
      {"step-overlap",
       "step_overlap",
       "fraction of a decode step's top-k also in the previous step's, in [0, 1]",
       "0.6",
       ParamKind::kFloat,
       {},
       false,
       "0.8",
       [](P& p, S t) { p.step_overlap = parse_fraction(t, "step-overlap"); },
       [](const P& p) { return fmt::format("{}", p.step_overlap); }},
      {"topk-algo",
       "topk_algo",
       "decode top-k: radix select, or guess (seeded by the previous step's set)",
       "radix",
       ParamKind::kEnum,
       {"radix", "guess"},
       false,
       "guess",
       [](P& p, S t) { p.topk_algo = parse_topk_algo(t); },
       [](const P& p) { return to_string(p.topk_algo); }},
  };
}

}  // namespace

const std::vector<WorkloadParam>& workload_params() {
  static const std::vector<WorkloadParam> table = make_table();
  return table;
}

const WorkloadParam* find_workload_param(std::string_view flag) {
  for (const auto& p : workload_params())
    if (p.flag == flag) return &p;
  return nullptr;
}

const WorkloadParam* find_workload_param_by_key(std::string_view key) {
  for (const auto& p : workload_params())
    if (p.key == key) return &p;
  return nullptr;
}

std::string_view dense_relevant_value(const WorkloadParam& row, std::string_view value) {
  if (row.key == "residency") return value == "prefetch" ? value : std::string_view();
  return row.dense_depends ? value : std::string_view();
}

void resolve_params(WorkloadParams& p) {
  if (p.phase == Phase::kDecode) {
    p.chunk = 0;
    p.dense_mode = DenseMode::kMqa;
  } else if (p.chunk == 0) {
    p.chunk = std::min<std::uint64_t>(4096, p.seq);
  }
  if (p.layers == 0) p.layers = load_model_config(p.model).n_layers;
}

WorkloadParams params_from_flags(const FlagList& flags, Attention attention) {
  WorkloadParams p;
  for (const auto& [flag, value] : flags) {
    const WorkloadParam* row = find_workload_param(flag);
    if (!row) throw UserError("unknown workload flag --" + flag);
    row->set(p, value);
  }
  p.attention = attention;
  resolve_params(p);
  return p;
}

WorkloadParams params_from_meta(const std::vector<std::pair<std::string, std::string>>& meta) {
  WorkloadParams p;
  for (const auto& [key, text] : meta) {
    if (key == "attention") {
      p.attention = parse_attention(text);
      continue;
    }
    const WorkloadParam* row = find_workload_param_by_key(key);
    if (!row || (row->kind == ParamKind::kSize && text == "0")) continue;
    row->set(p, text);
  }
  resolve_params(p);
  return p;
}

Json param_text_json(const WorkloadParam& param, const std::string& text) {
  switch (param.kind) {
    case ParamKind::kSize:
    case ParamKind::kInteger:
      return static_cast<std::uint64_t>(std::stoull(text));
    case ParamKind::kFloat:
      return std::strtod(text.c_str(), nullptr);  // stod throws for a denormal
    case ParamKind::kBool:
      return text == "true";
    default:
      return text;
  }
}

Json param_json(const WorkloadParam& param, const WorkloadParams& p) {
  return param_text_json(param, param.get(p));
}

Json workload_json(const WorkloadParams& p) {
  Json w = Json::object();
  w["attention"] = to_string(p.attention);
  for (const auto& row : workload_params())
    w[std::string(row.key)] = param_json(row, p);
  return w;
}

std::vector<std::pair<std::string, std::string>> workload_meta(const WorkloadParams& p) {
  std::vector<std::pair<std::string, std::string>> out;
  out.emplace_back("attention", to_string(p.attention));
  for (const auto& row : workload_params())
    out.emplace_back(std::string(row.key), row.get(p));
  return out;
}

}  // namespace tpusim
