// Schedule quality of indexer key residency: pinning keys in SRAM must never make a decode step
// slower than streaming them, and pinning all of them must save what the key stream cost. Each
// simulation runs in its own child process (SystemC elaborates once per process).
#include <catch2/catch.hpp>

#include <string>

#include "sim/config.h"
#include "tests/workloads/sim_util.h"
#include "workloads/workload.h"

using namespace tpusim;
using tpusim::test::simulate_cycles;

namespace {

WorkloadParams dsa_decode(std::uint64_t L, Residency r, std::uint64_t layers = 0) {
  WorkloadParams p;
  p.attention = Attention::kDsa;
  p.seq = L;
  p.residency = r;
  p.layers = layers;
  return p;
}

}  // namespace

TEST_CASE("pinning indexer keys never makes DSA decode slower than streaming them",
          "[workloads][residency][schedule]") {
  // The pinned keys' scoring (MXU logits, VPU relu/mul/sum) needs no HBM, so it overlaps the
  // stream of the rest; streamed tiles keep their size and HBM alignment. Hence auto (and pin,
  // where it fits) cannot lose to stream.
  for (const char* preset : {"tpu-v5e", "big-sram"}) {
    HwConfig hw = load_hw_config(preset, {});
    for (std::uint64_t L : {32768ull, 131072ull}) {
      const Cycle stream = simulate_cycles(dsa_decode(L, Residency::kStream), hw);
      const Cycle aut = simulate_cycles(dsa_decode(L, Residency::kAuto), hw);
      const Cycle pin = simulate_cycles(dsa_decode(L, Residency::kPin, 1), hw);
      WARN(preset << " L = " << L << ": stream " << stream << ", auto " << aut << ", pin (1 layer) "
                  << pin << " cycles");
      CHECK(aut <= stream);
      CHECK(pin <= stream);
    }
  }
}

TEST_CASE("pinning every indexer key saves at least the key stream's excess over the VPU",
          "[workloads][residency][schedule]") {
  // L = 128k, one layer, so all keys fit the 64 MiB budget. Streamed, the indexer cannot finish
  // before its keys have crossed HBM: 131,072 x 132 B = 17.3 MB at 819 GB/s = 21.1 us = 31,688
  // cycles. Pinned, no key moves, and the indexer is bound by the VPU's relu, weight multiply
  // and head sum over 64 x L fp32 logits: 3 x 64 x 131,072 / 1024 lanes = 24,576 cycles (the
  // logits matmuls, 8,192 cycles of fp8 work on 4 arrays, overlap them). Everything else in the
  // step (q loads, top-k, the sparse attention over k = 2048 rows) is the same in both, so pin
  // must beat stream by at least 31,688 - 24,576 = 7,112 cycles. (In the simulator SRAM bank
  // bandwidth binds a little before the VPU lanes: the matmul's keys and logits, 256 B per key,
  // plus three VPU passes of 512 B per key are 1,792 B per key / 8 KiB per cycle = 28,672
  // cycles; pinned, the indexer runs at that bound after a one-tile ramp.)
  HwConfig hw = load_hw_config(kDefaultPreset, {});
  const std::uint64_t L = 131072;
  const double clock = hw.chip.clock_ghz * 1e9;
  const double key_stream = 132.0 * L / (hw.hbm.bandwidth_gbs * 1e9) * clock;
  const double vpu_bound = 3.0 * 64 * L / hw.vpu.lanes;
  const Cycle stream = simulate_cycles(dsa_decode(L, Residency::kStream, 1), hw);
  const Cycle pin = simulate_cycles(dsa_decode(L, Residency::kPin, 1), hw);
  WARN("stream " << stream << ", pin " << pin << " cycles; key stream " << key_stream
                 << ", VPU bound " << vpu_bound);
  CHECK(static_cast<double>(stream) - static_cast<double>(pin) >= key_stream - vpu_bound);
}

TEST_CASE("prefetching the next layer's keys never makes a DSA decode step slower",
          "[workloads][residency][schedule]") {
  // Prefetch reads the same bytes as streaming, but this layer's keys are already on chip: the
  // indexer scores from SRAM while HBM carries the next layer's keys, then the gathers go first
  // and the rest of the prefetch runs under the attention. It must not lose to streaming with
  // one or two query tokens (more gathers ahead of the late prefetch), nor with in-order issue,
  // where nothing can pass the prefetch loads in the DMA queues.
  for (std::uint64_t window : {32ull, 1ull}) {
    HwConfig hw = load_hw_config("tpu-v5e", {});
    hw.exec.issue_window = window;
    for (std::uint64_t mtp : {1ull, 2ull}) {
      for (std::uint64_t L : {8192ull, 32768ull, 131072ull}) {
        WorkloadParams s = dsa_decode(L, Residency::kStream),
                       f = dsa_decode(L, Residency::kPrefetch);
        s.mtp = f.mtp = mtp;
        const Cycle stream = simulate_cycles(s, hw), prefetch = simulate_cycles(f, hw);
        INFO("window " << window << " MTP " << mtp << " L = " << L << ": stream " << stream
                       << ", prefetch " << prefetch << " cycles");
        CHECK(prefetch <= stream);
      }
    }
  }
}
