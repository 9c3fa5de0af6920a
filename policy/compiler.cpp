#include "policy/compiler.h"
