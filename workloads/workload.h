#pragma once
/// Workload generation: DeepSeek-V3.2 attention (dense MLA or DSA), one decode step or one
/// prefill chunk of one layer, lowered to a tpusim trace for a given chip.

#include <cstdint>
#include <string>
#include <vector>

#include "models/hw_config.h"
#include "traces/isa.h"
#include "traces/packed_trace.h"

namespace tpusim {

enum class Phase : std::uint8_t { kDecode, kPrefill };
enum class Attention : std::uint8_t { kDense, kDsa };
enum class DenseMode : std::uint8_t { kMha, kMqa };
enum class KvFormat : std::uint8_t { kFp8, kBf16 };
enum class Scope : std::uint8_t { kAttention, kLayer };
enum class Residency : std::uint8_t { kStream, kPin, kAuto, kShare, kPrefetch };
enum class TopkAlgo : std::uint8_t { kRadix, kGuess };

/// Workload parameters; each is declared, with its flag, in workloads/params.cpp. Defaults are
/// the CLI defaults; 0 in `chunk` and `layers` means "derived" (resolve_params).
struct WorkloadParams {
  std::string model = "deepseek-v3.2";       ///< --model: bundled name or TOML file
  Phase phase = Phase::kDecode;              ///< --phase
  Attention attention = Attention::kDsa;     ///< --attention (one variant per trace)
  std::uint64_t seq = 32768;                 ///< --seq: L, tokens visible to the last query
  std::uint64_t topk = 2048;                 ///< --topk: k
  std::uint64_t batch = 1;                   ///< --batch: B sequences
  std::uint64_t chunk = 0;                   ///< --chunk: T, prefill tokens ending at L
  std::uint64_t mtp = 1;                     ///< --mtp: query tokens per sequence in decode (s_q)
  DenseMode dense_mode = DenseMode::kMha;    ///< --dense-mode (prefill only)
  KvFormat kv_format = KvFormat::kFp8;       ///< --kv-format
  Scope scope = Scope::kAttention;           ///< --scope
  Residency residency = Residency::kStream;  ///< --residency
  std::uint64_t layers = 0;        ///< --layers: layers sharing the residency budget; 0 = model's
  GatherPattern pattern;           ///< --pattern (uniform)
  bool short_prefill_mha = false;  ///< --short-prefill-mha: DSA prefill falls back to dense MHA
                                   ///< when the whole context is at most k tokens
  std::uint64_t seed = 1;          ///< --seed: base seed of the gathers' index patterns
  /// --index-share: F (layer runs its indexer) / S (reuses the nearest preceding F layer's
  /// indices), repeated over `layers` and cut at the last layer (docs/DSA.md section 7).
  std::string index_share = "F";
  bool kv_row_cache = false;  ///< --kv-row-cache: last step's gathered rows stay in SRAM (decode)
  double step_overlap = 0.6;  ///< --step-overlap: fraction of a step's top-k kept from the last
  TopkAlgo topk_algo = TopkAlgo::kRadix;  ///< --topk-algo (decode only)
  /// Not a flag: the trace is of an S layer of the --index-share pattern (no indexer). The
  /// driver simulates one F and one S layer and combines them by their counts.
  bool shared_layer = false;
  /// Not a flag: a fixed split for --residency share, the fraction of the budget given to the
  /// indexer keys (tests compare the model's choice with fixed splits); negative: the model's.
  double share_keys_fraction = -1;
};

/// Layers of `p.layers` whose --index-share letter is F (they run the indexer); the others are S.
std::uint64_t index_share_f_layers(const WorkloadParams& p);
/// Of the `resident_tokens` keys per sequence held in SRAM, those that never cross HBM in a
/// step: all of them when pinned, none with --residency prefetch (each layer streams the next
/// layer's, so every key is still read once per step).
std::uint64_t keys_off_hbm(const WorkloadParams& p, std::uint64_t resident_tokens);
/// --topk-algo guess (docs/DSA.md section 9): the candidates per row that survive the threshold
/// taken from the previous step's k indices, (2 - step_overlap) k capped at n; 0 for radix (or
/// when nothing is left to select, k = n).
std::uint64_t topk_guess_candidates(const WorkloadParams& p, std::uint64_t n, std::uint64_t k);
/// True when the DSA variant of `p` has S layers (its report combines an F and an S layer).
bool has_shared_layers(const WorkloadParams& p);

/// The row cache of --kv-row-cache (docs/DSA.md section 8): how many (layer, sequence) sets of
/// k rows fit in the SRAM budget, and the fraction of a step's gathered rows it serves.
struct RowCachePlan {
  std::uint64_t set_bytes = 0;     ///< one (layer, sequence) set: k_eff x s_q rows
  std::uint64_t cached_pairs = 0;  ///< sets held, of layers x B
  std::uint64_t total_pairs = 0;   ///< layers x B
  std::uint64_t cache_bytes = 0;   ///< cached_pairs x set_bytes
  std::uint64_t hit_rows = 0;      ///< per query of the simulated (mean) layer
  double hit_fraction = 0;         ///< hit_rows / k_eff
};

/// The indexer key cache and how much of it is pinned in SRAM (docs/ARCHITECTURE.md "Reports"
/// "indexer"). Bytes count all `layers` layers and all B sequences.
struct IndexerResidency {
  std::uint64_t key_cache_bytes = 0;
  std::uint64_t resident_bytes = 0;
  double resident_fraction = 0;  ///< resident tokens / L (same for every layer and sequence)
  RowCachePlan row_cache;        ///< --kv-row-cache (zero when off)
  std::string share_split;       ///< --residency share: how the budget was split (else empty)
};

/// Expected totals of the trace from closed forms (docs/DSA.md section 5), so tests and
/// reports can compare. FLOPs count matmuls only (2 per MAC); bytes are HBM traffic.
struct WorkloadClosedForm {
  std::uint64_t flops = 0;
  std::uint64_t indexer_flops = 0;     ///< indexer logits (fp8)
  std::uint64_t attention_flops = 0;   ///< MLA core, incl. MHA-mode decompression
  std::uint64_t projection_flops = 0;  ///< --scope layer only
  /// Not in `flops`: MHA prefill's masked pairs, the keys past a query's position that its
  /// diagonal sub-block still multiplies (the trace's matmuls hold flops + masked_flops there).
  std::uint64_t masked_flops = 0;
  std::uint64_t hbm_read_bytes = 0;
  std::uint64_t hbm_write_bytes = 0;
};

struct GeneratedTrace {
  PackedTrace instructions;
  TagTable tags;
  TraceMeta meta;
  IndexerResidency indexer;
  WorkloadClosedForm closed_form;
  std::uint64_t sram_peak_bytes = 0;  ///< highest SRAM address the trace's buffers reach
};

/// Lowers the workload for `hw`. Throws UserError naming the flag or config key on bad input
/// (unknown model, k = 0, a tile or pinned cache that cannot fit in SRAM, ...).
GeneratedTrace generate_workload(const WorkloadParams& params, const HwConfig& hw);

/// Checks what needs no lowering (sizes > 0, the prefill chunk within --seq, decode's query
/// tokens within --seq); throws UserError naming the flag. Expects resolved parameters
/// (resolve_params). generate_workload calls it; the CLI calls it before forking a simulation.
void validate_workload(const WorkloadParams& params);

// Text forms of the enums for flags, meta lines and reports. parse_* throw UserError naming the
// flag: "--phase: 'foo' is not one of decode, prefill".
Phase parse_phase(const std::string& text);
Attention parse_attention(const std::string& text);
DenseMode parse_dense_mode(const std::string& text);
KvFormat parse_kv_format(const std::string& text);
Scope parse_scope(const std::string& text);
Residency parse_residency(const std::string& text);
TopkAlgo parse_topk_algo(const std::string& text);
GatherPattern parse_gather_pattern(const std::string& text);  ///< flag --pattern
std::string to_string(Phase v);
std::string to_string(Attention v);
std::string to_string(DenseMode v);
std::string to_string(KvFormat v);
std::string to_string(Scope v);
std::string to_string(Residency v);
std::string to_string(TopkAlgo v);

}  // namespace tpusim
