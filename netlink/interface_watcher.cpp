#include "netlink/interface_watcher.h"

#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <climits>
#include <new>

#include "netlink/nl_error.h"
#include "netlink/nl_handles.h"

namespace netpolicy::netlink {
namespace {

// Room for any one datagram: notifications are one message each, and the
// kernel caps a dump's datagrams at 32 KiB (netlink_recvmsg, 6.18).
constexpr std::size_t kBufferBytes = 64 << 10;
// The kernel answers a dump at once; this only guards against a stuck loop.
constexpr int kDumpWaitMs = 2000;

Result<NlSocketPtr> open_route_socket() {
  NlSocketPtr sock{nl_socket_alloc()};
  if (!sock) return errno_error("Failed to allocate a netlink socket", ENOMEM);
  if (int err = nl_connect(sock.get(), NETLINK_ROUTE); err < 0)
    return errno_error("Failed to open a netlink socket 'NETLINK_ROUTE'", errno_from_nl(err));
  return sock;
}

}  // namespace

struct InterfaceWatcher::Impl {
  enum class DumpOutcome { consistent, interrupted };
  Impl(NlSocketPtr events_socket, NlSocketPtr dump_socket)
      : events(std::move(events_socket)), dumps(std::move(dump_socket)), buffer(kBufferBytes) {}
  Status set_receive_buffer(std::uint64_t bytes);
  Result<Batch> read_events(std::size_t max_messages);
  Result<DumpOutcome> dump(std::uint16_t type, InterfaceTable& into);
  Result<DumpOutcome> dump_once(InterfaceTable& into);
  Status resync(int attempts);
  Status reopen_dump_socket();

  NlSocketPtr events;
  NlSocketPtr dumps;
  std::vector<char> buffer;
  InterfaceTable table;
  bool complete = false;
  std::uint32_t dump_seq = 0;
  int receive_buffer = 0;
  bool buffer_forced = false;
};

Result<std::unique_ptr<InterfaceWatcher>> InterfaceWatcher::open(std::uint64_t receive_buffer) {
  auto events = open_route_socket();
  if (!events) return events.error();
  auto dumps = open_route_socket();
  if (!dumps) return dumps.error();
  auto impl = std::make_unique<Impl>(std::move(events).value(), std::move(dumps).value());
  if (Status s = impl->set_receive_buffer(receive_buffer); !s) return s.error();
  Impl* w = impl.get();
  std::unique_ptr<InterfaceWatcher> watcher(new InterfaceWatcher(std::move(impl)));

  if (int err = nl_socket_add_memberships(w->events.get(), RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR,
                                          RTNLGRP_IPV6_IFADDR, 0);
      err < 0)
    return errno_error("Failed to subscribe to link and address changes", errno_from_nl(err));
  if (int err = nl_socket_set_nonblocking(w->events.get()); err < 0)
    return errno_error("Failed to make the interface watcher's socket non-blocking",
                       errno_from_nl(err));
  return watcher;
}

InterfaceWatcher::InterfaceWatcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
InterfaceWatcher::~InterfaceWatcher() = default;

int InterfaceWatcher::fd() const { return nl_socket_get_fd(impl_->events.get()); }
int InterfaceWatcher::receive_buffer() const { return impl_->receive_buffer; }
bool InterfaceWatcher::buffer_forced() const { return impl_->buffer_forced; }
InterfaceView InterfaceWatcher::view() const { return impl_->table.view(impl_->complete); }
bool InterfaceWatcher::complete() const { return impl_->complete; }
std::size_t InterfaceWatcher::size() const { return impl_->table.size(); }
Status InterfaceWatcher::set_receive_buffer(std::uint64_t bytes) {
  return impl_->set_receive_buffer(bytes);
}
Result<InterfaceWatcher::Batch> InterfaceWatcher::read_events(std::size_t max_messages) {
  return impl_->read_events(max_messages);
}
Status InterfaceWatcher::resync(int attempts) { return impl_->resync(attempts); }

Status InterfaceWatcher::Impl::set_receive_buffer(std::uint64_t bytes) {
  const int fd = nl_socket_get_fd(events.get());
  const int asked = static_cast<int>(std::min<std::uint64_t>(bytes, INT_MAX / 2));
  // SO_RCVBUFFORCE needs CAP_NET_ADMIN and ignores net.core.rmem_max;
  // SO_RCVBUF is capped by it (212,992 bytes by default).
  buffer_forced = setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &asked, sizeof asked) == 0;
  if (!buffer_forced && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &asked, sizeof asked) < 0)
    return errno_error("Failed to set the receive buffer of the interface watcher's socket to " +
                           std::to_string(bytes) + " bytes",
                       errno);
  socklen_t len = sizeof receive_buffer;
  if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, &len) < 0)
    return errno_error("Failed to read the receive buffer of the interface watcher's socket",
                       errno);
  return Ok{};
}

Result<InterfaceWatcher::Batch> InterfaceWatcher::Impl::read_events(std::size_t max_messages) {
  Batch batch;
  const int fd = nl_socket_get_fd(events.get());
  try {
    while (batch.messages < max_messages) {
      sockaddr_nl from{};
      iovec iov{buffer.data(), buffer.size()};
      msghdr mh{};
      mh.msg_name = &from;
      mh.msg_namelen = sizeof from;
      mh.msg_iov = &iov;
      mh.msg_iovlen = 1;
      const ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);
      if (n < 0) {
        const int e = errno;
        if (e == EINTR) continue;
        if (e == EAGAIN || e == EWOULDBLOCK) return batch;
        if (e == ENOBUFS) {
          // The kernel dropped events for us; the queue still holds the
          // rest. Keep reading: a dump after the queue is drained covers
          // everything that was lost.
          batch.overrun = true;
          complete = false;
          continue;
        }
        complete = false;
        return errno_error("Failed to read link and address events", e);
      }
      if ((mh.msg_flags & MSG_TRUNC) != 0) {  // a lost event, as good as an overrun
        batch.overrun = true;
        complete = false;
        continue;
      }
      if (from.nl_pid != 0) continue;  // only the kernel speaks for the kernel
      std::size_t left = static_cast<std::size_t>(n);
      for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buffer.data());
           left >= NLMSG_HDRLEN && nlh->nlmsg_len >= NLMSG_HDRLEN && nlh->nlmsg_len <= left;) {
        ++batch.messages;
        if (auto event = parse_interface_event(nlh, left)) {
          std::string name =
              event->name.empty() ? table.name_of(event->ifindex) : event->name;
          if (table.apply(*event)) batch.changed.push_back({event->ifindex, std::move(name)});
        }
        const std::size_t step = NLMSG_ALIGN(nlh->nlmsg_len);
        if (step >= left) break;
        left -= step;
        nlh = reinterpret_cast<const nlmsghdr*>(reinterpret_cast<const char*>(nlh) + step);
      }
    }
  } catch (const std::bad_alloc&) {
    // The message is consumed but not in the view: as good as lost.
    complete = false;
    return errno_error("Failed to record link and address events", ENOMEM);
  }
  batch.more = true;
  return batch;
}

Status InterfaceWatcher::Impl::reopen_dump_socket() {
  auto sock = open_route_socket();
  if (!sock) return sock.error();
  dumps = std::move(sock).value();
  return Ok{};
}

// One RTM_GETLINK or RTM_GETADDR dump into `into`, read to its end even
// when interrupted so nothing of it is left in the socket.
Result<InterfaceWatcher::Impl::DumpOutcome> InterfaceWatcher::Impl::dump(std::uint16_t type,
                                                                         InterfaceTable& into) {
  const int fd = nl_socket_get_fd(dumps.get());
  const std::uint32_t seq = ++dump_seq;
  struct {
    nlmsghdr header;
    union {
      ifinfomsg link;
      ifaddrmsg addr;
    } body;
    rtattr mask_attr;
    std::uint32_t mask;
  } request{};
  // Links: no statistics (IFLA_EXT_MASK RTEXT_FILTER_SKIP_STATS): we need
  // names only, and the kernel spends a tenth of a veth dump on counters.
  const std::size_t body = type == RTM_GETLINK
                               ? NLMSG_ALIGN(sizeof(ifinfomsg)) + RTA_LENGTH(sizeof(std::uint32_t))
                               : sizeof(ifaddrmsg);
  static_assert(sizeof(ifinfomsg) % 4 == 0 && sizeof(rtattr) == 4);
  if (type == RTM_GETLINK) {
    request.mask_attr.rta_type = IFLA_EXT_MASK;
    request.mask_attr.rta_len = static_cast<std::uint16_t>(RTA_LENGTH(sizeof(std::uint32_t)));
    request.mask = RTEXT_FILTER_SKIP_STATS;
  }
  request.header.nlmsg_len = static_cast<std::uint32_t>(NLMSG_LENGTH(body));
  request.header.nlmsg_type = type;
  request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  request.header.nlmsg_seq = seq;
  const char* what = type == RTM_GETLINK ? "links" : "addresses";
  if (send(fd, &request, request.header.nlmsg_len, 0) < 0)
    return errno_error(std::string{"Failed to request a dump of the "} + what, errno);

  bool interrupted = false;
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    const int ready = poll(&p, 1, kDumpWaitMs);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      const int e = ready < 0 ? errno : ETIMEDOUT;
      (void)reopen_dump_socket();  // whatever is still coming must not meet the next dump
      return errno_error(std::string{"Failed to read the dump of the "} + what, e);
    }
    const ssize_t n = recv(fd, buffer.data(), buffer.size(), MSG_TRUNC);
    if (n < 0) {
      const int e = errno;
      if (e == EINTR) continue;
      (void)reopen_dump_socket();
      return errno_error(std::string{"Failed to read the dump of the "} + what, e);
    }
    if (static_cast<std::size_t>(n) > buffer.size()) {
      (void)reopen_dump_socket();
      return errno_error(std::string{"Failed to read the dump of the "} + what, EMSGSIZE);
    }
    std::size_t left = static_cast<std::size_t>(n);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buffer.data());
         left >= NLMSG_HDRLEN && nlh->nlmsg_len >= NLMSG_HDRLEN && nlh->nlmsg_len <= left;) {
      if (nlh->nlmsg_seq == seq) {
        if ((nlh->nlmsg_flags & NLM_F_DUMP_INTR) != 0) interrupted = true;
        if (nlh->nlmsg_type == NLMSG_DONE)
          return interrupted ? DumpOutcome::interrupted : DumpOutcome::consistent;
        if (nlh->nlmsg_type == NLMSG_ERROR) {
          const auto* err = static_cast<const nlmsgerr*>(nlmsg_data(nlh));
          const int e = nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(nlmsgerr)) && err->error < 0
                            ? -err->error
                            : EIO;
          return errno_error(std::string{"Failed to dump the "} + what, e);
        }
        if (auto event = parse_interface_event(nlh, left)) into.apply(*event);
      }
      const std::size_t step = NLMSG_ALIGN(nlh->nlmsg_len);
      if (step >= left) break;
      left -= step;
      nlh = reinterpret_cast<const nlmsghdr*>(reinterpret_cast<const char*>(nlh) + step);
    }
  }
}

Result<InterfaceWatcher::Impl::DumpOutcome> InterfaceWatcher::Impl::dump_once(InterfaceTable& into) {
  auto links = dump(RTM_GETLINK, into);
  if (!links || *links == DumpOutcome::interrupted) return links;
  // Addresses of links created after the link dump are dropped here; their
  // link and address events are queued, and applied after the dump.
  return dump(RTM_GETADDR, into);
}

Status InterfaceWatcher::Impl::resync(int attempts) {
  try {
    // Events queued before the dump: the dump will say all they say. An
    // overrun among them is covered by the dump too.
    auto before = read_events(SIZE_MAX);
    if (!before && before.error().error_code != ENOMEM) return before.error();

    for (int attempt = 0; attempt < std::max(attempts, 1); ++attempt) {
      InterfaceTable fresh;
      auto outcome = dump_once(fresh);
      if (!outcome) {
        complete = false;
        return outcome.error();
      }
      if (*outcome == DumpOutcome::interrupted) continue;
      table = std::move(fresh);
      complete = true;
      // Events from during the dump, on top of it. An overrun here lost
      // events the dump may not show: not consistent yet.
      auto after = read_events(SIZE_MAX);
      if (!after) return after.error();  // read_events cleared complete
      if (after->overrun)
        return errno_error("Failed to keep up with link and address events during the dump",
                           ENOBUFS);
      return Ok{};
    }
    complete = false;
    return errno_error("Failed to get a consistent dump of links and addresses (NLM_F_DUMP_INTR) in " +
                           std::to_string(std::max(attempts, 1)) + " attempts",
                       EINTR);
  } catch (const std::bad_alloc&) {
    complete = false;
    return errno_error("Failed to dump links and addresses", ENOMEM);
  }
}

}  // namespace netpolicy::netlink
