#pragma once
/// `tpusim sweep` (README "Sweeps"): a grid of points, each simulated variant in its own
/// child process, one CSV row per variant appended and flushed as soon as it finishes, with
/// --resume and --shard so a sweep survives kills and spreads over machines.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "sim/driver.h"

namespace tpusim {

/// The sweep flags as typed: every value may be a list (`a,b,c` or `start:stop:xF`).
struct SweepOptions {
  FlagList flag_lists;             ///< workload flag -> list text, only flags the user gave
  std::string attention = "both";  ///< list of dense | dsa | both
  std::string hw = "tpu-v5e";      ///< list of presets or TOML files
  std::vector<std::string> sets;   ///< each `K=LIST`: a list of values for one key
  unsigned jobs = 0;               ///< child processes at a time; 0 = number of cores
  std::string shard;               ///< "I/N" (1-based), empty = every point
  bool resume = false;
  bool quiet = false;
  bool dry_run = false;  ///< validate, print the grid and its estimated cost, run nothing
  std::string steady_state = "exact";  ///< exact | extrapolate (PointSpec::extrapolate)
  std::string output;                  ///< the CSV file
};

/// One point of the grid: a hardware config and one value of every workload flag.
struct SweepPoint {
  PointSpec spec;   ///< attention is dense, dsa or both
  std::string key;  ///< `name=value ...` as the grid spells them (point_match_id: its identity)
  /// The values the grid varies, for the progress line: "seq=32k topk=2k" (sizes as
  /// format_count shows them, `set:` dropped); empty for a single point.
  std::string label;
  /// The same without the values dense ignores ("seq=32k"): one dense run serves every point
  /// that differs only in those, so naming one of their values would name the wrong point.
  std::string dense_label;
};

/// Expands a list value of `flag`: `a,b,c`, `start:stop:xF` (geometric, start and stop are
/// sizes with k/m suffixes, F > 1) or a mix (`1,4k:16k:x2`). Throws UserError naming the flag.
std::vector<std::string> expand_list(const std::string& text, const std::string& flag);

/// Parses `--shard I/N` into (I, N), 1 <= I <= N. Throws UserError naming the flag.
std::pair<std::size_t, std::size_t> parse_shard(const std::string& text);

/// The whole grid (the product of every list) in a fixed order, before sharding and resume.
std::vector<SweepPoint> sweep_grid(const SweepOptions& opts);

/// What identifies a point key (`name=value ...`, as a sweep CSV's point.key holds it) when
/// --resume matches rows and when a grid drops repeated points: workload values as the report
/// writes them (--seq 4k and 4096 are seq=4096), and a workload flag left out when it sets what
/// its absence would (--phase decode, --batch 1). So a grid typed another way duplicates no
/// point. The CSV keeps the key as the grid spelled it; --hw and --set values are kept as given.
std::string point_match_id(std::string_view key);

/// Checks every point of `grid` as far as possible without simulating: the workload flags of each
/// variant (parse, range, model, chunk within --seq) and each distinct hardware config (--hw with
/// its --set values). Throws UserError naming the flag or key and the point, so that a typo in any
/// list stops the sweep before its first child starts.
void validate_sweep_grid(const std::vector<SweepPoint>& grid);

/// Runs the sweep; returns the exit code (0, 1 if any point failed, 130 if interrupted).
int run_sweep(const SweepOptions& opts);

/// The columns a sweep CSV has before the report's columns (identification of the row).
const std::vector<std::string>& sweep_point_columns();

}  // namespace tpusim
