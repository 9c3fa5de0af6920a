#include "filter/nft_readback.h"

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <new>
#include <vector>

#include "filter/nft_handles.h"
#include "filter/nft_rule_dump.h"

namespace netpolicy::filter {
namespace {

// One skb of a netlink dump is at most 32 KiB (the kernel sizes it by the
// largest buffer recv was given, capped there); twice that never truncates.
constexpr std::size_t kReceiveBytes = 64 << 10;

std::string what(const std::string& table) {
  return "Failed to read the rules of table 'inet " + table + "'";
}

std::string object(const std::string& table) {
  return "table 'inet " + table + "'";
}

Status send_request(mnl_socket* socket, const std::vector<char>& buffer, const nlmsghdr* nlh,
                    const std::string& table) {
  const ssize_t sent = mnl_socket_sendto(socket, buffer.data(), nlh->nlmsg_len);
  if (sent < 0) {
    const int error = errno;
    return errno_error(what(table), error, object(table));
  }
  return Ok{};
}

// Reads replies into `dump` until it is done, interrupted or failed.
Result<RuleDump::State> receive(mnl_socket* socket, RuleDump& dump, const std::string& table,
                                std::chrono::milliseconds timeout) {
  const int fd = mnl_socket_get_fd(socket);
  std::vector<char> buffer(kReceiveBytes);
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
    const int poll_error = errno;
    if (ready < 0 && poll_error == EINTR) continue;
    if (ready < 0) return errno_error(what(table), poll_error, object(table));
    if (ready == 0)
      return errno_error(what(table) + ": the kernel did not answer", ETIMEDOUT, object(table));
    // MSG_TRUNC: the length of the whole message, so a truncated one shows.
    const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), MSG_TRUNC);
    const int recv_error = errno;
    if (n < 0 && recv_error == EINTR) continue;
    if (n < 0) return errno_error(what(table), recv_error, object(table));
    if (static_cast<std::size_t>(n) > buffer.size())
      return errno_error(what(table), EMSGSIZE, object(table));
    auto state = dump.feed({buffer.data(), static_cast<std::size_t>(n)});
    if (!state) return state.error();
    if (*state != RuleDump::State::reading) return *state;
  }
}

// GETTABLE inet TABLE: done when it exists; the kernel's ENOENT when not.
Result<RuleDump::State> ask_table(mnl_socket* socket, const std::string& table, std::uint32_t seq,
                                  std::chrono::milliseconds timeout) {
  std::vector<char> buffer(MNL_SOCKET_BUFFER_SIZE);
  NftnlTablePtr t{nftnl_table_alloc()};
  if (!t) throw std::bad_alloc();
  nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, table.c_str());
  nlmsghdr* nlh =
      nftnl_nlmsg_build_hdr(buffer.data(), NFT_MSG_GETTABLE, NFPROTO_INET, NLM_F_ACK, seq);
  nftnl_table_nlmsg_build_payload(nlh, t.get());
  if (Status s = send_request(socket, buffer, nlh, table); !s) return s.error();
  RuleDump replies{table, seq};
  return receive(socket, replies, table, timeout);
}

// GETRULE dump of table inet TABLE.
Result<RuleDump::State> dump_rules(mnl_socket* socket, RuleDump& dump, const std::string& table,
                                   std::uint32_t seq, std::chrono::milliseconds timeout) {
  std::vector<char> buffer(MNL_SOCKET_BUFFER_SIZE);
  NftnlRulePtr r{nftnl_rule_alloc()};
  if (!r) throw std::bad_alloc();
  nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, table.c_str());
  nlmsghdr* nlh =
      nftnl_nlmsg_build_hdr(buffer.data(), NFT_MSG_GETRULE, NFPROTO_INET, NLM_F_DUMP, seq);
  nftnl_rule_nlmsg_build_payload(nlh, r.get());
  if (Status s = send_request(socket, buffer, nlh, table); !s) return s.error();
  return receive(socket, dump, table, timeout);
}

}  // namespace

Result<TableRules> NftReadback::read_rules(const std::string& table) {
  const unsigned attempts = options_.max_attempts > 0 ? options_.max_attempts : 1;
  for (unsigned attempt = 1; attempt <= attempts; ++attempt) {
    // A fresh socket each attempt: what is left of an interrupted dump
    // goes away with the old one.
    MnlSocketPtr socket{mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC)};
    if (!socket) {
      const int error = errno;
      return errno_error("Failed to open an nfnetlink socket", error);
    }
    if (mnl_socket_bind(socket.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
      const int error = errno;
      return errno_error("Failed to bind the nfnetlink socket", error);
    }

    // A dump filtered by a table that does not exist is simply empty: ask
    // for the table first, so a missing one is an error, not "no rules".
    auto found = ask_table(socket.get(), table, 1, options_.reply_timeout);
    if (!found) {
      Error error = found.error();
      if (error.error_code == ENOENT)
        error.message = what(table) + ": the table is not in the kernel";
      return error;
    }
    RuleDump dump{table, 2};
    auto state = dump_rules(socket.get(), dump, table, 2, options_.reply_timeout);
    if (!state) return state.error();
    if (*state == RuleDump::State::interrupted) continue;
    return TableRules{table, dump.take_rules(), attempt};
  }
  // KERNEL-NOTES: rule dumps taken during nft commits were flagged 10 of
  // 10 times; a ruleset that keeps changing this long is worth saying so.
  return errno_error(what(table) + ": the ruleset changed during each of " +
                         std::to_string(attempts) + " dumps (NLM_F_DUMP_INTR); try again",
                     EINTR, object(table));
}

}  // namespace netpolicy::filter
