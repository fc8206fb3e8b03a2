#pragma once
/// TraceBuilder: emits instructions with increasing ids, earlier-only dependencies and tags, and
/// hands out SRAM buffers (a stack with marks) and HBM regions (a bump allocator) for lowerings.

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "traces/isa.h"
#include "traces/packed_trace.h"

namespace tpusim {

/// Marks "no instruction" in a dependency list; the builder drops it.
constexpr std::uint64_t kNoId = ~std::uint64_t{0};

/// A named HBM region (for meta lines and debugging).
struct HbmRegion {
  std::string name;
  std::uint64_t base = 0;
  std::uint64_t bytes = 0;
};

class TraceBuilder {
 public:
  /// SRAM buffers start on this boundary so no two buffers share an SRAM interleave granule,
  /// which would make unrelated operands look like bank conflicts.
  static constexpr std::uint64_t kSramAlign = 512;

  /// `sram_bytes` is sram.capacity_bytes(); `hbm_bytes` is hbm.capacity_bytes().
  TraceBuilder(std::uint64_t sram_bytes, std::uint64_t hbm_bytes);

  // --- SRAM: a stack. Buffers allocated after a mark are freed together by release(mark).
  /// Pins `bytes` at the bottom of SRAM for data that outlives the step (indexer keys); must be
  /// called before any sram_alloc. Throws UserError naming sram.residency_mib if it cannot fit.
  std::uint64_t sram_pin(std::uint64_t bytes);
  /// A buffer of `bytes`; throws UserError naming sram.capacity_mib and `what` if it cannot fit.
  std::uint64_t sram_alloc(std::uint64_t bytes, std::string_view what);
  std::uint64_t sram_mark() const { return m_sram_top; }
  void sram_release(std::uint64_t mark);
  /// Bytes still free above the stack top.
  std::uint64_t sram_free() const { return m_sram_capacity - m_sram_top; }
  /// Bytes held by sram_pin (indexer keys and cached rows), rounded as allocated.
  std::uint64_t sram_pinned() const { return m_sram_pinned; }
  std::uint64_t sram_capacity() const { return m_sram_capacity; }
  std::uint64_t sram_peak() const { return m_sram_peak; }

  // --- HBM: named regions, bump-allocated. Throws UserError naming hbm.capacity_gib.
  std::uint64_t hbm_region(std::string name, std::uint64_t bytes);
  const std::vector<HbmRegion>& hbm_regions() const { return m_regions; }

  // --- Instructions. Each returns the new id; deps equal to kNoId are ignored.
  using Deps = std::initializer_list<std::uint64_t>;
  std::uint64_t load(std::string_view tag, std::uint64_t hbm, std::uint64_t sram,
                     std::uint64_t bytes, const std::vector<std::uint64_t>& deps);
  std::uint64_t store(std::string_view tag, std::uint64_t sram, std::uint64_t hbm,
                      std::uint64_t bytes, const std::vector<std::uint64_t>& deps);
  /// A 2-D store: `rows` rows of `row_bytes`, packed in SRAM, `stride` bytes apart in HBM.
  std::uint64_t store_2d(std::string_view tag, std::uint64_t sram, std::uint64_t hbm,
                         std::uint64_t rows, std::uint64_t row_bytes, std::uint64_t stride,
                         const std::vector<std::uint64_t>& deps);
  std::uint64_t gather(std::string_view tag, std::uint64_t hbm, std::uint64_t sram,
                       std::uint64_t span, std::uint64_t rows, std::uint64_t row_bytes,
                       const GatherPattern& pattern, std::uint64_t seed,
                       const std::vector<std::uint64_t>& deps);
  std::uint64_t matmul(std::string_view tag, std::uint64_t m, std::uint64_t n, std::uint64_t k,
                       DType dtype, std::uint64_t a, std::uint64_t b, std::uint64_t c,
                       const std::vector<std::uint64_t>& deps);
  /// `row` > 0 makes sum/max/softmax/rmsnorm a reduction over rows of `row` elements
  /// (sum and max then write elems/row results).
  std::uint64_t vpu(std::string_view tag, Op op, std::uint64_t elems, std::uint64_t src,
                    std::uint64_t dst, const std::vector<std::uint64_t>& deps,
                    std::uint64_t row = 0);
  std::uint64_t topk(std::string_view tag, std::uint64_t rows, std::uint64_t n, std::uint64_t k,
                     std::uint64_t src, std::uint64_t dst, const std::vector<std::uint64_t>& deps,
                     std::uint64_t cand = 0);

  /// Adds a `meta KEY=VALUE` entry (workload parameters, tile sizes).
  void meta(std::string key, std::string value);

  /// The instructions emitted so far, packed; the builder holds none afterwards.
  PackedTrace take_instructions();
  TagTable& tags() { return m_tags; }
  TraceMeta& trace_meta() { return m_meta; }

 private:
  /// The new instruction, which the caller fills in; it is packed when the next one is emitted
  /// (or at take_instructions), so the reference is valid until then.
  Instruction& emit(std::string_view tag, Op op, const std::vector<std::uint64_t>& deps);
  void flush_pending();
  void check_sram(std::uint64_t addr, std::uint64_t bytes, const char* what) const;

  PackedTrace m_instructions;
  Instruction m_pending;  ///< the last emitted instruction, not yet packed
  bool m_has_pending = false;
  std::vector<std::uint64_t> m_deps;  ///< emit's scratch
  TagTable m_tags;
  TraceMeta m_meta;
  std::uint64_t m_sram_capacity;
  std::uint64_t m_sram_pinned = 0;
  std::uint64_t m_sram_top = 0;
  std::uint64_t m_sram_peak = 0;
  std::uint64_t m_hbm_capacity;
  std::uint64_t m_hbm_top = 0;
  std::vector<HbmRegion> m_regions;
};

}  // namespace tpusim
