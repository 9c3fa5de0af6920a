#pragma once
// Element-only changes to the table: what an interface event amounts to.
// The diff is pure (old DesiredState vs new one -> elements to delete and
// to add); the encoder turns it into one batch of DELSETELEM and
// NEWSETELEM messages — no table, chain, set or rule message, so the
// kernel never rebuilds a chain for it and rule handles stay as they are.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "filter/model.h"
#include "filter/nft_encode.h"

namespace netpolicy::filter {

// Elements of one interval set (address or port set).
struct SetElements {
  std::string set;
  SetType type = SetType::ipv4_addr;
  std::vector<Interval> elements;
  friend bool operator==(const SetElements&, const SetElements&) = default;
};

// Elements of one verdict map.
struct MapElements {
  std::string map;
  std::vector<MapElement> elements;
  friend bool operator==(const MapElements&, const MapElements&) = default;
};

struct ElementDiff {
  std::string table;
  // Applied in this order, in one transaction: deletions first, so an
  // interval that changes shape (10.0.0.1-10.0.0.2 -> 10.0.0.1) or a map
  // key that changes its verdict can be re-added in the same batch.
  std::vector<SetElements> set_deletions;
  std::vector<MapElements> map_deletions;
  std::vector<SetElements> set_additions;
  std::vector<MapElements> map_additions;

  [[nodiscard]] bool empty() const {
    return set_deletions.empty() && map_deletions.empty() && set_additions.empty() &&
           map_additions.empty();
  }
  friend bool operator==(const ElementDiff&, const ElementDiff&) = default;
};

// What turns `from` into `to`, when they differ only in set and map
// elements; nullopt when anything else differs (table name, chains, rules,
// the list of sets or maps, a set's type): that takes a full replace.
// Sets and maps without a change do not appear in the diff.
std::optional<ElementDiff> diff_elements(const DesiredState& from, const DesiredState& to);

// The interface names whose map elements the diff deletes or adds, sorted,
// each once (for the events that name what a failed update concerned).
std::vector<std::string> interfaces_in(const ElementDiff& diff);

// One batch: BATCH_BEGIN, DELSETELEM per set/map chunk, NEWSETELEM per
// set/map chunk, BATCH_END, the last element message asking for the ACK.
// `objects` names the set or map of each message ("elements of map
// 'zone_in'"). Fails (EINVAL) on what cannot be encoded, as
// encode_replace_table does, and on an empty diff.
Result<EncodedBatch> encode_element_update(const ElementDiff& diff, std::uint32_t first_seq);

}  // namespace netpolicy::filter
