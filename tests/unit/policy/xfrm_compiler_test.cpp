// policy/xfrm_compiler.cpp, the nft side of protect rules (rule_compiler.cpp)
// and the loader's checks of the IPsec settings and the protect expansion
// cap (yaml_settings_ipsec.cpp, yaml_protect.cpp).
#include "policy/xfrm_compiler.h"

#include <gtest/gtest.h>

#include <variant>

#include "filter/nft_text.h"
#include "filter/xfrm_text.h"
#include "policy/compiler.h"
#include "policy/loader.h"
#include "tests/unit/golden.h"
#include "tests/unit/policy/policy_builder.h"

namespace netpolicy::policy {
namespace {

using namespace netpolicy::policy::testing;  // NOLINT: terse test vocabulary
using netpolicy::testing::expect_golden;
using filter::XfrmDir;

constexpr auto kIn = Direction::in;
constexpr auto kOut = Direction::out;
constexpr auto kFwd = Direction::forward;

Policy protect_policy() {
  Policy p = PolicyBuilder{}
                 .zone("lan", {"eth0"})
                 .group("dbs", {"10.200.1.0/24", "fd00:200:1::/64"})
                 .rule(allow("ssh-in", kIn).protocol(proto::tcp).ports({"22"}))
                 .rule(protect("db-out", kOut)
                           .to({"dbs"})
                           .protocol(proto::tcp)
                           .ports({"5432", "6000-6001"})
                           .ipsec("db-link"))
                 .rule(protect("admin-in", kIn)
                           .from({"10.200.2.5", "10.200.2.6"})
                           .protocol(proto::tcp)
                           .ports({"8443"})
                           .ipsec("admin"))
                 .rule(protect("site", kFwd)
                           .from({"10.200.3.0/24"})
                           .to({"10.200.4.0/24"})
                           .ipsec("tunnel"))
                 .ipsec("db-link", 100)
                 .ipsec("admin", 101)
                 .ipsec("tunnel", 102)
                 .build();
  p.ipsec[1].level = IpsecLevel::request;
  p.ipsec[1].protocol = proto::ah;
  p.ipsec[2].mode = IpsecMode::tunnel;
  p.ipsec[2].local = prefix("10.200.0.1");
  p.ipsec[2].remote = prefix("10.200.0.2");
  return p;
}

TEST(XfrmCompilerGolden, PoliciesAsIpXfrmPolicyText) {
  auto state = compile(protect_policy(), interfaces({"lo", "eth0"}));
  expect_golden("compiler_protect.xfrm", filter::render_xfrm(state.xfrm));
}

TEST(XfrmCompilerGolden, NftEnforcementRules) {
  expect_golden("compiler_protect.nft",
                filter::render_nft(compile(protect_policy(), interfaces({"lo", "eth0"}))));
}

TEST(XfrmCompiler, ExpansionIsAddressesTimesPortsTimesDirections) {
  const Policy p = protect_policy();
  // db-out: one v4 and one v6 prefix, 3 ports, out + in.
  EXPECT_EQ(protect_policy_count(p, p.rules[1]), 2u * 3u * 2u);
  // admin-in: two v4 sources, any destination (v4 only meets v4), 1 port.
  EXPECT_EQ(protect_policy_count(p, p.rules[2]), 2u * 1u * 2u);
  // site: 1 x 1, forward: out and fwd both ways.
  EXPECT_EQ(protect_policy_count(p, p.rules[3]), 4u);
  EXPECT_EQ(protect_policy_count(p, p.rules[0]), 0u);  // allow
  const auto state = compile_xfrm(p);
  EXPECT_EQ(state.policies.size(), 12u + 4u + 4u);
}

TEST(XfrmCompiler, PrioritiesFollowRuleOrderInsideTheBand) {
  Policy p = protect_policy();
  p.settings.xfrm_priority_base = 1000;
  const auto state = compile_xfrm(p);
  EXPECT_EQ(state.band.first, 1000u);
  EXPECT_EQ(state.band.last, 1000u + filter::kXfrmBandWidth - 1);
  for (const auto& x : state.policies) {
    EXPECT_TRUE(state.band.contains(x.priority));
    const std::uint32_t expected = x.rule == "db-out" ? 1001u : x.rule == "admin-in" ? 1002u : 1003u;
    EXPECT_EQ(x.priority, expected) << x.rule;
  }
}

TEST(XfrmCompiler, RepliesGetReversedSelectorsWithTheSourcePort) {
  const auto state = compile_xfrm(protect_policy());
  bool saw_out = false, saw_in = false;
  for (const auto& x : state.policies) {
    const bool peer = x.selector.src == prefix("10.200.2.5") || x.selector.dst == prefix("10.200.2.5");
    if (x.rule != "admin-in" || !peer) continue;
    if (x.dir == XfrmDir::in) {
      saw_in = true;
      EXPECT_EQ(x.selector.src, prefix("10.200.2.5"));
      EXPECT_EQ(x.selector.dport, 8443);
      EXPECT_EQ(x.selector.sport, 0);
    } else {
      saw_out = true;
      EXPECT_EQ(x.dir, XfrmDir::out);
      EXPECT_EQ(x.selector.dst, prefix("10.200.2.5"));
      EXPECT_EQ(x.selector.sport, 8443);
      EXPECT_EQ(x.selector.dport, 0);
    }
    EXPECT_FALSE(x.tmpl.required);  // level request = `level use`
    EXPECT_EQ(x.tmpl.proto, proto::ah);
  }
  EXPECT_TRUE(saw_in && saw_out);
}

TEST(XfrmCompiler, TunnelTemplatesPointFromLocalToRemoteOnTheWayOut) {
  const auto state = compile_xfrm(protect_policy());
  int seen = 0;
  for (const auto& x : state.policies) {
    if (x.rule != "site") continue;
    ++seen;
    ASSERT_TRUE(x.tmpl.tunnel && x.tmpl.tunnel_src && x.tmpl.tunnel_dst);
    const bool out = x.dir == XfrmDir::out;
    EXPECT_EQ(*x.tmpl.tunnel_src, prefix(out ? "10.200.0.1" : "10.200.0.2"));
    EXPECT_EQ(*x.tmpl.tunnel_dst, prefix(out ? "10.200.0.2" : "10.200.0.1"));
  }
  EXPECT_EQ(seen, 4);
}

TEST(XfrmCompiler, ALaterRuleWithTheSameSelectorYieldsNoSecondPolicy) {
  Policy p = PolicyBuilder{}
                 .rule(protect("first", kOut).to({"10.200.9.9"}).ipsec("a"))
                 .rule(protect("second", kOut).to({"10.200.9.9"}).ipsec("b"))
                 .ipsec("a", 1)
                 .ipsec("b", 2)
                 .build();
  const auto state = compile_xfrm(p);
  ASSERT_EQ(state.policies.size(), 2u);  // out and in, both the first rule's
  for (const auto& x : state.policies) {
    EXPECT_EQ(x.rule, "first");
    EXPECT_EQ(x.tmpl.reqid, 1u);
  }
}

TEST(XfrmCompiler, MeAndZoneKeywordsAreAnyAddressOfTheFamily) {
  Policy p = PolicyBuilder{}
                 .zone("lan", {"eth0"})
                 .rule(protect("p", kIn).from({"10.200.7.7"}).to({"me"}).ipsec("a"))
                 .ipsec("a", 1)
                 .build();
  const auto state = compile_xfrm(p);
  ASSERT_EQ(state.policies.size(), 2u);
  EXPECT_EQ(state.policies[0].selector.dst.length, 0);
  EXPECT_EQ(state.policies[0].selector.family, Family::ipv4);
}

TEST(XfrmCompiler, InboundProtectAcceptsOnlyTheProfilesReqidThenDrops) {
  auto state = compile(protect_policy(), interfaces({"eth0"}));
  const filter::Chain* in = nullptr;
  for (const auto& c : state.table.chains)
    if (c.name == "in_lan") in = &c;
  ASSERT_NE(in, nullptr);
  // ssh-in, then admin-in: accept with reqid 101, drop; then the default.
  ASSERT_EQ(in->rules.size(), 4u);
  EXPECT_EQ(in->rules[1].comment, "admin-in");
  EXPECT_EQ(in->rules[1].verdict.kind, filter::VerdictKind::accept);
  ASSERT_FALSE(in->rules[1].matches.empty());
  const auto* reqid = std::get_if<filter::MatchIpsecInReqid>(&in->rules[1].matches.back());
  ASSERT_NE(reqid, nullptr);
  EXPECT_EQ(reqid->reqid, 101u);
  EXPECT_EQ(in->rules[2].comment, "admin-in");
  EXPECT_EQ(in->rules[2].verdict.kind, filter::VerdictKind::drop);
  EXPECT_EQ(in->rules[2].matches.size() + 1, in->rules[1].matches.size());
}

// ---- loader ------------------------------------------------------------

std::vector<Diagnostic> errors_of(const std::string& text) {
  auto result = load_policy_text(text, "p.yaml");
  if (auto* e = std::get_if<std::vector<Diagnostic>>(&result)) return *e;
  return {};
}

const char* const kProtectTail =
    "ipsec:\n"                                                             // 5
    "  - {name: db, reqid: 100}\n"                                         // 6
    "rules:\n"                                                             // 7
    "  - {name: a, direction: out, to: [10.200.1.1], action: protect, ipsec: db}\n"  // 8
    "  - {name: b, direction: out, to: [10.200.1.2], protocol: tcp,\n"    // 9
    "     ports: [\"1000-1009\"], action: protect, ipsec: db}\n";        // 10

TEST(XfrmLoader, SettingsAreReadAndChecked) {
  auto result = load_policy_text(
      "version: 1\nsettings: {xfrm_priority_base: 1000, max_protect_selectors: 22,\n"
      "  sa_missing_after: 3}\n"
      "zones: []\n" +
          std::string{kProtectTail},
      "p.yaml");
  ASSERT_TRUE(std::holds_alternative<Policy>(result));
  const auto& s = std::get<Policy>(result).settings;
  EXPECT_EQ(s.xfrm_priority_base, 1000u);
  EXPECT_EQ(s.max_protect_selectors, 22u);
  EXPECT_EQ(s.sa_missing_after_seconds, 3u);
  const Settings defaults;
  EXPECT_EQ(defaults.xfrm_priority_base, 0x7a000u);
  EXPECT_EQ(defaults.sa_missing_after_seconds, 10u);
}

TEST(XfrmLoader, BadSettingsAreLocated) {
  auto errors = errors_of("version: 1\nsettings:\n  xfrm_priority_base: 0\n"
                          "  max_protect_selectors: -1\n  sa_missing_after: 100000\n");
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0].where.line, 3);
  EXPECT_EQ(errors[0].where.column, 23);
  EXPECT_NE(errors[0].message.find("xfrm_priority_base"), std::string::npos);
  EXPECT_EQ(errors[1].where.line, 4);
  EXPECT_EQ(errors[2].where.line, 5);
}

TEST(XfrmLoader, ExpansionOverTheCapIsLocatedAtTheRuleThatCrossesIt) {
  // a: 2 policies; b: 10 ports x 2 = 20; total 22.
  auto errors = errors_of("version: 1\nsettings: {max_protect_selectors: 21}\nzones: []\n"
                          "addresses: {}\n" +
                          std::string{kProtectTail});
  ASSERT_EQ(errors.size(), 1u) << (errors.empty() ? "" : errors[0].to_string());
  EXPECT_EQ(errors[0].where.line, 9);
  EXPECT_EQ(errors[0].where.column, 5);
  EXPECT_NE(errors[0].message.find("expands to 20 XFRM policies"), std::string::npos)
      << errors[0].message;
  EXPECT_NE(errors[0].message.find("22 with the protect rules before it"), std::string::npos);
  EXPECT_NE(errors[0].message.find("max_protect_selectors (21)"), std::string::npos);
  // At the cap exactly, it loads.
  EXPECT_TRUE(errors_of("version: 1\nsettings: {max_protect_selectors: 22}\nzones: []\n"
                        "addresses: {}\n" +
                        std::string{kProtectTail})
                  .empty());
}

TEST(XfrmText, DescribesAPolicyOnOneLine) {
  filter::XfrmPolicy x;
  x.dir = XfrmDir::in;
  x.selector.src = prefix("10.200.0.2");
  x.selector.dst = prefix("10.200.0.1");
  x.selector.proto = proto::tcp;
  x.selector.dport = 22;
  EXPECT_EQ(filter::describe_xfrm_policy(x),
            "dir in src 10.200.0.2/32 dst 10.200.0.1/32 proto tcp dport 22");
}

}  // namespace
}  // namespace netpolicy::policy
