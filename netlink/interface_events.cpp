#include "netlink/interface_events.h"

#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace netpolicy::netlink {
namespace {

// Calls `visit(type, data, length)` for each attribute after the family
// header of `header_len` bytes. False when the message is too short.
template <typename Visit>
bool for_each_attribute(const nlmsghdr* nlh, std::size_t length, int header_len, Visit&& visit) {
  if (length < NLMSG_HDRLEN || nlh->nlmsg_len > length) return false;
  if (nlmsg_valid_hdr(nlh, header_len) == 0) return false;
  int remaining = nlmsg_attrlen(nlh, header_len);
  for (const nlattr* a = nlmsg_attrdata(nlh, header_len); nla_ok(a, remaining) != 0;
       a = nla_next(a, &remaining))
    visit(nla_type(a), static_cast<const std::uint8_t*>(nla_data(a)),
          static_cast<std::size_t>(nla_len(a)));
  return true;
}

std::optional<InterfaceEvent> parse_link(const nlmsghdr* nlh, std::size_t length) {
  const auto* ifi = static_cast<const ifinfomsg*>(nlmsg_data(nlh));
  InterfaceEvent event;
  event.kind = nlh->nlmsg_type == RTM_NEWLINK ? InterfaceEvent::Kind::link_new
                                              : InterfaceEvent::Kind::link_del;
  bool named = false;
  const bool ok = for_each_attribute(
      nlh, length, sizeof(ifinfomsg), [&](int type, const std::uint8_t* data, std::size_t len) {
        if (type != IFLA_IFNAME || len == 0) return;
        const auto* text = reinterpret_cast<const char*>(data);
        event.name.assign(text, strnlen(text, len));
        named = !event.name.empty();
      });
  if (!ok || ifi->ifi_family != AF_UNSPEC || ifi->ifi_index <= 0) return std::nullopt;
  // A deletion is identified by its index alone; anything else needs a name.
  if (!named && event.kind == InterfaceEvent::Kind::link_new) return std::nullopt;
  event.ifindex = ifi->ifi_index;
  return event;
}

std::optional<InterfaceEvent> parse_address(const nlmsghdr* nlh, std::size_t length) {
  const auto* ifa = static_cast<const ifaddrmsg*>(nlmsg_data(nlh));
  IpPrefix prefix;
  switch (ifa->ifa_family) {
    case AF_INET:
      prefix.family = Family::ipv4;
      break;
    case AF_INET6:
      prefix.family = Family::ipv6;
      break;
    default:
      return std::nullopt;
  }
  // IFA_LOCAL is the host's own address; IFA_ADDRESS is the peer's on a
  // point-to-point link and the only one the kernel sends for IPv6.
  const std::uint8_t* local = nullptr;
  const std::uint8_t* address = nullptr;
  const bool ok = for_each_attribute(
      nlh, length, sizeof(ifaddrmsg), [&](int type, const std::uint8_t* data, std::size_t len) {
        if (len != prefix.size()) return;
        if (type == IFA_LOCAL) local = data;
        if (type == IFA_ADDRESS) address = data;
      });
  const std::uint8_t* own = local != nullptr ? local : address;
  if (!ok || own == nullptr || ifa->ifa_index == 0) return std::nullopt;
  std::memcpy(prefix.bytes.data(), own, prefix.size());
  prefix.length = prefix.max_length();
  InterfaceEvent event;
  event.kind = nlh->nlmsg_type == RTM_NEWADDR ? InterfaceEvent::Kind::address_new
                                              : InterfaceEvent::Kind::address_del;
  event.ifindex = static_cast<int>(ifa->ifa_index);
  event.address = prefix;
  return event;
}

}  // namespace

std::optional<InterfaceEvent> parse_interface_event(const nlmsghdr* nlh, std::size_t length) {
  if (length < NLMSG_HDRLEN || nlh->nlmsg_len < NLMSG_HDRLEN || nlh->nlmsg_len > length)
    return std::nullopt;
  switch (nlh->nlmsg_type) {
    case RTM_NEWLINK:
    case RTM_DELLINK:
      if (nlmsg_valid_hdr(nlh, sizeof(ifinfomsg)) == 0) return std::nullopt;
      return parse_link(nlh, length);
    case RTM_NEWADDR:
    case RTM_DELADDR:
      if (nlmsg_valid_hdr(nlh, sizeof(ifaddrmsg)) == 0) return std::nullopt;
      return parse_address(nlh, length);
    default:
      return std::nullopt;
  }
}

bool InterfaceTable::apply(const InterfaceEvent& event) {
  using Kind = InterfaceEvent::Kind;
  switch (event.kind) {
    case Kind::link_new: {
      auto [it, added] = by_index_.try_emplace(event.ifindex, Interface{event.name, event.ifindex, {}});
      if (added) return true;
      if (it->second.name == event.name) return false;  // a flag or MTU change
      it->second.name = event.name;
      return true;
    }
    case Kind::link_del:
      return by_index_.erase(event.ifindex) > 0;
    case Kind::address_new: {
      auto it = by_index_.find(event.ifindex);
      if (it == by_index_.end()) return false;
      auto& list = it->second.addresses;
      auto pos = std::lower_bound(list.begin(), list.end(), event.address);
      if (pos != list.end() && *pos == event.address) return false;
      list.insert(pos, event.address);
      return true;
    }
    case Kind::address_del: {
      auto it = by_index_.find(event.ifindex);
      if (it == by_index_.end()) return false;
      auto& list = it->second.addresses;
      auto pos = std::lower_bound(list.begin(), list.end(), event.address);
      if (pos == list.end() || *pos != event.address) return false;
      list.erase(pos);
      return true;
    }
  }
  return false;
}

InterfaceView InterfaceTable::view(bool complete) const {
  InterfaceView v;
  v.complete = complete;
  v.interfaces.reserve(by_index_.size());
  for (const auto& [index, interface] : by_index_) v.interfaces.push_back(interface);
  return v;
}

std::string InterfaceTable::name_of(int ifindex) const {
  auto it = by_index_.find(ifindex);
  return it == by_index_.end() ? std::string{} : it->second.name;
}

}  // namespace netpolicy::netlink
