#include "policy/xfrm_compiler.h"

#include <array>
#include <set>
#include <utility>
#include <vector>

namespace netpolicy::policy {
namespace {

constexpr std::array<Family, 2> kFamilies{Family::ipv4, Family::ipv6};

IpPrefix any_address(Family family) {
  IpPrefix p;
  p.family = family;
  return p;  // all zero bytes, length 0
}

// One side (from or to) of a rule, per family: the prefixes to put in
// selectors. Empty for a family the side has no address of.
struct Side {
  bool any = true;  // empty list
  std::array<std::vector<IpPrefix>, 2> prefixes;
};

std::size_t index(Family family) {
  return family == Family::ipv4 ? 0 : 1;
}

Side resolve(const Policy& policy, const std::vector<AddressRef>& refs) {
  Side side;
  if (refs.empty()) {
    for (Family f : kFamilies) side.prefixes[index(f)].push_back(any_address(f));
    return side;
  }
  side.any = false;
  std::array<std::set<IpPrefix>, 2> seen;
  auto add = [&](const IpPrefix& p) {
    if (seen[index(p.family)].insert(p).second) side.prefixes[index(p.family)].push_back(p);
  };
  for (const auto& ref : refs) {
    if (ref.group) {
      if (const AddressGroup* group = policy.find_group(*ref.group))
        for (const auto& p : group->prefixes) add(p);
    } else if (ref.me || ref.zone) {
      for (Family f : kFamilies) add(any_address(f));
    } else {
      add(ref.prefix);
    }
  }
  return side;
}

bool family_allowed(const Rule& rule, Family family) {
  if (rule.protocol == proto::icmp) return family == Family::ipv4;
  if (rule.protocol == proto::icmpv6) return family == Family::ipv6;
  return true;
}

std::uint64_t port_count(const Rule& rule) {
  if (rule.ports.empty()) return 1;
  std::uint64_t n = 0;
  for (const auto& r : rule.ports) n += std::uint64_t{r.last} - r.first + 1;
  return n;
}

std::uint64_t direction_count(const Rule& rule) {
  return rule.direction == Direction::forward ? 4 : 2;
}

const IpsecProfile* find_profile(const Policy& policy, const std::string& name) {
  for (const auto& profile : policy.ipsec)
    if (profile.name == name) return &profile;
  return nullptr;
}

filter::XfrmTemplate make_template(const IpsecProfile& profile, filter::XfrmDir dir) {
  filter::XfrmTemplate t;
  t.reqid = profile.reqid;
  t.proto = profile.protocol;
  t.required = profile.level == IpsecLevel::require;
  if (profile.mode == IpsecMode::tunnel) {
    t.tunnel = true;
    // The SA leaves from local towards remote; traffic that arrives (in,
    // fwd) came through the SA from remote to local.
    if (dir == filter::XfrmDir::out) {
      t.tunnel_src = profile.local;
      t.tunnel_dst = profile.remote;
    } else {
      t.tunnel_src = profile.remote;
      t.tunnel_dst = profile.local;
    }
  }
  return t;
}

filter::XfrmSa make_sa(const IpsecProfile& profile, bool outbound) {
  const ManualKeying& m = *profile.manual;
  const ManualSa& side = outbound ? m.out : m.in;
  filter::XfrmSa sa;
  sa.src = outbound ? *profile.local : *profile.remote;
  sa.dst = outbound ? *profile.remote : *profile.local;
  sa.spi = side.spi;
  sa.proto = profile.protocol;
  sa.tunnel = profile.mode == IpsecMode::tunnel;
  sa.reqid = profile.reqid;
  sa.algorithm = m.algorithm;
  sa.key = side.key;
  sa.auth_key = side.auth_key;
  sa.profile = profile.name;
  sa.outbound = outbound;
  return sa;
}

}  // namespace

filter::XfrmBand xfrm_band(const Settings& settings) {
  return {settings.xfrm_priority_base, settings.xfrm_priority_base + filter::kXfrmBandWidth - 1};
}

std::uint64_t protect_policy_count(const Policy& policy, const Rule& rule) {
  if (rule.action != Action::protect) return 0;
  const Side from = resolve(policy, rule.from);
  const Side to = resolve(policy, rule.to);
  std::uint64_t pairs = 0;
  for (Family f : kFamilies) {
    if (!family_allowed(rule, f)) continue;
    pairs += std::uint64_t{from.prefixes[index(f)].size()} * to.prefixes[index(f)].size();
  }
  return pairs * port_count(rule) * direction_count(rule);
}

filter::XfrmState compile_xfrm(const Policy& policy) {
  filter::XfrmState state;
  state.band = xfrm_band(policy.settings);
  // Manual profiles' SAs, whether or not a rule uses them yet: they are
  // the profile's, and a rule added later finds them in place.
  for (const auto& profile : policy.ipsec) {
    if (!profile.manual || !profile.local || !profile.remote) continue;
    state.sas.push_back(make_sa(profile, true));
    state.sas.push_back(make_sa(profile, false));
  }
  // (dir, selector) already taken by an earlier rule: the kernel keeps one.
  std::set<std::pair<filter::XfrmDir, filter::XfrmSelector>> taken;

  for (std::size_t i = 0; i < policy.rules.size(); ++i) {
    const Rule& rule = policy.rules[i];
    if (rule.action != Action::protect) continue;
    const IpsecProfile* profile = find_profile(policy, rule.ipsec);
    if (profile == nullptr) continue;  // the loader rejects this
    const auto priority = static_cast<std::uint32_t>(
        policy.settings.xfrm_priority_base + (i % filter::kXfrmBandWidth));

    std::vector<std::uint16_t> ports;
    for (const auto& r : rule.ports)
      for (std::uint32_t p = r.first; p <= r.last; ++p) ports.push_back(static_cast<std::uint16_t>(p));
    if (ports.empty()) ports.push_back(0);

    using filter::XfrmDir;
    // (direction, reversed): reversed policies carry the replies.
    std::vector<std::pair<XfrmDir, bool>> dirs;
    switch (rule.direction) {
      case Direction::in: dirs = {{XfrmDir::in, false}, {XfrmDir::out, true}}; break;
      case Direction::out: dirs = {{XfrmDir::out, false}, {XfrmDir::in, true}}; break;
      case Direction::forward:
        dirs = {{XfrmDir::out, false}, {XfrmDir::fwd, false}, {XfrmDir::out, true},
                {XfrmDir::fwd, true}};
        break;
    }

    const Side from = resolve(policy, rule.from);
    const Side to = resolve(policy, rule.to);
    for (const auto& [dir, reversed] : dirs) {
      for (Family f : kFamilies) {
        if (!family_allowed(rule, f)) continue;
        for (const auto& src : from.prefixes[index(f)]) {
          for (const auto& dst : to.prefixes[index(f)]) {
            for (std::uint16_t port : ports) {
              filter::XfrmPolicy x;
              x.dir = dir;
              x.priority = priority;
              x.selector.family = f;
              x.selector.proto = rule.protocol.value_or(0);
              x.selector.src = reversed ? dst : src;
              x.selector.dst = reversed ? src : dst;
              (reversed ? x.selector.sport : x.selector.dport) = port;
              if (!taken.emplace(dir, x.selector).second) continue;
              x.tmpl = make_template(*profile, dir);
              x.rule = rule.name;
              x.profile = profile->name;
              state.policies.push_back(std::move(x));
            }
          }
        }
      }
    }
  }
  return state;
}

}  // namespace netpolicy::policy
