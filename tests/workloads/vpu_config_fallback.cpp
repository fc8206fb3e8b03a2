// Temporary link shim: models/vpu.cpp (being written on the models branch) defines the real
// VpuConfig constructor that default-constructing HwConfig needs. This weak definition lets the
// workload tests link before it lands; once it does, the strong definition wins and this file
// should be deleted.
#include "models/vpu.h"

namespace tpusim {

__attribute__((weak)) VpuConfig::VpuConfig() {}

}  // namespace tpusim
