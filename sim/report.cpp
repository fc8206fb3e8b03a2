#include "sim/report.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <unordered_map>
#include <unordered_set>

#include "base/file_io.h"
#include "base/format.h"
#include "workloads/kernel_tags.h"

namespace tpusim {
namespace {

Json typed_value(const std::string& v) {
  if (v.size() >= 2 && v.front() == '"') {
    // A TOML basic string from config_entries: undo its \" and \\ escapes (names hold no
    // control characters, so there are no others).
    std::string s;
    for (std::size_t i = 1; i + 1 < v.size(); ++i) {
      if (v[i] == '\\' && i + 2 < v.size()) ++i;
      s += v[i];
    }
    return s;
  }
  if (v == "true") return true;
  if (v == "false") return false;
  // strtod and from_chars rather than stod and stoull, which throw out_of_range for a denormal
  // such as --set hbm.trp_ns=1e-310 (a valid value) and for integers past 2^64.
  const char* end = v.data() + v.size();
  if (v.find_first_of(".eE") != std::string::npos) {
    char* stop = nullptr;
    const double d = std::strtod(v.c_str(), &stop);
    if (stop == end && std::isfinite(d)) return d;
    return v;
  }
  std::uint64_t u = 0;
  const auto [stop, ec] = std::from_chars(v.data(), end, u);
  if (ec == std::errc() && stop == end) return u;
  return v;
}

template <class Stats, std::size_t N>
Json stat_json(const Stats& s, const StatField<Stats> (&fields)[N]) {
  Json j = Json::object();
  for (const auto& f : fields)
    j[f.name] = s.*(f.member);
  return j;
}

double ratio(double a, double b) {
  return b > 0 ? a / b : 0.0;
}

Json unit_json(Cycle busy, int instances, std::uint64_t instructions, Cycle cycles) {
  Json u;
  u["instances"] = instances;
  u["instructions"] = instructions;
  u["busy_cycles"] = busy;
  u["utilization"] = ratio(static_cast<double>(busy), static_cast<double>(cycles) * instances);
  return u;
}

std::string scalar_text(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_float()) return fmt::format("{}", v.get<double>());
  if (v.is_number_unsigned()) return std::to_string(v.get<std::uint64_t>());
  if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
  return v.dump();
}

void flatten_into(const Json& j, const std::string& prefix,
                  std::vector<std::pair<std::string, std::string>>& out) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (it.value().is_object())
      flatten_into(it.value(), key, out);
    else if (!it.value().is_array() && !it.value().is_null())
      out.emplace_back(key, scalar_text(it.value()));
  }
}

Json energy_json(const EnergyBreakdown& e) {
  Json j;
  j["total_j"] = e.total_j();
  j["hbm_j"] = e.hbm_j;
  j["sram_j"] = e.sram_j;
  j["mxu_j"] = e.mxu_j;
  j["vpu_j"] = e.vpu_j;
  j["static_j"] = e.static_j;
  return j;
}

// Joules scaled to J/mJ/uJ/nJ, three significant digits.
std::string format_joules(double j) {
  if (j == 0) return "0 J";
  const double a = std::fabs(j);
  if (a >= 1) return fmt::format("{:.3g} J", j);
  if (a >= 1e-3) return fmt::format("{:.3g} mJ", j * 1e3);
  if (a >= 1e-6) return fmt::format("{:.3g} uJ", j * 1e6);
  return fmt::format("{:.3g} nJ", j * 1e9);
}

// The unit kind with the most time on the path: what held the run back.
std::string critical_bound_by(const Json& cp) {
  std::string by = "wait";
  double most = cp["wait_cycles"].get<double>();
  for (const char* unit : {"dma", "mxu", "vpu", "topk"}) {
    const double c = cp[std::string(unit) + "_cycles"].get<double>();
    if (c > most) most = c, by = unit;
  }
  return by;
}

Json critical_path_json(const CriticalPathResult& cp) {
  Json j;
  // Not kept (a run of more than CriticalPath::kMaxInstructions instructions): zeros, and
  // bound_by says so.
  j["kept"] = cp.kept;
  j["cycles"] = cp.cycles;
  j["steps"] = cp.steps;
  for (UnitKind kind : {UnitKind::kDma, UnitKind::kMxu, UnitKind::kVpu, UnitKind::kTopk})
    j[std::string(unit_kind_name(kind)) + "_cycles"] = cp.unit[static_cast<std::size_t>(kind)];
  j["wait_cycles"] = cp.wait;
  j["bound_by"] = cp.kept ? critical_bound_by(j) : "not kept";
  return j;
}

}  // namespace

EnergyCounts run_activity(const RunResult& r) {
  EnergyCounts c;
  c.hbm_read_bytes = r.hbm.read_bytes;
  c.hbm_write_bytes = r.hbm.write_bytes;
  c.sram_read_bytes = r.sram.read_bytes;
  c.sram_write_bytes = r.sram.write_bytes;
  c.macs_bf16 = r.mxu.macs_bf16;
  c.macs_fp8 = r.mxu.macs_fp8;
  c.vpu_lane_ops = r.vpu.lane_ops + r.topk.lane_ops;
  return c;
}

EnergyBreakdown run_energy(const RunResult& r) {
  return energy_of(run_activity(r), r.hw.energy, r.seconds());
}

Json hw_json(const HwConfig& hw) {
  Json out = Json::object();
  for (const auto& e : config_entries(hw)) {
    auto dot = e.key.find('.');
    out[e.key.substr(0, dot)][e.key.substr(dot + 1)] = typed_value(e.value);
  }
  return out;
}

Json make_report(const RunResult& r, const Json& workload, const Json& indexer,
                 std::uint64_t sram_peak_bytes) {
  const double t = r.seconds();
  Json j;
  j["tpusim_report"] = 1;
  j["workload"] = workload;
  j["hw"] = hw_json(r.hw);
  j["cycles"] = r.cycles;
  j["time_s"] = t;
  j["flops"] = r.stats.flops;
  j["instructions"] = r.stats.instructions;
  // Each section lists its unit's registered counters, then the ratios derived from them.
  Json dram = stat_json(r.hbm, kHbmStatFields);
  dram["achieved_gbs"] =
      t > 0 ? static_cast<double>(r.hbm.read_bytes + r.hbm.write_bytes) / t / 1e9 : 0.0;
  dram["peak_gbs"] = r.hw.hbm.bandwidth_gbs;
  // Data-bus busy time summed over channels (refresh excluded), in cycles.
  dram["bus_busy_cycles"] =
      static_cast<double>(r.hbm.bus_busy_ticks) / static_cast<double>(kTicksPerCycle);
  j["dram"] = dram;
  Json sram = stat_json(r.sram, kSramStatFields);
  sram["peak_bytes"] = sram_peak_bytes;
  sram["capacity_bytes"] = r.hw.sram.capacity_bytes();
  // Bytes through the banks over the run, against every bank moving its bytes each cycle: a pool
  // near its peak holds back the units that stream through it (MXU operands, vector passes,
  // DMA writes) even when no unit is busy.
  sram["achieved_gbs"] =
      t > 0 ? static_cast<double>(r.sram.read_bytes + r.sram.write_bytes) / t / 1e9 : 0.0;
  sram["peak_gbs"] = static_cast<double>(r.hw.sram.peak_bytes_per_cycle()) * r.hw.chip.clock_ghz;
  j["sram"] = sram;

  // Per unit kind: instances, and busy time from the executor's view; then the unit's own
  // registered counters (instructions and busy_cycles agree with the executor's).
  auto unit = [&r](UnitKind kind, Json own) {
    const UnitKindStats& s = r.stats.unit(kind);
    Json u = unit_json(s.busy_cycles, s.instances, s.instructions, r.cycles);
    for (auto it = own.begin(); it != own.end(); ++it)
      if (!u.contains(it.key())) u[it.key()] = it.value();
    return u;
  };
  Json units;
  Json mxu = unit(UnitKind::kMxu, stat_json(r.mxu, kMxuStatFields));
  // MXU utilisation is the arrays' MAC work over their capacity in the run, not busy time. An
  // fp8 MAC takes 1 / mxu.fp8_rate of a cell-cycle, so a run of fp8 matmuls at peak is 100%,
  // not fp8_rate x 100%.
  const double peak_macs = static_cast<double>(r.hw.mxu.rows) * r.hw.mxu.cols * r.hw.mxu.count *
                           static_cast<double>(r.cycles);
  const double fp8_rate = r.hw.mxu.fp8_rate > 0 ? r.hw.mxu.fp8_rate : 1.0;
  const double mac_cycles = static_cast<double>(r.mxu.macs - r.mxu.macs_fp8) +
                            static_cast<double>(r.mxu.macs_fp8) / fp8_rate;
  mxu["busy_fraction"] = mxu["utilization"];
  mxu["utilization"] = ratio(mac_cycles, peak_macs);
  units["mxu"] = mxu;
  units["vpu"] = unit(UnitKind::kVpu, stat_json(r.vpu, kVpuStatFields));
  units["dma"] = unit(UnitKind::kDma, stat_json(r.dma, kDmaStatFields));
  if (r.hw.topk.enabled) units["topk"] = unit(UnitKind::kTopk, stat_json(r.topk, kVpuStatFields));
  j["units"] = units;
  j["energy"] = energy_json(run_energy(r));

  // A kernel's static energy is the run's, split by the kernels' active times: kernels overlap,
  // so charging each its own span would count the overlapped time twice.
  double active_sum = 0;
  for (const auto& k : r.stats.kernels)
    if (k.instructions > 0) active_sum += static_cast<double>(k.active_cycles());
  Json kernels = Json::array();
  for (std::size_t tag = 0; tag < r.stats.kernels.size(); ++tag) {
    const KernelStats& k = r.stats.kernels[tag];
    if (k.instructions == 0) continue;
    Json kj;
    kj["tag"] =
        tag < r.tag_names.size() && !r.tag_names[tag].empty() ? r.tag_names[tag] : "untagged";
    kj["cycles"] = k.active_cycles();
    kj["busy_cycles"] = k.busy_cycles;
    kj["dram_bytes"] = k.dram_bytes;
    kj["flops"] = k.flops;
    kj["instructions"] = k.instructions;
    const double share = active_sum > 0 ? static_cast<double>(k.active_cycles()) / active_sum : 0;
    kj["energy"] = energy_json(energy_of(k.activity, r.hw.energy, t * share));
    const CriticalPathResult& cp = r.stats.critical_path;
    kj["critical_cycles"] = cp.kept && tag < cp.tag.size() ? cp.tag[tag] : 0;
    kernels.push_back(kj);
  }
  // Standard tags first in pipeline order, then any others by name: stable across runs.
  const auto& order = kernel_tags();
  std::stable_sort(kernels.begin(), kernels.end(), [&order](const Json& a, const Json& b) {
    auto ia = std::find(order.begin(), order.end(), a["tag"].get<std::string>()) - order.begin();
    auto ib = std::find(order.begin(), order.end(), b["tag"].get<std::string>()) - order.begin();
    if (ia != ib) return ia < ib;
    return a["tag"].get<std::string>() < b["tag"].get<std::string>();
  });
  j["kernels"] = kernels;
  // Always present, so every report (and every sweep row) has the same keys.
  j["critical_path"] = critical_path_json(r.stats.critical_path);
  j["indexer"] = indexer;
  return j;
}

void add_roofline(Json& report, const Roofline& rf) {
  const RooflineWork& w = rf.work;
  const RooflineBound& b = rf.bound;
  Json j;
  j["flops"] = w.bf16_flops + w.fp8_flops;
  j["bf16_flops"] = w.bf16_flops;
  j["fp8_flops"] = w.fp8_flops;
  j["hbm_bytes"] = w.hbm_bytes;
  j["vpu_ops"] = w.vpu_ops;
  j["mxu_cycles"] = b.mxu_cycles;
  j["hbm_cycles"] = b.hbm_cycles;
  j["vpu_cycles"] = b.vpu_cycles;
  j["bound_cycles"] = b.bound_cycles;
  j["bound_by"] = b.bound_by;
  const double cycles = report["cycles"].get<double>();
  j["efficiency"] = cycles > 0 ? b.bound_cycles / cycles : 0.0;
  report["roofline"] = j;
  for (auto& k : report["kernels"])
    for (const auto& kr : rf.kernels)
      if (k["tag"] == kr.tag) k["bound_cycles"] = kr.bound.bound_cycles;
}

namespace {

// Keys whose value is a ratio over time: combined weighted by each layer kind's total cycles.
bool is_time_ratio(const std::string& key) {
  return key == "utilization" || key == "busy_fraction" || key == "achieved_gbs";
}

// Weights of a combination of two reports: `a`, `b` for plain quantities, `ta`, `tb` for
// ratios over time.
struct Weights {
  double a, b, ta, tb;
  /// A count-weighted mean (index sharing) keeps a count an integer when the mean is one and
  /// otherwise the exact mean, so that every identity of a report (energy = counters x costs,
  /// kernels summing to the run) holds for the mean too. An extrapolation rounds counts to
  /// whole ones and never goes below zero.
  bool extrapolate = false;
};

// Weighted sum of two JSON values of the same shape (numbers combined, other values taken from
// `a`).
Json mean_json(const Json& a, const Json& b, const Weights& w, const std::string& key = "") {
  if (a.is_object()) {
    Json out = a;
    for (auto it = out.begin(); it != out.end(); ++it) {
      static const Json kZero = 0;
      const Json& other = b.is_object() && b.contains(it.key()) ? b[it.key()] : kZero;
      it.value() = mean_json(it.value(), other, w, it.key());
    }
    return out;
  }
  if (!a.is_number() || !b.is_number()) return a;
  const bool ratio_key = is_time_ratio(key);
  const double x = a.get<double>(), y = b.get<double>();
  if (key == "peak_bytes") return a.get<double>() >= y ? a : b;
  const double m =
      ratio_key ? (w.ta * x + w.tb * y) / (w.ta + w.tb) : (w.a * x + w.b * y) / (w.a + w.b);
  if (w.extrapolate) {
    const double clamped = std::max(0.0, m);
    if (a.is_number_integer()) return static_cast<std::uint64_t>(std::llround(clamped));
    return clamped;
  }
  if (a.is_number_integer() && m == std::floor(m)) return static_cast<std::uint64_t>(m);
  return m;
}

// Kernels matched by tag; a tag one side lacks counts as zero there.
Json combine_kernels(const Json& a, const Json& b, const Weights& w) {
  Json kernels = Json::array();
  auto find = [](const Json& list, const Json& tag) -> const Json* {
    for (const auto& k : list)
      if (k["tag"] == tag) return &k;
    return nullptr;
  };
  for (const auto& k : a["kernels"]) {
    const Json* o = find(b["kernels"], k["tag"]);
    kernels.push_back(mean_json(k, o ? *o : Json::object(), w));
  }
  const Weights swapped{w.b, w.a, w.tb, w.ta, w.extrapolate};
  for (const auto& k : b["kernels"])
    if (!find(a["kernels"], k["tag"])) kernels.push_back(mean_json(k, Json::object(), swapped));
  return kernels;
}

// The simulated sections of a report: what index sharing averages and steady-state
// extrapolation extends.
constexpr const char* kSimulatedKeys[] = {"cycles",   "time_s",       "flops", "instructions",
                                          "dram",     "sram",         "units", "energy",
                                          "roofline", "critical_path"};

}  // namespace

Json combine_layer_reports(const Json& f, std::uint64_t f_layers, const Json& s,
                           std::uint64_t s_layers) {
  const double wf = static_cast<double>(f_layers), ws = static_cast<double>(s_layers);
  const Weights w{wf, ws, wf * f["cycles"].get<double>(), ws * s["cycles"].get<double>()};
  Json out = f;
  for (const char* key : kSimulatedKeys)
    if (f.contains(key)) out[key] = mean_json(f[key], s.contains(key) ? s[key] : Json(), w);
  // An S layer has no indexer kernels (they count as 0 there).
  out["kernels"] = combine_kernels(f, s, w);
  if (out.contains("roofline")) {
    Json& r = out["roofline"];
    const double mxu = r["mxu_cycles"].get<double>(), hbm = r["hbm_cycles"].get<double>(),
                 vpu = r["vpu_cycles"].get<double>();
    double bound = mxu;
    std::string by = "mxu";
    if (hbm > bound) bound = hbm, by = "hbm";
    if (vpu > bound) bound = vpu, by = "vpu";
    r["bound_cycles"] = bound;
    r["bound_by"] = by;
    const double cycles = out["cycles"].get<double>();
    r["efficiency"] = cycles > 0 ? bound / cycles : 0.0;
  }
  if (out.contains("critical_path") && out["critical_path"].value("kept", false))
    out["critical_path"]["bound_by"] = critical_bound_by(out["critical_path"]);
  out["index_share"] = {{"f_layers", f_layers},          {"s_layers", s_layers},
                        {"f_layer_cycles", f["cycles"]}, {"s_layer_cycles", s["cycles"]},
                        {"f_layer_time_s", f["time_s"]}, {"s_layer_time_s", s["time_s"]}};
  return out;
}

Json extrapolate_reports(const Json& a, double xa, const Json& b, double xb, double x) {
  // Affine in x through (xa, a) and (xb, b): weights (xb - x, x - xa) / (xb - xa), the first
  // negative when x lies beyond xb. A ratio over time is extrapolated as its numerator and
  // denominator are: weighted by each run's extrapolation-weighted cycles.
  const double span = xb - xa;
  const double wa = (xb - x) / span, wb = (x - xa) / span;
  const Weights w{wa, wb, wa * a["cycles"].get<double>(), wb * b["cycles"].get<double>(), true};
  Json out = a;
  for (const char* key : kSimulatedKeys)
    if (a.contains(key)) out[key] = mean_json(a[key], b.contains(key) ? b[key] : Json(), w);
  out["kernels"] = combine_kernels(a, b, w);
  if (out.contains("critical_path") && out["critical_path"].value("kept", false))
    out["critical_path"]["bound_by"] = critical_bound_by(out["critical_path"]);
  return out;
}

Json make_compare(const Json& dense, const Json& dsa) {
  Json j;
  j["tpusim_compare"] = 1;
  j["dense"] = dense;
  j["dsa"] = dsa;
  j["speedup"] = ratio(dense["cycles"].get<double>(), dsa["cycles"].get<double>());
  j["dram_read_ratio"] =
      ratio(dense["dram"]["read_bytes"].get<double>(), dsa["dram"]["read_bytes"].get<double>());
  j["energy_ratio"] =
      ratio(dense["energy"]["total_j"].get<double>(), dsa["energy"]["total_j"].get<double>());
  return j;
}

std::string format_table(const Json& in) {
  std::vector<Json> cols;
  std::vector<std::string> names;
  const bool compare = in.contains("tpusim_compare");
  if (compare) {
    cols = {in["dense"], in["dsa"]};
    names = {"dense", "dsa"};
  } else {
    cols = {in};
    names = {in["workload"].value("attention", std::string("trace"))};
  }
  const Json& w = cols.front()["workload"];
  const Json& hw = cols.front()["hw"];
  std::string out;
  auto wstr = [&w](const char* k) { return w.contains(k) ? scalar_text(w[k]) : std::string("-"); };
  if (w.contains("phase")) {
    out += fmt::format("{} {} {}, L = {}, k = {}, batch {}", wstr("model"), wstr("phase"),
                       w.contains("scope") ? wstr("scope") : std::string("attention"),
                       format_count(w.value("seq", 0.0)), format_count(w.value("topk", 0.0)),
                       wstr("batch"));
    if (w.value("phase", std::string()) == "prefill")
      out += fmt::format(", chunk {}", format_count(w.value("chunk", 0.0)));
    out += fmt::format(", indexer keys {}\n", wstr("residency"));
  } else {
    out += fmt::format("trace {}\n", wstr("trace"));
  }
  // What the DSA variant ran differs from what was asked: say so under the header.
  for (const auto& c : cols) {
    if (!c.contains("lowering")) continue;
    const Json& l = c["lowering"];
    if (l.value("ran_as", std::string()) == "dense-mha")
      out += "note: the DSA column ran dense MHA (--short-prefill-mha and L <= k)\n";
    if (l.contains("steady_state")) {
      const Json& ss = l["steady_state"];
      const std::string name = c["workload"].value("attention", std::string());
      if (ss.value("axis", std::string()) == "none")
        out += fmt::format("note: {} ran exact ({})\n", name, ss.value("why", std::string()));
      else
        out += fmt::format(
            "note: {} extrapolated from runs at {} = {}, {} and {} (--steady-state "
            "extrapolate, not exact)\n",
            name, ss.value("axis", std::string()) == "seq" ? "L" : "chunk",
            format_count(ss["samples"][0].get<double>()),
            format_count(ss["samples"][1].get<double>()),
            format_count(ss["samples"][2].get<double>()));
    }
    if (l.contains("topk_clipped_to"))
      out += fmt::format("note: k = {} exceeds L, so DSA selects all {} tokens (k clipped to L)\n",
                         wstr("topk"), scalar_text(l["topk_clipped_to"]));
  }
  // Index sharing, the row cache and the share split: what the DSA column is made of.
  for (const auto& c : cols) {
    if (c.contains("index_share") && c["index_share"].value("s_layers", 0) > 0) {
      const Json& is = c["index_share"];
      out += fmt::format(
          "note: --index-share {}: {} F layers of {} and {} S layers of {}; times are the mean "
          "layer\n",
          wstr("index_share"), scalar_text(is["f_layers"]),
          format_seconds(is["f_layer_time_s"].get<double>()), scalar_text(is["s_layers"]),
          format_seconds(is["s_layer_time_s"].get<double>()));
    }
    if (!c.contains("indexer")) continue;
    const Json& ix = c["indexer"];
    if (ix.contains("row_cache") && ix["row_cache"].value("total_pairs", 0) > 0) {
      const Json& rc = ix["row_cache"];
      out += fmt::format(
          "note: row cache holds {} of {} (layer, sequence) sets ({}); hit fraction {:.1f}%, "
          "{} of HBM gathers saved per layer\n",
          scalar_text(rc["cached_pairs"]), scalar_text(rc["total_pairs"]),
          format_bytes(rc["bytes"].get<double>()), 100 * rc["hit_fraction"].get<double>(),
          format_bytes(rc["bytes_saved"].get<double>()));
    }
    if (!ix.value("share_split", std::string()).empty())
      out += "note: --residency share split the budget: " + ix["share_split"].get<std::string>() +
             "\n";
  }
  out += fmt::format("on {} ({} GHz, {} x {}x{} MXU, {} SRAM, {} HBM)\n\n",
                     hw["chip"]["name"].get<std::string>(), scalar_text(hw["chip"]["clock_ghz"]),
                     scalar_text(hw["mxu"]["count"]), scalar_text(hw["mxu"]["rows"]),
                     scalar_text(hw["mxu"]["cols"]),
                     format_bytes(hw["sram"]["capacity_mib"].get<double>() * 1048576.0),
                     format_bandwidth(hw["hbm"]["bandwidth_gbs"].get<double>() * 1e9));

  struct Row {
    std::string label;
    std::function<std::string(const Json&)> cell;
    std::function<double(const Json&)> value;  // for the ratio column; null: no ratio
  };
  auto num = [](const char* a, const char* b = nullptr) {
    return [a, b](const Json& r) { return b ? r[a][b].get<double>() : r[a].get<double>(); };
  };
  // Achieved bandwidth and its share of the peak, for a section with achieved_gbs and peak_gbs.
  auto bandwidth = [](const char* section) {
    return [section](const Json& r) {
      const double achieved = r[section]["achieved_gbs"].get<double>();
      return fmt::format("{} ({:.0f}%)", format_bandwidth(achieved * 1e9),
                         100.0 * achieved / r[section]["peak_gbs"].get<double>());
    };
  };
  std::vector<Row> rows = {
      {"time", [](const Json& r) { return format_seconds(r["time_s"].get<double>()); },
       num("time_s")},
      {"cycles", [](const Json& r) { return format_si(r["cycles"].get<double>()); }, num("cycles")},
      {"FLOPs", [](const Json& r) { return format_flops(r["flops"].get<double>()); }, num("flops")},
      {"DRAM read",
       [](const Json& r) { return format_bytes(r["dram"]["read_bytes"].get<double>()); },
       num("dram", "read_bytes")},
      {"DRAM write",
       [](const Json& r) { return format_bytes(r["dram"]["write_bytes"].get<double>()); },
       num("dram", "write_bytes")},
      {"DRAM bandwidth", bandwidth("dram"), nullptr},
      {"DRAM row hits",
       [](const Json& r) {
         double h = r["dram"]["row_hits"].get<double>(), m = r["dram"]["row_misses"].get<double>();
         return fmt::format("{:.1f}%", h + m > 0 ? 100.0 * h / (h + m) : 0.0);
       },
       nullptr},
      {"SRAM bandwidth", bandwidth("sram"), nullptr},
      {"MXU utilization",
       [](const Json& r) {
         return fmt::format("{:.1f}%", 100 * r["units"]["mxu"]["utilization"].get<double>());
       },
       nullptr},
      {"MXU busy",
       [](const Json& r) {
         return fmt::format("{:.1f}%", 100 * r["units"]["mxu"]["busy_fraction"].get<double>());
       },
       nullptr},
      {"VPU busy",
       [](const Json& r) {
         return fmt::format("{:.1f}%", 100 * r["units"]["vpu"]["utilization"].get<double>());
       },
       nullptr},
      {"DMA busy",
       [](const Json& r) {
         return fmt::format("{:.1f}%", 100 * r["units"]["dma"]["utilization"].get<double>());
       },
       nullptr},
      {"energy", [](const Json& r) { return format_joules(r["energy"]["total_j"].get<double>()); },
       num("energy", "total_j")},
      {"  HBM", [](const Json& r) { return format_joules(r["energy"]["hbm_j"].get<double>()); },
       num("energy", "hbm_j")},
      {"  SRAM", [](const Json& r) { return format_joules(r["energy"]["sram_j"].get<double>()); },
       num("energy", "sram_j")},
      {"  MXU", [](const Json& r) { return format_joules(r["energy"]["mxu_j"].get<double>()); },
       num("energy", "mxu_j")},
      {"  VPU", [](const Json& r) { return format_joules(r["energy"]["vpu_j"].get<double>()); },
       num("energy", "vpu_j")},
      {"  static",
       [](const Json& r) { return format_joules(r["energy"]["static_j"].get<double>()); },
       num("energy", "static_j")},
      {"SRAM peak use",
       [](const Json& r) { return format_bytes(r["sram"]["peak_bytes"].get<double>()); }, nullptr},
      {"SRAM conflicts",
       [](const Json& r) {
         return format_si(r["sram"]["conflict_cycles"].get<double>()) + " bank-cycles";
       },
       nullptr},
  };
  const int lw = 18, cw = 22;
  out += fmt::format("{:<{}}", "", lw);
  for (const auto& n : names)
    out += fmt::format("{:>{}}", n, cw);
  if (compare) out += fmt::format("{:>{}}", "dense/dsa", 12);
  out += "\n";
  for (const auto& row : rows) {
    out += fmt::format("{:<{}}", row.label, lw);
    for (const auto& c : cols)
      out += fmt::format("{:>{}}", row.cell(c), cw);
    if (compare && row.value) {
      double d = row.value(cols[0]), s = row.value(cols[1]);
      out += s > 0 ? fmt::format("{:>11.2f}x", d / s) : fmt::format("{:>12}", "-");
    }
    out += "\n";
  }
  const Json& idx = cols.back()["indexer"];
  const Json& wl = cols.back()["workload"];
  if (idx.is_object() && idx.value("key_cache_bytes", 0.0) > 0 && wl.is_object() &&
      wl.value("residency", "") == "prefetch") {
    // Two layers' keys, not every layer's: say what the SRAM holds and that they still stream.
    out += fmt::format(
        "{:<{}}{} in SRAM, this layer's and the next's ({:.0f}% of a layer's, "
        "prefetched from HBM during the previous layer)\n",
        "indexer keys", lw, format_bytes(idx["resident_bytes"].get<double>()),
        100 * idx["resident_fraction"].get<double>());
  } else if (idx.is_object() && idx.value("key_cache_bytes", 0.0) > 0) {
    out += fmt::format("{:<{}}{} of {} resident ({:.0f}%)\n", "indexer keys", lw,
                       format_bytes(idx["resident_bytes"].get<double>()),
                       format_bytes(idx["key_cache_bytes"].get<double>()),
                       100 * idx["resident_fraction"].get<double>());
  }

  // Where the time goes: per kernel, active time (kernels overlap) and DRAM bytes.
  // Each column's kernels by tag, and the tags in kernel_tags() order, then first seen: by
  // index, since a trace may name thousands of tags (a search per tag made the table quadratic).
  std::vector<std::string> tags;
  std::vector<std::unordered_map<std::string, const Json*>> kernel_of(cols.size());
  std::unordered_map<std::string, std::size_t> rank;
  const auto& order = kernel_tags();
  for (std::size_t i = 0; i < order.size(); ++i)
    rank.emplace(order[i], i);
  std::unordered_set<std::string> seen;
  for (std::size_t ci = 0; ci < cols.size(); ++ci)
    for (const auto& k : cols[ci]["kernels"]) {
      const std::string tag = k["tag"].get<std::string>();
      if (seen.insert(tag).second) tags.push_back(tag);
      rank.emplace(tag, order.size());  // after every known tag
      kernel_of[ci][tag] = &k;
    }
  std::stable_sort(tags.begin(), tags.end(), [&rank](const std::string& a, const std::string& b) {
    return rank.at(a) < rank.at(b);
  });
  auto kernel_in = [&](std::size_t ci, const std::string& tag) -> const Json* {
    const auto it = kernel_of[ci].find(tag);
    return it == kernel_of[ci].end() ? nullptr : it->second;
  };
  out += fmt::format("\n{:<{}}", "kernel", lw);
  // Headed as the cells below are laid out, each label over the right edge of its values.
  for (const auto& n : names)
    out += fmt::format("{:>{}}",
                       fmt::format("{} {:>4} {:>10} {:>9}", n + " time", "%", "DRAM", "energy"),
                       cw + 18);
  out += "\n";
  for (const auto& tag : tags) {
    out += fmt::format("{:<{}}", tag, lw);
    for (std::size_t ci = 0; ci < cols.size(); ++ci) {
      const Json& c = cols[ci];
      const Json* found = kernel_in(ci, tag);
      if (!found) {
        out += fmt::format("{:>{}}", "-", cw + 18);
        continue;
      }
      double secs =
          (*found)["cycles"].get<double>() / (c["hw"]["chip"]["clock_ghz"].get<double>() * 1e9);
      double share =
          100.0 * (*found)["cycles"].get<double>() / std::max(1.0, c["cycles"].get<double>());
      out += fmt::format("{:>{}}",
                         fmt::format("{} {:>3.0f}% {:>10} {:>9}", format_seconds(secs), share,
                                     format_bytes((*found)["dram_bytes"].get<double>()),
                                     format_joules((*found)["energy"]["total_j"].get<double>())),
                         cw + 18);
    }
    out += "\n";
  }
  // Speed of light: the closed-form work at each unit's peak, and how close the run came.
  if (cols.front().contains("roofline")) {
    out += fmt::format("\n{:<{}}", "speed of light", lw);
    for (const auto& n : names)
      out += fmt::format("{:>{}}", n, cw);
    out += "\n";
    auto sol_row = [&](const char* label, auto&& cell) {
      out += fmt::format("{:<{}}", label, lw);
      for (const auto& c : cols)
        out += fmt::format("{:>{}}", c.contains("roofline") ? cell(c["roofline"], c) : "-", cw);
      out += "\n";
    };
    auto secs = [](const Json& c, double cycles) {
      return format_seconds(cycles / (c["hw"]["chip"]["clock_ghz"].get<double>() * 1e9));
    };
    sol_row("work FLOPs",
            [](const Json& r, const Json&) { return format_flops(r["flops"].get<double>()); });
    sol_row("work HBM bytes",
            [](const Json& r, const Json&) { return format_bytes(r["hbm_bytes"].get<double>()); });
    sol_row("work lane-ops",
            [](const Json& r, const Json&) { return format_si(r["vpu_ops"].get<double>()); });
    for (const auto& [label, key] : {std::pair<const char*, const char*>{"MXU bound", "mxu_cycles"},
                                     {"HBM bound", "hbm_cycles"},
                                     {"VPU bound", "vpu_cycles"}}) {
      sol_row(label, [&, key = key](const Json& r, const Json& c) {
        return secs(c, r[key].get<double>());
      });
    }
    sol_row("bound by",
            [](const Json& r, const Json&) { return r["bound_by"].get<std::string>(); });
    sol_row("efficiency", [](const Json& r, const Json&) {
      return fmt::format("{:.2f}", r["efficiency"].get<double>());
    });
  }
  // Critical path: what held the run back, by unit kind and by kernel.
  auto has_path = [](const Json& c) {
    return c.contains("critical_path") && c["critical_path"].value("kept", false);
  };
  if (std::any_of(cols.begin(), cols.end(), has_path)) {
    out += fmt::format("\n{:<{}}", "critical path", lw);
    for (const auto& n : names)
      out += fmt::format("{:>{}}", n, cw);
    out += "\n";
    auto path_row = [&](const std::string& label, auto&& cycles_of) {
      out += fmt::format("{:<{}}", label, lw);
      for (const auto& c : cols) {
        std::string cell = "-";
        const double cyc = has_path(c) ? cycles_of(c) : -1.0;
        if (cyc >= 0) {
          const double secs = cyc / (c["hw"]["chip"]["clock_ghz"].get<double>() * 1e9);
          const double share =
              100.0 * cyc / std::max(1.0, c["critical_path"]["cycles"].get<double>());
          cell = fmt::format("{} {:>3.0f}%", format_seconds(secs), share);
        }
        out += fmt::format("{:>{}}", cell, cw);
      }
      out += "\n";
    };
    auto any_nonzero = [&](auto&& cycles_of) {
      return std::any_of(cols.begin(), cols.end(),
                         [&](const Json& c) { return has_path(c) && cycles_of(c) > 0; });
    };
    for (const auto& [label, key] : {std::pair<const char*, const char*>{"on DMA", "dma_cycles"},
                                     {"on MXU", "mxu_cycles"},
                                     {"on VPU", "vpu_cycles"},
                                     {"on top-k unit", "topk_cycles"},
                                     {"waiting to issue", "wait_cycles"}}) {
      auto of = [key = key](const Json& c) { return c["critical_path"][key].get<double>(); };
      if (any_nonzero(of)) path_row(label, of);
    }
    out += fmt::format("{:<{}}", "bound by", lw);
    for (const auto& c : cols)
      out += fmt::format("{:>{}}",
                         c.contains("critical_path")
                             ? c["critical_path"].value("bound_by", std::string("-"))
                             : std::string("-"),
                         cw);
    out += "\n";
    for (const auto& tag : tags) {
      auto of = [&](const Json& c) {
        const Json* k = kernel_in(static_cast<std::size_t>(&c - cols.data()), tag);
        return k && k->contains("critical_cycles") ? (*k)["critical_cycles"].get<double>()
                                                   : -1.0;  // not run here
      };
      if (any_nonzero(of)) path_row("  " + tag, of);
    }
  }
  for (std::size_t i = 0; i < cols.size(); ++i)
    if (cols[i].contains("critical_path") && !has_path(cols[i]))
      out += fmt::format(
          "note: no critical path for {}: a run of more than {} instructions does not keep one\n",
          names[i], format_count(static_cast<double>(CriticalPath::kMaxInstructions)));
  if (compare) {
    out += fmt::format(
        "\nDSA speedup over dense: {:.2f}x; DRAM read ratio (dense/dsa): {:.2f}x; "
        "energy ratio (dense/dsa): {:.2f}x\n",
        in["speedup"].get<double>(), in["dram_read_ratio"].get<double>(),
        in["energy_ratio"].get<double>());
  }
  out +=
      "(kernel time is the span during which any of its instructions ran; kernels overlap;\n"
      " a kernel's static energy is the run's, split by the kernels' times;\n"
      " the critical path is the chain of instructions, each waiting for the one before it\n"
      " for its data or its unit, that ends the run: its times sum to the run's)\n";
  return out;
}

std::vector<std::pair<std::string, std::string>> flatten_report(const Json& report) {
  std::vector<std::pair<std::string, std::string>> out;
  for (auto it = report.begin(); it != report.end(); ++it) {
    if (it.key() == "lowering") {
      continue;  // the lowering's tile choices differ by variant: JSON only, not CSV columns
    } else if (it.key() == "kernels") {
      for (const auto& k : it.value()) {
        const std::string p = "kernel." + k["tag"].get<std::string>();
        for (const auto& field : kernel_csv_fields()) {
          const std::string key = field.substr(1);
          if (key == "energy_j" && k.contains("energy"))
            out.emplace_back(p + field, scalar_text(k["energy"]["total_j"]));
          else if (k.contains(key))
            out.emplace_back(p + field, scalar_text(k[key]));
        }
      }
    } else if (it.value().is_object()) {
      flatten_into(it.value(), it.key(), out);
    } else if (!it.value().is_array()) {
      out.emplace_back(it.key(), scalar_text(it.value()));
    }
  }
  return out;
}

std::vector<std::string> standard_csv_columns(const Json& sample_report) {
  std::vector<std::string> cols;
  for (const auto& [k, v] : flatten_report(sample_report))
    if (k.rfind("kernel.", 0) != 0) cols.push_back(k);
  for (const auto& tag : kernel_tags())
    for (const auto& field : kernel_csv_fields())
      cols.push_back("kernel." + tag + field);
  return cols;
}

const std::vector<std::string>& kernel_csv_fields() {
  static const std::vector<std::string> fields = {
      ".cycles", ".dram_bytes", ".flops", ".bound_cycles", ".energy_j", ".critical_cycles"};
  return fields;
}

std::string csv_escape(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string csv_row(const Json& report, const std::vector<std::string>& columns) {
  const auto flat = flatten_report(report);
  // By index: a trace may name thousands of tags, six columns each (a search per column made
  // the row quadratic). The first of a repeated key counts, as before.
  std::unordered_map<std::string_view, std::size_t> at;
  at.reserve(flat.size());
  for (std::size_t i = 0; i < flat.size(); ++i)
    at.emplace(flat[i].first, i);
  std::string line;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (i) line += ',';
    if (const auto it = at.find(columns[i]); it != at.end())
      line += csv_escape(flat[it->second].second);
  }
  return line;
}

std::string format_csv(const std::vector<Json>& reports) {
  std::vector<std::string> cols;
  std::unordered_set<std::string> seen;
  for (const auto& r : reports)
    for (const auto& [k, v] : flatten_report(r))
      if (seen.insert(k).second) cols.push_back(k);
  std::string out;
  for (std::size_t i = 0; i < cols.size(); ++i)
    out += (i ? "," : "") + csv_escape(cols[i]);
  out += "\n";
  for (const auto& r : reports)
    out += csv_row(r, cols) + "\n";
  return out;
}

void write_timeline_json(const RunResult& r, const std::string& process_name, AtomicFile& file) {
  // Written as text in pieces, not built as a JSON document: a document costs kilobytes per
  // slice, gigabytes at the default --timeline-limit of a million slices.
  // Chrome trace events: ts/dur in microseconds of simulated time.
  const double us_per_cycle = 1e-3 / r.hw.chip.clock_ghz;
  std::string out;
  out.reserve(1 << 17);
  bool first = true;
  auto event = [&](const std::string& text) {
    out += first ? "{\"traceEvents\":[" : ",";
    first = false;
    out += text;
    if (out.size() >= (1 << 16)) {
      file.write(out);
      out.clear();
    }
  };
  auto quoted = [](const std::string& text) { return Json(text).dump(); };
  auto metadata = [&](const char* name, int tid, const std::string& arg) {
    event(fmt::format("{{\"args\":{},\"name\":\"{}\",\"ph\":\"M\",\"pid\":1,\"tid\":{}}}", arg,
                      name, tid));
  };
  event(fmt::format("{{\"args\":{{\"name\":{}}},\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1}}",
                    quoted(process_name)));
  // One track per unit instance: tid = kind * 1000 + instance. A DMA engine has several
  // instructions in flight; overlapping slices go to extra tracks of that engine ("dma0.1"),
  // tid + lane * 100000, each slice in the first lane free at its start.
  std::vector<std::size_t> order(r.stats.timeline.size());
  for (std::size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return r.stats.timeline[a].start < r.stats.timeline[b].start;
  });
  std::vector<int> tids(order.size());
  std::vector<std::pair<int, std::vector<Cycle>>> lanes_end;  // per track: each lane's last end
  std::vector<int> seen;
  for (std::size_t i : order) {
    const auto& e = r.stats.timeline[i];
    const int track = static_cast<int>(e.kind) * 1000 + e.instance;
    auto it = std::find_if(lanes_end.begin(), lanes_end.end(),
                           [track](const auto& l) { return l.first == track; });
    if (it == lanes_end.end()) it = lanes_end.insert(lanes_end.end(), {track, {}});
    std::size_t lane = 0;
    while (lane < it->second.size() && it->second[lane] > e.start)
      ++lane;
    if (lane == it->second.size()) it->second.push_back(0);
    it->second[lane] = e.end;
    const int tid = track + static_cast<int>(lane) * 100000;
    tids[i] = tid;
    if (std::find(seen.begin(), seen.end(), tid) == seen.end()) {
      seen.push_back(tid);
      const std::string name =
          lane == 0 ? fmt::format("{}{}", unit_kind_name(e.kind), e.instance)
                    : fmt::format("{}{}.{}", unit_kind_name(e.kind), e.instance, lane);
      metadata("thread_name", tid, fmt::format("{{\"name\":{}}}", quoted(name)));
      metadata("thread_sort_index", tid,
               fmt::format("{{\"sort_index\":{}}}", track * 64 + static_cast<int>(lane)));
    }
  }
  // Each tag's name quoted once, not once per slice.
  std::vector<std::string> tag_text(r.tag_names.size());
  for (std::size_t t = 0; t < tag_text.size(); ++t)
    tag_text[t] = quoted(r.tag_names[t]);
  for (std::size_t i = 0; i < r.stats.timeline.size(); ++i) {
    const auto& e = r.stats.timeline[i];
    const std::string op(op_name(e.op));
    const bool tagged = e.tag < r.tag_names.size() && !r.tag_names[e.tag].empty();
    event(fmt::format(
        "{{\"args\":{{\"cycles\":{},\"flops\":{},\"hbm_bytes\":{},\"id\":{}}},\"cat\":\"{}\","
        "\"dur\":{},\"name\":{},\"ph\":\"X\",\"pid\":1,\"tid\":{},\"ts\":{}}}",
        e.end - e.start, e.flops, e.hbm_bytes, e.id, op,
        static_cast<double>(e.end - e.start) * us_per_cycle, tagged ? tag_text[e.tag] : quoted(op),
        tids[i], static_cast<double>(e.start) * us_per_cycle));
  }
  // The critical path on a track of its own, above the units: each step is charged from its
  // start to where the next step took over, so the slices tile the run without overlap.
  const CriticalPathResult& cp = r.stats.critical_path;
  if (!cp.path.empty()) {
    constexpr int kPathTid = 1 << 30;  // apart from every unit track (kind * 1000 + lane * 100000)
    metadata("thread_name", kPathTid, "{\"name\":\"critical path\"}");
    metadata("thread_sort_index", kPathTid, "{\"sort_index\":-1}");
    for (const CriticalStep& st : cp.path) {
      const bool tagged = st.tag < r.tag_names.size() && !r.tag_names[st.tag].empty();
      event(fmt::format(
          "{{\"args\":{{\"cycles\":{},\"id\":{},\"unit\":\"{}{}\"}},\"cat\":\"critical_path\","
          "\"dur\":{},\"name\":{},\"ph\":\"X\",\"pid\":1,\"tid\":{},\"ts\":{}}}",
          st.to - st.from, st.id, unit_kind_name(st.kind), st.instance,
          static_cast<double>(st.to - st.from) * us_per_cycle,
          tagged ? tag_text[st.tag] : std::string("\"untagged\""), kPathTid,
          static_cast<double>(st.from) * us_per_cycle));
    }
  }
  const Json other = {{"tpusim_timeline", 1},
                      {"instructions", r.stats.instructions},
                      {"slices", r.stats.timeline.size()},
                      {"dropped_slices", r.stats.timeline_dropped},
                      {"critical_path_slices", r.stats.critical_path.path.size()},
                      {"dropped_critical_path_slices", r.stats.critical_path.path_dropped},
                      {"cycles", r.cycles}};
  out += fmt::format("],\"displayTimeUnit\":\"ns\",\"otherData\":{}}}\n", other.dump());
  file.write(out);
}

}  // namespace tpusim
