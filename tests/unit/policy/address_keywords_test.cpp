// Tests the loader's part of live interface tracking (policy/yaml_rules.cpp,
// policy/yaml_settings.cpp, policy/yaml_addresses.cpp): the address keywords
// `me` and `zone:NAME`, and settings.netlink_receive_buffer.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "policy/loader.h"

namespace netpolicy::policy {
namespace {

constexpr const char* kPath = "kw.yaml";

std::string dump(const std::vector<Diagnostic>& errors) {
  std::string all;
  for (const auto& d : errors) all += "  " + d.to_string() + "\n";
  return all;
}

Policy policy_of(std::string_view text) {
  auto result = load_policy_text(text, kPath);
  if (auto* errors = std::get_if<std::vector<Diagnostic>>(&result)) {
    ADD_FAILURE() << "unexpected errors:\n" << dump(*errors);
    return {};
  }
  return std::get<Policy>(std::move(result));
}

// Exactly one error, at LINE:COL, containing `text`.
::testing::AssertionResult only_error(std::string_view policy, int line, int column,
                                      std::string_view text) {
  auto result = load_policy_text(policy, kPath);
  auto* errors = std::get_if<std::vector<Diagnostic>>(&result);
  if (errors == nullptr) return ::testing::AssertionFailure() << "loaded without errors";
  if (errors->size() != 1)
    return ::testing::AssertionFailure() << "expected one error, got:\n" << dump(*errors);
  const Diagnostic& d = errors->front();
  if (d.where.line != line || d.where.column != column ||
      d.message.find(text) == std::string::npos)
    return ::testing::AssertionFailure()
           << "expected " << line << ":" << column << " containing '" << text << "', got "
           << d.to_string();
  return ::testing::AssertionSuccess();
}

constexpr std::string_view kHead =
    "version: 1\n"
    "zones:\n"
    "  - {name: lan, interfaces: [\"vl*\"]}\n"
    "  - {name: wan, interfaces: [\"vw*\"]}\n"
    "addresses:\n"
    "  admins: [10.10.0.0/24]\n"
    "rules:\n";

TEST(AddressKeywords, MeAndZoneAreRead) {
  Policy p = policy_of(std::string{kHead} +
                       "  - name: to-me\n"
                       "    direction: in\n"
                       "    to: [me]\n"
                       "    action: allow\n"
                       "  - name: from-lan\n"
                       "    direction: in\n"
                       "    from: [\"zone:lan\", admins, 192.0.2.1, me]\n"
                       "    action: allow\n");
  ASSERT_EQ(p.rules.size(), 2u);
  ASSERT_EQ(p.rules[0].to.size(), 1u);
  EXPECT_TRUE(p.rules[0].to[0].me);
  EXPECT_FALSE(p.rules[0].to[0].group);
  EXPECT_FALSE(p.rules[0].to[0].zone);
  EXPECT_FALSE(p.rules[0].to[0].is_literal());
  EXPECT_EQ(p.rules[0].to[0].where.to_string(), "kw.yaml:10:10");

  const auto& from = p.rules[1].from;
  ASSERT_EQ(from.size(), 4u);
  EXPECT_EQ(from[0].zone, "lan");
  EXPECT_FALSE(from[0].me);
  EXPECT_EQ(from[1].group, "admins");
  EXPECT_TRUE(from[2].is_literal());
  EXPECT_EQ(from[2].prefix.to_string(), "192.0.2.1");
  EXPECT_TRUE(from[3].me);
}

TEST(AddressKeywords, UndefinedZoneIsLocatedWithAHint) {
  EXPECT_TRUE(only_error(std::string{kHead} +
                             "  - name: r\n"
                             "    direction: in\n"
                             "    from: [me, \"zone:lam\"]\n"
                             "    action: allow\n",
                         10, 16, "undefined zone 'lam' in 'zone:lam'; did you mean 'lan'?"));
}

TEST(AddressKeywords, EmptyZoneNameIsAnError) {
  EXPECT_TRUE(only_error(std::string{kHead} +
                             "  - name: r\n"
                             "    direction: in\n"
                             "    to: [\"zone:\"]\n"
                             "    action: allow\n",
                         10, 10, "undefined zone '' in 'zone:'"));
}

TEST(AddressKeywords, MeCoversBothFamilies) {
  // me meets an IPv6-only 'to' and an IPv4-only 'from': no family error.
  Policy p = policy_of(std::string{kHead} +
                       "  - name: a\n"
                       "    direction: out\n"
                       "    from: [me]\n"
                       "    to: [\"fd00::1\"]\n"
                       "    action: allow\n"
                       "  - name: b\n"
                       "    direction: in\n"
                       "    from: [10.0.0.1]\n"
                       "    to: [\"zone:wan\"]\n"
                       "    protocol: icmp\n"
                       "    action: allow\n");
  EXPECT_EQ(p.rules.size(), 2u);
}

TEST(AddressKeywords, GroupNamedMeIsRefused) {
  EXPECT_TRUE(only_error("version: 1\n"
                         "addresses:\n"
                         "  me: [10.0.0.1]\n",
                         3, 3, "'me' is reserved"));
}

TEST(NetlinkReceiveBuffer, DefaultIs32MiB) {
  Policy p = policy_of("version: 1\n");
  EXPECT_EQ(p.settings.netlink_receive_buffer, 32u << 20);
}

TEST(NetlinkReceiveBuffer, IsRead) {
  Policy p = policy_of("version: 1\nsettings:\n  netlink_receive_buffer: 65536\n");
  EXPECT_EQ(p.settings.netlink_receive_buffer, 65536u);
}

TEST(NetlinkReceiveBuffer, OutOfRangeIsLocated) {
  EXPECT_TRUE(only_error("version: 1\nsettings:\n  netlink_receive_buffer: 100\n", 3, 27,
                         "netlink_receive_buffer 100 is out of range 4096-1073741824"));
  EXPECT_TRUE(only_error("version: 1\nsettings:\n  netlink_receive_buffer: 2147483648\n", 3,
                         27, "out of range 4096-1073741824"));
  EXPECT_TRUE(only_error("version: 1\nsettings:\n  netlink_receive_buffer: 32MiB\n", 3, 27,
                         "expected netlink_receive_buffer as an integer"));
}

}  // namespace
}  // namespace netpolicy::policy
