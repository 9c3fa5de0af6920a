#include "policy/host_addresses.h"

#include <set>

#include "policy/address_sets.h"
#include "policy/compiler.h"

namespace netpolicy::policy {
namespace {

constexpr Family kFamilies[] = {Family::ipv4, Family::ipv6};

char digit(Family family) { return family == Family::ipv4 ? '4' : '6'; }

// Whether any rule's from/to names `me`, and which zones appear as `zone:`.
struct References {
  bool me = false;
  std::set<std::string> zones;
};

References references(const Policy& policy) {
  References refs;
  for (const auto& rule : policy.rules) {
    for (const auto* side : {&rule.from, &rule.to}) {
      for (const auto& ref : *side) {
        refs.me = refs.me || ref.me;
        if (ref.zone) refs.zones.insert(*ref.zone);
      }
    }
  }
  return refs;
}

}  // namespace

const std::vector<IpPrefix>& HostAddresses::of_zone(const std::string& zone) const {
  static const std::vector<IpPrefix> kNone;  // immutable, so not mutable global state
  auto it = by_zone.find(zone);
  return it == by_zone.end() ? kNone : it->second;
}

HostAddresses host_addresses(const Policy& policy, const InterfaceView& view) {
  HostAddresses host;
  for (const auto& interface : view.interfaces) {
    host.me.insert(host.me.end(), interface.addresses.begin(), interface.addresses.end());
    // lo is never in a zone (the base chains accept it before dispatch).
    if (interface.name == "lo") continue;
    if (const Zone* zone = classify(policy, interface.name)) {
      auto& list = host.by_zone[zone->name];
      list.insert(list.end(), interface.addresses.begin(), interface.addresses.end());
    }
  }
  return host;
}

std::string me_set_name(Family family) { return std::string{"me"} + digit(family); }

std::string zone_set_name(const std::string& zone, Family family) {
  return std::string{"z"} + digit(family) + "_" + zone;
}

std::vector<filter::Set> host_address_sets(const Policy& policy, const HostAddresses& host) {
  const References refs = references(policy);
  std::vector<filter::Set> sets;
  if (refs.me)
    for (Family family : kFamilies)
      sets.push_back(address_set(me_set_name(family), family, host.me));
  for (const auto& zone : policy.zones) {
    if (!refs.zones.contains(zone.name)) continue;
    for (Family family : kFamilies)
      sets.push_back(address_set(zone_set_name(zone.name, family), family, host.of_zone(zone.name)));
  }
  return sets;
}

}  // namespace netpolicy::policy
