// Loads the simulator library that the tpusim executable carries inside itself (an embedded
// shared object, see CMakeLists.txt): libsystemc and the chip model are loaded only by commands
// that simulate, and the executable stays one relocatable file. The bytes go to an anonymous
// memory file (or, where that is refused, a temporary file that is removed at once) and
// dlopen maps them like any library; libsystemc itself comes from the system's library path.

#include "sim/simulator_library.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/file_io.h"

extern "C" const unsigned char tpusim_simulator_so_start[];
extern "C" const unsigned char tpusim_simulator_so_end[];

namespace tpusim {

namespace {

Simulator entry_of(void* lib) {
  auto entry = reinterpret_cast<Simulator (*)()>(::dlsym(lib, "tpusim_simulator"));
  if (!entry) throw SimError("cannot load the simulator: no entry point in the library");
  return entry();
}

// libsystemc's static initialisers allocate and clear a 3 MiB scratch heap (sc_temp_heap, 0x300000
// bytes). glibc serves a block that large from a fresh mapping, and clearing it takes 768 page
// faults, each a trap that costs several microseconds on the virtual machines tpusim runs on: a
// third of the parent's time in a decode run (measured: 26.5 ms of CPU and 1180 page faults in
// the parent before, 17.5 ms and 330 with this). So before the load, blocks up to 8 MiB come from
// the main heap, and the heap's top is grown by a region of transparent huge pages (where the
// kernel grants them) populated in one call; freed, it is where that block lands. Only the load's
// cost changes: where the allocator or the kernel does not do what is asked, pages fault in one by
// one as before.
void prepare_heap_for_systemc() {
#if defined(__GLIBC__)
  constexpr std::size_t kRegion = std::size_t{6} << 20;  // the 3 MiB block and its 2 MiB pages
  // glibc's dynamic thresholds reach such values by themselves once a block this large has been
  // freed; the trim threshold keeps the region at the heap's top until the block takes it.
  if (::mallopt(M_MMAP_THRESHOLD, 8 << 20) == 0 || ::mallopt(M_TRIM_THRESHOLD, 16 << 20) == 0)
    return;
  void* block = std::malloc(kRegion);
  if (block == nullptr) return;
  // Only the whole huge pages inside the region: the block, 2 MiB-aligned and rounded to 4 MiB by
  // the executable's operator new (sim/large_blocks.cpp), lands on exactly those, and the 4-KiB
  // pages at the region's edges that were populated with them went unused (tests/bench/RESULTS.md).
  // Offsets from the block rather than casts back from integers, so the pointers keep their
  // provenance.
  constexpr std::uintptr_t kHuge = std::uintptr_t{2} << 20;
  const std::uintptr_t start = reinterpret_cast<std::uintptr_t>(block);
  char* const from = static_cast<char*>(block) + (kHuge - start % kHuge) % kHuge;
  char* const to = static_cast<char*>(block) + kRegion - (start + kRegion) % kHuge;
  const auto length = static_cast<std::size_t>(to - from);
#ifndef MADV_POPULATE_WRITE
  constexpr int MADV_POPULATE_WRITE = 23;  // Linux 5.14; older kernels refuse it
#endif
  ::madvise(from, length, MADV_HUGEPAGE);
  ::madvise(from, length, MADV_POPULATE_WRITE);
  std::free(block);
#endif
}

void* dlopen_prepared(const char* path) {
  prepare_heap_for_systemc();
  void* lib = ::dlopen(path, RTLD_NOW | RTLD_LOCAL);
#if defined(__GLIBC__)
  // The part of the region libsystemc did not take goes back to the kernel: left at the heap's
  // top, the forked simulations' first allocations landed on its pages, and each write was a
  // copy-on-write fault, dearer than the fresh page it replaces (paired runs: without this the
  // children spent about as much more CPU as the parent saved).
  ::malloc_trim(0);
#endif
  return lib;
}

}  // namespace

Simulator load_embedded_simulator() {
  // For profilers, which cannot read symbols from a memory file: the same library from the build
  // tree (build/simulator/tpusim_simulator.so), which must match this executable.
  if (const char* file = std::getenv("TPUSIM_SIMULATOR_LIB"); file && *file) {
    void* lib = dlopen_prepared(file);
    if (!lib) throw SimError(std::string("TPUSIM_SIMULATOR_LIB: ") + ::dlerror());
    return entry_of(lib);
  }
  // Written straight from the executable's image: a copy on the heap first faulted in a fresh
  // page per 4 KiB of the library, in every process that simulates.
  const std::string_view bytes(
      reinterpret_cast<const char*>(tpusim_simulator_so_start),
      static_cast<std::size_t>(tpusim_simulator_so_end - tpusim_simulator_so_start));
  std::string path;
  int fd = ::memfd_create("tpusim-simulator", MFD_CLOEXEC);
  if (fd >= 0) {
    path = fmt::format("/proc/self/fd/{}", fd);
  } else {
    const char* dir = std::getenv("TMPDIR");
    std::string tmpl = std::string(dir && *dir ? dir : "/tmp") + "/tpusim-simulator-XXXXXX";
    fd = ::mkstemp(tmpl.data());
    if (fd < 0)
      throw SimError(
          fmt::format("cannot load the simulator: no memory file and no temporary "
                      "file in '{}': {}",
                      tmpl, std::strerror(errno)));
    path = tmpl;
  }
  const bool temporary_file = path.rfind("/proc/", 0) != 0;
  void* lib = nullptr;
  std::string error;
  try {
    write_all_fd(fd, bytes, "the simulator library");
    lib = dlopen_prepared(path.c_str());
    if (!lib) error = ::dlerror();
  } catch (const UserError& e) {
    error = e.what();
  }
  ::close(fd);
  if (temporary_file) ::unlink(path.c_str());
  if (!lib) throw SimError("cannot load the simulator: " + error);
  return entry_of(lib);
}

}  // namespace tpusim
