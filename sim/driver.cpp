#include "sim/driver.h"

#include <fmt/format.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include "base/file_io.h"
#include "base/format.h"
#include "base/math.h"
#include "sim/config.h"
#include "sim/progress.h"
#include "sim/simulation.h"
#include "traces/reader.h"
#include "traces/writer.h"
#include "workloads/lowering.h"
#include "workloads/model_config.h"
#include "workloads/params.h"
#include "workloads/workload.h"

namespace tpusim {
std::string timeline_path_for(const std::string& path, const std::string& variant, bool both) {
  if (!both || path.empty()) return path;
  // Two variants, two files: run.json -> run.dense.json and run.dsa.json.
  auto dot = path.rfind('.');
  auto slash = path.rfind('/');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash))
    return path + "." + variant;
  return path.substr(0, dot) + "." + variant + path.substr(dot);
}

ChildProcess start_child(const std::function<Json()>& body, bool own_group) {
  // Children simulate: load the simulator once here rather than in every child.
  prepare_simulator();
  int fds[2];
  if (::pipe(fds) != 0) throw SimError(std::string("pipe failed: ") + std::strerror(errno));
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw SimError(std::string("fork failed: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::close(fds[0]);
    if (own_group) {
      // The parent alone decides on Ctrl-C (it must finish its CSV row first), so the child
      // leaves the terminal's process group.
      ::setpgid(0, 0);
      ::signal(SIGINT, SIG_DFL);
      ::signal(SIGTERM, SIG_DFL);
    }
    // Every child dies with its parent, even a SIGKILLed one, rather than simulate on for nobody.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);  // the parent died before prctl
    std::string text;
    int code = 0;
    // Serialising is inside the try: a report that cannot be dumped must come back as an
    // error, not kill the child with an uncaught exception.
    auto error = [&](const char* what, int exit_code) {
      code = exit_code;
      text = Json{{"error", what}, {"exit", exit_code}}.dump(-1, ' ', false,
                                                             Json::error_handler_t::replace);
    };
    try {
      text = body().dump();
    } catch (const UserError& e) {
      error(e.what(), 2);
    } catch (const SimError& e) {
      error(e.what(), 1);
    } catch (const std::exception& e) {
      error(e.what(), 1);
    } catch (...) {
      error("unknown exception in the simulation process", 1);
    }
    try {
      write_all_fd(fds[1], text, "pipe");
    } catch (const UserError&) {
      // The parent is gone or closed the pipe; nobody is left to tell.
    }
    ::close(fds[1]);
    // Skip static destructors and SystemC's teardown: the parent owns all output.
    ::_exit(code);
  }
  ::close(fds[1]);
  return {pid, fds[0]};
}

Json finish_child(pid_t pid, const std::string& text) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status))
    throw SimError(fmt::format("simulation process killed by signal {}", WTERMSIG(status)));
  Json j;
  try {
    j = Json::parse(text);
  } catch (const std::exception&) {
    throw SimError("simulation process returned no result");
  }
  if (j.contains("error")) {
    std::string msg = j["error"].get<std::string>();
    if (j.value("exit", 1) == 2) throw UserError(msg);
    throw SimError(msg);
  }
  return j;
}

Json run_in_child(const std::function<Json()>& body) {
  ChildProcess c = start_child(body, false);
  std::string text = read_all_fds({c.fd}, Progress::tick)[0];
  ::close(c.fd);
  return finish_child(c.pid, text);
}

namespace {

// A meta value as it goes into the report: an integer when it is one (generated traces carry
// seq, topk, ...), a float where allowed (the indexer's resident fraction), else the text.
// Hand-written meta is free text, so a value that only looks numeric (too large, "1.2.3") stays a
// string instead of failing the run.
Json meta_json(const std::string& v, bool allow_float) {
  if (v.empty()) return Json(v);
  if (v.find_first_not_of("0123456789") == std::string::npos) {
    std::uint64_t u = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), u);
    if (ec == std::errc() && p == v.data() + v.size()) return Json(u);
    return Json(v);
  }
  if (allow_float && v.find_first_not_of("0123456789.eE+-") == std::string::npos) {
    char* end = nullptr;
    errno = 0;
    const double d = std::strtod(v.c_str(), &end);
    if (errno == 0 && end == v.c_str() + v.size() && std::isfinite(d)) return Json(d);
  }
  return Json(v);
}

// Sorts a trace's meta lines into report sections: the workload's parameters (typed as their
// table row says), `indexer.*`, the lowering's own decisions (other dotted keys: `tile.*`,
// `split_kv.*`), and anything else, hand-written, into the workload as text.
void split_meta(const std::vector<std::pair<std::string, std::string>>& meta, Json& workload,
                Json& indexer, Json& lowering) {
  for (const auto& [k, v] : meta) {
    const WorkloadParam* row = find_workload_param_by_key(k);
    if (row) {
      Json typed = meta_json(v, row->kind == ParamKind::kFloat);
      if (row->kind == ParamKind::kBool && (v == "true" || v == "false")) typed = v == "true";
      workload[k] = typed;
    } else if (k.rfind("indexer.", 0) == 0) {
      indexer[k.substr(8)] = meta_json(v, true);
    } else if (k.find('.') != std::string::npos) {
      lowering[k] = meta_json(v, true);
    } else {
      workload[k] = meta_json(v, false);
    }
  }
}

Json indexer_json(const IndexerResidency& r, const WorkloadParams& p) {
  Json j;
  j["key_cache_bytes"] = r.key_cache_bytes;
  j["resident_bytes"] = r.resident_bytes;
  j["resident_fraction"] = r.resident_fraction;
  // Present in every report (zeros when off), so a sweep's CSV columns do not depend on which
  // point reports first.
  j["share_split"] = r.share_split;
  // Per layer, of the mean layer (docs/DSA.md section 8): HBM bytes the hits did not gather.
  const std::uint64_t k_eff = std::min(p.topk, p.seq);
  const std::uint64_t row = r.row_cache.set_bytes / (p.mtp * k_eff);
  j["row_cache"] = {{"bytes", r.row_cache.cache_bytes},
                    {"cached_pairs", r.row_cache.cached_pairs},
                    {"total_pairs", r.row_cache.total_pairs},
                    {"hit_rows", r.row_cache.hit_rows},
                    {"hit_fraction", r.row_cache.hit_fraction},
                    {"bytes_saved", p.batch * p.mtp * r.row_cache.hit_rows * row}};
  return j;
}

// Checks every generated instruction against the chip (a lowering bug must not reach the
// simulator) and returns the SRAM high-water mark, in one pass.
std::uint64_t validate_generated(const GeneratedTrace& g, const HwConfig& hw,
                                 const std::string& origin) {
  std::uint64_t hi = g.sram_peak_bytes;
  for (const auto& in : g.instructions) {
    validate_instruction(in, hw, origin);
    hi = std::max(hi, sram_extent(in));
  }
  return hi;
}

}  // namespace

namespace {

// Notes travel inside the report JSON from the child to the CLI (take_run_notes removes them).
constexpr const char* kNotesKey = "tpusim_notes";

void add_note(Json& report, const std::string& text, bool error) {
  report[kNotesKey].push_back(Json{{"text", text}, {"error", error}});
}

// Writes the timeline; a failure costs only the timeline, never the report.
// With two variants the file names are derived from the one given, so they are announced.
void write_timeline(Json& report, const RunResult& r, const std::string& path,
                    const std::string& name, bool announce) {
  try {
    AtomicFile file(path);
    write_timeline_json(r, name, file);
    file.commit();
    if (announce) add_note(report, "timeline of " + name + " written to " + path, false);
  } catch (const std::exception& e) {
    add_note(report, std::string("--timeline: ") + e.what() + " (the report is complete)", true);
  }
}

}  // namespace

namespace {

// What the user asked for but the lowering could not do as given, said in the report (and by a
// note in the table).
void add_lowering_notes(const WorkloadParams& p, Json& lowering) {
  if (p.attention != Attention::kDsa) return;
  if (prefill_uses_mha(p)) lowering["ran_as"] = "dense-mha";
  if (p.topk > p.seq) lowering["topk_clipped_to"] = p.seq;
}

}  // namespace

namespace {

// --steady-state extrapolate. A long prefill chunk repeats one unit of work under one tile
// plan: dense streams every KV tile of L through the same pipeline (at a fixed chunk T), DSA
// runs every indexer query tile of T the same way (each query gathers its k rows; the indexer's
// scan grows by T/L across the chunk, which samples centred on the chunk average). Three shorter
// runs of the same plan, equally spaced along that axis, show whether the cost per unit is
// steady (the same over both intervals); if it is, the point is the line through the shortest
// and the longest (docs/ARCHITECTURE.md "Steady-state extrapolation").
struct SteadySamples {
  const char* axis = "";  ///< "seq" (L) or "chunk" (T)
  std::uint64_t at = 0;
  std::uint64_t x[3] = {};
  FlagList flags[3];
};

// Sample sizes. Along L: the chunk plus 4k, 8k and 12k keys (at least four of the largest KV
// tiles between samples). Along T: one, two and three times four indexer query tiles (at least
// 128 queries).
constexpr std::uint64_t kSeqSampleStep = 4096;
constexpr std::uint64_t kChunkSampleTiles = 4, kChunkSampleMin = 128;
// How far the cost per unit may change between the two intervals. DSA's samples gather other
// rows, so its cost per query wanders by about a percent; a larger change means the chip
// changes regime between the samples (tests/bench/RESULTS.md has both).
constexpr double kSteadyTolerance = 0.02;

// The samples of `p`, or why it runs exact. `lowering`: the point's own plan.
std::optional<SteadySamples> steady_samples(const PointSpec& spec, const WorkloadParams& p,
                                            const Json& lowering, std::string& why_exact) {
  if (p.phase != Phase::kPrefill) {
    why_exact = "decode steps run exact";
    return std::nullopt;
  }
  SteadySamples s;
  const bool dense_plan = p.attention == Attention::kDense || prefill_uses_mha(p);
  if (dense_plan) {
    s.axis = "seq";
    s.at = p.seq;
    for (std::uint64_t i = 0; i < 3; ++i)
      s.x[i] = p.chunk + (i + 1) * kSeqSampleStep;
    if (p.seq < 2 * s.x[2]) {
      why_exact =
          fmt::format("L = {} is shorter than twice the longest sample ({})", p.seq, s.x[2]);
      return std::nullopt;
    }
    for (int i = 0; i < 3; ++i) {
      s.flags[i] = spec.flags;
      s.flags[i].emplace_back("seq", std::to_string(s.x[i]));
      s.flags[i].emplace_back("chunk", std::to_string(p.chunk));
    }
    return s;
  }
  s.axis = "chunk";
  s.at = p.chunk;
  const Json tile = lowering.value("tile.indexer_query_tokens", Json(0));
  const std::uint64_t tq = tile.is_number_unsigned() ? tile.get<std::uint64_t>() : 0;
  if (tq == 0) {
    why_exact = "the plan has no indexer query tile";
    return std::nullopt;
  }
  const std::uint64_t step = ceil_div(std::max(kChunkSampleMin, kChunkSampleTiles * tq), tq) * tq;
  for (std::uint64_t i = 0; i < 3; ++i)
    s.x[i] = (i + 1) * step;
  if (p.chunk < 8 * step) {
    why_exact =
        fmt::format("chunk {} is shorter than eight times the shortest sample ({})", p.chunk, step);
    return std::nullopt;
  }
  if (p.seq - p.chunk < p.topk) {
    // Queries that see fewer than k keys gather fewer rows: the work per query is not one unit.
    why_exact = fmt::format("the chunk's first queries see fewer than k = {} keys", p.topk);
    return std::nullopt;
  }
  // Centred on the chunk: a sample of T' queries ends at L - (T - T') / 2.
  for (int i = 0; i < 3; ++i) {
    s.flags[i] = spec.flags;
    s.flags[i].emplace_back("seq", std::to_string(p.seq - (p.chunk - s.x[i]) / 2));
    s.flags[i].emplace_back("chunk", std::to_string(s.x[i]));
  }
  return s;
}

bool same_tile_plan(const Json& a, const Json& b) {
  for (auto it = a.begin(); it != a.end(); ++it)
    if (it.key().rfind("tile.", 0) == 0 && (!b.contains(it.key()) || b[it.key()] != it.value()))
      return false;
  return true;
}

Json simulate_layer(const PointSpec& spec, const std::string& attention, bool shared_layer);

// The samples, each in its own process and all at once; the extrapolation, or null when a
// sample's tile plan differs from the point's or the cost per unit is not steady (`why_exact`
// says which).
Json extrapolated_layer(const PointSpec& spec, const std::string& attention, bool shared_layer,
                        const SteadySamples& s, const Json& lowering, std::string& why_exact) {
  PointSpec sample[3] = {spec, spec, spec};
  ChildProcess child[3];
  for (int i = 0; i < 3; ++i) {
    sample[i].flags = s.flags[i];
    sample[i].extrapolate = false;
    sample[i].timeline_path.clear();
    const PointSpec& one = sample[i];
    child[i] = start_child(
        [&one, &attention, shared_layer, i] {
          Progress::set_label_suffix(fmt::format(" sample {}", i + 1));
          return simulate_layer(one, attention, shared_layer);
        },
        false);
  }
  const std::vector<std::string> texts =
      read_all_fds({child[0].fd, child[1].fd, child[2].fd}, Progress::tick);
  // A sample that fails (its tiles do not fit where the point's do) costs only the shortcut:
  // every child is reaped, then the point runs exact.
  Json out[3];
  std::string failed;
  for (int i = 0; i < 3; ++i) {
    ::close(child[i].fd);
    try {
      out[i] = finish_child(child[i].pid, texts[static_cast<std::size_t>(i)]);
    } catch (const std::exception& e) {
      if (failed.empty())
        failed = fmt::format("the sample at {} = {} failed: {}", s.axis, s.x[i], e.what());
    }
  }
  if (!failed.empty()) {
    why_exact = failed;
    return Json();
  }
  const char* unit = std::string(s.axis) == "seq" ? "key" : "query";
  for (int i = 0; i < 3; ++i)
    if (!same_tile_plan(lowering, out[i]["lowering"]) ||
        !same_tile_plan(out[i]["lowering"], lowering)) {
      why_exact = fmt::format("the sample at {} = {} plans other tiles", s.axis, s.x[i]);
      return Json();
    }
  double c[3], slope[2];
  for (int i = 0; i < 3; ++i)
    c[i] = out[i]["cycles"].get<double>();
  for (int i = 0; i < 2; ++i)
    slope[i] = (c[i + 1] - c[i]) / static_cast<double>(s.x[i + 1] - s.x[i]);
  const double change = slope[0] > 0 ? slope[1] / slope[0] - 1.0 : 1.0;
  if (std::abs(change) > kSteadyTolerance) {
    why_exact = fmt::format(
        "not steady: {:.1f} cycles per {} from {} = {} to {}, {:.1f} from {} to {} ({:+.1f}%)",
        slope[0], unit, s.axis, s.x[0], s.x[1], slope[1], s.x[1], s.x[2], 100 * change);
    return Json();
  }
  Json report = extrapolate_reports(out[0], double(s.x[0]), out[2], double(s.x[2]), double(s.at));
  report["steady_state"] = {
      {"axis", s.axis},
      {"samples", {s.x[0], s.x[1], s.x[2]}},
      {"sample_cycles", {out[0]["cycles"], out[1]["cycles"], out[2]["cycles"]}},
      {"slope_change", change}};
  return report;
}

// One layer of the point: an F layer (the indexer runs) or an S layer of --index-share.
Json simulate_layer(const PointSpec& spec, const std::string& attention, bool shared_layer) {
  HwConfig hw = load_hw_config(spec.hw, spec.sets);
  WorkloadParams p = params_from_flags(spec.flags, parse_attention(attention));
  p.shared_layer = shared_layer;
  GeneratedTrace g = generate_workload(p, hw);
  const std::uint64_t sram_peak = validate_generated(g, hw, "generated " + attention);
  Json w = Json::object(), idx = Json::object(), lowering = Json::object();
  split_meta(g.meta.entries, w, idx, lowering);
  add_lowering_notes(p, lowering);
  Json report;
  bool instructions_dropped = false;
  if (spec.extrapolate) {
    std::string why_exact;
    if (auto s = steady_samples(spec, p, lowering, why_exact)) {
      // The point's own instructions are not simulated: give their memory back before forking.
      g.instructions.clear();
      instructions_dropped = true;
      report = extrapolated_layer(spec, attention, shared_layer, *s, lowering, why_exact);
    }
    if (report.is_null()) {
      lowering["steady_state"] = {{"axis", "none"}, {"why", why_exact}};
    } else {
      lowering["steady_state"] = report["steady_state"];
      report.erase("steady_state");
      report["workload"] = workload_json(p);
      report["indexer"] = indexer_json(g.indexer, p);
      report["sram"]["peak_bytes"] = sram_peak;
    }
  }
  std::optional<RunResult> run;
  if (report.is_null()) {
    if (instructions_dropped) g = generate_workload(p, hw);  // a sample planned other tiles
    PackedSource src(g.instructions);
    SimOptions opts;
    opts.timeline_limit = spec.timeline_path.empty() ? 0 : spec.timeline_limit;
    Progress::Task progress(attention + (!has_shared_layers(p) ? ""
                                         : shared_layer        ? " S layer"
                                                               : " F layer"),
                            g.instructions.size());
    if (progress.active())
      opts.on_progress = [&progress](std::uint64_t retired) { progress.advance(retired); };
    run = simulate(hw, src, g.tags, opts);
    report = make_report(*run, workload_json(p), indexer_json(g.indexer, p), sram_peak);
  }
  report["lowering"] = lowering;
  // One layer kind: the F/S split of --index-share (combine_layer_reports fills it for S).
  const bool dsa = p.attention == Attention::kDsa && !prefill_uses_mha(p);
  report["index_share"] = {{"f_layers", dsa ? p.layers : 0},
                           {"s_layers", 0},
                           {"f_layer_cycles", dsa ? report["cycles"] : Json(0)},
                           {"s_layer_cycles", 0},
                           {"f_layer_time_s", dsa ? report["time_s"] : Json(0.0)},
                           {"s_layer_time_s", 0.0}};
  // Every report says how its numbers were made (a CSV column; the lowering says why).
  report["steady_state"] = lowering.contains("steady_state") &&
                                   lowering["steady_state"].value("axis", std::string()) != "none"
                               ? "extrapolated"
                               : "exact";
  add_roofline(report,
               workload_roofline(p, hw,
                                 keys_off_hbm(p, static_cast<std::uint64_t>(std::llround(
                                                     g.indexer.resident_fraction * double(p.seq)))),
                                 static_cast<double>(g.closed_form.projection_flops),
                                 g.indexer.row_cache.hit_rows));
  if (run && !spec.timeline_path.empty())
    write_timeline(report, *run,
                   timeline_path_for(spec.timeline_path, attention, spec.attention == "both"),
                   attention, spec.attention == "both");
  return report;
}

}  // namespace

Json simulate_point_variant(const PointSpec& spec, const std::string& attention) {
  const WorkloadParams p = params_from_flags(spec.flags, parse_attention(attention));
  if (!has_shared_layers(p)) return simulate_layer(spec, attention, false);
  // --index-share with S layers: one F and one S layer, each in its own process (SystemC
  // elaborates once per process), combined by their counts into the mean layer.
  const std::uint64_t f_layers = index_share_f_layers(p);
  Json f = run_in_child([&spec, &attention] { return simulate_layer(spec, attention, false); });
  PointSpec s_spec = spec;
  s_spec.timeline_path.clear();  // the timeline shows the F layer
  Json s = run_in_child([&s_spec, &attention] { return simulate_layer(s_spec, attention, true); });
  return combine_layer_reports(f, f_layers, s, p.layers - f_layers);
}

Json workload_json_of(const PointSpec& spec, const std::string& attention) {
  return workload_json(params_from_flags(spec.flags, parse_attention(attention)));
}

void check_output_path(const std::string& path, const std::string& flag) {
  if (path.empty() || path == "-") return;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode))
      throw UserError(fmt::format("{}: '{}' is a directory, not a file", flag, path));
    if (written_as_stream(path)) {
      // Written directly (AtomicFile: a device, a FIFO, /dev/stdout), so it must be writable.
      if (::access(path.c_str(), W_OK) != 0)
        throw UserError(fmt::format("{}: cannot write '{}': {}", flag, path, std::strerror(errno)));
      return;
    }
  }
  // The file is replaced through a temporary beside it: beside a link's target, for a link.
  const std::string file = replaced_file_of(path);
  const auto slash = file.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : file.substr(0, slash + 1);
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    throw UserError(fmt::format("{}: cannot write '{}': directory '{}': {}", flag, path, dir,
                                std::strerror(errno)));
}

void check_point(const PointSpec& spec) {
  load_hw_config(spec.hw, spec.sets);
  if (spec.attention == "both") {
    validate_workload(params_from_flags(spec.flags, Attention::kDense));
    validate_workload(params_from_flags(spec.flags, Attention::kDsa));
  } else {
    validate_workload(params_from_flags(spec.flags, parse_attention(spec.attention)));
  }
}

Json run_point(const PointSpec& spec) {
  check_point(spec);  // clear errors before forking
  if (spec.attention == "both") {
    // One variant that fails does not cost the other's report.
    Json out[2];
    std::string error[2];
    int exit_code[2] = {0, 0};
    const char* names[2] = {"dense", "dsa"};
    // Runs `body` for variant i, keeping its error (exit 2 for the user's, 1 otherwise).
    auto capture = [&](int i, auto&& body) {
      try {
        body();
      } catch (const UserError& e) {
        error[i] = e.what();
        exit_code[i] = 2;
      } catch (const std::exception& e) {
        error[i] = e.what();
        exit_code[i] = 1;
      }
    };
    // The two run at once: DSA in a child, dense in this process meanwhile (SystemC elaborates
    // once per process, and they share nothing). A second child cost a fork, its copy-on-write
    // faults and its teardown: about 4 ms of a 42-ms decode run (tests/bench/RESULTS.md, issue
    // 14, twelfth round).
    ChildProcess dsa{-1, -1};
    capture(1, [&] {
      dsa = start_child([&spec] { return simulate_point_variant(spec, "dsa"); }, false);
    });
    capture(0, [&] { out[0] = simulate_point_variant(spec, "dense"); });
    if (dsa.pid > 0) {
      const std::string text = read_all_fds({dsa.fd}, Progress::tick)[0];
      ::close(dsa.fd);
      capture(1, [&] { out[1] = finish_child(dsa.pid, text); });
    }
    if (exit_code[0] && exit_code[1]) {
      const std::string msg =
          error[0] == error[1] ? error[0] : fmt::format("dense: {}; dsa: {}", error[0], error[1]);
      if (exit_code[0] == 2 && exit_code[1] == 2) throw UserError(msg);
      throw SimError(msg);
    }
    for (int i = 0; i < 2; ++i) {
      if (!exit_code[i]) continue;
      Json& ok = out[1 - i];
      ok["failed_variant"] = {{"attention", names[i]}, {"error", error[i]}, {"exit", exit_code[i]}};
      return ok;
    }
    return make_compare(out[0], out[1]);
  }
  return run_in_child([&spec] { return simulate_point_variant(spec, spec.attention); });
}

std::vector<std::string> take_run_notes(Json& result, bool& error) {
  std::vector<std::string> lines;
  auto take = [&](Json& r) {
    if (!r.is_object()) return;
    if (r.contains(kNotesKey)) {
      for (const auto& n : r[kNotesKey]) {
        // An error note is an error message, so it reads like every other one.
        const bool is_error = n.value("error", false);
        lines.push_back((is_error ? "error: " : "") + n.value("text", std::string()));
        if (is_error) error = true;
      }
      r.erase(kNotesKey);
    }
    if (r.contains("failed_variant")) {
      const Json f = r["failed_variant"];
      lines.push_back(
          fmt::format("error: --attention both: the {} variant failed: {} (the report "
                      "shows the {} variant only)",
                      f.value("attention", std::string("?")), f.value("error", std::string("?")),
                      r["workload"].value("attention", std::string("other"))));
      error = true;
      r.erase("failed_variant");
    }
  };
  take(result);
  if (result.contains("tpusim_compare")) {
    take(result["dense"]);
    take(result["dsa"]);
  }
  return lines;
}

std::string version_string() {
  std::string v = fmt::format("tpusim {}", TPUSIM_VERSION);
  if (std::string(TPUSIM_GIT_COMMIT).empty()) return v + " (git commit unknown)";
  return v + fmt::format(" (commit {})", TPUSIM_GIT_COMMIT);
}

namespace {

// First pass over a trace file: syntax (by the reader), ranges against the chip, and the SRAM
// high-water mark, all before any simulation starts.
struct TraceFileFacts {
  std::uint64_t sram_peak = 0;
  std::uint64_t instructions = 0;
};

TraceFileFacts validate_trace_file(const std::string& path, const HwConfig& hw) {
  TraceReader reader(path);
  Instruction in;
  TraceFileFacts facts;
  std::uint64_t flops = 0;
  while (reader.next(in)) {
    validate_instruction(in, hw, path);
    facts.sram_peak = std::max(facts.sram_peak, sram_extent(in));
    // Matmuls of up to 2^61 FLOPs each fit a 1-TiB SRAM, so a short trace can pass what the
    // reports count in; refused here, before any simulation.
    if (__builtin_add_overflow(flops, instruction_flops(in), &flops))
      throw TraceError(fmt::format(
          "{}:{}: instruction {}: the trace's matmuls up to here add up to more than 2^64 FLOPs "
          "(1.8e19), more than the report can count: split the trace, or make its matmuls' "
          "m x n x k smaller",
          path, in.line, in.id));
  }
  facts.instructions = reader.instructions_read();
  if (facts.instructions == 0) throw TraceError(path + ": the trace has no instructions");
  return facts;
}

class ReaderSource : public InstructionSource {
 public:
  ReaderSource(TraceReader& r, std::uint64_t instructions) : m_r(r), m_n(instructions) {}
  bool next(Instruction& out) override { return m_r.next(out); }
  std::uint64_t size_hint() const override { return m_n; }

 private:
  TraceReader& m_r;
  std::uint64_t m_n;  // counted by the validating pass
};

}  // namespace

Json simulate_trace_file(const std::string& path, const std::string& hw_name,
                         const std::vector<std::string>& sets, std::size_t timeline_limit,
                         const std::string& timeline_path) {
  HwConfig hw = load_hw_config(hw_name, sets);
  const TraceFileFacts facts = validate_trace_file(path, hw);
  const std::uint64_t peak = facts.sram_peak;
  TraceReader reader(path);
  // The report gives the file's path as workload.trace; a meta key of that name would be
  // overwritten without a word, although meta lines are copied into reports.
  if (reader.meta().find("trace"))
    throw TraceError(path +
                     ": meta key 'trace' is reserved: reports give the trace file's path under "
                     "it (rename the key)");
  ReaderSource src(reader, facts.instructions);
  SimOptions opts;
  opts.timeline_limit = timeline_path.empty() ? 0 : timeline_limit;
  Progress::Task progress("trace", facts.instructions);
  if (progress.active())
    opts.on_progress = [&progress](std::uint64_t retired) { progress.advance(retired); };
  RunResult r = simulate(hw, src, reader.tags(), opts);
  Json w = Json::object(), idx = Json::object(), lowering = Json::object();
  split_meta(reader.meta().entries, w, idx, lowering);
  w["trace"] = path;
  // A generated trace carries its workload: the same notes as `run`. Hand-written meta may name
  // no workload (or a model file not at hand); then there is nothing to say.
  if (w.contains("attention") && w.contains("phase")) {
    try {
      add_lowering_notes(params_from_meta(reader.meta().entries), lowering);
    } catch (const std::exception&) {
    }
  }
  Json report = make_report(r, w, idx, peak);
  report["lowering"] = lowering;
  if (!timeline_path.empty()) write_timeline(report, r, timeline_path, path, false);
  return report;
}

void generate_trace_file(const PointSpec& spec, const std::string& path) {
  HwConfig hw = load_hw_config(spec.hw, spec.sets);
  WorkloadParams p = params_from_flags(spec.flags, parse_attention(spec.attention));
  GeneratedTrace g = generate_workload(p, hw);
  validate_generated(g, hw, "generated trace");
  // Written in pieces as it is formatted: the text of a long prefill is far larger than the
  // packed trace it comes from.
  AtomicFile file(path);
  std::ostringstream os;
  TraceWriter w(os);
  w.write_header(g.meta);
  std::size_t lines = 0;
  for (const auto& in : g.instructions) {
    w.write(in, g.tags);
    if (++lines % 8192 == 0) {
      file.write(os.str());
      os.str(std::string());
    }
  }
  file.write(os.str());
  file.commit();
}

std::vector<Json> reports_of(const Json& result) {
  if (result.contains("tpusim_compare")) return {result["dense"], result["dsa"]};
  return {result};
}

}  // namespace tpusim
