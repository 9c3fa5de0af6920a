#include "policy/zone_chains.h"

#include <algorithm>

namespace netpolicy::policy {
namespace {

std::string direction_word(Direction direction) {
  switch (direction) {
    case Direction::in:
      return "inbound";
    case Direction::out:
      return "outbound";
    case Direction::forward:
      return "forward";
  }
  return {};
}

Verdict default_verdict(const Defaults& defaults, Direction direction) {
  switch (direction) {
    case Direction::in:
      return defaults.inbound;
    case Direction::out:
      return defaults.outbound;
    case Direction::forward:
      return defaults.forward;
  }
  return Verdict::block;
}

bool applies_to(const Rule& rule, Direction direction, const std::string& zone) {
  if (rule.direction != direction) return false;
  return rule.zones.empty() ||
         std::find(rule.zones.begin(), rule.zones.end(), zone) != rule.zones.end();
}

// The last rules of a zone chain: the direction's default verdict, logged
// first when it drops and log_blocked is on.
void append_default(const Settings& settings, Direction direction, filter::Chain& chain) {
  const std::string comment = "default " + direction_word(direction);
  const bool drop = default_verdict(settings.defaults, direction) == Verdict::block;
  if (drop && settings.log_blocked) {
    filter::Rule log_rule;
    log_rule.log = filter::Log{"netpolicy: default-" + direction_word(direction) + ": "};
    log_rule.comment = comment;
    chain.rules.push_back(std::move(log_rule));
  }
  filter::Rule rule;
  rule.counter = true;
  rule.verdict.kind = drop ? filter::VerdictKind::drop : filter::VerdictKind::accept;
  rule.comment = comment;
  chain.rules.push_back(std::move(rule));
}

}  // namespace

std::string zone_chain_name(Direction direction, const std::string& zone) {
  switch (direction) {
    case Direction::in:
      return "in_" + zone;
    case Direction::out:
      return "out_" + zone;
    case Direction::forward:
      return "fwd_" + zone;
  }
  return {};
}

std::string zone_map_name(Direction direction) {
  switch (direction) {
    case Direction::in:
      return "zone_in";
    case Direction::out:
      return "zone_out";
    case Direction::forward:
      return "zone_fwd";
  }
  return {};
}

std::vector<filter::Chain> zone_chains(const Policy& policy,
                                       const std::vector<CompiledRule>& compiled) {
  std::vector<filter::Chain> chains;
  chains.reserve(policy.zones.size() * 3);
  for (const auto& zone : policy.zones) {
    for (Direction direction : kDirections) {
      filter::Chain chain;
      chain.name = zone_chain_name(direction, zone.name);
      for (std::size_t i = 0; i < policy.rules.size() && i < compiled.size(); ++i) {
        if (!applies_to(policy.rules[i], direction, zone.name)) continue;
        chain.rules.insert(chain.rules.end(), compiled[i].rules.begin(), compiled[i].rules.end());
      }
      append_default(policy.settings, direction, chain);
      chains.push_back(std::move(chain));
    }
  }
  return chains;
}

}  // namespace netpolicy::policy
