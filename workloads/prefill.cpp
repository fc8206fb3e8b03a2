#include "sim/common.h"
#include "workloads/lowering.h"

namespace tpusim {

void lower_prefill(LoweringContext&) {
  throw UserError("--phase prefill: not implemented yet");
}

}  // namespace tpusim
