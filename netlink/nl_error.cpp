#include "netlink/nl_error.h"

#include <netlink/errno.h>

#include <cerrno>
#include <cstdlib>

namespace netpolicy::netlink {

int errno_from_nl(int nl_error) {
  switch (std::abs(nl_error)) {
    case NLE_SUCCESS:
      return 0;
    case NLE_INTR:
      return EINTR;
    case NLE_DUMP_INTR:
      return EINTR;  // the kernel's dump was inconsistent
    case NLE_BAD_SOCK:
      return EBADF;
    case NLE_AGAIN:
      return EAGAIN;
    case NLE_NOMEM:
      return ENOMEM;  // also what libnl makes of ENOBUFS
    case NLE_EXIST:
      return EEXIST;
    case NLE_INVAL:
      return EINVAL;
    case NLE_RANGE:
      return ERANGE;
    case NLE_MSGSIZE:
      return EMSGSIZE;
    case NLE_MSG_OVERFLOW:
      return EMSGSIZE;
    case NLE_MSG_TRUNC:
      return EMSGSIZE;
    case NLE_OPNOTSUPP:
      return EOPNOTSUPP;
    case NLE_AF_NOSUPPORT:
      return EAFNOSUPPORT;
    case NLE_OBJ_NOTFOUND:
      return ENOENT;
    case NLE_NOADDR:
      return EADDRNOTAVAIL;
    case NLE_BUSY:
      return EBUSY;
    case NLE_PROTO_MISMATCH:
      return EPROTONOSUPPORT;
    case NLE_NOACCESS:
      return EACCES;
    case NLE_PERM:
      return EPERM;
    case NLE_NODEV:
      return ENODEV;
    case NLE_IMMUTABLE:
      return EPERM;
    case NLE_SEQ_MISMATCH:
      return EPROTO;
    case NLE_MSG_TOOSHORT:
      return EBADMSG;
    case NLE_MSGTYPE_NOSUPPORT:
      return EBADMSG;
    case NLE_ATTRSIZE:
      return EBADMSG;
    default:
      return EIO;
  }
}

}  // namespace netpolicy::netlink
