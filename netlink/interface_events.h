#pragma once
// rtnetlink link and address messages -> changes of the interface view.
// Pure: parsing a message and applying it to the table touch no socket, so
// both are unit-tested with messages built in memory.
#include <linux/netlink.h>

#include <cstddef>
#include <map>
#include <optional>
#include <string>

#include "base/interface_view.h"
#include "base/ip_prefix.h"

namespace netpolicy::netlink {

struct InterfaceEvent {
  enum class Kind { link_new, link_del, address_new, address_del };
  Kind kind = Kind::link_new;
  int ifindex = 0;
  std::string name;  // links: the interface's name (a rename is a link_new)
  IpPrefix address;  // addresses: the host's own address, as a /32 or /128
  friend bool operator==(const InterfaceEvent&, const InterfaceEvent&) = default;
};

// What one RTM_NEWLINK / RTM_DELLINK / RTM_NEWADDR / RTM_DELADDR says about
// the view, or nullopt when it says nothing: other message types, link
// messages of another family (AF_BRIDGE port events arrive on the same
// group, and an AF_BRIDGE RTM_DELLINK only means a port left its bridge),
// addresses of other families or without a local address, truncated or
// malformed messages. `length` is the bytes available at `nlh`.
std::optional<InterfaceEvent> parse_interface_event(const nlmsghdr* nlh, std::size_t length);

// The interfaces as the events so far describe them, by ifindex.
class InterfaceTable {
 public:
  // Returns whether the view changed. An address of an unknown ifindex is
  // dropped: its link event, if the link still exists, comes (or came) and
  // a later dump or address event carries it again.
  bool apply(const InterfaceEvent& event);
  // Replaces everything (a dump's result).
  void reset(std::map<int, Interface> interfaces) { by_index_ = std::move(interfaces); }

  // Interfaces in ifindex order, addresses sorted.
  [[nodiscard]] InterfaceView view(bool complete) const;
  [[nodiscard]] std::size_t size() const { return by_index_.size(); }
  // The name of ifindex, or "" when unknown.
  [[nodiscard]] std::string name_of(int ifindex) const;

 private:
  std::map<int, Interface> by_index_;
};

}  // namespace netpolicy::netlink
