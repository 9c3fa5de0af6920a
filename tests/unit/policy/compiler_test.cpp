// Golden and structural tests of policy/compiler.cpp (and the small files it
// is split into). Policies are built in C++ (policy_builder.h), not YAML,
// so these tests do not depend on the loader.
#include "policy/compiler.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "filter/nft_text.h"
#include "tests/unit/golden.h"
#include "tests/unit/policy/policy_builder.h"

namespace netpolicy::policy {
namespace {

using namespace netpolicy::policy::testing;  // NOLINT: terse test vocabulary
using netpolicy::testing::expect_golden;

constexpr auto kIn = Direction::in;
constexpr auto kOut = Direction::out;
constexpr auto kFwd = Direction::forward;
constexpr auto kAllow = Verdict::allow;
constexpr auto kBlock = Verdict::block;

std::string render(const Policy& policy, const InterfaceView& view) {
  return filter::render_nft(compile(policy, view));
}

const filter::Chain* find_chain(const filter::Table& table, const std::string& name) {
  for (const auto& c : table.chains)
    if (c.name == name) return &c;
  return nullptr;
}

const filter::VerdictMap* find_map(const filter::Table& table, const std::string& name) {
  for (const auto& m : table.maps)
    if (m.name == name) return &m;
  return nullptr;
}

std::vector<std::string> set_names(const filter::Table& table) {
  std::vector<std::string> names;
  for (const auto& s : table.sets) names.push_back(s.name);
  return names;
}

// ---- classify ------------------------------------------------------------

TEST(CompilerClassify, FirstZoneWithAMatchingGlobWins) {
  Policy p = PolicyBuilder{}
                 .zone("public", {"eth0", "wl*"})
                 .zone("internal", {"eth*", "veth-int*"})
                 .zone("dmz", {"dmz[0-9]", "tap?"})
                 .build();
  ASSERT_NE(classify(p, "eth0"), nullptr);
  EXPECT_EQ(classify(p, "eth0")->name, "public");  // also matches eth*, but later
  EXPECT_EQ(classify(p, "eth1")->name, "internal");
  EXPECT_EQ(classify(p, "wlan0")->name, "public");
  EXPECT_EQ(classify(p, "veth-int7")->name, "internal");
  EXPECT_EQ(classify(p, "dmz3")->name, "dmz");
  EXPECT_EQ(classify(p, "tap1")->name, "dmz");
  // The returned pointer is the policy's own zone.
  EXPECT_EQ(classify(p, "dmz3"), &p.zones[2]);
}

TEST(CompilerClassify, NoMatchingGlobMeansNoZone) {
  Policy p = PolicyBuilder{}.zone("dmz", {"dmz[0-9]", "tap?"}).zone("empty", {}).build();
  EXPECT_EQ(classify(p, "dmz10"), nullptr);  // [0-9] is one character
  EXPECT_EQ(classify(p, "tap"), nullptr);    // ? is exactly one character
  EXPECT_EQ(classify(p, "eth0"), nullptr);
  EXPECT_EQ(classify(p, ""), nullptr);
  EXPECT_EQ(classify(PolicyBuilder{}.build(), "eth0"), nullptr);
}

TEST(CompilerClassify, GlobsAreCaseSensitiveAndMatchWholeNames) {
  Policy p = PolicyBuilder{}.zone("z", {"eth0", "br-*"}).build();
  EXPECT_EQ(classify(p, "ETH0"), nullptr);
  EXPECT_EQ(classify(p, "eth00"), nullptr);
  EXPECT_EQ(classify(p, "xeth0"), nullptr);
  // No FNM_PERIOD: '*' matches dots, as in VLAN names.
  EXPECT_NE(classify(p, "br-lan.100"), nullptr);
}

// ---- golden outputs ------------------------------------------------------

TEST(CompilerGolden, EmptyPolicy) {
  // No zones, groups or rules: base chains with empty maps, nothing else.
  expect_golden("compiler_empty.nft", render(PolicyBuilder{}.build(), interfaces({"lo", "eth0"})));
}

TEST(CompilerGolden, EveryActionAndDirection) {
  Policy p = PolicyBuilder{}
                 .zone("internal", {"eth1"})
                 .rule(allow("ssh-in", kIn).protocol(proto::tcp).ports({"22"}))
                 .rule(block("telnet-in", kIn).protocol(proto::tcp).ports({"23"}))
                 .rule(allow("dns-out", kOut).protocol(proto::udp).ports({"53"}))
                 .rule(block("smtp-out", kOut).protocol(proto::tcp).ports({"25"}))
                 .rule(protect("db-protected", kOut)
                           .to({"192.0.2.10"})
                           .protocol(proto::tcp)
                           .ports({"5432", "5433"})
                           .ipsec("db-link"))
                 .rule(allow("fwd-web", kFwd).protocol(proto::tcp).ports({"80"}))
                 .rule(block("fwd-rest", kFwd))
                 .ipsec("db-link", 100)
                 .build();
  expect_golden("compiler_actions.nft", render(p, interfaces({"lo", "eth1"})));
}

TEST(CompilerGolden, EveryProtocolForm) {
  Policy p = PolicyBuilder{}
                 .zone("lan", {"eth0"})
                 .group("mixed", {"10.0.0.0/8", "fd00::/8"})
                 .rule(allow("p-tcp").protocol(proto::tcp))
                 .rule(allow("p-udp").protocol(proto::udp))
                 .rule(allow("p-icmp").protocol(proto::icmp))
                 .rule(allow("p-icmpv6").protocol(proto::icmpv6))
                 .rule(allow("p-esp").protocol(proto::esp))
                 .rule(allow("p-ah").protocol(proto::ah))
                 .rule(allow("p-sctp").protocol(132))
                 .rule(allow("p-any"))
                 .rule(allow("p-icmp-mixed").from({"mixed"}).protocol(proto::icmp))
                 .rule(allow("p-icmpv6-mixed").from({"mixed"}).protocol(proto::icmpv6))
                 .rule(allow("p-tcp-mixed").from({"mixed"}).protocol(proto::tcp).ports({"22"}))
                 .build();
  expect_golden("compiler_protocols.nft", render(p, interfaces({"eth0"})));
}

TEST(CompilerGolden, EveryPortForm) {
  Policy p = PolicyBuilder{}
                 .zone("lan", {"eth0"})
                 .rule(allow("port-single").protocol(proto::tcp).ports({"22"}))
                 .rule(allow("port-range").protocol(proto::tcp).ports({"8000-8100"}))
                 .rule(allow("port-list").protocol(proto::tcp).ports({"443", "80", "8000-8100"}))
                 .rule(allow("port-merge")
                           .protocol(proto::udp)
                           .ports({"81", "80", "79-85", "8101", "8000-8100", "82"}))
                 .rule(block("port-udp", kOut).protocol(proto::udp).ports({"53", "5353"}))
                 .rule(allow("port-all").protocol(proto::tcp).ports({"0-65535", "22"}))
                 .build();
  expect_golden("compiler_ports.nft", render(p, interfaces({"eth0"})));
}

TEST(CompilerGolden, AddressGroupsLiteralsAndMerging) {
  Policy p =
      PolicyBuilder{}
          .zone("lan", {"eth0"})
          .group("admins", {"10.10.0.0/24", "fd00:10::/64", "192.0.2.1"})
          .group("v4only", {"198.51.100.0/24"})
          .group("v6only", {"2001:db8::/32"})
          .group("unused", {"203.0.113.0/24"})
          .group("overlap", {"10.1.0.0/16", "10.0.0.0/8", "10.255.255.255"})
          .group("adjacent",
                 {"10.20.0.128/25", "10.20.0.0/25", "fd00:20::/65", "fd00:20:0:0:8000::/65"})
          .group("notcidr", {"10.30.2.0/24", "10.30.1.0/24", "fd00:30::1", "fd00:30::2"})
          .group("none", {})
          .rule(allow("grp-mixed").from({"admins"}).protocol(proto::tcp).ports({"22"}))
          .rule(allow("grp-v4").from({"v4only"}))
          .rule(allow("grp-v6", kOut).to({"v6only"}))
          .rule(allow("several").from({"v4only", "v6only"}))
          .rule(block("literal").from({"192.0.2.7"}))
          .rule(allow("literal-and-group", kOut).to({"admins", "192.0.2.0/25", "192.0.2.128/25"}))
          .rule(allow("from-to").from({"admins"}).to({"v4only"}))
          .rule(allow("from-to-disjoint").from({"v4only"}).to({"v6only"}))
          .rule(allow("disjoint-literals").from({"192.0.2.9"}).to({"2001:db8::9"}))
          .rule(allow("empty-group").from({"none"}))
          .rule(allow("both-own", kFwd)
                    .from({"10.40.0.0/16", "fd00:40::/48"})
                    .to({"admins", "10.50.0.1"}))
          .build();
  expect_golden("compiler_addresses.nft", render(p, interfaces({"eth0"})));
}

// Rules whose own sets would hold the same elements share one set (the
// first such set, or a group's); sets that follow interfaces never do.
TEST(CompilerSets, EqualOwnSetsAreSharedButNotThoseThatFollowInterfaces) {
  Policy p = PolicyBuilder{}
                 .zone("lan", {"eth0"})
                 .group("web", {"192.0.2.0/24"})
                 .rule(allow("first").from({"10.1.0.0/16", "10.3.0.0/16"}))
                 .rule(allow("twin").from({"10.3.0.0/16", "10.1.0.0/16"}))
                 .rule(allow("like-group").from({"192.0.2.0/25", "192.0.2.128/25"}))
                 .rule(allow("ports-a").protocol(proto::tcp).ports({"80", "443"}))
                 .rule(allow("ports-b").protocol(proto::tcp).ports({"443", "80"}))
                 .rule(allow("live").to({"me", "10.1.0.0/16"}))
                 .rule(allow("live-twin").to({"me", "10.1.0.0/16"}))
                 .build();
  InterfaceView view;
  view.interfaces = {interface("eth0", 2, {})};  // no address: "live" equals "first" now
  const filter::Table table = compile(p, view).table;
  const auto names = set_names(table);
  auto has = [&](const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  EXPECT_TRUE(has("r_first_src4"));
  EXPECT_FALSE(has("r_twin_src4"));
  EXPECT_FALSE(has("r_like-group_src4"));
  EXPECT_TRUE(has("r_ports-a_ports"));
  EXPECT_FALSE(has("r_ports-b_ports"));
  EXPECT_TRUE(has("r_live_dst4"));
  EXPECT_TRUE(has("r_live-twin_dst4"));
  const std::string text = filter::render_nft(compile(p, view));
  EXPECT_NE(text.find("ip saddr @r_first_src4 counter accept comment \"twin\""), std::string::npos);
  EXPECT_NE(text.find("ip saddr @g4_web counter accept comment \"like-group\""), std::string::npos);
  EXPECT_NE(text.find("tcp dport @r_ports-a_ports counter accept comment \"ports-b\""),
            std::string::npos);
  EXPECT_NE(text.find("ip daddr @r_live-twin_dst4 counter accept comment \"live-twin\""),
            std::string::npos);
}

TEST(CompilerGolden, ZonesAndInterfaceClassification) {
  Policy p =
      PolicyBuilder{}
          .zone("public", {"eth0", "wl*"})
          .zone("internal", {"eth*", "veth-int*"})
          .zone("dmz", {"dmz[0-9]"})
          .zone("spare", {"nomatch*"})
          .rule(allow("all-zones").protocol(proto::tcp).ports({"22"}))
          .rule(allow("internal-only").zones({"internal"}).protocol(proto::tcp).ports({"80"}))
          .rule(allow("public-and-dmz", kOut)
                    .zones({"public", "dmz"})
                    .protocol(proto::udp)
                    .ports({"53"}))
          .rule(allow("fwd-internal", kFwd).zones({"internal"}))
          .build();
  // Unsorted, with lo, a duplicate and interfaces no glob matches.
  InterfaceView view =
      interfaces({"wlan0", "tun0", "eth1", "lo", "veth-int0", "dmz10", "eth0", "dmz1", "eth1"});
  expect_golden("compiler_zones.nft", render(p, view));
}

TEST(CompilerGolden, DefaultsAllowAndUnknownInterfacesAllow) {
  // inbound allow, outbound block, forward allow; unknown interfaces allowed
  // (chain policies accept, so no unknown-interface log even with logging).
  Policy p = PolicyBuilder{}
                 .table("np_alt")
                 .defaults(kAllow, kBlock, kAllow)
                 .unknown_interfaces(kAllow)
                 .log_blocked()
                 .zone("lan", {"eth0"})
                 .rule(allow("web-out", kOut).protocol(proto::tcp).ports({"443"}))
                 .build();
  expect_golden("compiler_defaults_allow.nft", render(p, interfaces({"eth0", "eth9"})));
}

TEST(CompilerGolden, LogBlocked) {
  Policy p = PolicyBuilder{}
                 .log_blocked()
                 .zone("lan", {"eth0"})
                 .group("bad", {"192.0.2.0/24", "2001:db8:bad::/48"})
                 .rule(block("drop-bad").from({"bad"}))
                 .rule(allow("ssh").protocol(proto::tcp).ports({"22"}))
                 .rule(block("drop-rest", kFwd))
                 .build();
  expect_golden("compiler_log_blocked.nft", render(p, interfaces({"eth0"})));
}

// ---- structure -----------------------------------------------------------

TEST(CompilerMaps, LoIsNeverInTheMapsEvenWhenAGlobMatchesIt) {
  Policy p = PolicyBuilder{}.zone("all", {"*"}).build();
  ASSERT_NE(classify(p, "lo"), nullptr);  // classify itself is only the glob match
  auto state = compile(p, interfaces({"lo", "eth0"}));
  for (const char* name : {"zone_in", "zone_out", "zone_fwd"}) {
    const auto* map = find_map(state.table, name);
    ASSERT_NE(map, nullptr) << name;
    ASSERT_EQ(map->elements.size(), 1u) << name;
    EXPECT_EQ(map->elements[0].ifname, "eth0");
  }
  EXPECT_EQ(find_map(state.table, "zone_in")->elements[0].chain, "in_all");
  EXPECT_EQ(find_map(state.table, "zone_out")->elements[0].chain, "out_all");
  EXPECT_EQ(find_map(state.table, "zone_fwd")->elements[0].chain, "fwd_all");
}

TEST(CompilerMaps, UnclassifiedInterfacesFallToTheUnknownPosture) {
  for (Verdict posture : {kAllow, kBlock}) {
    Policy p = PolicyBuilder{}.unknown_interfaces(posture).zone("lan", {"eth0"}).build();
    auto state = compile(p, interfaces({"eth0", "tun0"}));
    for (const auto& map : state.table.maps) {
      ASSERT_EQ(map.elements.size(), 1u);
      EXPECT_EQ(map.elements[0].ifname, "eth0");
    }
    for (const char* chain : {"input", "output", "forward"}) {
      const auto* c = find_chain(state.table, chain);
      ASSERT_NE(c, nullptr);
      ASSERT_TRUE(c->base);
      EXPECT_EQ(c->base->policy_accept, posture == kAllow) << chain;
      EXPECT_EQ(c->base->priority, 0);
    }
  }
}

TEST(CompilerRules, OutboundProtectRulesOnlyAcceptInNft) {
  // Outbound, the XFRM policies refuse clear text (xfrm_compiler_test.cpp);
  // nft accepts the flow so the chain's default does not catch it.
  Policy p = PolicyBuilder{}
                 .zone("lan", {"eth0"})
                 .rule(protect("db-protected")
                           .to({"192.0.2.10", "192.0.2.11"})
                           .protocol(proto::tcp)
                           .ports({"1", "2"})
                           .ipsec("db"))
                 .ipsec("db", 7)
                 .build();
  auto state = compile(p, interfaces({"eth0"}));
  const auto* out = find_chain(state.table, "out_lan");
  ASSERT_NE(out, nullptr);
  ASSERT_EQ(out->rules.size(), 2u);  // the protect rule, then the default
  EXPECT_EQ(out->rules[0].comment, "db-protected");
  EXPECT_EQ(out->rules[0].verdict.kind, filter::VerdictKind::accept);
  EXPECT_FALSE(state.xfrm.policies.empty());
}

TEST(CompilerRules, BlockedLogIsARuleOfItsOwnSoOverLimitPacketsAreStillDropped) {
  Policy p = PolicyBuilder{}
                 .log_blocked()
                 .zone("lan", {"eth0"})
                 .zone("wan", {"eth1"})
                 .rule(block("no-telnet").protocol(proto::tcp).ports({"23"}))
                 .build();
  auto state = compile(p, interfaces({"eth0", "eth1"}));
  // Each zone chain matches once and jumps to the rule's one drop chain.
  for (const char* name : {"in_lan", "in_wan"}) {
    const auto* in = find_chain(state.table, name);
    ASSERT_NE(in, nullptr);
    ASSERT_EQ(in->rules.size(), 3u) << name;  // jump, default log, default drop
    const auto& jump = in->rules[0];
    EXPECT_EQ(jump.verdict.kind, filter::VerdictKind::jump);
    EXPECT_EQ(jump.verdict.target, "drop_no-telnet");
    EXPECT_FALSE(jump.log);
    EXPECT_FALSE(jump.counter);  // counted once, in the drop chain
    EXPECT_FALSE(jump.matches.empty());
    EXPECT_EQ(jump.comment, "no-telnet");
  }
  const auto* chain = find_chain(state.table, "drop_no-telnet");
  ASSERT_NE(chain, nullptr);
  EXPECT_FALSE(chain->base);
  ASSERT_EQ(chain->rules.size(), 2u);  // log, then count and drop
  const auto& log = chain->rules[0];
  const auto& drop = chain->rules[1];
  ASSERT_TRUE(log.log);
  EXPECT_EQ(log.log->prefix, "netpolicy: rule no-telnet: ");
  EXPECT_EQ(log.verdict.kind, filter::VerdictKind::none);
  EXPECT_FALSE(drop.log);
  EXPECT_EQ(drop.verdict.kind, filter::VerdictKind::drop);
  EXPECT_TRUE(drop.counter);
  EXPECT_TRUE(log.matches.empty());
  EXPECT_TRUE(drop.matches.empty());
  EXPECT_EQ(drop.comment, "no-telnet");
  // Without zones no chain holds the rule, and nothing needs its drop chain.
  Policy zoneless = PolicyBuilder{}.log_blocked().rule(block("no-zone").protocol(proto::tcp)).build();
  EXPECT_EQ(find_chain(compile(zoneless, interfaces({"eth0"})).table, "drop_no-zone"), nullptr);
  // No compiled rule anywhere combines a (rate limited) log with a verdict.
  for (const auto& c : state.table.chains)
    for (const auto& rule : c.rules)
      EXPECT_FALSE(rule.log && rule.verdict.kind != filter::VerdictKind::none) << c.name;
}

TEST(CompilerRules, FromAndToUseOnlyTheFamiliesBothHave) {
  Policy p = PolicyBuilder{}
                 .zone("lan", {"eth0"})
                 .group("mixed", {"10.0.0.0/8", "fd00::/8"})
                 .rule(allow("r").from({"mixed"}).to({"2001:db8::1"}))
                 .build();
  auto state = compile(p, interfaces({}));
  const auto* in = find_chain(state.table, "in_lan");
  ASSERT_NE(in, nullptr);
  ASSERT_EQ(in->rules.size(), 2u);
  EXPECT_EQ(in->rules[0].matches,
            (std::vector<filter::Match>{filter::MatchAddressSet{Family::ipv6, true, "g6_mixed"},
                                        filter::MatchAddressSet{Family::ipv6, false, "r_r_dst6"}}));
  // The unused per-rule v4 set is not emitted; the group's sets always are.
  EXPECT_EQ(set_names(state.table), (std::vector<std::string>{"g4_mixed", "g6_mixed", "r_r_dst6"}));
}

TEST(CompilerRules, ZoneChainsComeInZoneOrderAfterTheBaseChains) {
  Policy p = PolicyBuilder{}.zone("b", {}).zone("a", {}).build();
  auto state = compile(p, interfaces({}));
  std::vector<std::string> names;
  for (const auto& c : state.table.chains) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"input", "output", "forward", "in_b", "out_b", "fwd_b",
                                             "in_a", "out_a", "fwd_a"}));
  std::vector<std::string> maps;
  for (const auto& m : state.table.maps) maps.push_back(m.name);
  EXPECT_EQ(maps, (std::vector<std::string>{"zone_in", "zone_out", "zone_fwd"}));
}

TEST(CompilerDeterminism, SameInputSameTextAndInterfaceOrderDoesNotMatter) {
  Policy p =
      PolicyBuilder{}
          .zone("public", {"eth0", "wl*"})
          .zone("internal", {"eth*"})
          .group("admins", {"10.10.0.0/24", "fd00:10::/64"})
          .rule(
              allow("ssh").from({"admins", "192.0.2.1"}).protocol(proto::tcp).ports({"22", "2222"}))
          .rule(block("rest", kFwd))
          .build();
  const std::string first = render(p, interfaces({"eth0", "eth1", "wlan0", "eth2"}));
  EXPECT_EQ(first, render(p, interfaces({"eth0", "eth1", "wlan0", "eth2"})));
  EXPECT_EQ(first, render(p, interfaces({"wlan0", "eth2", "eth1", "eth0"})));
  EXPECT_EQ(compile(p, interfaces({"eth0"})), compile(p, interfaces({"eth0"})));
}

}  // namespace
}  // namespace netpolicy::policy
