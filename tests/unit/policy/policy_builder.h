#pragma once
// Terse construction of Policy structs for compiler tests, so they do not
// depend on the YAML loader.
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/interface_view.h"
#include "base/ip_prefix.h"
#include "policy/policy.h"

namespace netpolicy::policy::testing {

inline IpPrefix prefix(std::string_view text) {
  auto p = parse_ip_prefix(text);
  if (!p) throw std::invalid_argument("bad prefix in test: " + std::string{text});
  return *p;
}

// "22" or "8000-8100".
inline PortRange port(std::string_view text) {
  auto dash = text.find('-');
  auto number = [](std::string_view s) {
    return static_cast<std::uint16_t>(std::stoul(std::string{s}));
  };
  if (dash == std::string_view::npos) return {number(text), number(text)};
  return {number(text.substr(0, dash)), number(text.substr(dash + 1))};
}

// An entry of a from/to list: `me`, `zone:NAME`, a literal when it parses
// as an address, otherwise a group name.
inline AddressRef address_ref(std::string_view text) {
  AddressRef ref;
  if (text == "me")
    ref.me = true;
  else if (text.starts_with("zone:"))
    ref.zone = std::string{text.substr(5)};
  else if (auto p = parse_ip_prefix(text))
    ref.prefix = *p;
  else
    ref.group = std::string{text};
  return ref;
}

class RuleBuilder {
 public:
  RuleBuilder(std::string name, Direction direction, Action action) {
    rule_.name = std::move(name);
    rule_.direction = direction;
    rule_.action = action;
  }
  RuleBuilder& zones(std::initializer_list<std::string> names) {
    rule_.zones.assign(names);
    return *this;
  }
  RuleBuilder& from(std::initializer_list<std::string_view> entries) {
    for (auto e : entries) rule_.from.push_back(address_ref(e));
    return *this;
  }
  RuleBuilder& to(std::initializer_list<std::string_view> entries) {
    for (auto e : entries) rule_.to.push_back(address_ref(e));
    return *this;
  }
  RuleBuilder& protocol(std::uint8_t number) {
    rule_.protocol = number;
    return *this;
  }
  RuleBuilder& ports(std::initializer_list<std::string_view> entries) {
    for (auto e : entries) rule_.ports.push_back(port(e));
    return *this;
  }
  RuleBuilder& ipsec(std::string profile) {
    rule_.ipsec = std::move(profile);
    return *this;
  }
  operator Rule() const { return rule_; }  // NOLINT: implicit for terse tests

 private:
  Rule rule_;
};

inline RuleBuilder allow(std::string name, Direction direction = Direction::in) {
  return {std::move(name), direction, Action::allow};
}
inline RuleBuilder block(std::string name, Direction direction = Direction::in) {
  return {std::move(name), direction, Action::block};
}
inline RuleBuilder protect(std::string name, Direction direction = Direction::out) {
  return {std::move(name), direction, Action::protect};
}

class PolicyBuilder {
 public:
  PolicyBuilder& table(std::string name) {
    policy_.settings.table = std::move(name);
    return *this;
  }
  PolicyBuilder& defaults(Verdict inbound, Verdict outbound, Verdict forward) {
    policy_.settings.defaults = {inbound, outbound, forward};
    return *this;
  }
  PolicyBuilder& unknown_interfaces(Verdict posture) {
    policy_.settings.unknown_interfaces = posture;
    return *this;
  }
  PolicyBuilder& log_blocked(bool on = true) {
    policy_.settings.log_blocked = on;
    return *this;
  }
  PolicyBuilder& zone(std::string name, std::initializer_list<std::string> globs) {
    policy_.zones.push_back(Zone{std::move(name), globs, {}});
    return *this;
  }
  PolicyBuilder& group(std::string name, std::initializer_list<std::string_view> prefixes) {
    AddressGroup g{std::move(name), {}, {}};
    for (auto p : prefixes) g.prefixes.push_back(prefix(p));
    policy_.addresses.push_back(std::move(g));
    return *this;
  }
  PolicyBuilder& rule(Rule r) {
    policy_.rules.push_back(std::move(r));
    return *this;
  }
  PolicyBuilder& ipsec(std::string name, std::uint32_t reqid) {
    IpsecProfile profile;
    profile.name = std::move(name);
    profile.reqid = reqid;
    policy_.ipsec.push_back(std::move(profile));
    return *this;
  }
  [[nodiscard]] Policy build() const { return policy_; }

 private:
  Policy policy_;
};

// An interface with addresses ("10.0.0.1", "fd00::1": host addresses).
inline Interface interface(std::string name, int ifindex,
                           std::initializer_list<std::string_view> addresses) {
  Interface i{std::move(name), ifindex, {}};
  for (auto a : addresses) i.addresses.push_back(prefix(a));
  return i;
}

// Interfaces by name, ifindex in list order from 1.
inline InterfaceView interfaces(std::initializer_list<std::string> names) {
  InterfaceView view;
  int ifindex = 0;
  for (const auto& name : names) view.interfaces.push_back(Interface{name, ++ifindex, {}});
  return view;
}

}  // namespace netpolicy::policy::testing
