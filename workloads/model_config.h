#pragma once
/// Attention dimensions of the simulated model (DeepSeek-V3.2 and test models), from a TOML file
/// in workloads/models/.

#include <cstdint>
#include <string>

#include "base/embedded.h"

namespace tpusim {

/// One model's MLA and lightning-indexer dimensions (docs/DSA.md section 1).
struct ModelConfig {
  std::string name;
  std::uint64_t n_layers = 0;
  std::uint64_t dim = 0;  ///< hidden size
  std::uint64_t n_heads = 0;
  std::uint64_t q_lora_rank = 0;
  std::uint64_t kv_lora_rank = 0;
  std::uint64_t qk_nope_head_dim = 0;
  std::uint64_t qk_rope_head_dim = 0;
  std::uint64_t v_head_dim = 0;
  std::uint64_t index_n_heads = 0;
  std::uint64_t index_head_dim = 0;
  std::uint64_t index_topk = 0;
  std::uint64_t mla_fp8_bytes = 0;    ///< MLA cache bytes per token per layer, FP8 format
  std::uint64_t mla_bf16_bytes = 0;   ///< MLA cache bytes per token per layer, BF16 format
  std::uint64_t index_key_bytes = 0;  ///< indexer key cache bytes per token per layer

  /// MQA (absorbed) mode: every head's query and key are [latent; rope].
  std::uint64_t mqa_qk_dim() const { return kv_lora_rank + qk_rope_head_dim; }
  /// MQA mode: values are the latent itself.
  std::uint64_t mqa_v_dim() const { return kv_lora_rank; }
  /// MHA mode: per-head query/key dimension [nope; rope].
  std::uint64_t mha_qk_dim() const { return qk_nope_head_dim + qk_rope_head_dim; }
};

/// The bundled model files (workloads/models/*.toml), compiled into the binary.
const EmbeddedFiles& embedded_models();

/// Loads a bundled model by name ("deepseek-v3.2", "tiny") or a TOML file path. Unknown keys,
/// missing keys and non-positive values are UserErrors naming the file and key.
ModelConfig load_model_config(const std::string& name_or_file);

}  // namespace tpusim
