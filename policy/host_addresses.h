#pragma once
// The addresses behind the keywords `me` (every address of this host) and
// `zone:NAME` (the addresses on the interfaces classified into zone NAME),
// taken from the InterfaceView. Their sets are emitted whenever a rule
// refers to them, empty or not, so the table's structure depends on the
// policy only and interface events change nothing but elements.
#include <map>
#include <string>
#include <vector>

#include "base/interface_view.h"
#include "base/ip_prefix.h"
#include "filter/model.h"
#include "policy/policy.h"

namespace netpolicy::policy {

struct HostAddresses {
  std::vector<IpPrefix> me;                                  // every interface, lo too
  std::map<std::string, std::vector<IpPrefix>> by_zone;  // classified interfaces, not lo

  [[nodiscard]] const std::vector<IpPrefix>& of_zone(const std::string& zone) const;
};

HostAddresses host_addresses(const Policy& policy, const InterfaceView& view);

// "me4" / "me6".
std::string me_set_name(Family family);
// "z4_<zone>" / "z6_<zone>".
std::string zone_set_name(const std::string& zone, Family family);

// The sets `me` and `zone:NAME` references need: me4 and me6 when any rule
// names `me`, z4_Z and z6_Z for each zone Z some rule names, in zone order.
std::vector<filter::Set> host_address_sets(const Policy& policy, const HostAddresses& host);

}  // namespace netpolicy::policy
