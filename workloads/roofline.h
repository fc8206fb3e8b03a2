#pragma once
/// Speed of light: the work a workload must do, from closed forms (reference counts of the
/// algorithm, every byte moved once), and the cycles the chip needs for it at peak. Not the
/// simulator's counters, which would reward a lowering that wastes work.

#include <cstdint>
#include <string>
#include <vector>

#include "models/hw_config.h"
#include "workloads/workload.h"

namespace tpusim {

/// Work of a run or of one kernel tag.
struct RooflineWork {
  double bf16_flops = 0;  ///< matmul FLOPs (2 per MAC) in bf16
  double fp8_flops = 0;   ///< matmul FLOPs in fp8 (run at mxu.fp8_rate)
  double hbm_bytes = 0;   ///< HBM reads + writes
  double vpu_ops = 0;     ///< vector lane-ops: elements x vpu.cost_<op>
  RooflineWork& operator+=(const RooflineWork& o);
};

/// Cycles of `work` at each unit's peak on `hw`; `bound_cycles` is the largest.
struct RooflineBound {
  double mxu_cycles = 0, hbm_cycles = 0, vpu_cycles = 0, bound_cycles = 0;
  std::string bound_by;  ///< "mxu", "hbm" or "vpu"
};

struct KernelRoofline {
  std::string tag;
  RooflineWork work;
  RooflineBound bound;
};

struct Roofline {
  RooflineWork work;
  RooflineBound bound;
  std::vector<KernelRoofline> kernels;  ///< tags with closed-form work, in pipeline order
};

/// MXU: (bf16 + fp8 / fp8_rate) / (count x rows x cols x 2); HBM: bytes / (GB/s / GHz); VPU:
/// lane-ops / lanes.
RooflineBound roofline_bound(const RooflineWork& work, const HwConfig& hw);

/// The closed-form work of `p` (one decode step or one prefill chunk of one layer; --scope layer
/// adds the projections' FLOPs under attn.proj) and its bounds on `hw`. Vector lane-ops count
/// each score once through softmax (vpu.cost_softmax), the indexer epilogue once per logit
/// (vpu.cost_relu_wsum), the top-k radix select (vpu.topk_passes per score plus k per row) and
/// the final 1/l scale of the output.
/// `resident_tokens`: indexer keys per sequence pinned in SRAM (not read from HBM);
/// `projection_flops`: WorkloadClosedForm::projection_flops of a --scope layer run;
/// `row_cache_hits`: rows per decode query read from the --kv-row-cache instead of HBM.
/// An S layer of --index-share (p.shared_layer) has no indexer work.
Roofline workload_roofline(const WorkloadParams& p, const HwConfig& hw,
                           std::uint64_t resident_tokens = 0, double projection_flops = 0,
                           std::uint64_t row_cache_hits = 0);

}  // namespace tpusim
