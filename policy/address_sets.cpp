#include "policy/address_sets.h"

#include <algorithm>
#include <cstddef>

namespace netpolicy::policy {
namespace {

// key + 1 in big-endian arithmetic; false when it overflows (all ones).
bool increment(std::vector<std::uint8_t>& key) {
  for (std::size_t i = key.size(); i-- > 0;) {
    if (++key[i] != 0) return true;
  }
  return false;
}

// True when `next` starts at or before the key after `last` (overlap or
// adjacency). Keys have equal sizes, so byte-wise order is numeric order.
bool touches(const std::vector<std::uint8_t>& last, const std::vector<std::uint8_t>& next) {
  std::vector<std::uint8_t> after = last;
  if (!increment(after)) return true;  // `last` is the highest key: all that follows overlaps
  return next <= after;
}

}  // namespace

filter::Interval prefix_interval(const IpPrefix& prefix) {
  const IpPrefix first = prefix.first();
  const IpPrefix last = prefix.last();
  const auto n = static_cast<std::ptrdiff_t>(prefix.size());
  return filter::Interval{{first.bytes.begin(), first.bytes.begin() + n},
                          {last.bytes.begin(), last.bytes.begin() + n}};
}

filter::Interval port_interval(const PortRange& range) {
  auto key = [](std::uint16_t port) {
    return std::vector<std::uint8_t>{static_cast<std::uint8_t>(port >> 8),
                                     static_cast<std::uint8_t>(port & 0xffu)};
  };
  return filter::Interval{key(range.first), key(range.last)};
}

std::vector<filter::Interval> merge_intervals(std::vector<filter::Interval> intervals) {
  std::sort(intervals.begin(), intervals.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : a.last < b.last;
  });
  std::vector<filter::Interval> merged;
  for (auto& interval : intervals) {
    if (!merged.empty() && touches(merged.back().last, interval.first)) {
      if (merged.back().last < interval.last) merged.back().last = std::move(interval.last);
    } else {
      merged.push_back(std::move(interval));
    }
  }
  return merged;
}

filter::Set address_set(std::string name, Family family, const std::vector<IpPrefix>& prefixes) {
  std::vector<filter::Interval> intervals;
  for (const auto& prefix : prefixes)
    if (prefix.family == family) intervals.push_back(prefix_interval(prefix));
  return filter::Set{
      std::move(name),
      family == Family::ipv4 ? filter::SetType::ipv4_addr : filter::SetType::ipv6_addr,
      merge_intervals(std::move(intervals))};
}

filter::Set port_set(std::string name, const std::vector<PortRange>& ranges) {
  std::vector<filter::Interval> intervals;
  intervals.reserve(ranges.size());
  for (const auto& range : ranges) intervals.push_back(port_interval(range));
  return filter::Set{std::move(name), filter::SetType::inet_service,
                     merge_intervals(std::move(intervals))};
}

}  // namespace netpolicy::policy
