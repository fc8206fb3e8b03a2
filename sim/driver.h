#pragma once
/// Runs simulations for the CLI: one variant per child process (SystemC elaborates once per
/// process), results returned as report JSON through a pipe.

#include <sys/types.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "sim/report.h"
#include "workloads/params.h"

namespace tpusim {

/// Everything one simulated point needs.
struct PointSpec {
  std::string hw = "tpu-v5e";      ///< preset or TOML file
  std::vector<std::string> sets;   ///< --set overrides, in order
  FlagList flags;                  ///< workload flags
  std::string attention = "both";  ///< dense | dsa | both
  std::size_t timeline_limit = 0;
  std::string timeline_path;  ///< empty: no timeline
  /// --steady-state extrapolate: a long prefill chunk from three shorter runs of the same tile
  /// plan (docs/ARCHITECTURE.md "Steady-state extrapolation"); false: simulated whole (exact).
  bool extrapolate = false;
};

/// A forked simulation whose JSON result arrives on `fd` (read it to EOF, then finish_child).
struct ChildProcess {
  pid_t pid;
  int fd;
};

/// Forks a child that runs `body` and writes its JSON (or its error) to a pipe; returns at once,
/// so a sweep can keep several children running. With `own_group` the child leaves the
/// terminal's process group (the parent handles Ctrl-C) and dies when the parent dies.
ChildProcess start_child(const std::function<Json()>& body, bool own_group);

/// Reaps the child and decodes what it wrote: its report, or its error rethrown as the same
/// type (UserError, SimError) with the child's message.
Json finish_child(pid_t pid, const std::string& text);

/// Runs `body` in a forked child and returns the JSON it produced. Errors in the child come
/// back as the same exception type (UserError, SimError) with the child's message.
Json run_in_child(const std::function<Json()>& body);

/// Simulates one workload variant ("dense" or "dsa") of a point; returns its report.
/// Must run in a process that has not elaborated SystemC yet (use run_in_child).
Json simulate_point_variant(const PointSpec& spec, const std::string& attention);

/// The "workload" object a report of `spec` simulated as `attention` has, without simulating.
Json workload_json_of(const PointSpec& spec, const std::string& attention);

/// Runs a point (one or both variants, each in its own child process): a report, or a
/// comparison when attention is "both". When one variant of "both" fails, the other's report is
/// returned with a "failed_variant" object ({"attention", "error", "exit"}) that the CLI takes
/// out and reports; when both fail, the first error is thrown.
Json run_point(const PointSpec& spec);

/// The file a variant's timeline goes to: `path` itself, or with --attention both (`both`)
/// FILE.dense.json and FILE.dsa.json for FILE.json.
std::string timeline_path_for(const std::string& path, const std::string& variant, bool both);

/// Throws UserError naming `flag` unless `path` ("-" and "" are stdout) can be created: its
/// directory exists and is writable and the path is not a directory. Called before any work.
void check_output_path(const std::string& path, const std::string& flag);

/// Checks what a point needs before forking: the hardware config and the workload flags of each
/// variant (validate_workload). Throws UserError naming the flag or key.
void check_point(const PointSpec& spec);

/// Out-of-band notes a report carries from the simulating child to the CLI (a timeline file
/// written or not written, a failed variant); takes them out of `result` and returns them as
/// lines for stderr (an error's begins "error: ", as every error message does), and whether one
/// of them is an error.
std::vector<std::string> take_run_notes(Json& result, bool& error);

/// "tpusim 0.1 (commit abc1234)": the CMake project version and the git commit at configure time.
std::string version_string();

/// Simulates a trace file (streamed; validated in a first pass). Must run in a fresh process.
Json simulate_trace_file(const std::string& path, const std::string& hw,
                         const std::vector<std::string>& sets, std::size_t timeline_limit,
                         const std::string& timeline_path);

/// Generates a workload trace and writes it to `path` (atomically).
void generate_trace_file(const PointSpec& spec, const std::string& path);

/// The reports of a run result (one, or dense and dsa of a comparison), for CSV.
std::vector<Json> reports_of(const Json& result);

}  // namespace tpusim
