#pragma once
/// Simulated time: whole cycles, and fixed-point sub-cycle ticks for bandwidth models.

#include <cstdint>

namespace tpusim {

/// Simulated time in core clock cycles. Never a double.
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

}  // namespace tpusim
