#pragma once
/// Division by a configuration constant on the per-request hot paths (HBM address mapping, SRAM
/// bank selection). A 64-bit hardware divide costs tens of cycles and those paths do several per
/// request, hundreds of millions of times in a long prefill; every preset uses powers of two, so
/// those become a shift and a mask, while any other value still divides exactly.

#include <cstdint>

namespace tpusim {

class Divisor {
 public:
  Divisor() = default;
  /// `d` must be > 0 (the configs validate it).
  explicit Divisor(std::uint64_t d) : m_d(d), m_pow2(d != 0 && (d & (d - 1)) == 0) {
    if (m_pow2)
      while ((std::uint64_t{1} << m_shift) != d)
        ++m_shift;
  }
  std::uint64_t value() const { return m_d; }
  bool pow2() const { return m_pow2; }
  unsigned shift() const { return m_shift; }
  std::uint64_t div(std::uint64_t x) const { return m_pow2 ? x >> m_shift : x / m_d; }
  std::uint64_t mod(std::uint64_t x) const { return m_pow2 ? x & (m_d - 1) : x % m_d; }

 private:
  std::uint64_t m_d = 1;
  bool m_pow2 = true;
  unsigned m_shift = 0;
};

}  // namespace tpusim
