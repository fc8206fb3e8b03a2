// Large allocations on transparent huge pages.
//
// The first write to a fresh 4-KiB page is a page fault, and on the virtual machines tpusim
// runs on a fault costs microseconds. The vectors that grow with a trace or a run (the
// instructions, the per-instruction records) double their way up to tens of MiB, so a long run
// spent a noticeable part of its time, and trace generation about half of its, faulting pages
// in one by one (tests/bench/RESULTS.md has the counts). Blocks of a huge page (2 MiB) or more
// are therefore allocated aligned to one, rounded to whole ones, and marked MADV_HUGEPAGE
// (honoured where transparent huge pages are "madvise" or "always"): one fault per 2 MiB.
// Every block still comes from the C allocator and goes back through free(), so a block
// released by another copy of the standard operators (the simulator library and libsystemc
// keep their own) is no concern. Only the time to first touch changes, never a result.
//
// Linked into the executable and the simulator library (CMakeLists.txt), not into the layers'
// libraries: replacing the global operators is a decision for a program, not a library.
// Sanitizer builds keep their own operators, which check new/delete pairing.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)

namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;

void* allocate(std::size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (bytes >= kHugePage) {
    if (bytes > SIZE_MAX - kHugePage) throw std::bad_alloc();  // the rounding would wrap
    // Aligned and rounded to whole huge pages, so that no part of the block faults page by page.
    const std::size_t rounded = (bytes + kHugePage - 1) & ~(kHugePage - 1);
    if (void* p = std::aligned_alloc(kHugePage, rounded)) {
      // Advice only: where the kernel refuses it, pages fault in one by one as before.
      ::madvise(p, rounded, MADV_HUGEPAGE);
      return p;
    }
    throw std::bad_alloc();
  }
#endif
  void* p = std::malloc(bytes == 0 ? 1 : bytes);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

void* operator new(std::size_t bytes) {
  return allocate(bytes);
}
void* operator new[](std::size_t bytes) {
  return allocate(bytes);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}

#endif
