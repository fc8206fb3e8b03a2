// Must not build: workloads/ sits below sim/.
#include "sim/report.h"
