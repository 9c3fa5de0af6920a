#pragma once
// libnl reports failures as negative NLE_* codes and keeps no errno
// (nl_syserr2nlerr() maps the kernel's errno onto NLE_* and drops it).
// Everything above netlink/ speaks errno, so convert at the wrapper.

namespace netpolicy::netlink {

// The errno closest to libnl's code `nl_error` (negative or positive
// NLE_*); EIO for NLE_FAILURE and codes with no errno meaning.
int errno_from_nl(int nl_error);

}  // namespace netpolicy::netlink
