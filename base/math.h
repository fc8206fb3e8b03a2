#pragma once
/// Integer helpers every folder needs: rounding up, powers of two, overflow-checked arithmetic
/// for sizes that come from user-written traces and configs.

#include <cstdint>

namespace tpusim {

constexpr std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) {
  return (a + b - 1) / b;
}

constexpr bool is_pow2(std::uint64_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

/// out = a + b; true when it wrapped.
inline bool add_overflows(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  return __builtin_add_overflow(a, b, &out);
}

/// out = a * b; true when it wrapped (out is then unspecified).
inline bool mul_overflows(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  return __builtin_mul_overflow(a, b, &out);
}

}  // namespace tpusim
