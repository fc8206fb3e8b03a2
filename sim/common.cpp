#include "sim/common.h"

namespace tpusim {

void sim_check_failed(const char* module, const char* cond, const std::string& msg) {
  throw SimError(std::string(module) + ": internal check failed (" + cond + "): " + msg);
}

}  // namespace tpusim
