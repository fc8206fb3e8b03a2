#include "sim/config.h"

#include "base/embedded.h"

#include <fmt/format.h>

#include <toml++/toml.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>

namespace tpusim {
namespace {

// One configuration key: how to read it from a TOML node, how to print it. Keeping every key in
// one table is what makes `hw show`, the JSON report, `--set` and validation agree.
struct KeyDesc {
  std::string key;  // "section.name"
  std::string help;
  std::function<std::string(const HwConfig&)> get;
  std::function<void(HwConfig&, const toml::node&, const std::string& where)> set;
};

std::string fmt_double(double v) {
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // stay a TOML float
  return s;
}

[[noreturn]] void type_error(const std::string& where, const std::string& key, const char* want) {
  throw ConfigError(fmt::format("{}: {} must be {}", where, key, want));
}

double as_double(const toml::node& n, const std::string& key, const std::string& where) {
  if (auto v = n.as_floating_point()) return v->get();
  if (auto v = n.as_integer()) return static_cast<double>(v->get());
  type_error(where, key, "a number");
}

std::uint64_t as_uint(const toml::node& n, const std::string& key, const std::string& where,
                      std::uint64_t max) {
  auto v = n.as_integer();
  if (!v) {
    // A fraction is not a count; a number too large for TOML's 64-bit integers arrives as a
    // float too, and so does 4.0 or 1e3.
    if (auto f = n.as_floating_point()) {
      const double x = f->get();
      if (std::trunc(x) != x)
        throw ConfigError(fmt::format("{}: {} must be a whole number (got {})", where, key, x));
      if (x > static_cast<double>(max))
        throw ConfigError(fmt::format("{}: {} is too large (max {})", where, key, max));
      if (x >= 9.2e18)
        throw ConfigError(fmt::format(
            "{}: {} is beyond TOML's integers (at most 9223372036854775807)", where, key));
      throw ConfigError(
          fmt::format("{}: {} must be written as an integer ({:.0f}, not a floating-point number)",
                      where, key, x));
    }
    // Digits beyond TOML's 64-bit integers arrive as text.
    if (auto t = n.as_string();
        t && !t->get().empty() &&
        std::all_of(t->get().begin(), t->get().end(), [](char c) { return c >= '0' && c <= '9'; }))
      throw ConfigError(
          fmt::format("{}: {} is beyond TOML's integers (at most "
                      "9223372036854775807; this key takes at most {})",
                      where, key, max));
    type_error(where, key, fmt::format("an integer in [0, {}]", max).c_str());
  }
  if (v->get() < 0)
    throw ConfigError(fmt::format("{}: {} must be >= 0 (got {})", where, key, v->get()));
  auto u = static_cast<std::uint64_t>(v->get());
  if (u > max)
    throw ConfigError(fmt::format("{}: {} is too large (got {}, max {})", where, key, u, max));
  return u;
}

// Builders for the three value types we use; `ref` maps the config to the field.
template <class Ref>
KeyDesc double_key(std::string key, std::string help, Ref ref) {
  return {key, std::move(help),
          [ref](const HwConfig& c) { return fmt_double(ref(const_cast<HwConfig&>(c))); },
          [ref, key](HwConfig& c, const toml::node& n, const std::string& where) {
            ref(c) = as_double(n, key, where);
          }};
}

template <class Ref>
KeyDesc uint_key(std::string key, std::string help, Ref ref) {
  using T = std::remove_reference_t<decltype(ref(std::declval<HwConfig&>()))>;
  return {
      key, std::move(help),
      [ref](const HwConfig& c) { return std::to_string(ref(const_cast<HwConfig&>(c))); },
      [ref, key](HwConfig& c, const toml::node& n, const std::string& where) {
        auto i = n.as_integer();
        if (i && i->get() < 0) {
          // A negative value gets the message 0 would get (">" 0 where 0 is invalid), so -2
          // and 0 are not told apart by two different rules.
          HwConfig probe = c;
          ref(probe) = 0;
          try {
            probe.validate();
          } catch (const ConfigError& e) {
            const std::string m = e.what();
            if (m.rfind(key + " must be > 0", 0) == 0)
              throw ConfigError(fmt::format("{}: {} must be > 0 (got {})", where, key, i->get()));
          }
        }
        ref(c) = static_cast<T>(as_uint(n, key, where, std::numeric_limits<T>::max()));
      }};
}

template <class Ref>
KeyDesc bool_key(std::string key, std::string help, Ref ref) {
  return {key, std::move(help),
          [ref](const HwConfig& c) {
            return std::string(ref(const_cast<HwConfig&>(c)) ? "true" : "false");
          },
          [ref, key](HwConfig& c, const toml::node& n, const std::string& where) {
            auto v = n.as_boolean();
            if (!v) type_error(where, key, "true or false");
            ref(c) = v->get();
          }};
}

// A TOML basic string: `hw show` output must load back whatever the name holds.
std::string toml_quote(const std::string& s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      q += '\\';
      q += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      q += fmt::format("\\u{:04X}", static_cast<unsigned>(static_cast<unsigned char>(c)));
    } else {
      q += c;
    }
  }
  return q + "\"";
}

template <class Ref>
KeyDesc string_key(std::string key, std::string help, Ref ref) {
  return {key, std::move(help),
          [ref](const HwConfig& c) { return toml_quote(ref(const_cast<HwConfig&>(c))); },
          [ref, key](HwConfig& c, const toml::node& n, const std::string& where) {
            auto v = n.as_string();
            if (!v) type_error(where, key, "a string");
            ref(c) = v->get();
          }};
}

// An enum key stored as a string in TOML with a fixed set of spellings.
template <class E, class Ref>
KeyDesc enum_key(std::string key, std::string help, Ref ref,
                 std::vector<std::pair<std::string, E>> names) {
  return {key, std::move(help),
          [ref, names](const HwConfig& c) {
            for (const auto& [s, e] : names)
              if (e == ref(const_cast<HwConfig&>(c))) return "\"" + s + "\"";
            return std::string("\"?\"");
          },
          [ref, key, names](HwConfig& c, const toml::node& n, const std::string& where) {
            auto v = n.as_string();
            std::string allowed;
            for (const auto& [s, e] : names)
              allowed += (allowed.empty() ? "" : ", ") + s;
            if (!v) type_error(where, key, ("one of " + allowed).c_str());
            for (const auto& [s, e] : names) {
              if (s == v->get()) {
                ref(c) = e;
                return;
              }
            }
            throw ConfigError(
                fmt::format("{}: {} = '{}' is not one of {}", where, key, v->get(), allowed));
          }};
}

#define FIELD(expr)           \
  [](HwConfig & c) -> auto& { \
    return c.expr;            \
  }

const std::vector<KeyDesc>& key_table() {
  static const std::vector<KeyDesc> table = [] {
    std::vector<KeyDesc> t;
    t.push_back(string_key("chip.name", "name shown in reports", FIELD(chip.name)));
    t.push_back(double_key("chip.clock_ghz", "core clock in GHz (the only clock domain)",
                           FIELD(chip.clock_ghz)));

    t.push_back(uint_key("mxu.count", "systolic arrays on the chip", FIELD(mxu.count)));
    t.push_back(uint_key("mxu.rows", "array rows R", FIELD(mxu.rows)));
    t.push_back(uint_key("mxu.cols", "array columns C", FIELD(mxu.cols)));
    t.push_back(enum_key<Dataflow>(
        "mxu.dataflow", "ws (weight stationary) or os (output stationary)", FIELD(mxu.dataflow),
        {{"ws", Dataflow::kWeightStationary}, {"os", Dataflow::kOutputStationary}}));
    t.push_back(enum_key<MxuTimingMode>(
        "mxu.timing", "pipelined (double-buffered weights) or scalesim", FIELD(mxu.timing),
        {{"pipelined", MxuTimingMode::kPipelined}, {"scalesim", MxuTimingMode::kScaleSim}}));
    t.push_back(double_key("mxu.fp8_rate", "fp8 throughput relative to bf16", FIELD(mxu.fp8_rate)));
    t.push_back(bool_key("mxu.hold_weights",
                         "an array reuses the weights it holds instead of reloading them",
                         FIELD(mxu.hold_weights)));

    t.push_back(uint_key("vpu.lanes", "vector elements per cycle", FIELD(vpu.lanes)));
    for (int i = 0; i < kVpuOpCount; ++i) {
      if (static_cast<Op>(i + static_cast<int>(Op::kVpuRelu)) == Op::kVpuTopk) continue;
      std::string name(vpu_op_short_name(i));
      t.push_back(double_key(
          "vpu.cost_" + name,
          "element-passes per element of vpu." + name, [i](HwConfig & c) -> auto& {
            return c.vpu.cost[static_cast<std::size_t>(i)];
          }));
    }
    t.push_back(
        uint_key("vpu.topk_passes", "radix-select passes over the scores", FIELD(vpu.topk_passes)));
    t.push_back(uint_key("vpu.op_latency_cycles", "pipeline fill per vector instruction, cycles",
                         FIELD(vpu.op_latency_cycles)));

    t.push_back(
        bool_key("topk.enabled", "a dedicated top-k unit takes vpu.topk", FIELD(topk.enabled)));
    t.push_back(double_key("topk.elems_per_cycle", "scores the top-k unit consumes per cycle",
                           FIELD(topk.elems_per_cycle)));
    t.push_back(uint_key("topk.latency_cycles", "top-k unit latency per instruction, cycles",
                         FIELD(topk.latency_cycles)));

    t.push_back(
        double_key("sram.capacity_mib", "on-chip SRAM capacity, MiB", FIELD(sram.capacity_mib)));
    t.push_back(uint_key("sram.banks", "SRAM banks", FIELD(sram.banks)));
    t.push_back(uint_key("sram.bank_bytes_per_cycle", "bytes per cycle per bank",
                         FIELD(sram.bank_bytes_per_cycle)));
    t.push_back(uint_key("sram.interleave_bytes", "bank interleave granule, bytes",
                         FIELD(sram.interleave_bytes)));
    t.push_back(double_key("sram.residency_mib", "SRAM budget for pinned indexer keys, MiB",
                           FIELD(sram.residency_mib)));

    t.push_back(
        double_key("hbm.bandwidth_gbs", "total peak bandwidth, GB/s", FIELD(hbm.bandwidth_gbs)));
    t.push_back(uint_key("hbm.channels", "independent channels", FIELD(hbm.channels)));
    t.push_back(
        uint_key("hbm.banks_per_channel", "banks per channel", FIELD(hbm.banks_per_channel)));
    t.push_back(uint_key("hbm.row_bytes", "row (page) size, bytes", FIELD(hbm.row_bytes)));
    t.push_back(uint_key("hbm.burst_bytes", "bytes per burst", FIELD(hbm.burst_bytes)));
    t.push_back(uint_key("hbm.interleave_bytes", "channel interleave granule, bytes",
                         FIELD(hbm.interleave_bytes)));
    t.push_back(double_key("hbm.latency_ns",
                           "fixed path latency outside the DRAM core (PHY, NoC, controller), ns; "
                           "idle read latency = latency_ns + trcd_ns + one burst",
                           FIELD(hbm.latency_ns)));
    t.push_back(double_key("hbm.trcd_ns",
                           "activate to column access, ns (a closed bank pays it; HBM2 14)",
                           FIELD(hbm.trcd_ns)));
    t.push_back(double_key("hbm.trp_ns", "precharge, ns (a row conflict pays trp + trcd; HBM2 14)",
                           FIELD(hbm.trp_ns)));
    t.push_back(double_key("hbm.tras_ns",
                           "activate to precharge at least, ns (activates to one bank are "
                           "tRC = tras + trp apart; HBM2 34)",
                           FIELD(hbm.tras_ns)));
    t.push_back(double_key("hbm.trrd_ns", "activate to activate in one channel, ns (HBM2 4)",
                           FIELD(hbm.trrd_ns)));
    t.push_back(double_key("hbm.tfaw_ns",
                           "four-activate window of one channel, ns (HBM2 30; 0: no limit)",
                           FIELD(hbm.tfaw_ns)));
    t.push_back(double_key("hbm.trfc_ns", "all-bank refresh time, ns (HBM2 260; 0: no refresh)",
                           FIELD(hbm.trfc_ns)));
    t.push_back(double_key("hbm.trefi_ns",
                           "refresh interval, ns (HBM2 3900; 0: no refresh; must exceed trfc_ns)",
                           FIELD(hbm.trefi_ns)));
    t.push_back(enum_key<RefreshStart>(
        "hbm.refresh_start",
        "interval (each channel's first refresh one trefi after its stagger offset: the run "
        "starts refresh-free) or phase (at the offset: refreshes overlap the run from its start, "
        "as in steady state)",
        FIELD(hbm.refresh_start),
        {{"interval", RefreshStart::kInterval}, {"phase", RefreshStart::kPhase}}));
    t.push_back(uint_key("hbm.refresh_postpone",
                         "refreshes a channel may owe while requests are queued, 0 to 8 (JEDEC "
                         "allows 8); an owed one goes when the channel is idle, or at the latest "
                         "this many trefi late; 0: each at its due time",
                         FIELD(hbm.refresh_postpone)));
    t.push_back(uint_key("hbm.queue_depth",
                         "bus stretches per channel a burst may be scheduled between (FR-FCFS "
                         "reordering window), 1 to 4096, default 32",
                         FIELD(hbm.queue_depth)));
    t.push_back(double_key("hbm.capacity_gib", "capacity, GiB (addresses beyond are errors)",
                           FIELD(hbm.capacity_gib)));

    t.push_back(uint_key("dma.engines", "DMA engines", FIELD(dma.engines)));
    t.push_back(uint_key("dma.max_outstanding", "requests in flight per engine",
                         FIELD(dma.max_outstanding)));
    t.push_back(
        uint_key("dma.request_bytes", "largest single request, bytes", FIELD(dma.request_bytes)));
    t.push_back(uint_key("dma.group_requests", "requests issued per simulation step",
                         FIELD(dma.group_requests)));
    t.push_back(bool_key("dma.gather_sort", "issue gathered rows in address order",
                         FIELD(dma.gather_sort)));
    t.push_back(uint_key("dma.max_in_flight",
                         "instructions in flight per engine (1: one at a time)",
                         FIELD(dma.max_in_flight)));

    t.push_back(uint_key("exec.issue_window",
                         "instructions of one unit kind a free unit may choose from (oldest "
                         "ready first); 1 = in-order issue per kind",
                         FIELD(exec.issue_window)));
    t.push_back(double_key("energy.hbm_read_pj_per_byte", "HBM read energy, pJ per byte",
                           FIELD(energy.hbm_read_pj_per_byte)));
    t.push_back(double_key("energy.hbm_write_pj_per_byte", "HBM write energy, pJ per byte",
                           FIELD(energy.hbm_write_pj_per_byte)));
    t.push_back(double_key("energy.sram_read_pj_per_byte", "SRAM read energy, pJ per byte",
                           FIELD(energy.sram_read_pj_per_byte)));
    t.push_back(double_key("energy.sram_write_pj_per_byte", "SRAM write energy, pJ per byte",
                           FIELD(energy.sram_write_pj_per_byte)));
    t.push_back(double_key("energy.mac_bf16_pj", "MXU energy per bf16 multiply-accumulate, pJ",
                           FIELD(energy.mac_bf16_pj)));
    t.push_back(double_key("energy.mac_fp8_pj", "MXU energy per fp8 multiply-accumulate, pJ",
                           FIELD(energy.mac_fp8_pj)));
    t.push_back(double_key("energy.vpu_lane_op_pj",
                           "vector energy per lane-op (one element-pass of one element), pJ",
                           FIELD(energy.vpu_lane_op_pj)));
    t.push_back(double_key("energy.static_w", "static (leakage and always-on) power, W",
                           FIELD(energy.static_w)));
    return t;
  }();
  return table;
}

#undef FIELD

const KeyDesc* find_key(const std::string& key) {
  for (const auto& d : key_table())
    if (d.key == key) return &d;
  return nullptr;
}

std::string known_keys_of(const std::string& section) {
  std::string out;
  for (const auto& d : key_table()) {
    if (d.key.compare(0, section.size() + 1, section + ".") == 0)
      out += (out.empty() ? "" : ", ") + d.key.substr(section.size() + 1);
  }
  return out;
}

[[noreturn]] void unknown_key(const std::string& where, const std::string& key) {
  // One latency for every miss could not fit both idle latency and conflict cost (issue 10).
  if (key == "hbm.row_miss_ns")
    throw ConfigError(fmt::format(
        "{}: hbm.row_miss_ns was replaced by the DRAM timings hbm.trcd_ns (a closed bank), "
        "hbm.trp_ns (a row conflict pays trp + trcd), hbm.tras_ns, hbm.trrd_ns, hbm.tfaw_ns, "
        "hbm.trfc_ns and hbm.trefi_ns; hbm.latency_ns is now the path latency without trcd",
        where));
  auto dot = key.find('.');
  std::string section = dot == std::string::npos ? key : key.substr(0, dot);
  std::string known = known_keys_of(section);
  if (known.empty())
    throw ConfigError(fmt::format(
        "{}: unknown section '{}' (sections: chip, mxu, vpu, topk, sram, hbm, dma, exec, energy)",
        where, section));
  throw ConfigError(
      fmt::format("{}: unknown key '{}' (keys of [{}]: {})", where, key, section, known));
}

std::string source_position(const toml::node& n, const std::string& origin) {
  const auto& src = n.source();
  if (src.begin.line > 0) return fmt::format("{}:{}", origin, src.begin.line);
  return origin;
}

void apply_table(HwConfig& cfg, const toml::table& root, const std::string& origin) {
  for (const auto& [section_key, section_node] : root) {
    std::string section(section_key.str());
    const auto* section_table = section_node.as_table();
    if (!section_table) {
      std::string where = source_position(section_node, origin);
      if (find_key(section) == nullptr && known_keys_of(section).empty())
        unknown_key(where, section);
      throw ConfigError(fmt::format("{}: '{}' must be a [section] table", where, section));
    }
    for (const auto& [k, v] : *section_table) {
      std::string key = section + "." + std::string(k.str());
      std::string where = source_position(v, origin);
      const KeyDesc* d = find_key(key);
      if (!d) unknown_key(where, key);
      d->set(cfg, v, where);
    }
  }
}

}  // namespace

std::vector<ConfigEntry> config_entries(const HwConfig& cfg) {
  std::vector<ConfigEntry> out;
  out.reserve(key_table().size());
  for (const auto& d : key_table())
    out.push_back({d.key, d.get(cfg), d.help});
  return out;
}

std::vector<std::string> list_presets() {
  std::vector<std::string> names;
  for (const auto& [stem, text] : embedded_presets())
    names.emplace_back(stem);
  return names;
}

HwConfig parse_hw_config(const std::string& toml_text, const std::string& origin) {
  HwConfig cfg;
  cfg.source = origin;
  toml::table root;
  try {
    root = toml::parse(toml_text, origin);
  } catch (const toml::parse_error& e) {
    throw ConfigError(fmt::format("{}:{}: {}", origin, e.source().begin.line, e.description()));
  }
  // `extends` is resolved by load_hw_config; text parsed on its own starts from the defaults.
  root.erase("extends");
  apply_table(cfg, root, origin);
  return cfg;
}

void apply_override(HwConfig& cfg, const std::string& assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError(fmt::format("--set '{}': expected section.key=value", assignment));
  std::string key = assignment.substr(0, eq);
  std::string value = assignment.substr(eq + 1);
  key.erase(std::remove_if(key.begin(), key.end(), ::isspace), key.end());
  const KeyDesc* d = find_key(key);
  std::string where = "--set " + key;
  if (!d) unknown_key("--set", key);
  // The value is a TOML value; a bare word (ws, pipelined) is taken as a string for convenience.
  toml::table t;
  try {
    t = toml::parse("v = " + value);
  } catch (const toml::parse_error&) {
    t = toml::table{{"v", value}};
  }
  d->set(cfg, *t.get("v"), where);
}

namespace {

// `files_too`: where the name came from also takes a .toml file (--hw, PRESET; not extends).
std::string preset_text(const std::string& name, const std::string& flag, bool files_too = true) {
  if (auto embedded = find_embedded(embedded_presets(), name)) return std::string(*embedded);
  std::string known;
  for (const auto& p : list_presets())
    known += (known.empty() ? "" : ", ") + p;
  throw ConfigError(fmt::format("{}: unknown preset '{}' (presets: {}{})", flag, name, known,
                                files_too ? "; or give a .toml file" : ""));
}

bool sets_key(const std::string& assignment, const std::string& key) {
  std::string k = assignment.substr(0, assignment.find('='));
  k.erase(std::remove_if(k.begin(), k.end(), ::isspace), k.end());
  return k == key;
}

HwConfig load_hw_config_uncached(const std::string& preset_or_file,
                                 const std::vector<std::string>& overrides,
                                 const std::string& flag) {
  std::string name = preset_or_file.empty() ? kDefaultPreset : preset_or_file;
  const bool is_file =
      name.find('/') != std::string::npos || std::filesystem::path(name).extension() == ".toml";
  std::string text;
  HwConfig cfg;
  const std::string origin = is_file ? name : "models/presets/" + name + ".toml";
  bool file_sets_residency = false, file_sets_capacity = false;
  if (is_file) {
    std::ifstream in(name);
    if (!in) throw ConfigError(fmt::format("{}: cannot read '{}'", flag, name));
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
    // A file gives only the keys it changes; the rest come from the preset it extends.
    toml::table root;
    try {
      root = toml::parse(text, origin);
    } catch (const toml::parse_error& e) {
      throw ConfigError(fmt::format("{}:{}: {}", origin, e.source().begin.line, e.description()));
    }
    std::string base = kDefaultPreset;
    if (const toml::node* ext = root.get("extends")) {
      auto v = ext->as_string();
      if (!v) throw ConfigError(source_position(*ext, origin) + ": extends must be a preset name");
      base = v->get();
      preset_text(base, source_position(*ext, origin) + ": extends", false);
      root.erase("extends");
    }
    cfg = parse_hw_config(preset_text(base, "--hw"), "models/presets/" + base + ".toml");
    apply_table(cfg, root, origin);
    file_sets_residency = root.at_path("sram.residency_mib").node() != nullptr;
    file_sets_capacity = root.at_path("sram.capacity_mib").node() != nullptr;
    cfg.source = fmt::format("{} (extends {})", name, base);
  } else {
    text = preset_text(name, flag);
    cfg = parse_hw_config(text, origin);
    file_sets_residency = file_sets_capacity = true;
    cfg.source = name;
  }
  // The residency budget lives in SRAM. When the capacity was lowered after the budget was set
  // (a --set sram.capacity_mib, or a file that extends a preset), the budget shrinks with it to
  // half the SRAM, as in the presets; a budget the user set last is an error naming it.
  int residency_step = file_sets_residency ? 0 : -1, capacity_step = file_sets_capacity ? 0 : -1;
  for (std::size_t i = 0; i < overrides.size(); ++i) {
    apply_override(cfg, overrides[i]);
    if (sets_key(overrides[i], "sram.residency_mib")) residency_step = static_cast<int>(i) + 1;
    if (sets_key(overrides[i], "sram.capacity_mib")) capacity_step = static_cast<int>(i) + 1;
  }
  if (cfg.sram.residency_mib > cfg.sram.capacity_mib && std::isfinite(cfg.sram.capacity_mib) &&
      cfg.sram.capacity_mib > 0) {
    if (residency_step < capacity_step) {
      cfg.sram.residency_mib = cfg.sram.capacity_mib / 2;
    } else {
      const std::string who = residency_step > 0 ? "--set sram.residency_mib" : origin;
      throw ConfigError(fmt::format(
          "{}: sram.residency_mib ({} MiB of pinned indexer keys) must be <= sram.capacity_mib "
          "({} MiB)",
          who, cfg.sram.residency_mib, cfg.sram.capacity_mib));
    }
  }
  cfg.validate();
  return cfg;
}

}  // namespace

HwConfig load_hw_config(const std::string& preset_or_file,
                        const std::vector<std::string>& overrides, const std::string& flag) {
  // A run checks its config before it forks its simulations, and each simulation loads it again
  // (a sweep: every point's); parsing the TOML took 1.2-1.6 ms of each child's critical path.
  // Forked children inherit this cache, so the text is parsed once per process tree. A config
  // that fails to load is not cached (its error is thrown again). tpusim runs one thread per
  // process (parallel work is forked), so the cache needs no lock.
  static std::map<std::pair<std::string, std::vector<std::string>>, HwConfig> cache;
  auto key = std::make_pair(preset_or_file, overrides);
  auto it = cache.find(key);
  if (it == cache.end())
    it = cache.emplace(std::move(key), load_hw_config_uncached(preset_or_file, overrides, flag))
             .first;
  return it->second;
}

std::string to_toml(const HwConfig& cfg) {
  std::string out;
  std::string section;
  for (const auto& e : config_entries(cfg)) {
    auto dot = e.key.find('.');
    std::string s = e.key.substr(0, dot);
    if (s != section) {
      out += (section.empty() ? "" : "\n") + ("[" + s + "]\n");
      section = s;
    }
    out += fmt::format("{} = {}  # {}\n", e.key.substr(dot + 1), e.value, e.help);
  }
  return out;
}

}  // namespace tpusim
