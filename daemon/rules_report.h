#pragma once
// `netpolicyctl rules`: each policy rule in force with where it came from,
// where it applies, and the packet and byte counters the kernel keeps for
// it — the sum of the counters of the nft rules that carry its name (their
// comment), with each of those rules listed. Pure, apart from answer_rules,
// which reads the kernel through a filter::RuleReader (a fake in tests).
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/error.h"
#include "daemon/policy_engine.h"
#include "filter/nft_readback.h"

namespace netpolicy::daemon {

// One nft rule of the table, as the kernel holds it now.
struct NftRuleCount {
  std::string chain;
  std::uint64_t handle = 0;
  std::string verdict;   // "accept", "drop", ... or "" (a log-only rule)
  bool counter = false;  // false: the rule has no counter (it only logs)
  bool log = false;
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
};

struct RuleCounters {
  std::string name;
  std::string source;  // local | central | cache
  std::string file;    // the file it was written in (a central one: its URL, path or the cache)
  int line = 0;
  std::string direction;           // in | out | forward
  std::vector<std::string> zones;  // the zones whose chains hold it, in policy order
  bool every_zone = false;         // the rule names no zone
  std::string action;              // allow | block | protect
  std::string ipsec;               // protect: the profile
  std::uint64_t packets = 0;       // summed over nft_rules
  std::uint64_t bytes = 0;
  std::vector<NftRuleCount> nft_rules;  // in the kernel, carrying its name
  std::size_t compiled = 0;             // nft rules the policy in force compiled it to
  std::string note;                     // why it has no nft rule, or how the kernel differs
};

// What netpolicyd puts in the table besides the policy's rules.
struct BuiltinCounters {
  std::string name;         // ct-invalid, default-inbound, ..., unknown-interfaces
  std::string description;  // one line for people
  std::string action;       // allow | block
  bool counted = false;     // the kernel keeps a counter for it
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::vector<NftRuleCount> nft_rules;
  std::string note;
};

struct RulesReport {
  std::string table;
  std::string policy_path;
  std::string policy_sha256;
  std::string policy_source;  // local | central | cache
  unsigned dump_attempts = 1;
  std::vector<RuleCounters> rules;  // in policy (evaluation) order
  std::vector<BuiltinCounters> builtin;
  std::vector<std::string> notes;  // what the kernel holds that the policy does not explain
};

// Where policy rule `rule` of `applied` comes from: "central" or "cache"
// for the rules of the central policy (merge_central puts its file first
// in Policy::files, under its label), "local" for the rest.
std::string rule_source(const AppliedPolicy& applied, const policy::Rule& rule);

RulesReport build_rules_report(const AppliedPolicy& applied, const filter::TableRules& kernel);

// The `data` of the reply (netpolicyctl(8) documents its shape).
nlohmann::json rules_data(const RulesReport& report);

// The whole command: the policy in force (null: none yet) and its table
// read through `reader`. The Error says why there is no answer.
Result<nlohmann::json> answer_rules(const AppliedPolicy* applied, filter::RuleReader& reader);

}  // namespace netpolicy::daemon
