#pragma once
// What the daemon knows about the host's interfaces: the compiler's second
// input. Produced by netlink/ (a link and address listing), read by policy/.
#include <string>
#include <vector>

#include "base/ip_prefix.h"

namespace netpolicy {

struct Interface {
  std::string name;
  int ifindex = 0;
  std::vector<IpPrefix> addresses;  // the host's own addresses on it
  friend bool operator==(const Interface&, const Interface&) = default;
};

struct InterfaceView {
  std::vector<Interface> interfaces;
  // False when the listing may have missed interfaces (dump interrupted,
  // receive buffer overrun): unlisted interfaces keep the unknown posture.
  bool complete = true;
};

}  // namespace netpolicy
