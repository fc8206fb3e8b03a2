// The test binary's entry: SystemC owns main(), so Catch2 runs inside sc_main. ctest runs each
// TEST_CASE in its own process (catch_discover_tests), because SystemC elaborates one model per
// process.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <systemc>

int sc_main(int argc, char* argv[]) {
  return Catch::Session().run(argc, argv);
}
