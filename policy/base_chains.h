#pragma once
// The three base chains (input, output, forward) that hook into the kernel
// and dispatch each packet through the interface -> zone verdict maps.
#include <vector>

#include "filter/model.h"
#include "policy/policy.h"

namespace netpolicy::policy {

// input, output, forward, in that order. Their policy is the
// unknown_interfaces posture: an interface in no zone has no map element
// and falls through to it.
std::vector<filter::Chain> base_chains(const Settings& settings);

}  // namespace netpolicy::policy
