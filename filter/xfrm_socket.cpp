#include "filter/xfrm_socket.h"

#include <linux/xfrm.h>
#include <string.h>  // explicit_bzero
#include <sys/socket.h>

#include <cerrno>
#include <map>

namespace netpolicy::filter {

namespace {
// Messages per sendmsg: policies are ~300 bytes, SAs ~400, so ~200 of them
// per 64 KiB, well inside the default socket send buffer.
constexpr std::size_t kBatchBytes = 64 * 1024;
constexpr int kReceiveBuffer = 8 << 20;  // room for many error messages
constexpr std::size_t kReceiveChunk = 64 * 1024;

// The kernel's extended ACK text of an error message, if any.
std::string ack_detail(const nlmsghdr* nlh) {
  if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) == 0) return {};
  const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
  // With NETLINK_CAP_ACK the quoted request is its header only.
  std::size_t offset = sizeof(nlmsgerr);
  if ((nlh->nlmsg_flags & NLM_F_CAPPED) == 0) offset += err->msg.nlmsg_len - sizeof(nlmsghdr);
  const std::size_t payload = mnl_nlmsg_get_payload_len(nlh);
  if (offset >= payload) return {};
  const char* at = static_cast<const char*>(mnl_nlmsg_get_payload(nlh)) + offset;
  int remaining = static_cast<int>(payload - offset);
  while (remaining > 0) {
    const auto* attr = reinterpret_cast<const nlattr*>(at);
    if (!mnl_attr_ok(attr, remaining)) break;
    if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG) {
      const auto* text = static_cast<const char*>(mnl_attr_get_payload(attr));
      return std::string{text, strnlen(text, mnl_attr_get_payload_len(attr))};
    }
    const auto step = static_cast<int>(MNL_ALIGN(attr->nla_len));
    at += step;
    remaining -= step;
  }
  return {};
}
}  // namespace

XfrmSocket::XfrmSocket(MnlSocketPtr socket) : socket_(std::move(socket)), buf_(kReceiveChunk) {}

Result<std::unique_ptr<XfrmSocket>> XfrmSocket::open() {
  MnlSocketPtr socket{mnl_socket_open2(NETLINK_XFRM, SOCK_CLOEXEC)};
  if (!socket) {
    const int error = errno;
    return errno_error("Failed to open XFRM netlink socket", error);
  }
  if (mnl_socket_bind(socket.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    const int error = errno;
    return errno_error("Failed to bind XFRM netlink socket", error);
  }
  int one = 1;
  // Errors quote only the request's header, not all of it (which, for an
  // SA, would carry its keys back), and say why in text.
  mnl_socket_setsockopt(socket.get(), NETLINK_CAP_ACK, &one, sizeof one);
  mnl_socket_setsockopt(socket.get(), NETLINK_EXT_ACK, &one, sizeof one);
  const int fd = mnl_socket_get_fd(socket.get());
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &kReceiveBuffer, sizeof kReceiveBuffer) != 0)
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kReceiveBuffer, sizeof kReceiveBuffer);
  return std::unique_ptr<XfrmSocket>(new XfrmSocket(std::move(socket)));
}

Status XfrmSocket::receive(const std::function<Step(const nlmsghdr*)>& handle,
                           const std::string& what) {
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(socket_.get(), buf_.data(), buf_.size());
    if (n < 0) {
      const int error = errno;
      if (error == EINTR) continue;
      return errno_error("Failed to " + what, error);
    }
    Step step = Step::more;
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buf_.data());
         step == Step::more && mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
      step = handle(nlh);
    explicit_bzero(buf_.data(), static_cast<std::size_t>(n));
    if (step == Step::done) return Ok{};
  }
}

Result<std::optional<XfrmRefusal>> XfrmSocket::send_batch(std::size_t count,
                                                          const PutMessage& put) {
  if (count == 0) return std::optional<XfrmRefusal>{};
  std::vector<char> out(kBatchBytes + kXfrmMessageMax);
  std::map<std::uint32_t, std::size_t> index_of;  // seq -> message
  std::optional<XfrmRefusal> first;
  std::uint32_t last_seq = 0;
  std::size_t used = 0;
  Status sent = Ok{};
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint32_t seq = ++seq_;
    const bool last = i + 1 == count;
    used += put(i, out.data() + used, seq, last);
    index_of[seq] = i;
    last_seq = seq;
    if (used >= kBatchBytes || last) {
      if (mnl_socket_sendto(socket_.get(), out.data(), used) < 0) {
        const int error = errno;
        sent = errno_error("Failed to send XFRM messages", error);
        break;
      }
      explicit_bzero(out.data(), used);
      used = 0;
    }
  }
  explicit_bzero(out.data(), out.size());
  if (!sent) return sent.error();
  Status received = receive(
      [&](const nlmsghdr* nlh) {
        if (nlh->nlmsg_type != NLMSG_ERROR) return Step::more;
        const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
        if (err->error != 0) {
          auto it = index_of.find(nlh->nlmsg_seq);
          if (it != index_of.end() && (!first || it->second < first->index))
            first = XfrmRefusal{it->second, -err->error, ack_detail(nlh)};
        }
        return nlh->nlmsg_seq == last_seq ? Step::done : Step::more;
      },
      "read XFRM replies");
  if (!received) return received.error();
  return first;
}

Status XfrmSocket::dump(std::uint16_t request_type,
                        const std::function<void(const nlmsghdr*)>& on_message,
                        const std::string& what) {
  char req[kXfrmMessageMax];
  nlmsghdr* nlh = mnl_nlmsg_put_header(req);
  nlh->nlmsg_type = request_type;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  nlh->nlmsg_seq = ++seq_;
  const std::uint32_t seq = seq_;
  if (mnl_socket_sendto(socket_.get(), nlh, nlh->nlmsg_len) < 0) {
    const int error = errno;
    return errno_error("Failed to " + what, error);
  }
  int failed = 0;
  Status received = receive(
      [&](const nlmsghdr* m) {
        if (m->nlmsg_seq != seq) return Step::more;  // a stale reply
        // Interrupted: read to the end (so no stale reply is left) and fail.
        if ((m->nlmsg_flags & NLM_F_DUMP_INTR) != 0 && failed == 0) failed = EINTR;
        if (m->nlmsg_type == NLMSG_DONE) return Step::done;
        if (m->nlmsg_type == NLMSG_ERROR) {
          const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(m));
          failed = -err->error;
          return Step::done;
        }
        if (failed == 0) on_message(m);
        return Step::more;
      },
      what);
  if (!received) return received;
  if (failed == EINTR) return errno_error("Failed to " + what + " (changed while dumping)", EINTR);
  if (failed != 0) return errno_error("Failed to " + what, failed);
  return Ok{};
}

}  // namespace netpolicy::filter
