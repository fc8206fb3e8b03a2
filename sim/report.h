#pragma once
/// Reports: the JSON object of docs/ARCHITECTURE.md "Reports", the side-by-side table, tidy CSV
/// rows, the Chrome trace-event timeline.

#include <string>
#include <utility>
#include <vector>

#include "base/file_io.h"
#include "base/json.h"
#include "sim/simulation.h"
#include "workloads/roofline.h"

namespace tpusim {

/// The resolved hardware config as {"section": {"key": value}} with typed values.
Json hw_json(const HwConfig& hw);

/// The run's activity from the units' own counters (HBM and SRAM bytes, MACs per dtype, vector
/// lane-ops), and its energy under r.hw.energy with static power over the simulated time.
EnergyCounts run_activity(const RunResult& r);
EnergyBreakdown run_energy(const RunResult& r);

/// The report of one simulated variant. `workload` and `indexer` come from the caller.
Json make_report(const RunResult& r, const Json& workload, const Json& indexer,
                 std::uint64_t sram_peak_bytes);
/// Speed of light (workloads/roofline.h): adds "roofline" {flops, bf16_flops, fp8_flops,
/// hbm_bytes, vpu_ops, mxu_cycles, hbm_cycles, vpu_cycles, bound_cycles, bound_by, efficiency}
/// and `bound_cycles` to each `kernels` entry with closed-form work.
void add_roofline(Json& report, const Roofline& roofline);
/// --index-share: the mean layer of `f_layers` F layers (report `f`) and `s_layers` S layers
/// (report `s`). Counters, bytes, FLOPs, energy and roofline work are count-weighted means (exact:
/// a count whose mean is not a whole number becomes a real number);
/// ratios over time (utilisation, bandwidth) are weighted by each kind's total cycles; the
/// roofline's bound and efficiency are recomputed; `index_share` gives both layers' times.
/// `workload`, `hw`, `indexer` and `lowering` are the F layer's.
Json combine_layer_reports(const Json& f, std::uint64_t f_layers, const Json& s,
                           std::uint64_t s_layers);
/// --steady-state extrapolate: the report at `x` of the line through two runs of the same tile
/// plan at `xa` < `xb` on one axis (L or the chunk T; the driver passes its shortest and longest
/// sample). Cycles, times, counters, bytes, energy and
/// per-kernel figures are affine in x (counts rounded to whole ones, none below zero); ratios
/// over time follow their extrapolated numerators and denominators; the critical path's binding
/// unit is recomputed. Everything else (workload, lowering, indexer, SRAM peak, roofline,
/// index_share) is `a`'s, for the caller to replace with the point's own.
Json extrapolate_reports(const Json& a, double xa, const Json& b, double xb, double x);
/// {"tpusim_compare": 1, "dense", "dsa", "speedup", "dram_read_ratio", "energy_ratio"} (dense
/// over DSA).
Json make_compare(const Json& dense, const Json& dsa);

/// Human-readable table of a report or of a comparison, numbers with units.
std::string format_table(const Json& report_or_compare);

/// The report as (column, value) pairs: scalars flattened with dots, kernels as
/// kernel.<tag><field> for each of kernel_csv_fields().
std::vector<std::pair<std::string, std::string>> flatten_report(const Json& report);
/// The columns every sweep CSV has, in order: the report's scalars, then kernel_csv_fields() for
/// each tag of kernel_tags() (workloads/kernel_tags.h), whether or not the sample ran that kernel.
std::vector<std::string> standard_csv_columns(const Json& sample_report);
/// The fields each kernel tag has in a sweep CSV (".cycles", ...), in column order.
const std::vector<std::string>& kernel_csv_fields();
/// CSV text with a header, one row per report (columns: the union in first-seen order).
std::string format_csv(const std::vector<Json>& reports);
/// One CSV line (no newline) of `report` in the order of `columns`; missing values are empty.
std::string csv_row(const Json& report, const std::vector<std::string>& columns);
std::string csv_escape(const std::string& s);

/// Writes the Chrome trace-event JSON (one track per unit instance, a slice per instruction,
/// the critical path on a track of its own) into `file`, in pieces; the caller commits it.
void write_timeline_json(const RunResult& r, const std::string& process_name, AtomicFile& file);

}  // namespace tpusim
