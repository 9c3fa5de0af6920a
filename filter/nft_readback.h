#pragma once
// Reading back the rules of netpolicyd's own table, with their counters, as
// the kernel holds them now: for `netpolicyctl rules`.
//
// Each read opens a NETLINK_NETFILTER socket of its own and closes it when
// done. Reading needs no ownership of the table, and a socket of its own
// keeps the dump's replies away from the backend's socket, whose batch
// sequence and reply stream stay untouched. A fresh socket per read also
// means an interrupted or abandoned dump leaves nothing behind.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"

namespace netpolicy::filter {

// One rule of the table, as the kernel dumped it.
struct KernelRule {
  std::string chain;
  std::uint64_t handle = 0;
  std::string comment;        // userdata comment (the policy rule name); "" when none
  bool counter = false;       // holds a counter expression
  std::uint64_t packets = 0;  // of its counter expressions (summed; one in our rules)
  std::uint64_t bytes = 0;
  bool log = false;  // holds a log expression
  // Its verdict: "accept", "drop", "jump CHAIN", "goto CHAIN", "return",
  // "continue", "vmap @MAP", or "" when it has none (a log-only rule).
  std::string verdict;
};

// Every rule of one table, chain by chain in the kernel's order.
struct TableRules {
  std::string table;
  std::vector<KernelRule> rules;
  unsigned attempts = 1;  // dumps it took: more than one when a dump was interrupted
};

// The daemon reads through this, so its side can be tested with a fake.
class RuleReader {
 public:
  virtual ~RuleReader() = default;
  // The rules of table `inet TABLE`. Errors: the table is not in the kernel
  // (ENOENT, said in words), the dump kept being interrupted by other
  // commits (EINTR after the retries), or the socket failed (its errno).
  virtual Result<TableRules> read_rules(const std::string& table) = 0;
};

class NftReadback final : public RuleReader {
 public:
  struct Options {
    // NLM_F_DUMP_INTR: another process committed while we dumped. The dump
    // is repeated from the start this many times in all before giving up.
    unsigned max_attempts = 5;
    // For each reply: the kernel answers a dump at once, so this only
    // guards the daemon's loop against a kernel that stops answering.
    std::chrono::milliseconds reply_timeout{5000};
  };

  NftReadback() = default;
  explicit NftReadback(Options options) : options_(options) {}

  Result<TableRules> read_rules(const std::string& table) override;

 private:
  Options options_;
};

}  // namespace netpolicy::filter
