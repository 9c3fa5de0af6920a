#include "daemon/daemon_status.h"

#include <time.h>

#include <algorithm>

#include "policy/compiler.h"
#include "policy/zone_chains.h"

namespace netpolicy::daemon {

namespace {

// True when every zone map of `state` sends `ifname` to `zone`'s chain of
// that map's direction.
bool in_kernel_maps(const filter::DesiredState& state, const std::string& ifname,
                    const std::string& zone) {
  for (policy::Direction direction : policy::kDirections) {
    const std::string map_name = policy::zone_map_name(direction);
    auto map = std::find_if(state.table.maps.begin(), state.table.maps.end(),
                            [&](const filter::VerdictMap& m) { return m.name == map_name; });
    if (map == state.table.maps.end()) return false;
    const filter::MapElement want{ifname, policy::zone_chain_name(direction, zone)};
    if (std::find(map->elements.begin(), map->elements.end(), want) == map->elements.end())
      return false;
  }
  return true;
}

}  // namespace

std::string_view state_name(InterfaceState state) {
  switch (state) {
    case InterfaceState::protected_:
      return "protected";
    case InterfaceState::unknown_posture:
      return "unknown-posture";
    case InterfaceState::uncertain:
      return "uncertain";
    case InterfaceState::loopback:
      return "loopback";
  }
  return "unknown-posture";
}

std::vector<InterfaceStatus> interface_statuses(const policy::Policy* policy,
                                                const filter::DesiredState* state,
                                                const InterfaceView& view) {
  std::vector<InterfaceStatus> out;
  out.reserve(view.interfaces.size());
  for (const auto& interface : view.interfaces) {
    InterfaceStatus s{interface.name, interface.ifindex, std::nullopt,
                      InterfaceState::unknown_posture, interface.addresses};
    if (policy)
      if (const policy::Zone* zone = policy::classify(*policy, interface.name)) s.zone = zone->name;
    // The compiler accepts "lo" in the base chains and keeps it out of the
    // maps, whatever zone its name would match.
    if (interface.name == "lo" && state)
      s.state = InterfaceState::loopback;
    else if (s.zone && state && in_kernel_maps(*state, interface.name, *s.zone))
      s.state = InterfaceState::protected_;
    else if (!view.complete)
      s.state = InterfaceState::uncertain;
    out.push_back(std::move(s));
  }
  return out;
}

std::string iso8601_utc(WallTime time) {
  const std::time_t t = std::chrono::system_clock::to_time_t(time);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32] = {};
  if (std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) return {};
  return buf;
}

}  // namespace netpolicy::daemon
