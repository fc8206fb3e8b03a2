// The simulator library's entry (built as a shared object and embedded in the tpusim executable,
// see CMakeLists.txt and sim/simulator_library.cpp). Everything in the library is hidden except
// these two symbols, so its copies of the lower layers never mix with the executable's.

#include "sim/simulation.h"

// libsystemc refers to sc_main (its own main() calls it), so the library that loads it must
// define one; tpusim never runs SystemC's main().
extern "C" __attribute__((visibility("default"))) int sc_main(int, char**) {
  return 1;
}

extern "C" __attribute__((visibility("default"))) tpusim::Simulator tpusim_simulator() {
  return &tpusim::simulate_on_chip;
}
