// The workload parameter table is the one home of every workload flag: each row's value goes
// from the CLI text to WorkloadParams, to the report's workload object, to trace meta, and back,
// unchanged at every step.
#include <catch2/catch.hpp>

#include <sstream>

#include "base/error.h"
#include "base/format.h"
#include "traces/writer.h"
#include "workloads/params.h"
#include "workloads/workload.h"

using namespace tpusim;

namespace {

// Rows whose value only applies to prefill are exercised in prefill (decode resolves them).
FlagList flags_for(const WorkloadParam& row) {
  FlagList f;
  if (row.flag == "chunk" || row.flag == "dense-mode") f.emplace_back("phase", "prefill");
  f.emplace_back(std::string(row.flag), std::string(row.example));
  return f;
}

// The instructions of a generated trace as trace text (meta lines left out).
std::string instructions_text(const GeneratedTrace& t) {
  std::ostringstream out;
  TraceWriter w(out);
  for (const Instruction& in : t.instructions)
    w.write(in, t.tags);
  return out.str();
}

std::string canonical(const WorkloadParam& row) {
  if (row.kind == ParamKind::kSize)
    return std::to_string(parse_size(std::string(row.example), "example"));
  return std::string(row.example);
}

}  // namespace

TEST_CASE("params: every row round-trips CLI -> params -> report -> meta -> params") {
  for (const auto& row : workload_params()) {
    INFO("--" << row.flag << " " << row.example);
    REQUIRE(!row.example.empty());
    const WorkloadParams p = params_from_flags(flags_for(row), Attention::kDsa);
    FlagList context = flags_for(row);
    context.pop_back();
    const WorkloadParams defaults = params_from_flags(context, Attention::kDsa);
    // The example is not the default, so the row really moved the value.
    CHECK(row.get(p) != row.get(defaults));
    CHECK(row.get(p) == canonical(row));

    const Json report = workload_json(p);
    CHECK(report.at(std::string(row.key)) == param_json(row, p));
    CHECK(report.at(std::string(row.key)) == param_text_json(row, canonical(row)));

    // Trace meta carries every row; reading it back through the table gives the same workload.
    bool seen = false;
    for (const auto& [key, text] : workload_meta(p)) {
      if (key == "attention") continue;
      CHECK(find_workload_param_by_key(key) != nullptr);
      seen |= key == row.key;
    }
    CHECK(seen);
    CHECK(workload_json(params_from_meta(workload_meta(p))) == report);
  }
}

TEST_CASE("params: flags and keys are unique and every row is documented") {
  for (const auto& a : workload_params()) {
    CHECK(!a.help.empty());
    CHECK(!a.default_text.empty());
    for (const auto& b : workload_params()) {
      if (&a == &b) continue;
      CHECK(a.flag != b.flag);
      CHECK(a.key != b.key);
    }
  }
}

TEST_CASE("params: bad values name the flag") {
  CHECK_THROWS_WITH(params_from_flags({{"seq", "0"}}, Attention::kDsa),
                    Catch::Contains("--seq must be > 0"));
  CHECK_THROWS_WITH(params_from_flags({{"layers", "0"}}, Attention::kDsa),
                    Catch::Contains("--layers must be > 0"));
  CHECK_THROWS_WITH(params_from_flags({{"phase", "foo"}}, Attention::kDsa),
                    Catch::Contains("--phase"));
  CHECK_THROWS_WITH(params_from_flags({{"bogus", "1"}}, Attention::kDsa),
                    Catch::Contains("--bogus"));
}

TEST_CASE("params: the prefill chunk defaults to min(4k, L)") {
  CHECK(params_from_flags({{"phase", "prefill"}, {"seq", "2k"}}, Attention::kDsa).chunk == 2048);
  CHECK(params_from_flags({{"phase", "prefill"}, {"seq", "32k"}}, Attention::kDsa).chunk == 4096);
  CHECK(params_from_flags({{"seq", "2k"}}, Attention::kDsa).chunk == 0);  // decode
}

TEST_CASE("params: dense traces change with exactly the values dense is declared to depend on") {
  // The sweep shares one dense run between points that differ only in values dense does not
  // depend on (dense_relevant_value); if the lowering read such a value, those rows would be
  // wrong. Every value of every row declared irrelevant to dense must leave its trace as is.
  HwConfig hw;
  int compared = 0, changed = 0;
  for (const std::string phase : {"decode", "prefill"}) {
    const FlagList base = {{"model", "tiny"}, {"seq", "2k"}, {"phase", phase}};
    const std::string reference =
        instructions_text(generate_workload(params_from_flags(base, Attention::kDense), hw));
    for (const auto& row : workload_params()) {
      if (row.dense_depends) continue;
      std::vector<std::string> values;
      if (row.kind == ParamKind::kEnum)
        values.assign(row.choices.begin(), row.choices.end());
      else
        values.emplace_back(row.example);
      for (const std::string& v : values) {
        INFO(phase << ": --" << row.flag << " " << v);
        FlagList flags = base;
        flags.emplace_back(std::string(row.flag), v);
        std::string text;
        try {
          text =
              instructions_text(generate_workload(params_from_flags(flags, Attention::kDense), hw));
        } catch (const UserError&) {
          continue;  // not valid in this phase (e.g. prefetch in prefill)
        }
        ++compared;
        const bool relevant = !dense_relevant_value(row, v).empty();
        CHECK((text != reference) == relevant);
        changed += relevant;
      }
    }
  }
  CHECK(compared > 20);
  CHECK(changed == 1);  // --residency prefetch in decode
}
