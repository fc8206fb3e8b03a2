#pragma once
/// Workload generation: DeepSeek-V3.2 attention (dense MLA or DSA), one decode step or one
/// prefill chunk of one layer, lowered to a tpusim trace for a given chip.

#include <cstdint>
#include <string>
#include <vector>

#include "models/hw_config.h"
#include "traces/isa.h"

namespace tpusim {

enum class Phase : std::uint8_t { kDecode, kPrefill };
enum class Attention : std::uint8_t { kDense, kDsa };
enum class DenseMode : std::uint8_t { kMha, kMqa };
enum class KvFormat : std::uint8_t { kFp8, kBf16 };
enum class Scope : std::uint8_t { kAttention, kLayer };
enum class Residency : std::uint8_t { kStream, kPin, kAuto };

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
};

/// The indexer key cache and how much of it is pinned in SRAM (docs/ARCHITECTURE.md "Reports"
/// "indexer"). Bytes count all `layers` layers and all B sequences.
struct IndexerResidency {
  std::uint64_t key_cache_bytes = 0;
  std::uint64_t resident_bytes = 0;
  double resident_fraction = 0;  ///< resident tokens / L (same for every layer and sequence)
};

/// Expected totals of the trace from closed forms (docs/DSA.md section 5), so tests and
/// reports can compare. FLOPs count matmuls only (2 per MAC); bytes are HBM traffic.
struct WorkloadClosedForm {
  std::uint64_t flops = 0;
  std::uint64_t indexer_flops = 0;     ///< indexer logits (fp8)
  std::uint64_t attention_flops = 0;   ///< MLA core, incl. MHA-mode decompression
  std::uint64_t projection_flops = 0;  ///< --scope layer only
  std::uint64_t hbm_read_bytes = 0;
  std::uint64_t hbm_write_bytes = 0;
};

struct GeneratedTrace {
  std::vector<Instruction> instructions;
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
GatherPattern parse_gather_pattern(const std::string& text);  ///< flag --pattern
std::string to_string(Phase v);
std::string to_string(Attention v);
std::string to_string(DenseMode v);
std::string to_string(KvFormat v);
std::string to_string(Scope v);
std::string to_string(Residency v);

}  // namespace tpusim
