#pragma once
// Address and port lists as nftables interval-set elements. The kernel
// rejects an interval set whose elements overlap, so every list is merged
// (sorted, overlapping and adjacent intervals joined) before it is emitted.
#include <string>
#include <vector>

#include "base/ip_prefix.h"
#include "filter/model.h"
#include "policy/policy.h"

namespace netpolicy::policy {

// The addresses a prefix covers, as [first, last] keys (4 or 16 bytes).
filter::Interval prefix_interval(const IpPrefix& prefix);

// A port range as [first, last] 2-byte keys in network byte order.
filter::Interval port_interval(const PortRange& range);

// Sorts intervals of one key size and joins those that overlap or touch.
std::vector<filter::Interval> merge_intervals(std::vector<filter::Interval> intervals);

// A set of the `family` prefixes among `prefixes` (the others are ignored).
filter::Set address_set(std::string name, Family family, const std::vector<IpPrefix>& prefixes);

// An inet_service set of the given port ranges.
filter::Set port_set(std::string name, const std::vector<PortRange>& ranges);

}  // namespace netpolicy::policy
