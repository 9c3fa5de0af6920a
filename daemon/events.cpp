#include "daemon/events.h"
