// tpusim command line (README "Command line"). Parsing and dispatch only; the work is in
// sim/driver, sim/report and sim/sweep.

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>

#include <unistd.h>

#include "base/file_io.h"
#include "base/format.h"
#include "sim/config.h"
#include "sim/driver.h"
#include "sim/progress.h"
#include "sim/report.h"
#include "sim/selftest.h"
#include "sim/simulator_library.h"
#include "sim/sweep.h"

namespace {

using namespace tpusim;

// The deepest subcommand the command line chose ("tpusim trace run"), or the app.
const CLI::App* chosen_command(const CLI::App& app) {
  for (const CLI::App* sub : app.get_subcommands())
    if (sub->parsed()) return chosen_command(*sub);
  return &app;
}

// CLI11's message for a parse error, or a plainer one for the cases a new user meets: an
// unknown option, a stray argument, a mistyped command, a flag given twice.
std::string usage_error_text(const CLI::App& app, const CLI::ParseError& e) {
  const CLI::App* cmd = chosen_command(app);
  std::string path;
  for (const CLI::App* c = cmd; c && c->get_parent(); c = c->get_parent())
    path = c->get_name() + (path.empty() ? "" : " " + path);
  const std::string where = "tpusim" + (path.empty() ? "" : " " + path);
  // The arguments nobody took, from every level (CLI11 keeps them where parsing stopped);
  // an option among them is the likelier typo.
  const std::vector<std::string> extra = app.remaining(true);
  std::string first = extra.empty() ? "" : extra.front();
  for (const auto& x : extra)
    if (x.rfind('-', 0) == 0) {
      first = x;
      break;
    }
  const bool option = first.rfind('-', 0) == 0;
  if (dynamic_cast<const CLI::ExtrasError*>(&e) && !first.empty())
    return fmt::format("{} '{}' for {} (see {} --help)",
                       option ? "unknown option" : "unexpected argument", first, where, where);
  if (dynamic_cast<const CLI::RequiredError*>(&e) && !cmd->get_subcommands({}).empty()) {
    std::string names;
    for (const CLI::App* sub : cmd->get_subcommands({}))
      names += (names.empty() ? "" : ", ") + sub->get_name();
    if (!first.empty())
      return fmt::format("{} '{}' for {} (its commands: {})",
                         option ? "unknown option" : "unknown command", first, where, names);
    return fmt::format("{} needs a command: one of {}", where, names);
  }
  std::string what = e.what();
  const std::string twice = "At Most 1 required but received ";
  if (dynamic_cast<const CLI::ArgumentMismatch*>(&e) && what.find(twice) != std::string::npos)
    return fmt::format("{} is given more than once to {} (give it once; a sweep takes lists)",
                       what.substr(0, what.find(':')), where);
  return what;
}

// Values of the workload flags as typed; only flags the user gave are passed on, so the
// workload's own defaults (workloads/params.cpp) apply to the rest.
struct WorkloadFlagValues {
  std::map<std::string, std::string> values;
  std::map<std::string, bool> switches;  // ParamKind::kBool rows, given as plain flags
};

// One CLI option per row of the workload parameter table.
void add_workload_flags(CLI::App* app, WorkloadFlagValues& w, bool lists = false) {
  for (const auto& row : workload_params()) {
    const std::string name(row.flag);
    std::string help = fmt::format("{} (default {})", row.help, row.default_text);
    if (row.kind == ParamKind::kEnum) {
      std::string choices;
      for (const auto& c : row.choices)
        choices += (choices.empty() ? "" : " | ") + std::string(c);
      help = choices + ": " + help;
    }
    if (row.kind == ParamKind::kBool) {
      app->add_flag("--" + name, w.switches[name], help);
      continue;
    }
    app->add_option_function<std::string>(
           "--" + name, [&w, name](const std::string& v) { w.values[name] = v; }, help)
        ->type_name(lists ? "LIST" : "VALUE");
  }
}

// The flags the user gave, in table order (which is also the sweep grid's order).
FlagList to_flag_list(const WorkloadFlagValues& w) {
  FlagList out;
  for (const auto& row : workload_params()) {
    const std::string name(row.flag);
    if (auto it = w.values.find(name); it != w.values.end()) out.emplace_back(name, it->second);
    if (auto it = w.switches.find(name); it != w.switches.end() && it->second)
      out.emplace_back(name, "true");
  }
  return out;
}

void check_format(const std::string& f) {
  if (f != "table" && f != "json" && f != "csv")
    throw UserError("--format: '" + f + "' is not one of table, json, csv");
}

void emit(const Json& result, const std::string& format, const std::string& out) {
  std::string text;
  if (format == "json")
    text = result.dump(2) + "\n";
  else if (format == "csv")
    text = format_csv(reports_of(result));
  else
    text = format_table(result);
  write_file_atomic(out.empty() ? "-" : out, text);
}

int run_cli(int argc, char** argv) {
  CLI::App app{
      "tpusim: a cycle-level TPU simulator that measures how much DeepSeek Sparse Attention (DSA)\n"
      "saves over dense MLA attention on a configurable accelerator, and why.\n"
      "Exit codes: 0 success, 1 simulation error, 2 usage, config or trace error."};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");

  std::string hw = kDefaultPreset;
  std::vector<std::string> sets;
  std::string format = "table";
  std::string output;
  std::string timeline;
  // Parsed as a size (1m, 4096) after the command line is read: CLI11 would wrap "-3" into
  // an unsigned number.
  std::string timeline_limit_text = "1000000";
  std::size_t timeline_limit = 1000000;
  auto add_hw = [&](CLI::App* c) {
    c->add_option("--hw", hw, "hardware preset name or TOML file (tpusim hw list)")
        ->capture_default_str()
        ->check([](const std::string& v) {
          return v.empty() ? std::string("empty value (a preset name or a .toml file)")
                           : std::string();
        });
    c->add_option("--set", sets, "override a config key: section.key=value (repeatable)")
        ->type_name("K=V")
        ->allow_extra_args(false);
  };
  auto add_output = [&](CLI::App* c, bool variants) {
    c->add_option("--format", format, "table | json | csv")->capture_default_str();
    c->add_option("-o,--output", output, "write the report to FILE (atomically) instead of stdout");
    c->add_option("--timeline", timeline,
                  variants ? "write a Chrome trace-event timeline (open in Perfetto), the "
                             "critical path on a track of its own; with --attention both, "
                             "FILE.dense.json and FILE.dsa.json"
                           : "write a Chrome trace-event timeline (open in Perfetto), the "
                             "critical path on a track of its own");
    c->add_option("--timeline-limit", timeline_limit_text,
                  "keep at most N >= 1 instruction slices in the timeline, and the critical "
                  "path's last N steps (k and m suffixes: 1m)")
        ->type_name("N")
        ->capture_default_str();
  };

  // run
  WorkloadFlagValues run_flags;
  std::string run_attention = "both";
  CLI::App* run = app.add_subcommand(
      "run",
      "Simulate one point: by default one decode step of one DeepSeek-V3.2 attention layer at "
      "L = 32k, k = 2048, batch 1, dense and DSA side by side");
  add_hw(run);
  add_workload_flags(run, run_flags);
  run->add_option("--attention", run_attention, "dense | dsa | both")->capture_default_str();
  std::string run_steady_state = "exact";
  run->add_option(
         "--steady-state", run_steady_state,
         "exact | extrapolate: a prefill chunk simulated whole, or extrapolated from three "
         "shorter runs of the same tile plan, all at once (dense along L, DSA along the "
         "chunk; not exact, see docs/ARCHITECTURE.md for the error on the standard "
         "sweep); decode steps, short chunks and unsteady costs run exact")
      ->capture_default_str();
  add_output(run, true);
  bool run_quiet = false;
  run->add_flag("-q,--quiet", run_quiet,
                "no progress line on stderr (drawn only on a terminal, for runs over a second)");

  // trace gen / trace run
  CLI::App* trace =
      app.add_subcommand("trace", "Generate a workload trace, or simulate a trace file");
  trace->require_subcommand(1);
  WorkloadFlagValues gen_flags;
  std::string gen_attention = "dsa";
  std::string gen_out;
  CLI::App* gen = trace->add_subcommand(
      "gen", "Write the trace of one workload variant (format v1, traces/FORMAT.md)");
  add_hw(gen);
  add_workload_flags(gen, gen_flags);
  gen->add_option("--attention", gen_attention, "dense | dsa (a trace holds one variant)")
      ->capture_default_str();
  gen->add_option("-o,--output", gen_out, "trace file to write")->required();
  std::string trace_file;
  CLI::App* trun =
      trace->add_subcommand("run", "Simulate a trace file (streamed, validated first)");
  trun->add_option("FILE", trace_file, "trace file")->required();
  add_hw(trun);
  add_output(trun, false);
  bool trun_quiet = false;
  trun->add_flag("-q,--quiet", trun_quiet,
                 "no progress line on stderr (drawn only on a terminal, for runs over a second)");

  // sweep
  WorkloadFlagValues sweep_flags;
  SweepOptions sweep_opts;
  sweep_opts.hw = kDefaultPreset;
  CLI::App* sweep = app.add_subcommand(
      "sweep",
      "Simulate the product of lists of flag values, one child process per simulated variant, "
      "appending one CSV row per variant as it finishes");
  sweep->footer(
      "Every workload flag, --attention, --hw and each --set value may be a LIST: a,b,c or\n"
      "start:stop:xF (geometric: 4k:128k:x2 = 4k,8k,16k,32k,64k,128k), or a mix (1k,4k:16k:x2);\n"
      "--set sram.capacity_mib=64,128 is a list of values for that key. The grid is the product\n"
      "of all lists. With --attention both a point gives two rows, dense and dsa.\n"
      "CSV columns: point.key (canonical parameters of the point), point.attention (the variant),\n"
      "status (ok | error), error (message), then the report's columns (as run --format csv).\n"
      "Grid order: --hw, each --set, the workload flags as listed above, --attention (the last\n"
      "varies fastest); the longest simulations start first, rows are written as they finish.\n"
      "--shard I/N takes grid points i (0-based) with i % N == I-1. Merge the part CSVs\n"
      "(the header once, then every part's rows; scripts/merge_shards.sh also checks them):\n"
      "  head -n 1 part1.csv > all.csv; for f in part*.csv; do tail -n +2 \"$f\" >> all.csv; done\n"
      "On Slurm: sbatch --array=1-N scripts/slurm/sweep_array.sbatch [SWEEP FLAGS].\n"
      "Every value of every list is checked before the first run (exit 2 naming the flag or\n"
      "key and the grid point); --dry-run prints the grid and its estimated cost, runs nothing.\n"
      "Progress goes to stderr when it is a terminal.\n"
      "Exit codes: 0 all points ok, 1 some point failed (its row says why), 2 usage error,\n"
      "130 interrupted (SIGINT/SIGTERM: children killed, finished rows kept; rerun with "
      "--resume).");
  sweep->add_option("--hw", sweep_opts.hw, "LIST of hardware presets or TOML files")
      ->capture_default_str()
      ->type_name("LIST");
  sweep
      ->add_option("--set", sweep_opts.sets,
                   "override a config key with a LIST of values: section.key=LIST (repeatable; "
                   "each --set is one dimension of the grid)")
      ->type_name("K=LIST")
      ->allow_extra_args(false);
  add_workload_flags(sweep, sweep_flags, true);
  sweep
      ->add_option("--attention", sweep_opts.attention,
                   "LIST of dense | dsa | both (both: two rows per point)")
      ->capture_default_str()
      ->type_name("LIST");
  sweep
      ->add_option("--steady-state", sweep_opts.steady_state,
                   "exact | extrapolate: as run --steady-state, for every prefill point (rows "
                   "say which in their steady_state column)")
      ->capture_default_str();
  sweep
      ->add_option("-j,--jobs", sweep_opts.jobs,
                   "simulations running at once (N >= 1), each in its own process (default: "
                   "the number of cores)")
      ->type_name("N");
  sweep
      ->add_option("--shard", sweep_opts.shard,
                   "run only grid points i with i % N == I-1 (I = 1..N), e.g. "
                   "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT")
      ->type_name("I/N");
  sweep->add_flag("--resume", sweep_opts.resume,
                  "continue FILE.csv: skip points already in it (matched by point.key and "
                  "point.attention, including error rows), drop a trailing partial row");
  sweep->add_flag("-q,--quiet", sweep_opts.quiet, "no progress line on stderr");
  sweep->add_flag("--dry-run", sweep_opts.dry_run,
                  "check every value, print the grid size, its points and the estimated cost; "
                  "run and write nothing");
  sweep
      ->add_option("-o,--output", sweep_opts.output,
                   "CSV file to append rows to; must not exist unless --resume")
      ->required()
      ->type_name("FILE.csv");

  // hw list / show
  CLI::App* hwc = app.add_subcommand("hw", "Hardware presets and configuration");
  hwc->require_subcommand(1);
  CLI::App* hw_list = hwc->add_subcommand("list", "List the presets");
  std::string selftest_hw;
  CLI::App* hw_selftest = hwc->add_subcommand(
      "selftest",
      "Micro-benchmarks of a config: HBM streaming and gather bandwidth, latency, "
      "Little's law, MXU utilisation, SRAM peak");
  hw_selftest->add_option("PRESET", selftest_hw, "preset name or TOML file (default: tpu-v5e)");
  hw_selftest->add_option("--set", sets, "override a config key: section.key=value (repeatable)")
      ->type_name("K=V");
  std::string selftest_format = "table";
  hw_selftest->add_option("--format", selftest_format, "table | json")->capture_default_str();
  std::string show_what;
  CLI::App* hw_show =
      hwc->add_subcommand("show", "Print the resolved configuration (every key) as TOML");
  hw_show->add_option("PRESET", show_what, "preset name or TOML file (default: tpu-v5e)");
  hw_show->add_option("--set", sets, "override a config key: section.key=value (repeatable)")
      ->type_name("K=V");

  app.set_version_flag("--version", version_string(), "Print the version and git commit");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // The same prefix and exit code as every other usage error, in the user's words where
    // CLI11's own are generic: what was not understood, and where to look.
    std::cerr << "tpusim: error: " << usage_error_text(app, e)
              << "\nRun with --help for more information.\n";
    return 2;
  }

  // Errors that cost only an output (a timeline that could not be written) set this.
  bool output_error = false;
  auto report_notes = [&](Json& result) {
    for (const auto& line : take_run_notes(result, output_error))
      std::cerr << "tpusim: " << line << "\n";
  };
  // A bad --timeline path must not cost the report: say so, run without it, exit non-zero.
  auto check_timeline = [&] {
    timeline_limit = parse_size(timeline_limit_text, "--timeline-limit");
    if (timeline.empty()) return;
    if (timeline_limit == 0)
      throw UserError("--timeline-limit must be >= 1 (leave out --timeline for no timeline)");
    try {
      check_output_path(timeline, "--timeline");
      if (*run && run_attention == "both" && written_as_stream(timeline))
        throw UserError(fmt::format(
            "--timeline: with --attention both the timelines are written to FILE.dense.json and "
            "FILE.dsa.json, and '{}' is not a file name they can be made from",
            timeline));
    } catch (const UserError& e) {
      std::cerr << "tpusim: error: " << e.what() << " (running without the timeline)\n";
      timeline.clear();
      output_error = true;
    }
  };

  // A report and a timeline written to one file: the second would silently replace the first.
  auto check_distinct_outputs = [&](const std::vector<std::string>& variants, bool both) {
    if (timeline.empty() || output.empty() || written_as_stream(output)) return;
    std::error_code ec1, ec2;
    const auto out_path = std::filesystem::weakly_canonical(output, ec1);
    for (const auto& v : variants) {
      const std::string t = timeline_path_for(timeline, v, both);
      if (!ec1 && std::filesystem::weakly_canonical(t, ec2) == out_path && !ec2)
        throw UserError(fmt::format(
            "-o and --timeline both write '{}': the timeline would replace the report (give "
            "two file names)",
            t));
    }
  };

  if (*run) {
    check_format(format);
    if (run_attention != "dense" && run_attention != "dsa" && run_attention != "both")
      throw UserError("--attention: '" + run_attention + "' is not one of dense, dsa, both");
    if (run_steady_state != "exact" && run_steady_state != "extrapolate")
      throw UserError("--steady-state: '" + run_steady_state +
                      "' is not one of exact, extrapolate");
    if (run_steady_state == "extrapolate" && !timeline.empty())
      throw UserError(
          "--timeline: an extrapolated run has no timeline of its own (use --steady-state exact)");
    check_output_path(output, "-o");
    check_timeline();
    if (run_attention == "both")
      check_distinct_outputs({"dense", "dsa"}, true);
    else
      check_distinct_outputs({run_attention}, false);
    PointSpec spec;
    spec.extrapolate = run_steady_state == "extrapolate";
    spec.hw = hw;
    spec.sets = sets;
    spec.flags = to_flag_list(run_flags);
    spec.attention = run_attention;
    spec.timeline_path = timeline;
    spec.timeline_limit = timeline_limit;
    ProgressLine line("run", run_quiet);
    Json result = run_point(spec);
    line.erase();
    report_notes(result);
    emit(result, format, output);
    return output_error ? 1 : 0;
  } else if (*sweep) {
    if (sweep->count("--jobs") && sweep_opts.jobs == 0)
      throw UserError("-j: must be >= 1 (leave it out for one job per core)");
    sweep_opts.flag_lists = to_flag_list(sweep_flags);
    return run_sweep(sweep_opts);
  } else if (*gen) {
    PointSpec spec;
    spec.hw = hw;
    spec.sets = sets;
    spec.flags = to_flag_list(gen_flags);
    spec.attention = gen_attention;
    if (gen_attention == "both")
      throw UserError("--attention: a trace holds one variant (dense or dsa)");
    check_output_path(gen_out, "-o");
    generate_trace_file(spec, gen_out);
  } else if (*trun) {
    check_format(format);
    check_output_path(output, "-o");
    check_timeline();
    check_distinct_outputs({"trace"}, false);
    ProgressLine line("trace run", trun_quiet);
    Json r = run_in_child(
        [&] { return simulate_trace_file(trace_file, hw, sets, timeline_limit, timeline); });
    line.erase();
    report_notes(r);
    emit(r, format, output);
    return output_error ? 1 : 0;
  } else if (*hw_list) {
    for (const auto& p : list_presets()) {
      HwConfig c = load_hw_config(p);
      fmt::print("{:<12} {} ({} GHz, {}x {}x{} MXU, {} MiB SRAM, {} GB/s HBM){}\n", p, c.chip.name,
                 c.chip.clock_ghz, c.mxu.count, c.mxu.rows, c.mxu.cols, c.sram.capacity_mib,
                 c.hbm.bandwidth_gbs, p == kDefaultPreset ? "  [default]" : "");
    }
  } else if (*hw_selftest) {
    if (selftest_format != "table" && selftest_format != "json")
      throw UserError("--format: '" + selftest_format + "' is not one of table, json");
    std::string name = selftest_hw.empty() ? kDefaultPreset : selftest_hw;
    HwConfig c = load_hw_config(name, sets, "PRESET");
    if (selftest_format == "json")
      fmt::print("{}\n", selftest_json(c, run_selftest(name, sets)).dump(2));
    else
      fmt::print("{}", format_selftest(c, run_selftest(name, sets)));
  } else if (*hw_show) {
    HwConfig c = load_hw_config(show_what.empty() ? kDefaultPreset : show_what, sets, "PRESET");
    fmt::print("# resolved configuration of {}\n{}", c.source, to_toml(c));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // The SystemC banner would corrupt machine-readable stdout; the library reads this variable.
  ::setenv("SC_COPYRIGHT_MESSAGE", "DISABLE", 1);
  // SystemC and the chip model load with the first simulation, not before (hw list, --help).
  tpusim::set_simulator_loader(&tpusim::load_embedded_simulator);
  int code = 0;
  try {
    code = run_cli(argc, argv);
  } catch (const tpusim::UserError& e) {
    std::cerr << "tpusim: error: " << e.what() << "\n";
    code = 2;
  } catch (const tpusim::SimError& e) {
    std::cerr << "tpusim: simulation error: " << e.what() << "\n";
    code = 1;
  } catch (const std::exception& e) {
    std::cerr << "tpusim: error: " << e.what() << "\n";
    code = 1;
  }
  if (tpusim::simulated_in_this_process()) {
    // Every output is written (files atomically, before run_cli returned); skip SystemC's
    // teardown, as a forked simulation does.
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
    ::_exit(code);
  }
  return code;
}
