#include "workloads/model_config.h"

#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include <toml++/toml.h>

#include "sim/common.h"

namespace tpusim {

std::string models_dir() {
  return std::string(TPUSIM_SOURCE_DIR) + "/workloads/models";
}

namespace {

bool file_exists(const std::string& path) {
  return std::ifstream(path).good();
}

}  // namespace

ModelConfig load_model_config(const std::string& name_or_file) {
  // A bare name is a bundled model; anything that looks like a path is a file.
  std::string path = name_or_file;
  bool is_path =
      name_or_file.find('/') != std::string::npos ||
      (name_or_file.size() > 5 && name_or_file.compare(name_or_file.size() - 5, 5, ".toml") == 0);
  if (!is_path) path = models_dir() + "/" + name_or_file + ".toml";
  if (!file_exists(path))
    throw UserError("--model: '" + name_or_file + "' is neither a bundled model (" + models_dir() +
                    ") nor a readable file");

  toml::table tbl;
  try {
    tbl = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << path << ":" << e.source().begin.line << ": " << e.description();
    throw UserError(os.str());
  }

  ModelConfig m;
  std::vector<std::pair<const char*, std::uint64_t*>> fields = {
      {"n_layers", &m.n_layers},
      {"dim", &m.dim},
      {"n_heads", &m.n_heads},
      {"q_lora_rank", &m.q_lora_rank},
      {"kv_lora_rank", &m.kv_lora_rank},
      {"qk_nope_head_dim", &m.qk_nope_head_dim},
      {"qk_rope_head_dim", &m.qk_rope_head_dim},
      {"v_head_dim", &m.v_head_dim},
      {"index_n_heads", &m.index_n_heads},
      {"index_head_dim", &m.index_head_dim},
      {"index_topk", &m.index_topk},
      {"mla_fp8_bytes", &m.mla_fp8_bytes},
      {"mla_bf16_bytes", &m.mla_bf16_bytes},
      {"index_key_bytes", &m.index_key_bytes},
  };

  for (const auto& [key, node] : tbl) {
    std::string k(key.str());
    if (k == "name") {
      auto v = node.value<std::string>();
      if (!v) throw UserError(path + ": key 'name' must be a string");
      m.name = *v;
      continue;
    }
    bool known = false;
    for (auto& [name, dst] : fields) {
      if (k != name) continue;
      known = true;
      auto v = node.value<std::int64_t>();
      if (!v || *v <= 0) throw UserError(path + ": key '" + k + "' must be a positive integer");
      *dst = static_cast<std::uint64_t>(*v);
    }
    if (!known) throw UserError(path + ": unknown key '" + k + "'");
  }
  for (auto& [name, dst] : fields)
    if (*dst == 0) throw UserError(path + ": missing key '" + std::string(name) + "'");
  if (m.name.empty()) m.name = name_or_file;
  return m;
}

}  // namespace tpusim
