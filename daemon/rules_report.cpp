#include "daemon/rules_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "daemon/daemon_status.h"

namespace netpolicy::daemon {

namespace {

using nlohmann::json;

std::string direction_name(policy::Direction d) {
  switch (d) {
    case policy::Direction::in:
      return "in";
    case policy::Direction::out:
      return "out";
    case policy::Direction::forward:
      return "forward";
  }
  return "?";
}

std::string action_name(policy::Action a) {
  switch (a) {
    case policy::Action::allow:
      return "allow";
    case policy::Action::block:
      return "block";
    case policy::Action::protect:
      return "protect";
  }
  return "?";
}

std::string verdict_name(policy::Verdict v) {
  return v == policy::Verdict::allow ? "allow" : "block";
}

NftRuleCount count_of(const filter::KernelRule& r) {
  return {r.chain, r.handle, r.verdict, r.counter, r.log, r.packets, r.bytes};
}

void add(std::uint64_t& packets, std::uint64_t& bytes, const filter::KernelRule& r) {
  if (!r.counter) return;
  packets += r.packets;
  bytes += r.bytes;
}

std::size_t compiled_count(const filter::Table& table, const std::string& comment) {
  std::size_t n = 0;
  for (const auto& chain : table.chains)
    for (const auto& rule : chain.rules) n += rule.comment == comment ? 1 : 0;
  return n;
}

bool is_ct_invalid_drop(const filter::Rule& rule) {
  if (rule.verdict.kind != filter::VerdictKind::drop || rule.matches.size() != 1) return false;
  const auto* ct = std::get_if<filter::MatchCtState>(&rule.matches.front());
  return ct != nullptr && ct->mask == filter::ct::invalid;
}

// The kernel's rules of each chain, in order.
std::map<std::string, std::vector<const filter::KernelRule*>> by_chain(
    const filter::TableRules& kernel) {
  std::map<std::string, std::vector<const filter::KernelRule*>> chains;
  for (const auto& r : kernel.rules) chains[r.chain].push_back(&r);
  return chains;
}

// ct state invalid drop: a rule of each base chain without a comment. It is
// found by its place: the kernel's base chain must hold exactly the rules
// the policy in force compiled there (same count, same comments), and the
// compiled rule at that place is the ct-invalid drop.
BuiltinCounters ct_invalid(const filter::Table& desired, const filter::TableRules& kernel) {
  BuiltinCounters b{"ct-invalid",
                    "ct state invalid: dropped in the base chains before any rule",
                    "block",
                    true,
                    0,
                    0,
                    {},
                    {}};
  const auto chains = by_chain(kernel);
  std::vector<std::string> differing;
  for (const auto& chain : desired.chains) {
    if (!chain.base) continue;
    auto it = chains.find(chain.name);
    const std::size_t held = it == chains.end() ? 0 : it->second.size();
    bool same = held == chain.rules.size();
    for (std::size_t i = 0; same && i < held; ++i)
      same = it->second[i]->comment == chain.rules[i].comment;
    if (!same) {
      differing.push_back(fmt::format("{} ({} rules in the kernel, {} compiled)", chain.name, held,
                                      chain.rules.size()));
      continue;
    }
    for (std::size_t i = 0; i < held; ++i) {
      if (!is_ct_invalid_drop(chain.rules[i])) continue;
      const filter::KernelRule& r = *it->second[i];
      b.nft_rules.push_back(count_of(r));
      add(b.packets, b.bytes, r);
    }
  }
  if (!differing.empty())
    b.note = "not counted in base chains that differ from the policy in force: " +
             fmt::format("{}", fmt::join(differing, ", "));
  return b;
}

// "default inbound" etc.: the last rule of every zone chain of a direction.
BuiltinCounters default_rule(const policy::Policy& policy, policy::Direction direction,
                             const filter::Table& desired, const filter::TableRules& kernel) {
  const std::string word = direction == policy::Direction::in    ? "inbound"
                           : direction == policy::Direction::out ? "outbound"
                                                                 : "forward";
  const policy::Defaults& d = policy.settings.defaults;
  const policy::Verdict verdict = direction == policy::Direction::in    ? d.inbound
                                  : direction == policy::Direction::out ? d.outbound
                                                                        : d.forward;
  BuiltinCounters b{"default-" + word,
                    fmt::format("settings.default.{}: at the end of every zone's {} chain", word,
                                direction_name(direction)),
                    verdict_name(verdict),
                    true,
                    0,
                    0,
                    {},
                    {}};
  const std::string comment = "default " + word;
  for (const auto& r : kernel.rules) {
    if (r.comment != comment) continue;
    b.nft_rules.push_back(count_of(r));
    add(b.packets, b.bytes, r);
  }
  const std::size_t compiled = compiled_count(desired, comment);
  if (compiled == 0)
    b.note = "the policy has no zones, so no zone chain ends with it";
  else if (compiled != b.nft_rules.size())
    b.note = fmt::format("the kernel holds {} nft rules for it, the policy in force compiled {}",
                         b.nft_rules.size(), compiled);
  return b;
}

json nft_rules_json(const std::vector<NftRuleCount>& rules) {
  json list = json::array();
  for (const auto& r : rules) {
    list.push_back({{"chain", r.chain},
                    {"handle", r.handle},
                    {"verdict", r.verdict.empty() ? json(nullptr) : json(r.verdict)},
                    {"log", r.log},
                    {"packets", r.counter ? json(r.packets) : json(nullptr)},
                    {"bytes", r.counter ? json(r.bytes) : json(nullptr)}});
  }
  return list;
}

json or_null(const std::string& text) {
  return text.empty() ? json(nullptr) : json(text);
}

}  // namespace

std::string rule_source(const AppliedPolicy& applied, const policy::Rule& rule) {
  if (applied.source == "local" || applied.policy.files.empty()) return "local";
  return rule.where.file == applied.policy.files.front() ? applied.source : "local";
}

RulesReport build_rules_report(const AppliedPolicy& applied, const filter::TableRules& kernel) {
  const policy::Policy& policy = applied.policy;
  const filter::Table& desired = applied.state.table;
  RulesReport report;
  report.table = kernel.table;
  report.policy_path = policy.path;
  report.policy_sha256 = policy.sha256;
  report.policy_source = applied.source;
  report.dump_attempts = kernel.attempts;

  std::set<std::string> explained;
  for (const auto& rule : policy.rules) {
    RuleCounters c;
    c.name = rule.name;
    c.source = rule_source(applied, rule);
    c.file = rule.where.file;
    c.line = rule.where.line;
    c.direction = direction_name(rule.direction);
    c.every_zone = rule.zones.empty();
    for (const auto& zone : policy.zones)
      if (c.every_zone ||
          std::find(rule.zones.begin(), rule.zones.end(), zone.name) != rule.zones.end())
        c.zones.push_back(zone.name);
    c.action = action_name(rule.action);
    c.ipsec = rule.ipsec;
    for (const auto& r : kernel.rules) {
      if (r.comment != rule.name) continue;
      c.nft_rules.push_back(count_of(r));
      add(c.packets, c.bytes, r);
    }
    c.compiled = compiled_count(desired, rule.name);
    if (c.compiled == 0 && c.nft_rules.empty()) {
      c.note = c.zones.empty() ? "no nft rule: the policy has no zones, so no zone chain holds it"
                               : "no nft rule: the policy in force compiled it to none";
    } else if (c.compiled != c.nft_rules.size()) {
      c.note = fmt::format(
          "the kernel holds {} nft rules for it, the policy in force compiled {}: the table "
          "differs from the policy",
          c.nft_rules.size(), c.compiled);
    }
    explained.insert(rule.name);
    report.rules.push_back(std::move(c));
  }

  report.builtin.push_back(ct_invalid(desired, kernel));
  for (policy::Direction d :
       {policy::Direction::in, policy::Direction::out, policy::Direction::forward})
    report.builtin.push_back(default_rule(policy, d, desired, kernel));
  for (const char* comment : {"default inbound", "default outbound", "default forward"})
    explained.insert(comment);
  report.builtin.push_back(
      {"unknown-interfaces",
       "settings.unknown_interfaces: the base chains' policy, for interfaces in no zone",
       verdict_name(policy.settings.unknown_interfaces),
       false,
       0,
       0,
       {},
       "a chain policy: the kernel keeps no counter for it"});
  report.notes.push_back(
      "lo, established and related connections and IPv6 neighbour discovery are accepted in "
      "the base chains before any rule; the kernel keeps no counters for them");

  // Comments the policy does not explain: rules someone else added.
  std::map<std::string, std::vector<std::string>> strangers;
  for (const auto& r : kernel.rules)
    if (!r.comment.empty() && explained.count(r.comment) == 0)
      strangers[r.comment].push_back(r.chain);
  for (const auto& [comment, chains] : strangers)
    report.notes.push_back(fmt::format(
        "the kernel holds {} nft rule(s) with comment '{}' (chain {}) that no rule in force has",
        chains.size(), comment, fmt::join(chains, ", ")));
  return report;
}

json rules_data(const RulesReport& report) {
  json rules = json::array();
  for (const auto& c : report.rules) {
    rules.push_back({{"name", c.name},
                     {"source", c.source},
                     {"file", c.file},
                     {"line", c.line},
                     {"direction", c.direction},
                     {"zones", c.zones},
                     {"every_zone", c.every_zone},
                     {"action", c.action},
                     {"ipsec", or_null(c.ipsec)},
                     {"packets", c.packets},
                     {"bytes", c.bytes},
                     {"compiled", c.compiled},
                     {"nft_rules", nft_rules_json(c.nft_rules)},
                     {"note", or_null(c.note)}});
  }
  json builtin = json::array();
  for (const auto& b : report.builtin) {
    builtin.push_back({{"name", b.name},
                       {"description", b.description},
                       {"action", b.action},
                       {"counted", b.counted},
                       {"packets", b.counted ? json(b.packets) : json(nullptr)},
                       {"bytes", b.counted ? json(b.bytes) : json(nullptr)},
                       {"nft_rules", nft_rules_json(b.nft_rules)},
                       {"note", or_null(b.note)}});
  }
  return {{"table", report.table},
          {"policy",
           {{"path", report.policy_path},
            {"sha256", report.policy_sha256},
            {"source", report.policy_source}}},
          {"dump_attempts", report.dump_attempts},
          {"rules", std::move(rules)},
          {"builtin", std::move(builtin)},
          {"notes", report.notes}};
}

Result<json> answer_rules(const AppliedPolicy* applied, filter::RuleReader& reader) {
  if (applied == nullptr)
    return errno_error("No policy is in force yet, so there are no rules to show", 0);
  const std::string& table = applied->state.table.name;
  auto kernel = reader.read_rules(table);
  if (!kernel) return kernel.error();
  json data = rules_data(build_rules_report(*applied, *kernel));
  data["read_at"] = iso8601_utc(std::chrono::system_clock::now());
  return data;
}

}  // namespace netpolicy::daemon
