#include "filter/xfrm_events.h"

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/xfrm.h>
#include <sys/socket.h>

#include <string.h>  // explicit_bzero

#include <cerrno>
#include <cstring>

#include "filter/nft_handles.h"  // MnlSocketPtr
#include "filter/xfrm_address.h"

namespace netpolicy::filter {

struct XfrmEventSocket::Impl {
  MnlSocketPtr socket;
};

XfrmEventSocket::XfrmEventSocket(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
XfrmEventSocket::~XfrmEventSocket() = default;
int XfrmEventSocket::fd() const { return mnl_socket_get_fd(impl_->socket.get()); }

Result<std::unique_ptr<XfrmEventSocket>> XfrmEventSocket::open() {
  MnlSocketPtr socket{mnl_socket_open2(NETLINK_XFRM, SOCK_NONBLOCK | SOCK_CLOEXEC)};
  if (!socket) {
    const int error = errno;
    return errno_error("Failed to open XFRM event socket", error);
  }
  const unsigned groups = (1u << (XFRMNLGRP_ACQUIRE - 1)) | (1u << (XFRMNLGRP_SA - 1));
  if (mnl_socket_bind(socket.get(), groups, MNL_SOCKET_AUTOPID) < 0) {
    const int error = errno;
    return errno_error("Failed to subscribe to XFRM acquire and SA events", error);
  }
  auto impl = std::make_unique<Impl>();
  impl->socket = std::move(socket);
  return std::unique_ptr<XfrmEventSocket>(new XfrmEventSocket(std::move(impl)));
}

Result<std::vector<XfrmEvent>> XfrmEventSocket::read() {
  std::vector<XfrmEvent> events;
  std::vector<char> buf(64 * 1024);
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(impl_->socket.get(), buf.data(), buf.size());
    if (n < 0) {
      const int error = errno;
      if (error == EAGAIN || error == EWOULDBLOCK) return events;
      if (error == EINTR) continue;
      return errno_error("Failed to read XFRM events", error);
    }
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<nlmsghdr*>(buf.data()); mnl_nlmsg_ok(nlh, len);
         nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_type == XFRM_MSG_ACQUIRE &&
          nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(xfrm_user_acquire))) {
        const auto* a = static_cast<const xfrm_user_acquire*>(mnl_nlmsg_get_payload(nlh));
        XfrmEvent e;
        e.kind = XfrmEvent::Kind::acquire;
        e.flow.family = a->sel.family == AF_INET6 ? Family::ipv6 : Family::ipv4;
        e.flow.src = from_xfrm_address(a->sel.saddr, a->sel.family, a->sel.prefixlen_s);
        e.flow.dst = from_xfrm_address(a->sel.daddr, a->sel.family, a->sel.prefixlen_d);
        e.flow.proto = a->sel.proto;
        e.flow.sport = a->sel.sport_mask != 0 ? ntohs(a->sel.sport) : 0;
        e.flow.dport = a->sel.dport_mask != 0 ? ntohs(a->sel.dport) : 0;
        e.priority = a->policy.priority;
        e.peer = host_from_xfrm_address(a->id.daddr, a->policy.sel.family);
        // The template's reqid rides in XFRMA_TMPL.
        const std::size_t header = NLMSG_ALIGN(sizeof(xfrm_user_acquire));
        int remaining =
            static_cast<int>(mnl_nlmsg_get_payload_len(nlh)) - static_cast<int>(header);
        for (auto* attr = reinterpret_cast<const nlattr*>(
                 static_cast<const char*>(mnl_nlmsg_get_payload(nlh)) + header);
             remaining > 0 && mnl_attr_ok(attr, remaining);
             remaining -= static_cast<int>(MNL_ALIGN(attr->nla_len)),
                  attr = reinterpret_cast<const nlattr*>(reinterpret_cast<const char*>(attr) +
                                                         MNL_ALIGN(attr->nla_len))) {
          if (mnl_attr_get_type(attr) == XFRMA_TMPL &&
              mnl_attr_get_payload_len(attr) >= sizeof(xfrm_user_tmpl)) {
            const auto* t = static_cast<const xfrm_user_tmpl*>(mnl_attr_get_payload(attr));
            e.reqid = t->reqid;
            if (t->family != 0) e.peer = host_from_xfrm_address(a->id.daddr, t->family);
          }
        }
        events.push_back(e);
      } else if ((nlh->nlmsg_type == XFRM_MSG_NEWSA || nlh->nlmsg_type == XFRM_MSG_UPDSA) &&
                 nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(xfrm_usersa_info))) {
        const auto* s = static_cast<const xfrm_usersa_info*>(mnl_nlmsg_get_payload(nlh));
        XfrmEvent e;
        e.kind = XfrmEvent::Kind::sa_added;
        e.reqid = s->reqid;
        e.peer = host_from_xfrm_address(s->id.daddr, s->family);
        events.push_back(e);
      }
    }
    // SA notifications carry the new SA's keys (manual ones included).
    explicit_bzero(buf.data(), static_cast<std::size_t>(n));
  }
}

}  // namespace netpolicy::filter
