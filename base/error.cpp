#include "base/error.h"

#include <cstdio>

namespace tpusim {
namespace {

std::string format_limit(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

}  // namespace

void require_at_most(const char* key, double value, double max) {
  if (!(value <= max))
    throw ConfigError(std::string(key) + " must be <= " + format_limit(max) + " (got " +
                      format_limit(value) + ")");
}

void require_at_least(const char* key, double value, double min) {
  if (!(value >= min))
    throw ConfigError(std::string(key) + " must be >= " + format_limit(min) + " (got " +
                      format_limit(value) + ")");
}

void sim_check_failed(const char* module, const char* cond, const std::string& msg) {
  throw SimError(std::string(module) + ": internal check failed (" + cond + "): " + msg);
}

}  // namespace tpusim
