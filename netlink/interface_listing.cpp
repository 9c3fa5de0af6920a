#include "netlink/interface_listing.h"
