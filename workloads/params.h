#pragma once
/// The workload parameters, declared once. Every row gives a flag's name, help, default, kind,
/// how it sets WorkloadParams, its canonical text (report, trace meta, sweep keys) and whether
/// dense attention depends on it. The CLI options, the report's `workload` object, trace meta,
/// sweep canonicalisation, dense sharing and the sweep's cost estimate all derive from this
/// table: adding a workload flag is one row plus the lowering that uses it.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/json.h"
#include "traces/isa.h"
#include "workloads/workload.h"

namespace tpusim {

/// Workload flags as the user typed them (`{"seq", "128k"}`), flag names without dashes.
using FlagList = std::vector<std::pair<std::string, std::string>>;

enum class ParamKind : std::uint8_t {
  kSize,     ///< a count with k/m/g suffixes (powers of two); canonical text in decimal
  kInteger,  ///< a plain non-negative integer
  kFloat,    ///< a real number (an overlap fraction)
  kBool,     ///< a switch: present on the CLI means true
  kEnum,     ///< one of `choices`
  kText,     ///< free text with a syntax the setter validates (`recent:W`, `FSSS`)
  kModel,    ///< a bundled model name or a TOML file
};

struct WorkloadParam {
  std::string_view flag;          ///< "dense-mode": `--dense-mode` on the CLI
  std::string_view key;           ///< "dense_mode": report `workload` key and trace meta key
  std::string_view help;          ///< one line, with units
  std::string_view default_text;  ///< what --help shows; may describe a derived default
  ParamKind kind;
  std::vector<std::string_view> choices;  ///< kEnum only
  /// false: dense attention is the same whatever the value; true may still mean "for some
  /// values only", which dense_relevant_value() resolves (--residency).
  bool dense_depends;
  std::string_view example;  ///< a valid non-default value (tests, docs)
  /// Parses `text` into `p`; throws UserError naming --flag.
  void (*set)(WorkloadParams& p, const std::string& text);
  /// The value in `p` as canonical text (sizes in decimal, enums by name).
  std::string (*get)(const WorkloadParams& p);
};

/// Every workload parameter, in CLI, report and sweep-grid order.
const std::vector<WorkloadParam>& workload_params();
/// The row of `flag` (without dashes), or nullptr.
const WorkloadParam* find_workload_param(std::string_view flag);
/// What of `value` (of `row`) the dense variant depends on: the value itself, or an empty view
/// where dense is the same whatever it is (`dense_depends` false). --residency is the one
/// parameter dense depends on for some values only: prefetch gives dense its first KV tiles
/// from the previous layer, the other residencies leave it as streaming does.
std::string_view dense_relevant_value(const WorkloadParam& row, std::string_view value);
/// The row whose report/meta key is `key`, or nullptr.
const WorkloadParam* find_workload_param_by_key(std::string_view key);

/// Applies the flags in order on top of the defaults, then resolves derived defaults.
/// Throws UserError naming the flag on an unknown flag or a bad value.
WorkloadParams params_from_flags(const FlagList& flags, Attention attention);
/// The parameters a trace's meta lines give (as workload_meta writes them; other keys are
/// ignored). A size of 0 stands for a derived value and is left to resolve_params.
WorkloadParams params_from_meta(const std::vector<std::pair<std::string, std::string>>& meta);
/// Fills in defaults that depend on other parameters: the prefill chunk (min(4k, L) when not
/// given; 0 in decode), the layer count (the model's when 0), decode's MQA mode.
void resolve_params(WorkloadParams& p);

/// The value of `param` in `p` typed for JSON (numbers, booleans, strings).
Json param_json(const WorkloadParam& param, const WorkloadParams& p);
/// A canonical text value typed for JSON as `param` declares it.
Json param_text_json(const WorkloadParam& param, const std::string& text);
/// The report's `workload` object: attention, then every parameter by its key.
Json workload_json(const WorkloadParams& p);
/// Trace meta lines of the workload: attention and every parameter (key=canonical text).
std::vector<std::pair<std::string, std::string>> workload_meta(const WorkloadParams& p);

}  // namespace tpusim
