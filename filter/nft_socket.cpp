#include "filter/nft_socket.h"

#include <poll.h>
#include <sys/socket.h>

#include <linux/netlink.h>

#include <cerrno>
#include <climits>

namespace netpolicy::filter {
namespace {

// Replies to a batch are small (capped ACKs), but an invalid batch can
// produce one error per message: 8 MiB holds several thousand of them.
// The replies are queued while the kernel processes our sendmsg, before we
// read any, so the buffer must hold them all at once.
constexpr int kReceiveBufferBytes = 8 << 20;
constexpr std::size_t kReceiveChunkBytes = 64 << 10;
// nf_tables handles a batch synchronously inside sendmsg, so its replies
// are queued when sendmsg returns; this wait only guards against a kernel
// that stops without acknowledging (e.g. after ENOMEM on its error list).
constexpr int kReplyWaitMs = 1000;

void set_int_option(int fd, int level, int name, int value) {
  // Best effort by design (see NftSocket::open); the result is ignored.
  (void)setsockopt(fd, level, name, &value, sizeof value);
}

struct ExtAckParse {
  std::string message;
};

int ext_ack_attribute(const nlattr* attr, void* data) {
  auto* out = static_cast<ExtAckParse*>(data);
  if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
      mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0) {
    out->message = mnl_attr_get_str(attr);
  }
  return MNL_CB_OK;
}

// The extended-ACK message of an error reply, if the kernel sent one.
std::string ext_ack_message(const nlmsghdr* nlh, const nlmsgerr* err) {
  if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) == 0) return {};
  std::size_t offset = sizeof(nlmsghdr) + sizeof(nlmsgerr);
  if ((nlh->nlmsg_flags & NLM_F_CAPPED) == 0) offset += err->msg.nlmsg_len - sizeof(nlmsghdr);
  if (offset >= nlh->nlmsg_len) return {};
  ExtAckParse parse;
  mnl_attr_parse_payload(reinterpret_cast<const char*>(nlh) + offset, nlh->nlmsg_len - offset,
                         ext_ack_attribute, &parse);
  return parse.message;
}

}  // namespace

Result<std::unique_ptr<NftSocket>> NftSocket::open() {
  MnlSocketPtr socket{mnl_socket_open(NETLINK_NETFILTER)};
  if (!socket) return errno_error("Failed to open an nfnetlink socket", errno);
  if (mnl_socket_bind(socket.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    return errno_error("Failed to bind the nfnetlink socket", errno);
  }
  const int fd = mnl_socket_get_fd(socket.get());
  set_int_option(fd, SOL_SOCKET, SO_RCVBUFFORCE, kReceiveBufferBytes);
  // Capped ACKs do not echo our (possibly huge) messages back; extended
  // ACKs add the kernel's message text when it has one.
  set_int_option(fd, SOL_NETLINK, NETLINK_CAP_ACK, 1);
  set_int_option(fd, SOL_NETLINK, NETLINK_EXT_ACK, 1);
  return std::unique_ptr<NftSocket>(new NftSocket(std::move(socket)));
}

NftSocket::NftSocket(MnlSocketPtr socket)
    : socket_(std::move(socket)), receive_buffer_(kReceiveChunkBytes) {}

NftSocket::~NftSocket() = default;

Status NftSocket::ensure_send_buffer(std::size_t batch_bytes) {
  // netlink_sendmsg refuses a message longer than sk_sndbuf - 32 with
  // EMSGSIZE; the kernel doubles the value we set. With the default
  // 212,992 bytes only ~480 rules fit in one batch.
  const std::size_t wanted = batch_bytes / 2 + 64 * 1024;
  if (wanted <= send_buffer_) return Ok{};
  if (wanted > static_cast<std::size_t>(INT_MAX)) {
    return errno_error("Failed to size the nftables send buffer for the batch", EMSGSIZE);
  }
  const int value = static_cast<int>(wanted);
  if (setsockopt(mnl_socket_get_fd(socket_.get()), SOL_SOCKET, SO_SNDBUFFORCE, &value,
                 sizeof value) < 0) {
    return errno_error("Failed to size the nftables send buffer for the batch", errno);
  }
  send_buffer_ = wanted;
  return Ok{};
}

void NftSocket::discard_stale_replies() {
  // Replies left from an earlier batch that ended early; they carry old
  // sequence numbers and would only be skipped later, so drop them now.
  const int fd = mnl_socket_get_fd(socket_.get());
  for (;;) {
    const ssize_t n = recv(fd, receive_buffer_.data(), receive_buffer_.size(), MSG_DONTWAIT);
    if (n < 0 && errno != EINTR && errno != ENOBUFS) return;
  }
}

Result<std::vector<NftErrorReply>> NftSocket::transact(std::span<const char> batch,
                                                       std::uint32_t first_seq,
                                                       std::uint32_t count,
                                                       std::uint32_t ack_seq) {
  if (auto sized = ensure_send_buffer(batch.size()); !sized) return sized.error();
  discard_stale_replies();

  const ssize_t sent = mnl_socket_sendto(socket_.get(), batch.data(), batch.size());
  if (sent < 0) return errno_error("Failed to send the nftables batch", errno);
  next_seq_ = first_seq + count;
  if (static_cast<std::size_t>(sent) != batch.size()) {
    return errno_error("Failed to send the nftables batch", EMSGSIZE);
  }

  const int fd = mnl_socket_get_fd(socket_.get());
  std::vector<NftErrorReply> errors;
  bool acked = false;
  bool overrun = false;
  bool waited = false;
  while (!acked) {
    const ssize_t n = recv(fd, receive_buffer_.data(), receive_buffer_.size(), MSG_DONTWAIT);
    if (n < 0) {
      const int e = errno;
      if (e == EINTR) continue;
      if (e == ENOBUFS) {  // replies were lost; keep reading what is left
        overrun = true;
        continue;
      }
      if (e != EAGAIN && e != EWOULDBLOCK) {
        return errno_error("Failed to read the kernel's reply to the nftables batch", e);
      }
      // Nothing more queued. With errors in hand the batch has failed
      // whether or not the ACK came; without, wait once for a late reply.
      if (!errors.empty() || overrun || waited) break;
      pollfd p{fd, POLLIN, 0};
      (void)poll(&p, 1, kReplyWaitMs);
      waited = true;
      continue;
    }
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(receive_buffer_.data());
         mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
      // Unsigned arithmetic keeps the range test right across wrap-around.
      if (nlh->nlmsg_seq - first_seq >= count) continue;  // stale
      if (nlh->nlmsg_type != NLMSG_ERROR) continue;
      if (nlh->nlmsg_len < sizeof(nlmsghdr) + sizeof(nlmsgerr)) continue;
      const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
      if (err->error != 0) {
        errors.push_back({nlh->nlmsg_seq, -err->error, ext_ack_message(nlh, err)});
      }
      if (nlh->nlmsg_seq == ack_seq) acked = true;
    }
  }

  if (!errors.empty()) return errors;
  if (overrun) {
    return errno_error("Failed to read the kernel's reply to the nftables batch", ENOBUFS);
  }
  if (!acked) {
    return errno_error("Failed to get the kernel's acknowledgement of the nftables batch",
                       ETIMEDOUT);
  }
  return errors;
}

}  // namespace netpolicy::filter
