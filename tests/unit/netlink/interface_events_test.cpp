// netlink/interface_events.cpp: rtnetlink messages built in memory -> events
// -> the interface table; and netlink/interface_watcher.cpp reading (never
// changing) the test process's own namespace, which needs no privilege.
#include "netlink/interface_events.h"

#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "netlink/interface_watcher.h"

namespace netpolicy::netlink {
namespace {

// An rtnetlink message: header, family header, attributes.
class MessageBuilder {
 public:
  template <typename Header>
  MessageBuilder(std::uint16_t type, const Header& header) {
    bytes_.resize(NLMSG_HDRLEN);
    append(&header, sizeof header);
    hdr().nlmsg_type = type;
  }
  MessageBuilder& attribute(std::uint16_t type, const void* data, std::size_t len) {
    rtattr a{};
    a.rta_type = type;
    a.rta_len = static_cast<std::uint16_t>(RTA_LENGTH(len));
    append(&a, sizeof a);
    bytes_.resize(bytes_.size() - (RTA_ALIGN(sizeof a) - sizeof a));
    append(data, len);
    return *this;
  }
  MessageBuilder& string(std::uint16_t type, const char* text) {
    return attribute(type, text, std::strlen(text) + 1);
  }
  MessageBuilder& flags(std::uint16_t f) {
    hdr().nlmsg_flags = f;
    return *this;
  }
  // The whole message; `extra` more bytes may follow (another message).
  const nlmsghdr* get() {
    hdr().nlmsg_len = static_cast<std::uint32_t>(bytes_.size());
    return reinterpret_cast<const nlmsghdr*>(bytes_.data());
  }
  std::size_t size() const { return bytes_.size(); }

 private:
  nlmsghdr& hdr() { return *reinterpret_cast<nlmsghdr*>(bytes_.data()); }
  void append(const void* data, std::size_t len) {
    const auto* p = static_cast<const std::uint8_t*>(data);
    bytes_.insert(bytes_.end(), p, p + len);
    bytes_.resize(NLMSG_ALIGN(bytes_.size()));
  }
  std::vector<std::uint8_t> bytes_;
};

MessageBuilder link(std::uint16_t type, int ifindex, unsigned char family = AF_UNSPEC) {
  ifinfomsg ifi{};
  ifi.ifi_family = family;
  ifi.ifi_index = ifindex;
  return MessageBuilder(type, ifi);
}

MessageBuilder address(std::uint16_t type, int ifindex, unsigned char family) {
  ifaddrmsg ifa{};
  ifa.ifa_family = family;
  ifa.ifa_index = static_cast<std::uint32_t>(ifindex);
  ifa.ifa_prefixlen = family == AF_INET ? 24 : 64;
  return MessageBuilder(type, ifa);
}

std::optional<InterfaceEvent> parse(MessageBuilder& b) {
  const nlmsghdr* nlh = b.get();
  return parse_interface_event(nlh, b.size());
}

IpPrefix ip(const char* text) { return *parse_ip_prefix(text); }

using Kind = InterfaceEvent::Kind;

TEST(InterfaceEvents, LinkNewAndDel) {
  auto add = link(RTM_NEWLINK, 7).string(IFLA_IFNAME, "veth-int0");
  auto e = parse(add);
  ASSERT_TRUE(e);
  EXPECT_EQ(*e, (InterfaceEvent{Kind::link_new, 7, "veth-int0", {}}));
  auto del = link(RTM_DELLINK, 7).string(IFLA_IFNAME, "veth-int0");
  e = parse(del);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, Kind::link_del);
  EXPECT_EQ(e->ifindex, 7);
  auto del_unnamed = link(RTM_DELLINK, 8);
  ASSERT_TRUE(parse(del_unnamed));  // deletion needs only the index
}

TEST(InterfaceEvents, IgnoredLinkMessages) {
  auto bridge_port_left = link(RTM_DELLINK, 7, AF_BRIDGE).string(IFLA_IFNAME, "eth0");
  EXPECT_FALSE(parse(bridge_port_left)) << "AF_BRIDGE DELLINK is not a link deletion";
  auto nameless = link(RTM_NEWLINK, 7);
  EXPECT_FALSE(parse(nameless));
  auto no_index = link(RTM_NEWLINK, 0).string(IFLA_IFNAME, "x");
  EXPECT_FALSE(parse(no_index));
  rtmsg rt{};
  MessageBuilder route(RTM_NEWROUTE, rt);
  EXPECT_FALSE(parse(route));
}

TEST(InterfaceEvents, TruncatedMessagesAreIgnored) {
  auto add = link(RTM_NEWLINK, 7).string(IFLA_IFNAME, "veth-int0");
  const nlmsghdr* nlh = add.get();
  EXPECT_FALSE(parse_interface_event(nlh, add.size() - 4)) << "shorter than nlmsg_len";
  EXPECT_FALSE(parse_interface_event(nlh, NLMSG_HDRLEN - 1));
  // nlmsg_len too small for the family header.
  std::vector<std::uint8_t> copy(reinterpret_cast<const std::uint8_t*>(nlh),
                                 reinterpret_cast<const std::uint8_t*>(nlh) + add.size());
  reinterpret_cast<nlmsghdr*>(copy.data())->nlmsg_len = NLMSG_HDRLEN + 2;
  EXPECT_FALSE(parse_interface_event(reinterpret_cast<const nlmsghdr*>(copy.data()), copy.size()));
}

TEST(InterfaceEvents, Addresses) {
  const std::uint8_t v4[4] = {10, 200, 1, 1};
  const std::uint8_t peer[4] = {10, 200, 1, 254};
  auto a = address(RTM_NEWADDR, 3, AF_INET).attribute(IFA_ADDRESS, v4, 4).attribute(IFA_LOCAL, v4, 4);
  auto e = parse(a);
  ASSERT_TRUE(e);
  EXPECT_EQ(*e, (InterfaceEvent{Kind::address_new, 3, "", ip("10.200.1.1")}));
  // Point-to-point: IFA_ADDRESS is the peer, IFA_LOCAL ours, whatever the order.
  auto ptp = address(RTM_NEWADDR, 3, AF_INET).attribute(IFA_ADDRESS, peer, 4).attribute(IFA_LOCAL, v4, 4);
  EXPECT_EQ(parse(ptp)->address, ip("10.200.1.1"));
  // IPv6: the kernel sends IFA_ADDRESS only.
  IpPrefix six = ip("fd00:200:1::1");
  auto a6 = address(RTM_DELADDR, 3, AF_INET6).attribute(IFA_ADDRESS, six.bytes.data(), 16);
  e = parse(a6);
  ASSERT_TRUE(e);
  EXPECT_EQ(*e, (InterfaceEvent{Kind::address_del, 3, "", six}));
  // An IPv4 attribute of the wrong length, and other families, say nothing.
  auto bad = address(RTM_NEWADDR, 3, AF_INET).attribute(IFA_LOCAL, six.bytes.data(), 16);
  EXPECT_FALSE(parse(bad));
  auto other = address(RTM_NEWADDR, 3, AF_PACKET).attribute(IFA_LOCAL, v4, 4);
  EXPECT_FALSE(parse(other));
}

TEST(InterfaceTable, LinksRenamesAddressesAndDeletes) {
  InterfaceTable t;
  EXPECT_TRUE(t.apply({Kind::link_new, 2, "vl0", {}}));
  EXPECT_FALSE(t.apply({Kind::link_new, 2, "vl0", {}})) << "a flag change is no change";
  EXPECT_TRUE(t.apply({Kind::address_new, 2, "", ip("10.0.0.2")}));
  EXPECT_TRUE(t.apply({Kind::address_new, 2, "", ip("10.0.0.1")}));
  EXPECT_FALSE(t.apply({Kind::address_new, 2, "", ip("10.0.0.1")}));
  EXPECT_FALSE(t.apply({Kind::address_new, 9, "", ip("10.0.0.9")})) << "unknown link";
  EXPECT_TRUE(t.apply({Kind::link_new, 1, "lo", {}}));
  InterfaceView v = t.view(true);
  ASSERT_EQ(v.interfaces.size(), 2u);
  EXPECT_EQ(v.interfaces[0].name, "lo");  // ifindex order
  EXPECT_EQ(v.interfaces[1].addresses, (std::vector<IpPrefix>{ip("10.0.0.1"), ip("10.0.0.2")}));
  EXPECT_TRUE(t.apply({Kind::link_new, 2, "vw0", {}})) << "rename";
  EXPECT_EQ(t.name_of(2), "vw0");
  EXPECT_EQ(t.view(true).interfaces[1].addresses.size(), 2u) << "a rename keeps the addresses";
  EXPECT_TRUE(t.apply({Kind::address_del, 2, "", ip("10.0.0.2")}));
  EXPECT_FALSE(t.apply({Kind::address_del, 2, "", ip("10.0.0.2")}));
  EXPECT_TRUE(t.apply({Kind::link_del, 2, "", {}}));
  EXPECT_FALSE(t.apply({Kind::link_del, 2, "", {}}));
  EXPECT_EQ(t.size(), 1u);
  EXPECT_FALSE(t.view(false).complete);
}

TEST(InterfaceWatcher, ResyncListsThisNamespace) {
  auto w = InterfaceWatcher::open(1 << 20);
  ASSERT_TRUE(w.ok()) << w.error().describe();
  EXPECT_FALSE((*w)->complete()) << "incomplete before the first dump";
  EXPECT_GE((*w)->fd(), 0);
  EXPECT_GT((*w)->receive_buffer(), 0);
  Status s = (*w)->resync();
  ASSERT_TRUE(s.ok()) << s.error().describe();
  InterfaceView v = (*w)->view();
  EXPECT_TRUE(v.complete);
  auto lo = std::find_if(v.interfaces.begin(), v.interfaces.end(),
                         [](const Interface& i) { return i.name == "lo"; });
  ASSERT_NE(lo, v.interfaces.end());
  EXPECT_EQ(lo->ifindex, static_cast<int>(if_nametoindex("lo")));
  EXPECT_NE(std::find(lo->addresses.begin(), lo->addresses.end(), ip("127.0.0.1")),
            lo->addresses.end());
  // Nothing happened since: no events, no overrun.
  auto batch = (*w)->read_events();
  ASSERT_TRUE(batch.ok());
  EXPECT_FALSE(batch->overrun);
  EXPECT_TRUE((*w)->complete());
}

}  // namespace
}  // namespace netpolicy::netlink
