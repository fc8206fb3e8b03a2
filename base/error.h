#pragma once
/// The error classes every folder throws, and the invariant check that stays on in release.

#include <stdexcept>
#include <string>

namespace tpusim {

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
