#pragma once
// XFRM SAs as netlink messages: XFRM_MSG_NEWSA to add one, DELSA to delete
// one, and the NEWSA replies of a GETSA dump. Internal to filter/ (and its
// unit test, which checks that a message parses back to the same SA).
#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <optional>

#include "filter/xfrm_sa.h"

namespace netpolicy::filter {

// Each writes one message into `buf` (at least kXfrmMessageMax bytes) and
// returns its length. The add message carries the keys: callers wipe it.
std::size_t put_sa_add(char* buf, const XfrmSa& sa, std::uint32_t seq, bool ack);
std::size_t put_sa_delete(char* buf, const XfrmSaId& id, std::uint32_t seq, bool ack);

// An SA as a dump reply (or an add message) describes it. An algorithm
// suite netpolicyd never writes comes back with empty keys, so it differs
// from anything wanted.
std::optional<XfrmSa> parse_sa(const nlmsghdr* nlh);

}  // namespace netpolicy::filter
