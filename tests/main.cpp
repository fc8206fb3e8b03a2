// The test binary's entry: SystemC owns sc_main, so Catch2 runs inside it. ctest runs each
// TEST_CASE in its own process (catch_discover_tests), because SystemC elaborates one model per
// process.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <systemc>

#include <cstdlib>

#include "sim/simulation.h"

int sc_main(int argc, char* argv[]) {
  return Catch::Session().run(argc, argv);
}

// Our own main: the SystemC banner is printed before sc_main runs, and catch_discover_tests runs
// this binary during the build, so the variable that silences it must be set first.
int main(int argc, char* argv[]) {
  ::setenv("SC_COPYRIGHT_MESSAGE", "DISABLE", 1);
  // The tests link the simulation itself (the executable loads it from its embedded library).
  tpusim::set_simulator_loader([]() -> tpusim::Simulator { return &tpusim::simulate_on_chip; });
  return sc_core::sc_elab_and_sim(argc, argv);
}
