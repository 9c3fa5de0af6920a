// daemon/xfrm_diff.cpp on the renderer's own text (filter/xfrm_text.h) of
// compiled policies, and on manual SAs as the renderer writes them.
#include "daemon/xfrm_diff.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "filter/xfrm_text.h"
#include "policy/xfrm_compiler.h"
#include "tests/unit/golden.h"
#include "tests/unit/policy/policy_builder.h"

namespace netpolicy::daemon {
namespace {

using namespace netpolicy::policy::testing;  // NOLINT: terse test vocabulary

std::string xfrm_text(const std::string& port, policy::IpsecLevel level) {
  policy::Policy p = PolicyBuilder{}
                         .rule(protect("db", policy::Direction::out)
                                   .to({"10.200.1.2"})
                                   .protocol(policy::proto::tcp)
                                   .ports({port})
                                   .ipsec("db-link"))
                         .ipsec("db-link", 100)
                         .build();
  p.ipsec[0].level = level;
  return filter::render_xfrm(policy::compile_xfrm(p));
}

TEST(XfrmDiff, SameTextNoChange) {
  const std::string text = xfrm_text("5432", policy::IpsecLevel::require);
  EXPECT_TRUE(diff_xfrm(text, text).empty());
  EXPECT_TRUE(diff_xfrm("", "").empty());
}

TEST(XfrmDiff, APortChangeRemovesAndAddsPoliciesInBothDirections) {
  const auto changes = diff_xfrm(xfrm_text("5432", policy::IpsecLevel::require),
                                 xfrm_text("5433", policy::IpsecLevel::require));
  const std::vector<std::string> expected = {
      "- xfrm policy dir in src 10.200.1.2/32 dst 0.0.0.0/0 proto tcp sport 5432",
      "- xfrm policy dir out src 0.0.0.0/0 dst 10.200.1.2/32 proto tcp dport 5432",
      "+ xfrm policy dir in src 10.200.1.2/32 dst 0.0.0.0/0 proto tcp sport 5433",
      "+ xfrm policy dir out src 0.0.0.0/0 dst 10.200.1.2/32 proto tcp dport 5433",
  };
  EXPECT_EQ(changes, expected);
}

TEST(XfrmDiff, ALevelChangeIsAChangeOfTheSamePolicies) {
  const auto changes = diff_xfrm(xfrm_text("5432", policy::IpsecLevel::require),
                                 xfrm_text("5432", policy::IpsecLevel::request));
  ASSERT_EQ(changes.size(), 2u);
  for (const auto& line : changes) {
    EXPECT_EQ(line.rfind("~ xfrm policy dir ", 0), 0u) << line;
    EXPECT_NE(line.find(" -> "), std::string::npos) << line;
    EXPECT_NE(line.find("level use"), std::string::npos) << line;
  }
}

TEST(XfrmDiff, ManualSasAreKnownByEndpointsAndSpi) {
  std::ifstream in(netpolicy::testing::golden_path("compiler_manual_gcm.xfrm"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string before = buffer.str();
  ASSERT_NE(before.find("spi 0x00001001"), std::string::npos);
  std::string after = before;
  after.replace(after.find("spi 0x00001001"), 14, "spi 0x00001003");
  const std::vector<std::string> expected = {
      "- xfrm state src 10.200.0.1 dst 10.200.0.2 proto esp spi 0x00001001",
      "+ xfrm state src 10.200.0.1 dst 10.200.0.2 proto esp spi 0x00001003",
  };
  EXPECT_EQ(diff_xfrm(before, after), expected);
  // Everything gone: each SA and policy is one removal.
  const auto removed = diff_xfrm(before, "");
  EXPECT_EQ(removed.size(), 4u);
  for (const auto& line : removed) EXPECT_EQ(line.front(), '-') << line;
}

}  // namespace
}  // namespace netpolicy::daemon
