#pragma once
// A one-shot, consistent listing of the host's interfaces and addresses
// (RTM_GETLINK + RTM_GETADDR dumps through libnl-route).
#include "base/error.h"
#include "base/interface_view.h"

namespace netpolicy::netlink {

// Dumps links and addresses. A dump the kernel flags as interrupted
// (NLM_F_DUMP_INTR) is retried, up to `attempts` times; if none is
// consistent the result is an Error (EINTR), never a partial list.
Result<InterfaceView> list_interfaces(int attempts = 5);

}  // namespace netpolicy::netlink
