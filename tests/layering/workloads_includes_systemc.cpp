// Must not build: workloads/ compiles without SystemC.
#include <systemc>
