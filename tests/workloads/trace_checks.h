#pragma once
// Helpers for workload tests: totals over a generated trace and a structural validity check.

#include <cstdint>
#include <string>

#include "workloads/workload.h"

namespace tpusim::test {

struct TraceTotals {
  std::uint64_t flops = 0;
  std::uint64_t read_bytes = 0;   ///< dma.load + dma.gather
  std::uint64_t write_bytes = 0;  ///< dma.store
};

TraceTotals totals(const GeneratedTrace& t);
/// HBM bytes read by instructions carrying `tag`.
std::uint64_t read_bytes_tagged(const GeneratedTrace& t, const std::string& tag);
std::uint64_t flops_tagged(const GeneratedTrace& t, const std::string& tag);

/// Empty if valid: ids 0,1,2,... in order, deps strictly earlier, every instruction tagged with a
/// known tag, every SRAM operand extent (conservatively: vector ops touch elems x 4 B at src and
/// dst, matmul C is fp32) within `sram_capacity`, gathers with 0 < rows <= span.
std::string check_trace(const GeneratedTrace& t, std::uint64_t sram_capacity);

}  // namespace tpusim::test
