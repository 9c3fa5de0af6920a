#include "policy/compiler.h"

#include <fnmatch.h>

#include <algorithm>
#include <map>
#include <set>
#include <variant>

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

// A rule's own set with the same elements as a group's or an earlier
// rule's is replaced by that one. The kernel finds a set by walking the
// table's list of sets, once per rule that refers to one and once per set
// added, so fewer sets make the whole table load faster (gen_policy.py's
// shape: a quarter of the rules' sets are such twins). Sets that follow the
// interfaces are never shared: equal today, they may differ after the next
// address change, which must only change elements.
class SharedSets {
 public:
  explicit SharedSets(const std::vector<filter::Set>& static_sets) {
    for (const auto& set : static_sets) by_elements_.try_emplace(elements_key(set), set.name);
  }

  // Appends `rule`'s new sets to `sets` and points its rules at the
  // existing twins of the others.
  void add_rule_sets(CompiledRule& rule, std::vector<filter::Set>& sets) {
    std::map<std::string, std::string> renamed;
    for (auto& set : rule.sets) {
      const bool live = std::find(rule.live_sets.begin(), rule.live_sets.end(), set.name) !=
                        rule.live_sets.end();
      if (!live) {
        auto [it, added] = by_elements_.try_emplace(elements_key(set), set.name);
        if (!added) {
          renamed[set.name] = it->second;
          continue;
        }
      }
      sets.push_back(std::move(set));
    }
    if (renamed.empty()) return;
    for (auto& nft_rule : rule.rules)
      for (auto& match : nft_rule.matches) std::visit([&](auto& m) { rename(m, renamed); }, match);
  }

 private:
  // The set's type and elements as one string: intervals are sorted and
  // their keys have the type's fixed size, so equal strings = equal sets.
  static std::string elements_key(const filter::Set& set) {
    std::string key(1, static_cast<char>(set.type));
    for (const auto& interval : set.elements) {
      key.append(interval.first.begin(), interval.first.end());
      key.append(interval.last.begin(), interval.last.end());
    }
    return key;
  }
  static void rename(filter::MatchAddressSet& m, const std::map<std::string, std::string>& to) {
    if (auto it = to.find(m.set); it != to.end()) m.set = it->second;
  }
  static void rename(filter::MatchPortSet& m, const std::map<std::string, std::string>& to) {
    if (auto it = to.find(m.set); it != to.end()) m.set = it->second;
  }
  static void rename(auto&, const std::map<std::string, std::string>&) {}

  std::map<std::string, std::string> by_elements_;  // elements_key -> set name
};

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
  SharedSets shared(table.sets);
  for (const auto& rule : policy.rules) {
    compiled.push_back(compile_rule(policy, rule, host));
    shared.add_rule_sets(compiled.back(), table.sets);
  }

  table.maps = zone_maps(policy, view);
  table.chains = base_chains(policy.settings);
  auto zones = zone_chains(policy, compiled);
  // The drop_<rule> chains of logged block rules that some zone chain
  // holds (a rule of no zone present jumps nowhere, and gets none).
  std::set<std::string> jumped_to;
  for (const auto& chain : zones)
    for (const auto& rule : chain.rules)
      if (rule.verdict.kind == filter::VerdictKind::jump) jumped_to.insert(rule.verdict.target);
  table.chains.insert(table.chains.end(), std::make_move_iterator(zones.begin()),
                      std::make_move_iterator(zones.end()));
  for (auto& rule : compiled)
    for (auto& chain : rule.chains)
      if (jumped_to.count(chain.name)) table.chains.push_back(std::move(chain));
  state.xfrm = compile_xfrm(policy);
  return state;
}

}  // namespace netpolicy::policy
