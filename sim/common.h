#pragma once
/// Types and error classes shared by every tpusim component.

#include <cstdint>
#include <stdexcept>
#include <string>

namespace tpusim {

/// Simulated time in core clock cycles (DESIGN.md section 4). Never a double.
using Cycle = std::uint64_t;

/// Sub-cycle time for bandwidth models whose per-burst time is a fraction of a cycle (an HBM
/// channel moves 64 B in 1.875 cycles on the default preset). Fixed point, never a double.
using Tick = std::uint64_t;
constexpr Tick kTicksPerCycle = 1024;
inline Cycle ticks_to_cycles_ceil(Tick t) {
  return (t + kTicksPerCycle - 1) / kTicksPerCycle;
}
inline Tick cycles_to_ticks(Cycle c) {
  return c * kTicksPerCycle;
}

/// A mistake in what the user gave us (flags, config, trace, files): exit code 2.
class UserError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A configuration key is unknown, of the wrong type or out of range.
class ConfigError : public UserError {
 public:
  using UserError::UserError;
};

/// A trace line is malformed; the message starts with `file:line:`.
class TraceError : public UserError {
 public:
  using UserError::UserError;
};

/// The simulation itself failed (a deadlock, a broken model invariant): exit code 1.
class SimError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] void sim_check_failed(const char* module, const char* cond, const std::string& msg);

}  // namespace tpusim

/// Invariant check that stays on in release builds; names the module.
#define SIM_CHECK(module, cond, msg)                                 \
  do {                                                               \
    if (!(cond)) ::tpusim::sim_check_failed((module), #cond, (msg)); \
  } while (0)
