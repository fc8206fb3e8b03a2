#include "workloads/model_config.h"

#include <fstream>
#include <map>
#include <sstream>
#include <utility>
#include <vector>

#include <toml++/toml.h>

#include "base/error.h"

namespace tpusim {
namespace {

ModelConfig load_model_config_uncached(const std::string& name_or_file) {
  // A bare name is a bundled model; anything that looks like a path is a file.
  const bool is_path =
      name_or_file.find('/') != std::string::npos ||
      (name_or_file.size() > 5 && name_or_file.compare(name_or_file.size() - 5, 5, ".toml") == 0);
  std::string path = name_or_file;
  std::string text;
  if (is_path) {
    std::ifstream in(path);
    if (!in) throw UserError("--model: cannot read '" + name_or_file + "'");
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  } else if (auto embedded = find_embedded(embedded_models(), name_or_file)) {
    path = "workloads/models/" + name_or_file + ".toml";
    text = std::string(*embedded);
  } else {
    std::string known;
    for (const auto& [stem, t] : embedded_models())
      known += (known.empty() ? "" : ", ") + std::string(stem);
    throw UserError("--model: '" + name_or_file + "' is neither a bundled model (" + known +
                    ") nor a .toml file");
  }

  toml::table tbl;
  try {
    tbl = toml::parse(text, path);
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
      if (!v)
        throw UserError(path + ":" + std::to_string(node.source().begin.line) +
                        ": key 'name' must be a string");
      m.name = *v;
      continue;
    }
    bool known = false;
    for (auto& [name, dst] : fields) {
      if (k != name) continue;
      known = true;
      auto v = node.is_integer() ? node.value<std::int64_t>() : std::nullopt;
      if (!v || *v <= 0)
        throw UserError(path + ":" + std::to_string(node.source().begin.line) + ": key '" + k +
                        "' must be a positive integer");
      *dst = static_cast<std::uint64_t>(*v);
    }
    if (!known)
      throw UserError(path + ":" + std::to_string(node.source().begin.line) + ": unknown key '" +
                      k + "'");
  }
  for (auto& [name, dst] : fields)
    if (*dst == 0) throw UserError(path + ": missing key '" + std::string(name) + "'");
  if (m.name.empty()) m.name = name_or_file;
  return m;
}

}  // namespace

ModelConfig load_model_config(const std::string& name_or_file) {
  // The parameters, the lowering and the roofline each ask for the model, in the parent and again
  // in every forked simulation: parse its TOML once per process tree (children inherit this).
  // One thread per process, as for load_hw_config: no lock.
  static std::map<std::string, ModelConfig> cache;
  auto it = cache.find(name_or_file);
  if (it == cache.end())
    it = cache.emplace(name_or_file, load_model_config_uncached(name_or_file)).first;
  return it->second;
}

}  // namespace tpusim
