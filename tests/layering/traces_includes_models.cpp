// Must not build: traces/ sits below models/.
#include "models/hbm.h"
