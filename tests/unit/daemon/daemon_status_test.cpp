// Per-interface states from the policy in force and the table it put in
// the kernel, as `netpolicyctl interfaces` shows them.
#include "daemon/daemon_status.h"

#include <gtest/gtest.h>

#include "policy/compiler.h"

namespace netpolicy::daemon {
namespace {

Interface iface(std::string name, int index, std::vector<std::string> addresses = {}) {
  Interface i{std::move(name), index, {}};
  for (const auto& a : addresses) i.addresses.push_back(*parse_ip_prefix(a));
  return i;
}

policy::Policy two_zones() {
  policy::Policy p;
  p.zones.push_back({"lan", {"eth*", "lo"}, {}});
  p.zones.push_back({"wifi", {"wl*"}, {}});
  return p;
}

const InterfaceStatus& find(const std::vector<InterfaceStatus>& list, const std::string& name) {
  for (const auto& s : list)
    if (s.name == name) return s;
  throw std::out_of_range(name);
}

TEST(DaemonStatus, StatesFromTheAppliedTable) {
  policy::Policy p = two_zones();
  InterfaceView view{{iface("lo", 1, {"127.0.0.1"}), iface("eth0", 2, {"10.0.0.1/24", "fd00::1"}),
                      iface("wlan0", 3), iface("docker0", 4)},
                     true};
  filter::DesiredState state = policy::compile(p, view);
  auto list = interface_statuses(&p, &state, view);
  ASSERT_EQ(list.size(), 4u);
  // The view's order, each with its ifindex and addresses.
  EXPECT_EQ(list[0].name, "lo");
  EXPECT_EQ(list[1], (InterfaceStatus{"eth0", 2, "lan", InterfaceState::protected_,
                                      view.interfaces[1].addresses}));
  EXPECT_EQ(list[2].zone, "wifi");
  EXPECT_EQ(list[2].state, InterfaceState::protected_);
  EXPECT_EQ(list[3].zone, std::nullopt);
  EXPECT_EQ(list[3].state, InterfaceState::unknown_posture);
  // "lo" matches a glob of lan but is accepted before the maps, never in them.
  EXPECT_EQ(list[0].zone, "lan");
  EXPECT_EQ(list[0].state, InterfaceState::loopback);
}

TEST(DaemonStatus, ClassifiedButNotInTheKernelIsNotProtected) {
  policy::Policy p = two_zones();
  // The table was compiled before eth1 appeared: no element for it yet.
  InterfaceView before{{iface("eth0", 2)}, true};
  filter::DesiredState state = policy::compile(p, before);
  InterfaceView now{{iface("eth0", 2), iface("eth1", 5)}, true};
  auto list = interface_statuses(&p, &state, now);
  EXPECT_EQ(find(list, "eth0").state, InterfaceState::protected_);
  EXPECT_EQ(find(list, "eth1").zone, "lan");
  EXPECT_EQ(find(list, "eth1").state, InterfaceState::unknown_posture);

  // An element in one map only is not enough: all three directions count.
  filter::DesiredState partial = policy::compile(p, now);
  partial.table.maps.back().elements.clear();
  EXPECT_EQ(find(interface_statuses(&p, &partial, now), "eth1").state,
            InterfaceState::unknown_posture);

  // Nor is an element that jumps to another zone's chain (renamed since).
  policy::Policy renamed = p;
  std::swap(renamed.zones[0].interfaces, renamed.zones[1].interfaces);
  EXPECT_EQ(find(interface_statuses(&renamed, &state, before), "eth0").state,
            InterfaceState::unknown_posture);
}

TEST(DaemonStatus, IncompleteViewMakesTheUnprotectedUncertain) {
  policy::Policy p = two_zones();
  InterfaceView view{{iface("eth0", 2), iface("docker0", 4)}, true};
  filter::DesiredState state = policy::compile(p, view);
  view.complete = false;
  view.interfaces.push_back(iface("eth9", 9));  // seen, but not in the maps
  auto list = interface_statuses(&p, &state, view);
  EXPECT_EQ(find(list, "eth0").state, InterfaceState::protected_);
  EXPECT_EQ(find(list, "docker0").state, InterfaceState::uncertain);
  EXPECT_EQ(find(list, "eth9").state, InterfaceState::uncertain);
  EXPECT_EQ(find(list, "eth9").zone, "lan");
}

TEST(DaemonStatus, NothingIsProtectedBeforeAPolicy) {
  InterfaceView view{{iface("lo", 1), iface("eth0", 2)}, true};
  auto list = interface_statuses(nullptr, nullptr, view);
  for (const auto& s : list) {
    EXPECT_EQ(s.zone, std::nullopt) << s.name;
    EXPECT_EQ(s.state, InterfaceState::unknown_posture) << s.name;
  }
}

TEST(DaemonStatus, StateNames) {
  EXPECT_EQ(state_name(InterfaceState::protected_), "protected");
  EXPECT_EQ(state_name(InterfaceState::unknown_posture), "unknown-posture");
  EXPECT_EQ(state_name(InterfaceState::uncertain), "uncertain");
  EXPECT_EQ(state_name(InterfaceState::loopback), "loopback");
}

TEST(DaemonStatus, Iso8601) {
  EXPECT_EQ(iso8601_utc(WallTime{}), "1970-01-01T00:00:00Z");
  EXPECT_EQ(
      iso8601_utc(WallTime{std::chrono::seconds{1714566896}} + std::chrono::milliseconds{999}),
      "2024-05-01T12:34:56Z");
}

}  // namespace
}  // namespace netpolicy::daemon
