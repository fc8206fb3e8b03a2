// The SystemC side of sim/simulation.h: elaborates the chip and runs it to completion.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

#include "models/sim_time.h"
#include "sim/chip.h"
#include "sim/executor.h"
#include "sim/simulation.h"

namespace tpusim {

namespace {

// SystemC's default handler prints its reports on stdout, where a JSON or CSV report goes
// ("Info: /OSCI/SystemC: Simulation stopped by user." after an error). Warnings and errors go
// to stderr instead, infos nowhere; what the report does besides (throw, stop) is unchanged.
void report_to_stderr(const sc_core::sc_report& rep, const sc_core::sc_actions& actions) {
  if ((actions & sc_core::SC_DISPLAY) && rep.get_severity() >= sc_core::SC_WARNING)
    std::fprintf(stderr, "tpusim: systemc: %s: %s\n", rep.get_msg_type(), rep.get_msg());
  sc_core::sc_report_handler::default_handler(rep, actions & ~sc_core::SC_DISPLAY);
}

}  // namespace

RunResult simulate_on_chip(const HwConfig& hw, InstructionSource& source, const TagTable& tags,
                           const SimOptions& opts) {
  sc_core::sc_report_handler::set_handler(&report_to_stderr);
  RunResult res;
  res.hw = hw;
  res.stats = RunStats(opts.timeline_limit, ActivityCounter(hw));
  res.stats.expect_instructions(source.size_hint());
  Scoreboard board(source, hw.topk.enabled, opts.window, hw.exec.issue_window);
  Executor exec("executor", board,
                [&res, &opts](const Instruction& in, UnitKind kind, int instance, Cycle s, Cycle e,
                              Cycle horizon) {
                  res.stats.on_retire(in, kind, instance, s, e, horizon);
                  if (opts.on_retire) opts.on_retire(in.id, s, e, horizon);
                  const std::uint64_t retired = res.stats.instructions;
                  if (retired % SimOptions::kProgressEvery == 0 && opts.on_progress)
                    opts.on_progress(retired);
                });
  Chip chip("chip", hw, exec);
  sc_core::sc_start();
  if (exec.error()) std::rethrow_exception(exec.error());
  if (!board.all_done())
    throw SimError(fmt::format(
        "simulation stopped at cycle {} with work left (deadlock); {} instructions finished; "
        "waiting:\n{}",
        now_cycles(), board.finished(), board.describe_waiting()));
  if (res.stats.flops_overflow_at != RunStats::kNoOverflow)
    throw UserError(fmt::format(
        "the run's matmuls add up to more than 2^64 FLOPs (1.8e19; instruction {} passed it), "
        "more than the report can count: split the trace, or make its matmuls' m x n x k "
        "smaller",
        res.stats.flops_overflow_at));

  res.cycles = res.stats.last_end;
  res.hbm = chip.hbm().stats();
  res.sram = chip.sram().stats();
  for (const auto& m : chip.mxus())
    add_stats(res.mxu, m->stats(), kMxuStatFields);
  res.vpu = chip.vpu().stats();
  if (chip.topk()) res.topk = chip.topk()->stats();
  for (const auto& d : chip.dmas())
    add_stats(res.dma, d->stats(), kDmaStatFields);
  res.stats.unit(UnitKind::kMxu).instances = static_cast<int>(hw.mxu.count);
  res.stats.unit(UnitKind::kDma).instances = static_cast<int>(hw.dma.engines);
  res.stats.unit(UnitKind::kVpu).instances = 1;
  res.stats.unit(UnitKind::kTopk).instances = hw.topk.enabled ? 1 : 0;
  for (std::size_t i = 0; i < tags.size(); ++i)
    res.tag_names.push_back(tags.name(static_cast<std::uint16_t>(i)));
  res.stats.finish(std::max(tags.size(), res.stats.kernels.size()));
  return res;
}

}  // namespace tpusim
