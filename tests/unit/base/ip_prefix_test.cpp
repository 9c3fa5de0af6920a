#include "base/ip_prefix.h"

#include <gtest/gtest.h>

namespace netpolicy {
namespace {

TEST(IpPrefix, ParsesAddressesAndPrefixes) {
  auto host = parse_ip_prefix("192.0.2.1");
  ASSERT_TRUE(host);
  EXPECT_EQ(host->family, Family::ipv4);
  EXPECT_EQ(host->length, 32);
  EXPECT_EQ(host->to_string(), "192.0.2.1");

  auto net6 = parse_ip_prefix("fd00:10::/64");
  ASSERT_TRUE(net6);
  EXPECT_EQ(net6->family, Family::ipv6);
  EXPECT_EQ(net6->to_string(), "fd00:10::/64");
}

TEST(IpPrefix, RejectsHostBitsBadLengthsAndGarbage) {
  EXPECT_FALSE(parse_ip_prefix("10.0.0.1/8"));
  EXPECT_FALSE(parse_ip_prefix("10.0.0.0/33"));
  EXPECT_FALSE(parse_ip_prefix("fd00::/129"));
  EXPECT_FALSE(parse_ip_prefix("10.0.0.0/"));
  EXPECT_FALSE(parse_ip_prefix("10.0.0.0/8x"));
  EXPECT_FALSE(parse_ip_prefix("300.1.1.1"));
  EXPECT_FALSE(parse_ip_prefix("eth0"));
  EXPECT_FALSE(parse_ip_prefix(""));
}

TEST(IpPrefix, FirstAndLastCoverThePrefix) {
  auto p = parse_ip_prefix("10.1.0.0/16");
  ASSERT_TRUE(p);
  EXPECT_EQ(format_address(Family::ipv4, p->first().bytes.data()), "10.1.0.0");
  EXPECT_EQ(format_address(Family::ipv4, p->last().bytes.data()), "10.1.255.255");
}

}  // namespace
}  // namespace netpolicy
