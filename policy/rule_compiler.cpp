#include "policy/rule_compiler.h"

#include <array>
#include <optional>

#include "policy/address_sets.h"

namespace netpolicy::policy {
namespace {

constexpr std::array<Family, 2> kFamilies{Family::ipv4, Family::ipv6};

std::size_t index(Family family) {
  return family == Family::ipv4 ? 0 : 1;
}
char digit(Family family) {
  return family == Family::ipv4 ? '4' : '6';
}

// A rule's from or to list, resolved per family.
struct Side {
  bool any = true;  // the list is empty: no address match at all
  // Per family: the set to match against, unset when the list has no
  // address of that family (the rule then needs no nft rule for it).
  std::array<std::optional<std::string>, 2> set;
  // Per family: whether the side has a set of its own (r_<rule>_<role>N),
  // and the union of its entries for it.
  std::array<bool, 2> own{};
  std::array<std::vector<IpPrefix>, 2> own_prefixes;
  bool follows_interfaces = false;  // holds addresses of `me` or `zone:NAME`
};

bool has_family(const std::vector<IpPrefix>& prefixes, Family family) {
  for (const auto& p : prefixes)
    if (p.family == family) return true;
  return false;
}

Side resolve_side(const Policy& policy, const Rule& rule, const std::vector<AddressRef>& refs,
                  const char* role, const HostAddresses& host) {
  Side side;
  if (refs.empty()) return side;
  side.any = false;

  // A group named alone reuses the group's own sets; `me` and `zone:NAME`
  // alone use their shared sets, which exist for both families.
  if (refs.size() == 1) {
    const AddressRef& ref = refs.front();
    if (ref.group) {
      const AddressGroup* group = policy.find_group(*ref.group);
      for (Family family : kFamilies)
        if (group != nullptr && has_family(group->prefixes, family))
          side.set[index(family)] = group_set_name(group->name, family);
      return side;
    }
    if (ref.me || ref.zone) {
      for (Family family : kFamilies)
        side.set[index(family)] = ref.me ? me_set_name(family) : zone_set_name(*ref.zone, family);
      return side;
    }
  }

  // Several entries, or literals: a set of this rule's own with their union.
  std::vector<IpPrefix> all;
  bool follows_interfaces = false;
  for (const auto& ref : refs) {
    if (ref.group) {
      // An undefined group cannot reach here (the loader rejects it); if it
      // did, it would contribute no address, so the rule could only match less.
      if (const AddressGroup* group = policy.find_group(*ref.group))
        all.insert(all.end(), group->prefixes.begin(), group->prefixes.end());
    } else if (ref.me) {
      follows_interfaces = true;
      all.insert(all.end(), host.me.begin(), host.me.end());
    } else if (ref.zone) {
      follows_interfaces = true;
      const auto& addresses = host.of_zone(*ref.zone);
      all.insert(all.end(), addresses.begin(), addresses.end());
    } else {
      all.push_back(ref.prefix);
    }
  }
  side.follows_interfaces = follows_interfaces;
  for (Family family : kFamilies) {
    // With a keyword, the set exists even while no interface has an
    // address of this family: the rule stays, matching nothing until one does.
    if (!has_family(all, family) && !follows_interfaces) continue;
    side.set[index(family)] = "r_" + rule.name + "_" + role + digit(family);
    side.own[index(family)] = true;
    for (const auto& p : all)
      if (p.family == family) side.own_prefixes[index(family)].push_back(p);
  }
  return side;
}

// The families the rule needs one nft rule each for, or nullopt when it
// needs a single rule without any address match (neither from nor to).
std::optional<std::vector<Family>> rule_families(const Rule& rule, const Side& from,
                                                 const Side& to) {
  if (from.any && to.any) return std::nullopt;
  std::vector<Family> families;
  for (Family family : kFamilies) {
    if (!from.any && !from.set[index(family)]) continue;
    if (!to.any && !to.set[index(family)]) continue;
    // ICMP exists only over IPv4 and ICMPv6 only over IPv6.
    if (rule.protocol == proto::icmp && family != Family::ipv4) continue;
    if (rule.protocol == proto::icmpv6 && family != Family::ipv6) continue;
    families.push_back(family);
  }
  return families;
}

std::vector<filter::Match> rule_matches(const Rule& rule, const Side& from, const Side& to,
                                        std::optional<Family> family) {
  std::vector<filter::Match> matches;
  if (family && !from.any)
    matches.emplace_back(filter::MatchAddressSet{*family, true, *from.set[index(*family)]});
  if (family && !to.any)
    matches.emplace_back(filter::MatchAddressSet{*family, false, *to.set[index(*family)]});
  if (rule.protocol) matches.emplace_back(filter::MatchL4proto{*rule.protocol});
  if (rule.ports.size() == 1)
    matches.emplace_back(filter::MatchPort{rule.ports.front().first, rule.ports.front().last});
  else if (rule.ports.size() > 1)
    matches.emplace_back(filter::MatchPortSet{"r_" + rule.name + "_ports"});
  return matches;
}

// The chain a logged block rule jumps to: log (rate limited), count, drop.
// The log needs a rule of its own: in one rule, `limit` would stop
// evaluation for packets over the rate before `drop`, and they would fall
// through to later rules (seen on nft 1.0.6 / kernel 6.18). Written as a
// jump, the matches (and their set references) are sent once, not twice:
// the kernel finds a set by walking the table's list of sets for every
// reference, which dominates loading large tables (tests/bench/README.md).
filter::Chain log_drop_chain(const Rule& rule) {
  filter::Chain chain;
  chain.name = log_drop_chain_name(rule.name);
  filter::Rule log_rule;
  log_rule.log = filter::Log{rule_log_prefix(rule.name)};
  log_rule.comment = rule.name;
  chain.rules.push_back(std::move(log_rule));
  filter::Rule drop;
  drop.counter = true;
  drop.verdict.kind = filter::VerdictKind::drop;
  drop.comment = rule.name;
  chain.rules.push_back(std::move(drop));
  return chain;
}

void emit(const Policy& policy, const Rule& rule, bool block, std::vector<filter::Match> matches,
          CompiledRule& out) {
  filter::Rule nft_rule;
  nft_rule.matches = std::move(matches);
  nft_rule.comment = rule.name;
  if (block && policy.settings.log_blocked) {
    nft_rule.verdict = {filter::VerdictKind::jump, log_drop_chain_name(rule.name)};
    if (out.chains.empty()) out.chains.push_back(log_drop_chain(rule));
  } else {
    nft_rule.counter = true;
    nft_rule.verdict.kind = block ? filter::VerdictKind::drop : filter::VerdictKind::accept;
  }
  out.rules.push_back(std::move(nft_rule));
}

const IpsecProfile* find_profile(const Policy& policy, const std::string& name) {
  for (const auto& profile : policy.ipsec)
    if (profile.name == name) return &profile;
  return nullptr;
}

// One family's (or the family-less) nft rules of a policy rule.
void emit_rule(const Policy& policy, const Rule& rule, std::vector<filter::Match> matches,
               CompiledRule& out) {
  if (rule.action != Action::protect) {
    emit(policy, rule, rule.action == Action::block, std::move(matches), out);
    return;
  }
  // protect: the XFRM policies (xfrm_compiler.h) make the kernel encrypt
  // the flow and refuse it in clear text. Inbound, nft refuses clear text
  // too, even if someone deletes the XFRM policies: accept the flow only
  // when it was decapsulated by an SA of the profile's reqid, drop the rest
  // of it. Outbound and forwarded, the XFRM policies (out, fwd) do that:
  // the nft rule only accepts the flow, so it is not caught by the
  // chain's default.
  const IpsecProfile* profile = find_profile(policy, rule.ipsec);
  if (rule.direction == Direction::in && profile != nullptr) {
    std::vector<filter::Match> protected_matches = matches;
    protected_matches.emplace_back(filter::MatchIpsecInReqid{profile->reqid});
    emit(policy, rule, false, std::move(protected_matches), out);
    emit(policy, rule, true, std::move(matches), out);
    return;
  }
  emit(policy, rule, false, std::move(matches), out);
}

}  // namespace

std::string group_set_name(const std::string& group, Family family) {
  return std::string{"g"} + digit(family) + "_" + group;
}

std::string rule_log_prefix(const std::string& rule) {
  return "netpolicy: rule " + rule + ": ";
}

std::string log_drop_chain_name(const std::string& rule) {
  return "drop_" + rule;
}

CompiledRule compile_rule(const Policy& policy, const Rule& rule, const HostAddresses& host) {
  CompiledRule compiled;
  const Side from = resolve_side(policy, rule, rule.from, "src", host);
  const Side to = resolve_side(policy, rule, rule.to, "dst", host);
  const auto families = rule_families(rule, from, to);

  if (!families) {
    emit_rule(policy, rule, rule_matches(rule, from, to, std::nullopt), compiled);
  } else {
    for (Family family : *families)
      emit_rule(policy, rule, rule_matches(rule, from, to, family), compiled);
    // Own sets only for the families the rule uses: src4, src6, dst4, dst6.
    for (const Side* side : {&from, &to}) {
      for (Family family : *families) {
        if (side->own[index(family)]) {
          compiled.sets.push_back(
              address_set(*side->set[index(family)], family, side->own_prefixes[index(family)]));
          if (side->follows_interfaces) compiled.live_sets.push_back(compiled.sets.back().name);
        }
      }
    }
  }
  // A rule whose address families do not meet (v4-only from, v6-only to)
  // matches no packet and compiles to nothing; it needs no port set either.
  if (rule.ports.size() > 1 && !compiled.rules.empty())
    compiled.sets.push_back(port_set("r_" + rule.name + "_ports", rule.ports));
  return compiled;
}

}  // namespace netpolicy::policy
