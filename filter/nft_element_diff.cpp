#include <algorithm>
#include <iterator>

#include "filter/nft_elements.h"

namespace netpolicy::filter {
namespace {

bool interval_less(const Interval& a, const Interval& b) {
  return a.first != b.first ? a.first < b.first : a.last < b.last;
}
bool map_element_less(const MapElement& a, const MapElement& b) {
  return a.ifname != b.ifname ? a.ifname < b.ifname : a.chain < b.chain;
}

// Elements of `a` that are not in `b`. Inputs need not be sorted (the
// compiler sorts them, but nothing here relies on it).
template <typename T, typename Less>
std::vector<T> minus(std::vector<T> a, std::vector<T> b, Less less) {
  std::sort(a.begin(), a.end(), less);
  std::sort(b.begin(), b.end(), less);
  std::vector<T> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out), less);
  return out;
}

// Whether the two tables have the same sets (name, type) and maps (name)
// in the same order: the part of their structure elements live in.
bool same_containers(const Table& a, const Table& b) {
  if (a.sets.size() != b.sets.size() || a.maps.size() != b.maps.size()) return false;
  for (std::size_t i = 0; i < a.sets.size(); ++i)
    if (a.sets[i].name != b.sets[i].name || a.sets[i].type != b.sets[i].type) return false;
  for (std::size_t i = 0; i < a.maps.size(); ++i)
    if (a.maps[i].name != b.maps[i].name) return false;
  return true;
}

}  // namespace

std::optional<ElementDiff> diff_elements(const DesiredState& from, const DesiredState& to) {
  const Table& a = from.table;
  const Table& b = to.table;
  if (a.name != b.name || !same_containers(a, b) || a.chains != b.chains) return std::nullopt;

  ElementDiff diff;
  diff.table = b.name;
  for (std::size_t i = 0; i < a.sets.size(); ++i) {
    const Set& old_set = a.sets[i];
    const Set& new_set = b.sets[i];
    if (old_set.elements == new_set.elements) continue;
    auto gone = minus(old_set.elements, new_set.elements, interval_less);
    auto added = minus(new_set.elements, old_set.elements, interval_less);
    if (!gone.empty()) diff.set_deletions.push_back({new_set.name, new_set.type, std::move(gone)});
    if (!added.empty())
      diff.set_additions.push_back({new_set.name, new_set.type, std::move(added)});
  }
  for (std::size_t i = 0; i < a.maps.size(); ++i) {
    const VerdictMap& old_map = a.maps[i];
    const VerdictMap& new_map = b.maps[i];
    if (old_map.elements == new_map.elements) continue;
    auto gone = minus(old_map.elements, new_map.elements, map_element_less);
    auto added = minus(new_map.elements, old_map.elements, map_element_less);
    if (!gone.empty()) diff.map_deletions.push_back({new_map.name, std::move(gone)});
    if (!added.empty()) diff.map_additions.push_back({new_map.name, std::move(added)});
  }
  return diff;
}

std::vector<std::string> interfaces_in(const ElementDiff& diff) {
  std::vector<std::string> names;
  for (const auto* list : {&diff.map_deletions, &diff.map_additions})
    for (const auto& map : *list)
      for (const auto& e : map.elements) names.push_back(e.ifname);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

}  // namespace netpolicy::filter
