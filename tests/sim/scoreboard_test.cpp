// The scoreboard's issue policy against its definition, on random streams: a unit of a kind
// takes the oldest instruction whose dependencies have all finished among the first W
// not-yet-taken instructions of its kind. The reference below scans for exactly that; the
// scoreboard tracks readiness instead, and must pick the same instruction every time.
#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "base/splitmix64.h"
#include "sim/executor.h"
#include "sim/instruction_source.h"

using namespace tpusim;

namespace {

std::vector<Instruction> random_stream(std::uint64_t n, SplitMix64& rng) {
  constexpr Op kOps[] = {Op::kDmaLoad, Op::kMxuMatmul, Op::kVpuExp, Op::kDmaGather};
  std::vector<Instruction> v(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    v[i].id = i;
    v[i].op = kOps[rng.below(4)];
    // Mostly near dependencies (as lowerings write them), sometimes a far one, some repeated.
    const std::uint64_t deps = i == 0 ? 0 : rng.below(4);
    for (std::uint64_t d = 0; d < deps; ++d) {
      const std::uint64_t back =
          rng.below(8) == 0 ? rng.below(i) + 1 : rng.below(std::min<std::uint64_t>(i, 6)) + 1;
      v[i].deps.push_back(i - std::min(back, i));
    }
  }
  return v;
}

}  // namespace

TEST_CASE("scoreboard picks what the issue policy's definition picks, on random streams",
          "[executor][scoreboard]") {
  SplitMix64 rng(7);
  for (std::size_t issue_window : {1u, 2u, 5u, 32u}) {
    for (std::size_t window : {4u, 64u, 16384u}) {
      const std::vector<Instruction> stream = random_stream(600, rng);
      VectorSource src(stream);
      Scoreboard board(src, false, window, issue_window);
      std::set<std::uint64_t> finished;
      std::map<std::uint64_t, const Instruction*> running;  // the board's own copies
      std::map<int, std::vector<std::uint64_t>> untaken;    // the reference's queues
      std::uint64_t loaded = 0;
      std::uint64_t picks = 0;
      std::map<std::uint64_t, std::uint64_t> taken_as;  // id -> the cycle its take gave
      while (finished.size() < stream.size()) {
        // The reference sees what the scoreboard has loaded: the stream up to its window
        // (everything before the oldest unfinished instruction plus `window` more).
        std::uint64_t front = 0;
        while (finished.count(front) > 0)
          ++front;
        for (; loaded < std::min<std::uint64_t>(stream.size(), front + window); ++loaded)
          untaken[static_cast<int>(unit_kind_of(stream[loaded].op, false))].push_back(loaded);
        for (int k = 0; k < kUnitKinds; ++k) {
          const auto kind = static_cast<UnitKind>(k);
          // Take everything the policy allows now, as idle units would.
          for (;;) {
            auto& q = untaken[k];
            std::int64_t want = -1;
            for (std::size_t i = 0; i < std::min(q.size(), issue_window); ++i) {
              bool ready = true;
              for (std::uint64_t d : stream[q[i]].deps)
                ready = ready && finished.count(d) > 0;
              if (ready) {
                want = static_cast<std::int64_t>(i);
                break;
              }
            }
            const Instruction* got = board.ready_head(kind);
            INFO("W " << issue_window << " window " << window << " kind " << k);
            if (want < 0) {
              CHECK(got == nullptr);
              break;
            }
            REQUIRE(got != nullptr);
            REQUIRE(got->id == q[static_cast<std::size_t>(want)]);
            board.take(kind, picks);  // a stand-in for the cycle: distinct per take
            taken_as[got->id] = picks;
            running.emplace(got->id, got);
            q.erase(q.begin() + want);
            ++picks;
          }
        }
        REQUIRE_FALSE(running.empty());
        // Finish a random running instruction.
        auto it = running.begin();
        std::advance(it, static_cast<std::ptrdiff_t>(rng.below(running.size())));
        // The take's cycle survives every other instruction's take and finish until its own.
        CHECK(board.taken_at(it->second) == taken_as.at(it->first));
        finished.insert(it->first);
        board.finish(it->second);
        running.erase(it);
      }
      CHECK(picks == stream.size());
    }
  }
}
