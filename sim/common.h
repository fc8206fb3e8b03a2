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
/// Simulated time never goes beyond this (SystemC carries a cycle as 1000 ps in 64 bits, so
/// 1.8e16 cycles would wrap); 2^50 cycles is about 8.7 days at 1.5 GHz. A run that gets there
/// has a runaway duration (absurd config or trace), and stops with a SimError.
constexpr Cycle kMaxSimCycles = Cycle{1} << 50;

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

/// Upper bounds of config values: far beyond any real chip, low enough that tables sized by them
/// fit in memory and cycle arithmetic cannot overflow. Throws ConfigError naming `key`.
void require_at_most(const char* key, double value, double max);
/// Lower bound of a rate (bandwidth, throughput): a tiny rate would make durations overflow.
void require_at_least(const char* key, double value, double min);

[[noreturn]] void sim_check_failed(const char* module, const char* cond, const std::string& msg);

}  // namespace tpusim

/// Invariant check that stays on in release builds; names the module.
#define SIM_CHECK(module, cond, msg)                                 \
  do {                                                               \
    if (!(cond)) ::tpusim::sim_check_failed((module), #cond, (msg)); \
  } while (0)
