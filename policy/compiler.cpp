#include "policy/compiler.h"

#include <fnmatch.h>

#include <map>

#include "policy/address_sets.h"
#include "policy/base_chains.h"
#include "policy/host_addresses.h"
#include "policy/rule_compiler.h"
#include "policy/xfrm_compiler.h"
#include "policy/zone_chains.h"

namespace netpolicy::policy {
namespace {

// The dispatch maps: every classified interface jumps to its zone's chain
// for that direction. Unclassified interfaces get no element and meet the
// base chain's policy; "lo" is accepted before the maps and never in them.
std::vector<filter::VerdictMap> zone_maps(const Policy& policy, const InterfaceView& view) {
  std::map<std::string, std::string> zone_of;  // sorted by ifname, duplicates once
  for (const auto& interface : view.interfaces) {
    if (interface.name == "lo") continue;
    if (const Zone* zone = classify(policy, interface.name)) zone_of[interface.name] = zone->name;
  }
  std::vector<filter::VerdictMap> maps;
  for (Direction direction : kDirections) {
    filter::VerdictMap map{zone_map_name(direction), {}};
    for (const auto& [ifname, zone] : zone_of)
      map.elements.push_back({ifname, zone_chain_name(direction, zone)});
    maps.push_back(std::move(map));
  }
  return maps;
}

}  // namespace

const Zone* classify(const Policy& policy, const std::string& ifname) {
  for (const auto& zone : policy.zones)
    for (const auto& glob : zone.interfaces)
      if (fnmatch(glob.c_str(), ifname.c_str(), 0) == 0) return &zone;
  return nullptr;
}

filter::DesiredState compile(const Policy& policy, const InterfaceView& view) {
  filter::DesiredState state;
  filter::Table& table = state.table;
  table.name = policy.settings.table;

  // Every group's sets, even unreferenced ones, so `nft list` shows them.
  for (const auto& group : policy.addresses) {
    for (Family family : {Family::ipv4, Family::ipv6}) {
      bool present = false;
      for (const auto& p : group.prefixes) present = present || p.family == family;
      if (present)
        table.sets.push_back(
            address_set(group_set_name(group.name, family), family, group.prefixes));
    }
  }

  // The sets of `me` and `zone:NAME`, after the groups' sets.
  const HostAddresses host = host_addresses(policy, view);
  auto host_sets = host_address_sets(policy, host);
  table.sets.insert(table.sets.end(), std::make_move_iterator(host_sets.begin()),
                    std::make_move_iterator(host_sets.end()));

  std::vector<CompiledRule> compiled;
  compiled.reserve(policy.rules.size());
  for (const auto& rule : policy.rules) {
    compiled.push_back(compile_rule(policy, rule, host));
    const auto& sets = compiled.back().sets;
    table.sets.insert(table.sets.end(), sets.begin(), sets.end());
  }

  table.maps = zone_maps(policy, view);
  table.chains = base_chains(policy.settings);
  auto zones = zone_chains(policy, compiled);
  table.chains.insert(table.chains.end(), std::make_move_iterator(zones.begin()),
                      std::make_move_iterator(zones.end()));
  state.xfrm = compile_xfrm(policy);
  return state;
}

}  // namespace netpolicy::policy
