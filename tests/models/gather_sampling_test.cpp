// Statistics of the gather samplers (uniform and recent patterns): the rows are distinct, in
// range, sorted when asked, reproducible per seed, uniformly distributed, and in a uniformly
// random order when not sorted. The seeds are fixed, so each chi-square check is deterministic;
// its bound is the 99.9% quantile of the chi-square law, so a correct sampler passes it for all
// but about one in a thousand seed sets, and a biased one (say every row set not equally likely)
// fails it by orders of magnitude.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <set>
#include <vector>

#include "base/splitmix64.h"
#include "models/dma.h"

using namespace tpusim;

namespace {

std::vector<std::uint64_t> draw(std::uint64_t span, std::uint64_t rows, std::uint64_t seed,
                                bool sort, PatternKind kind = PatternKind::kUniform,
                                std::uint64_t param = 0) {
  std::vector<std::uint64_t> v;
  gather_rows({kind, param}, span, rows, seed, sort, v);
  return v;
}

// Pearson's statistic of observed counts against expected counts.
double chi_square(const std::vector<double>& observed, const std::vector<double>& expected) {
  double x = 0;
  for (std::size_t i = 0; i < observed.size(); ++i)
    x += (observed[i] - expected[i]) * (observed[i] - expected[i]) / expected[i];
  return x;
}

// 99.9% quantiles of chi-square with 2, 7 and 9 degrees of freedom.
constexpr double kChi2_2 = 13.816;
constexpr double kChi2_7 = 24.322;
constexpr double kChi2_9 = 27.877;

// The sampler the simulator used before the bitmap: Floyd's algorithm with a hash set (or
// Knuth's algorithm S when at least half the range is drawn), then a Fisher-Yates shuffle, all
// from one splitmix64 stream. Traces written before must keep gathering the same rows.
std::vector<std::uint64_t> reference_sample(std::uint64_t range, std::uint64_t count,
                                            std::uint64_t seed) {
  SplitMix64 rng(seed);
  std::vector<std::uint64_t> out;
  if (count * 2 >= range) {
    std::uint64_t needed = count;
    for (std::uint64_t i = 0; i < range && needed > 0; ++i)
      if (rng.below(range - i) < needed) {
        out.push_back(i);
        --needed;
      }
  } else {
    std::set<std::uint64_t> seen;
    for (std::uint64_t j = range - count; j < range; ++j) {
      const std::uint64_t t = rng.below(j + 1);
      const std::uint64_t pick = seen.insert(t).second ? t : j;
      seen.insert(pick);
      out.push_back(pick);
    }
  }
  for (std::size_t i = out.size(); i > 1; --i)
    std::swap(out[i - 1], out[static_cast<std::size_t>(rng.below(i))]);
  return out;
}

}  // namespace

TEST_CASE("gather sampling selects the same rows per seed as the hash-set sampler did",
          "[dma][gather][sampling]") {
  // Dense (algorithm S), bitmap Floyd, and hash Floyd (a few rows of a huge table) paths.
  const std::uint64_t cases[][2] = {{10, 7},      {1000, 500},     {1000, 3},        {131072, 2048},
                                    {5000, 2047}, {1 << 20, 2048}, {1ull << 40, 100}};
  for (const auto& c : cases) {
    for (std::uint64_t seed : {0ull, 1ull, 7ull, 123456789ull}) {
      INFO("span " << c[0] << " rows " << c[1] << " seed " << seed);
      const std::vector<std::uint64_t> want = reference_sample(c[0], c[1], seed);
      CHECK(draw(c[0], c[1], seed, false) == want);
      std::vector<std::uint64_t> sorted_want = want;
      std::sort(sorted_want.begin(), sorted_want.end());
      CHECK(draw(c[0], c[1], seed, true) == sorted_want);
      // recent:W draws the same sample from the last W rows.
      if (c[0] < (1ull << 30)) {
        std::vector<std::uint64_t> recent =
            draw(c[0] + 500, c[1], seed, true, PatternKind::kRecent, c[0]);
        for (auto& r : recent)
          r -= 500;
        CHECK(recent == sorted_want);
      }
    }
  }
}

TEST_CASE("gather sampling: distinct, in range, sorted, reproducible", "[dma][gather][sampling]") {
  for (std::uint64_t span : {2ull, 64ull, 1000ull, 131072ull, 1ull << 27, 1ull << 40}) {
    for (std::uint64_t rows : {1ull, 2ull, 31ull, 2048ull}) {
      if (rows > span) continue;
      for (std::uint64_t seed : {3ull, 4ull}) {
        INFO("span " << span << " rows " << rows << " seed " << seed);
        const auto v = draw(span, rows, seed, true);
        REQUIRE(v.size() == rows);
        CHECK(std::adjacent_find(v.begin(), v.end(), std::greater_equal<>()) == v.end());
        CHECK(v.back() < span);
        CHECK(draw(span, rows, seed, true) == v);
        // The unsorted draw is the same set in another order.
        auto u = draw(span, rows, seed, false);
        std::sort(u.begin(), u.end());
        CHECK(u == v);
      }
    }
  }
  // Another seed, another sample (2048 of 131072 rows: equal samples are impossible in practice).
  CHECK(draw(131072, 2048, 1, true) != draw(131072, 2048, 2, true));
}

TEST_CASE("gather sampling: every row equally likely", "[dma][gather][sampling]") {
  // 4000 samples of 50 rows of 1000: each tenth of the span expects 4000 * 50 / 10 = 20000 rows.
  std::vector<double> obs(10, 0), exp(10, 4000.0 * 50 / 10);
  for (std::uint64_t seed = 0; seed < 4000; ++seed)
    for (std::uint64_t r : draw(1000, 50, seed, true))
      obs[r / 100] += 1;
  CHECK(chi_square(obs, exp) < kChi2_9);
}

TEST_CASE("gather sampling: the smallest row follows the law of a uniform subset",
          "[dma][gather][sampling]") {
  // n = 4 rows of N = 64: P(min = i) = C(N-1-i, n-1) / C(N, n) (the other n-1 rows are any
  // n-1 of the N-1-i rows above i). Summed over 8 buckets of 8 values each.
  const int kN = 64, kRows = 4, kSeeds = 20000;
  auto choose3 = [](double m) { return m * (m - 1) * (m - 2) / 6; };
  const double total = double(kN) * (kN - 1) * (kN - 2) * (kN - 3) / 24;
  std::vector<double> obs(8, 0), exp(8, 0);
  for (int i = 0; i < kN; ++i)
    exp[i / 8] += kSeeds * choose3(kN - 1 - i) / total;
  for (std::uint64_t seed = 0; seed < kSeeds; ++seed)
    obs[draw(kN, kRows, seed, true).front() / 8] += 1;
  CHECK(chi_square(obs, exp) < kChi2_7);
}

TEST_CASE("gather sampling: the unsorted order is a uniform permutation",
          "[dma][gather][sampling]") {
  // Floyd path (3 of 1000) and algorithm S path (4 of 6): the smallest row drawn lands at each
  // position equally often, and the first row drawn is uniform over the span.
  struct Case {
    std::uint64_t span, rows;
  };
  for (Case c : {Case{1000, 3}, Case{6, 4}}) {
    INFO("span " << c.span << " rows " << c.rows);
    const int kSeeds = 12000;
    std::vector<double> pos(c.rows, 0), pos_exp(c.rows, double(kSeeds) / double(c.rows));
    std::vector<double> first(c.span < 10 ? c.span : 10, 0);
    std::vector<double> first_exp(first.size(), double(kSeeds) / double(first.size()));
    for (std::uint64_t seed = 0; seed < kSeeds; ++seed) {
      const auto v = draw(c.span, c.rows, seed, false);
      pos[std::min_element(v.begin(), v.end()) - v.begin()] += 1;
      first[v[0] * first.size() / c.span] += 1;
    }
    CHECK(chi_square(pos, pos_exp) < (c.rows == 3 ? kChi2_2 : 16.266));             // 3 dof: 16.266
    CHECK(chi_square(first, first_exp) < (first.size() == 10 ? kChi2_9 : 20.515));  // 5 dof
  }
}
