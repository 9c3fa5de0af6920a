#pragma once
// One policy rule -> the nft rules that implement it, and the per-rule sets
// those rules refer to. The caller places the rules in every zone chain the
// policy rule applies to; the sets are emitted once.
#include <string>
#include <vector>

#include "filter/model.h"
#include "policy/host_addresses.h"
#include "policy/policy.h"

namespace netpolicy::policy {

struct CompiledRule {
  std::vector<filter::Rule> rules;  // in evaluation order
  std::vector<filter::Set> sets;    // r_<rule>_{src4,src6,dst4,dst6,ports}
  // Sets whose elements follow the interfaces (a keyword mixed with other
  // entries): never shared with another set that happens to be equal now.
  std::vector<std::string> live_sets;
  // A logged block rule's drop_<rule> chain (log, then count and drop),
  // which its rules jump to; emitted once however many zones hold them.
  std::vector<filter::Chain> chains;
};

// Names of the sets of an address group, one per family.
std::string group_set_name(const std::string& group, Family family);

// Log prefix of a policy rule's drops: "netpolicy: rule <name>: ".
std::string rule_log_prefix(const std::string& rule);

// The chain a logged block rule jumps to: "drop_<name>".
std::string log_drop_chain_name(const std::string& rule);

// `host` resolves the keywords `me` and `zone:NAME`. A from/to list that is
// just `me` (or just `zone:NAME`) matches the shared set me4/me6 (z4_/z6_);
// one that mixes a keyword with other entries gets its own per-rule sets
// holding the union, which follow the interfaces like the shared ones (the
// same element diff keeps them current). A list with a keyword has a set
// for both families, empty or not, so the rule's nft rules — and with them
// the chains — never depend on the interfaces.
CompiledRule compile_rule(const Policy& policy, const Rule& rule, const HostAddresses& host);

}  // namespace netpolicy::policy
