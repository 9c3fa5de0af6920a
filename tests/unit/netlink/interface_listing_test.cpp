// Reads (never changes) the test process's own network namespace: a link
// and address dump needs no privilege.
#include "netlink/interface_listing.h"

#include <gtest/gtest.h>
#include <net/if.h>

#include <algorithm>

namespace netpolicy::netlink {
namespace {

TEST(InterfaceListing, ListsLoopbackWithItsHostAddress) {
  auto view = list_interfaces();
  ASSERT_TRUE(view.ok()) << view.error().describe();
  EXPECT_TRUE(view->complete);
  auto lo = std::find_if(view->interfaces.begin(), view->interfaces.end(),
                         [](const Interface& i) { return i.name == "lo"; });
  ASSERT_NE(lo, view->interfaces.end());
  EXPECT_EQ(lo->ifindex, static_cast<int>(if_nametoindex("lo")));
  // 127.0.0.1 is lo's own address (/32), not its /8 subnet.
  EXPECT_NE(std::find(lo->addresses.begin(), lo->addresses.end(), *parse_ip_prefix("127.0.0.1")),
            lo->addresses.end());
  for (const auto& a : lo->addresses) EXPECT_EQ(a.length, a.max_length()) << a.to_string();
}

TEST(InterfaceListing, AgreesWithIfNameIndex) {
  auto view = list_interfaces();
  ASSERT_TRUE(view.ok()) << view.error().describe();
  struct if_nameindex* names = if_nameindex();
  ASSERT_NE(names, nullptr);
  std::size_t count = 0;
  for (struct if_nameindex* n = names; n->if_index != 0; ++n, ++count) {
    auto it = std::find_if(view->interfaces.begin(), view->interfaces.end(),
                           [&](const Interface& i) { return i.name == n->if_name; });
    ASSERT_NE(it, view->interfaces.end()) << n->if_name;
    EXPECT_EQ(it->ifindex, static_cast<int>(n->if_index)) << n->if_name;
  }
  if_freenameindex(names);
  EXPECT_EQ(view->interfaces.size(), count);
}

}  // namespace
}  // namespace netpolicy::netlink
