#pragma once
// Per-zone, per-direction chains (in_<zone>, out_<zone>, fwd_<zone>) and the
// names the base chains and dispatch maps use to reach them.
#include <string>
#include <vector>

#include "filter/model.h"
#include "policy/policy.h"
#include "policy/rule_compiler.h"

namespace netpolicy::policy {

inline constexpr Direction kDirections[] = {Direction::in, Direction::out, Direction::forward};

// "in_<zone>", "out_<zone>", "fwd_<zone>".
std::string zone_chain_name(Direction direction, const std::string& zone);

// The interface -> zone chain map of a direction: zone_in, zone_out, zone_fwd.
std::string zone_map_name(Direction direction);

// For each zone in order, its in, out and fwd chains. `compiled[i]` is
// policy.rules[i] compiled; a chain holds, in file order, the rules of its
// direction that name its zone or no zone, then the direction's default.
std::vector<filter::Chain> zone_chains(const Policy& policy,
                                       const std::vector<CompiledRule>& compiled);

}  // namespace netpolicy::policy
