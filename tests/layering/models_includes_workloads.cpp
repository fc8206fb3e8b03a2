// Must not build: models/ sits below workloads/.
#include "workloads/workload.h"
