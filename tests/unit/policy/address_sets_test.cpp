// policy/address_sets.cpp: prefixes and ports as merged interval elements.
#include "policy/address_sets.h"

#include <gtest/gtest.h>

#include "tests/unit/policy/policy_builder.h"

namespace netpolicy::policy {
namespace {

using testing::port;
using testing::prefix;
using Bytes = std::vector<std::uint8_t>;

filter::Interval v4(Bytes first, Bytes last) {
  return {std::move(first), std::move(last)};
}

TEST(CompilerAddressSets, PrefixIntervalCoversThePrefix) {
  EXPECT_EQ(prefix_interval(prefix("10.1.0.0/16")), v4({10, 1, 0, 0}, {10, 1, 255, 255}));
  EXPECT_EQ(prefix_interval(prefix("192.0.2.1")), v4({192, 0, 2, 1}, {192, 0, 2, 1}));
  auto six = prefix_interval(prefix("fd00::/8"));
  ASSERT_EQ(six.first.size(), 16u);
  ASSERT_EQ(six.last.size(), 16u);
  EXPECT_EQ(six.first[0], 0xfd);
  EXPECT_EQ(six.first[1], 0x00);
  EXPECT_EQ(six.last[0], 0xfd);
  EXPECT_EQ(six.last[15], 0xff);
}

TEST(CompilerAddressSets, PortIntervalIsNetworkOrder) {
  EXPECT_EQ(port_interval(port("8000-8100")), (filter::Interval{{0x1f, 0x40}, {0x1f, 0xa4}}));
  EXPECT_EQ(port_interval(port("22")), (filter::Interval{{0, 22}, {0, 22}}));
}

TEST(CompilerAddressSets, MergeSortsAndJoinsOverlappingAndAdjacent) {
  auto merged = merge_intervals({
      v4({10, 0, 0, 128}, {10, 0, 0, 255}),  // adjacent to the next after sorting
      v4({10, 0, 0, 0}, {10, 0, 0, 127}),
      v4({10, 0, 2, 0}, {10, 0, 2, 255}),   // gap of 10.0.1.x before it
      v4({10, 0, 2, 5}, {10, 0, 2, 9}),     // inside the previous
      v4({10, 0, 2, 200}, {10, 0, 3, 10}),  // overlaps its end
  });
  EXPECT_EQ(merged, (std::vector<filter::Interval>{v4({10, 0, 0, 0}, {10, 0, 0, 255}),
                                                   v4({10, 0, 2, 0}, {10, 0, 3, 10})}));
}

TEST(CompilerAddressSets, MergeKeepsGapsOfOneAddress) {
  auto merged =
      merge_intervals({v4({10, 0, 0, 1}, {10, 0, 0, 1}), v4({10, 0, 0, 3}, {10, 0, 0, 3})});
  EXPECT_EQ(merged.size(), 2u);
}

TEST(CompilerAddressSets, MergeHandlesTheTopOfTheKeySpace) {
  auto merged = merge_intervals(
      {v4({255, 255, 255, 255}, {255, 255, 255, 255}), v4({0, 0, 0, 0}, {255, 255, 255, 255})});
  EXPECT_EQ(merged, (std::vector<filter::Interval>{v4({0, 0, 0, 0}, {255, 255, 255, 255})}));
  auto ports = port_set("p", {port("65535"), port("65000-65535"), port("1")});
  EXPECT_EQ(ports.elements,
            (std::vector<filter::Interval>{{{0, 1}, {0, 1}}, {{0xfd, 0xe8}, {0xff, 0xff}}}));
}

TEST(CompilerAddressSets, AddressSetKeepsOnlyItsFamily) {
  auto set = address_set("g4_x", Family::ipv4,
                         {prefix("fd00::/8"), prefix("10.0.0.0/24"), prefix("10.0.1.0/24")});
  EXPECT_EQ(set.name, "g4_x");
  EXPECT_EQ(set.type, filter::SetType::ipv4_addr);
  EXPECT_EQ(set.elements, (std::vector<filter::Interval>{v4({10, 0, 0, 0}, {10, 0, 1, 255})}));
  auto set6 = address_set("g6_x", Family::ipv6, {prefix("10.0.0.0/24")});
  EXPECT_EQ(set6.type, filter::SetType::ipv6_addr);
  EXPECT_TRUE(set6.elements.empty());
}

}  // namespace
}  // namespace netpolicy::policy
