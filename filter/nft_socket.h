#pragma once
// The nfnetlink socket the nftables backend keeps for its whole life. The
// table it creates with NFT_TABLE_F_OWNER belongs to this socket's port id:
// closing the socket (destroying this object) hands the table back to the
// kernel, which keeps it when it also has NFT_TABLE_F_PERSIST.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/error.h"
#include "filter/nft_handles.h"

namespace netpolicy::filter {

// The kernel's error reply to one message of a batch.
struct NftErrorReply {
  std::uint32_t seq = 0;  // sequence number of the message it answers
  int error = 0;          // positive errno
  std::string detail;     // extended ACK message, often empty for nf_tables
};

class NftSocket {
 public:
  // Opens and binds a NETLINK_NETFILTER socket in the caller's network
  // namespace. Fails with the errno of socket/bind. Socket options
  // (receive buffer, extended/capped ACKs) are best effort: the kernel
  // works without them, only less conveniently.
  static Result<std::unique_ptr<NftSocket>> open();

  NftSocket(const NftSocket&) = delete;
  NftSocket& operator=(const NftSocket&) = delete;
  ~NftSocket();

  // The sequence number the next batch should start with.
  [[nodiscard]] std::uint32_t next_sequence() const { return next_seq_; }

  // Sends `batch` (BATCH_BEGIN ... BATCH_END, messages numbered
  // first_seq .. first_seq+count-1) in one sendmsg, growing the send buffer
  // to fit, then reads replies until the ACK of `ack_seq` (the one message
  // that asks for it) arrives. Returns every error reply of this batch:
  // none means the kernel committed the transaction. An Error means the
  // batch could not be sent or its outcome could not be read.
  Result<std::vector<NftErrorReply>> transact(std::span<const char> batch,
                                              std::uint32_t first_seq,
                                              std::uint32_t count,
                                              std::uint32_t ack_seq);

 private:
  explicit NftSocket(MnlSocketPtr socket);
  Status ensure_send_buffer(std::size_t batch_bytes);
  void discard_stale_replies();

  MnlSocketPtr socket_;
  std::uint32_t next_seq_ = 1;
  std::size_t send_buffer_ = 0;  // value last given to SO_SNDBUFFORCE
  std::vector<char> receive_buffer_;
};

}  // namespace netpolicy::filter
