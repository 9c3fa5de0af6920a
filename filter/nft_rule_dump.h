#pragma once
// The replies to one read of the table (GETTABLE, then a GETRULE dump) as
// they come out of recv(): netlink messages parsed with libnftnl into
// KernelRules. Pure: no socket, so unit tests feed it messages they built.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/error.h"
#include "filter/nft_readback.h"

namespace netpolicy::filter {

class RuleDump {
 public:
  // Collects the replies to request `seq` from the kernel (port id 0) to
  // our socket; rules of tables other than `inet TABLE` are ignored.
  RuleDump(std::string table, std::uint32_t seq) : table_(std::move(table)), seq_(seq) {}

  enum class State : std::uint8_t {
    reading,      // more replies to come
    done,         // NLMSG_DONE (dump) or the ACK (single request)
    interrupted,  // a reply carried NLM_F_DUMP_INTR: the ruleset changed
                  // during the dump; it must be repeated from the start
  };

  // Parses every message in `bytes` (the result of one recv). Replies to
  // other sequence numbers are skipped. Errors: the kernel's error reply
  // (its errno, e.g. ENOENT for a table that is not there), or a rule
  // libnftnl could not parse (EBADMSG).
  Result<State> feed(std::span<const char> bytes);

  [[nodiscard]] const std::vector<KernelRule>& rules() const { return rules_; }
  std::vector<KernelRule> take_rules() { return std::move(rules_); }

 private:
  std::string table_;
  std::uint32_t seq_;
  std::vector<KernelRule> rules_;
};

// One NEWRULE message as a KernelRule; EBADMSG when libnftnl cannot parse it.
Result<KernelRule> parse_rule_message(const void* nlh);

}  // namespace netpolicy::filter
