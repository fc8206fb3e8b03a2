// Loads the simulator library that the tpusim executable carries inside itself (an embedded
// shared object, see CMakeLists.txt): libsystemc and the chip model are loaded only by commands
// that simulate, and the executable stays one relocatable file. The bytes go to an anonymous
// memory file (or, where that is refused, a temporary file that is removed at once) and
// dlopen maps them like any library; libsystemc itself comes from the system's library path.

#include "sim/simulator_library.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

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

}  // namespace

Simulator load_embedded_simulator() {
  // For profilers, which cannot read symbols from a memory file: the same library from the build
  // tree (build/simulator/tpusim_simulator.so), which must match this executable.
  if (const char* file = std::getenv("TPUSIM_SIMULATOR_LIB"); file && *file) {
    void* lib = ::dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (!lib) throw SimError(std::string("TPUSIM_SIMULATOR_LIB: ") + ::dlerror());
    return entry_of(lib);
  }
  const std::string bytes(
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
    lib = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
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
