// Must not build: models/ sits below sim/.
#include "sim/config.h"
