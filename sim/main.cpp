// Placeholder entry point; the CLI lands with the executor.
#include <systemc>

int sc_main(int, char*[]) { return 0; }
