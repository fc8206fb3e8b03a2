#pragma once
/// splitmix64 (Steele, Lea, Flood 2014): tiny, fast and fully specified, so a seed gives the
/// same numbers on every platform and standard library (std distributions are not portable).

#include <cstdint>

namespace tpusim {

class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : m_state(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (m_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, n) for n > 0; the modulo bias is below 2^-40 for the spans we draw from.
  std::uint64_t below(std::uint64_t n) { return next() % n; }

 private:
  std::uint64_t m_state;
};

}  // namespace tpusim
