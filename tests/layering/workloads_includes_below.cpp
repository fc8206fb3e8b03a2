// Must build: the probes that fail do so for the layering, not for a broken setup.
#include "models/hw_config.h"
#include "workloads/workload.h"
