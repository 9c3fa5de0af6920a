#pragma once
// One NETLINK_XFRM socket (libmnl) for requests: batches of changes, many
// messages per sendmsg, and dumps. XFRM policies and SAs share it and its
// one receive loop. Internal to filter/.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <linux/netlink.h>

#include "base/error.h"
#include "filter/nft_handles.h"  // MnlSocketPtr

namespace netpolicy::filter {

// The largest message a batch member or dump request may be.
inline constexpr std::size_t kXfrmMessageMax = 1024;

// The first message of a batch the kernel refused.
struct XfrmRefusal {
  std::size_t index = 0;  // which message
  int error = 0;          // errno
  std::string detail;     // the kernel's extended ACK text, when it gave one
};

class XfrmSocket {
 public:
  // Opens and binds the socket. Fails with the errno of socket/bind.
  static Result<std::unique_ptr<XfrmSocket>> open();

  // Writes message `index` into `buf` (kXfrmMessageMax bytes) with sequence
  // number `seq`, asking for an ACK when `ack`; returns its length.
  using PutMessage = std::function<std::size_t(std::size_t index, char* buf, std::uint32_t seq,
                                               bool ack)>;
  // Sends `count` messages, as many per sendmsg as fit 64 KiB, with an ACK
  // asked for on the last only (the kernel answers every refusal anyway),
  // and waits for that ACK. nullopt when every message was accepted. The
  // send buffer is wiped afterwards (SA messages carry keys).
  Result<std::optional<XfrmRefusal>> send_batch(std::size_t count, const PutMessage& put);

  // Dumps every object of `request_type` (XFRM_MSG_GETPOLICY, GETSA);
  // `on_message` sees each reply. An interrupted dump (NLM_F_DUMP_INTR)
  // is an EINTR error: the caller's view would be incomplete.
  Status dump(std::uint16_t request_type, const std::function<void(const nlmsghdr*)>& on_message,
              const std::string& what);

 private:
  explicit XfrmSocket(MnlSocketPtr socket);
  enum class Step : std::uint8_t { more, done };
  // The receive loop: reads datagrams (retrying EINTR) and hands each
  // message to `handle` until it says done. The buffer is wiped after
  // each datagram (replies may carry keys).
  Status receive(const std::function<Step(const nlmsghdr*)>& handle, const std::string& what);

  MnlSocketPtr socket_;
  std::uint32_t seq_ = 0;
  std::vector<char> buf_;
};

}  // namespace netpolicy::filter
