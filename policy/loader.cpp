#include "policy/loader.h"
