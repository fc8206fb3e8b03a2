// scripts/build.sh with a stand-in `cmake` first on PATH (no real build in a unit test): the
// README's `scripts/build.sh && build/tpusim run` must print only the table on stdout, so the
// script's stdout stays empty while progress, warnings and errors go to stderr, and a failed
// build is reported with the build's own exit code.
#include <catch2/catch.hpp>

#include <fstream>
#include <string>

#include "tests/cli/script_util.h"

namespace {

using tpusim_test::read_text;
using tpusim_test::ScratchDir;
using tpusim_test::sh;

const std::string kBuildSh = std::string(TPUSIM_SOURCE_DIR) + "/scripts/build.sh";

// A cmake that talks like CMake's Makefile generator: configure chatter on stdout, then build
// lines with percentages, a compiler warning, bookkeeping lines; exits with $FAKE_BUILD_RC.
void write_fake_cmake(const std::string& dir) {
  std::ofstream f(dir + "/bin/cmake");
  f << "#!/bin/sh\n"
       "if [ \"$1\" != --build ]; then echo '-- Configuring done'; exit 0; fi\n"
       "echo 'Consolidate compiler generated dependencies of target tpusim_core'\n"
       "echo '[  2%] Building CXX object CMakeFiles/tpusim_core.dir/sim/config.cpp.o'\n"
       "echo 'sim/config.cpp:1:1: warning: unused variable' >&2\n"
       "echo '[ 50%] Built target tpusim_core'\n"
       "echo '[ 98%] Linking CXX executable tpusim'\n"
       "echo '[100%] Built target tpusim'\n"
       "exit ${FAKE_BUILD_RC:-0}\n";
}

}  // namespace

TEST_CASE("build.sh: stdout stays empty, progress and warnings on stderr, exit code kept",
          "[scripts]") {
  ScratchDir dir;
  REQUIRE(sh("mkdir " + (dir / "bin") + " " + (dir / "build")) == 0);
  write_fake_cmake(dir.path());
  { std::ofstream(dir / "build/tpusim") << "#!/bin/sh\n"; }
  REQUIRE(sh("chmod +x " + (dir / "bin/cmake") + " " + (dir / "build/tpusim")) == 0);
  const std::string env =
      "PATH=" + (dir / "bin") + ":$PATH TPUSIM_BUILD_DIR=" + (dir / "build") + " ";

  // stderr is a file here, not a terminal: one line per compiled or linked file.
  REQUIRE(sh(env + kBuildSh + " >" + (dir / "out.txt") + " 2>" + (dir / "err.txt")) == 0);
  CHECK(read_text(dir / "out.txt").empty());
  std::string err = read_text(dir / "err.txt");
  INFO(err);
  CHECK(err.find("configuring") != std::string::npos);  // no CMakeCache.txt yet: a first build
  CHECK(err.find("build:   2% sim/config.cpp\n") != std::string::npos);
  CHECK(err.find("build:  98% linking tpusim\n") != std::string::npos);
  CHECK(err.find("sim/config.cpp:1:1: warning: unused variable\n") != std::string::npos);
  CHECK(err.find("build: 2 steps in ") != std::string::npos);
  CHECK(err.find("Built target") == std::string::npos);
  CHECK(err.find("Consolidate") == std::string::npos);
  CHECK(err.find("-- Configuring") == std::string::npos);

  // A failed build: its exit code, a last line saying so, still nothing on stdout.
  CHECK(sh(env + "FAKE_BUILD_RC=3 " + kBuildSh + " >" + (dir / "out.txt") + " 2>" +
           (dir / "err.txt")) == 3);
  CHECK(read_text(dir / "out.txt").empty());
  CHECK(read_text(dir / "err.txt").find("build.sh: error: the build failed (exit 3)") !=
        std::string::npos);
}
