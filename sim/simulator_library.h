#pragma once
/// The tpusim executable's simulator loader (sim/simulator_library.cpp); pass it to
/// set_simulator_loader. The tests link the simulation directly instead.

#include "sim/simulation.h"

namespace tpusim {

/// Loads the embedded simulator library (libsystemc with it). Throws SimError when it cannot.
Simulator load_embedded_simulator();

}  // namespace tpusim
