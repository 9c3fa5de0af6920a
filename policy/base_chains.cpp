#include "policy/base_chains.h"

#include "policy/zone_chains.h"

namespace netpolicy::policy {
namespace {

using filter::IfDirection;

filter::Rule rule(std::vector<filter::Match> matches, filter::VerdictKind kind,
                  bool counter = false) {
  filter::Rule r;
  r.matches = std::move(matches);
  r.counter = counter;
  r.verdict.kind = kind;
  return r;
}

filter::Rule dispatch(IfDirection key, Direction direction) {
  filter::Rule r;
  r.verdict = filter::Verdict{filter::VerdictKind::vmap, zone_map_name(direction), key};
  return r;
}

filter::Chain base_chain(const Settings& settings, filter::Hook hook, Direction direction) {
  using filter::VerdictKind;
  const bool local = hook != filter::Hook::forward;
  // Input and forward dispatch on the interface a packet came in on,
  // output on the one it leaves by.
  const IfDirection key = hook == filter::Hook::output ? IfDirection::output : IfDirection::input;

  filter::Chain chain;
  chain.name = hook == filter::Hook::input    ? "input"
               : hook == filter::Hook::output ? "output"
                                              : "forward";
  chain.base = filter::BaseChain{hook, 0, settings.unknown_interfaces == Verdict::allow};
  if (local) chain.rules.push_back(rule({filter::MatchIfname{key, "lo"}}, VerdictKind::accept));
  chain.rules.push_back(rule({filter::MatchCtState{filter::ct::established | filter::ct::related}},
                             VerdictKind::accept));
  chain.rules.push_back(
      rule({filter::MatchCtState{filter::ct::invalid}}, VerdictKind::drop, /*counter=*/true));
  if (local) {
    // Neighbour discovery must work before any zone is known, or IPv6
    // cannot even resolve the next hop.
    for (std::uint8_t type : {std::uint8_t{135}, std::uint8_t{136}})
      chain.rules.push_back(
          rule({filter::MatchL4proto{proto::icmpv6}, filter::MatchIcmpv6Type{type}},
               VerdictKind::accept));
  }
  chain.rules.push_back(dispatch(key, direction));
  if (settings.log_blocked && settings.unknown_interfaces == Verdict::block) {
    filter::Rule log_rule;
    log_rule.log = filter::Log{"netpolicy: unknown-interface: "};
    chain.rules.push_back(std::move(log_rule));
  }
  return chain;
}

}  // namespace

std::vector<filter::Chain> base_chains(const Settings& settings) {
  return {base_chain(settings, filter::Hook::input, Direction::in),
          base_chain(settings, filter::Hook::output, Direction::out),
          base_chain(settings, filter::Hook::forward, Direction::forward)};
}

}  // namespace netpolicy::policy
