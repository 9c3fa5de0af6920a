// filter/nft_text.cpp: every match, verdict and log of filter/model.h, set
// element forms, chain headers and the replace preamble.
#include "filter/nft_text.h"

#include <gtest/gtest.h>

#include "tests/unit/golden.h"

namespace netpolicy::filter {
namespace {

using netpolicy::testing::expect_golden;
using Bytes = std::vector<std::uint8_t>;

Bytes v6(std::string_view text) {
  auto p = parse_ip_prefix(text);
  if (!p) throw std::invalid_argument(std::string{text});
  return Bytes(p->bytes.begin(), p->bytes.end());
}

Rule rule(std::vector<Match> matches, VerdictKind kind, std::string comment = {}) {
  Rule r;
  r.matches = std::move(matches);
  r.verdict.kind = kind;
  r.comment = std::move(comment);
  return r;
}

std::string render_rule(const Rule& r) {
  DesiredState s;
  s.table.chains.push_back(Chain{"c", std::nullopt, {r}});
  std::string text = render_nft(s);
  // The one rule line of the one chain.
  auto start = text.find("\t\t");
  auto end = text.find('\n', start);
  return text.substr(start + 2, end - start - 2);
}

std::string render_set(Set set) {
  DesiredState s;
  s.table.sets.push_back(std::move(set));
  return render_nft(s);
}

// A table with every model variant once: the golden file shows them all and
// the root syntax test feeds it to nft -f.
DesiredState every_variant() {
  DesiredState s;
  Table& t = s.table;
  t.name = "netpolicy";
  t.sets.push_back(Set{"v4_forms",
                       SetType::ipv4_addr,
                       {
                           {{10, 0, 0, 1}, {10, 0, 0, 1}},            // host
                           {{10, 0, 1, 0}, {10, 0, 1, 255}},          // /24
                           {{10, 0, 2, 0}, {10, 0, 5, 255}},          // not one block
                           {{10, 0, 6, 1}, {10, 0, 6, 2}},            // two addresses, no block
                           {{192, 168, 0, 0}, {192, 169, 255, 255}},  // /15
                       }});
  t.sets.push_back(Set{"v6_forms",
                       SetType::ipv6_addr,
                       {
                           {v6("fd00::1"), v6("fd00::1")},
                           {v6("fd00:10::"), v6("fd00:10::ffff:ffff:ffff:ffff")},
                           {v6("fd00:20::5"), v6("fd00:20::9")},
                       }});
  t.sets.push_back(
      Set{"v4_everything", SetType::ipv4_addr, {{{0, 0, 0, 0}, {255, 255, 255, 255}}}});
  t.sets.push_back(Set{"v6_everything", SetType::ipv6_addr, {{Bytes(16, 0x00), Bytes(16, 0xff)}}});
  t.sets.push_back(
      Set{"ports",
          SetType::inet_service,
          {{{0, 80}, {0, 80}}, {{0x01, 0xbb}, {0x01, 0xbb}}, {{0x1f, 0x40}, {0x1f, 0xa4}}}});
  t.sets.push_back(Set{"empty", SetType::ipv4_addr, {}});
  // "tap*" and "a*b" are legal Linux interface names, not globs.
  t.maps.push_back(VerdictMap{
      "zone_in", {{"a*b", "in_a"}, {"eth0", "in_a"}, {"tap*", "in_a"}, {"veth-int0", "in_a"}}});
  t.maps.push_back(VerdictMap{"zone_out", {{"eth0", "out_a"}}});
  t.maps.push_back(VerdictMap{"zone_empty", {}});

  Chain input{"input", BaseChain{Hook::input, 0, false}, {}};
  input.rules.push_back(rule({MatchIfname{IfDirection::input, "lo"}}, VerdictKind::accept));
  input.rules.push_back(rule({MatchCtState{ct::established | ct::related}}, VerdictKind::accept));
  Rule invalid = rule({MatchCtState{ct::invalid}}, VerdictKind::drop);
  invalid.counter = true;
  input.rules.push_back(invalid);
  input.rules.push_back(rule({MatchCtState{ct::new_ | 64 | 0x100}}, VerdictKind::accept));
  input.rules.push_back(rule({MatchL4proto{58}, MatchIcmpv6Type{135}}, VerdictKind::accept));
  input.rules.push_back(rule({MatchL4proto{58}, MatchIcmpv6Type{136}}, VerdictKind::accept));
  input.rules.push_back(rule({MatchL4proto{58}, MatchIcmpv6Type{200}}, VerdictKind::accept));
  input.rules.push_back(rule({}, VerdictKind::vmap));
  input.rules.back().verdict.target = "zone_in";
  Rule log_only;
  log_only.log = Log{"netpolicy: unknown-interface: "};
  input.rules.push_back(log_only);
  t.chains.push_back(input);

  Chain output{"output", BaseChain{Hook::output, 10, true}, {}};
  output.rules.push_back(rule({MatchIfname{IfDirection::output, "lo"}}, VerdictKind::accept));
  output.rules.push_back(rule({MatchIfname{IfDirection::output, "tap*"}}, VerdictKind::drop));
  Rule out_vmap;
  out_vmap.verdict = Verdict{VerdictKind::vmap, "zone_out", IfDirection::output};
  output.rules.push_back(out_vmap);
  t.chains.push_back(output);

  t.chains.push_back(Chain{"forward", BaseChain{Hook::forward, -5, false}, {}});

  Chain a{"in_a", std::nullopt, {}};
  a.rules.push_back(rule({MatchAddressSet{Family::ipv4, true, "v4_forms"},
                          MatchAddressSet{Family::ipv4, false, "v4_everything"}},
                         VerdictKind::accept, "addresses4"));
  a.rules.push_back(rule({MatchAddressSet{Family::ipv6, true, "v6_everything"},
                          MatchAddressSet{Family::ipv6, false, "v6_forms"}},
                         VerdictKind::drop, "addresses6"));
  a.rules.push_back(rule({MatchL4proto{6}, MatchPort{22, 22}}, VerdictKind::accept, "tcp-port"));
  a.rules.push_back(
      rule({MatchL4proto{17}, MatchPort{8000, 8100}}, VerdictKind::accept, "udp-range"));
  a.rules.push_back(rule({MatchL4proto{6}, MatchPortSet{"ports"}}, VerdictKind::accept, "tcp-set"));
  a.rules.push_back(rule({MatchL4proto{132}, MatchPort{5, 6}}, VerdictKind::accept, "th-range"));
  a.rules.push_back(
      rule({MatchL4proto{17}, MatchPortSet{"ports"}}, VerdictKind::accept, "udp-set"));
  a.rules.push_back(rule({MatchPort{53, 53}}, VerdictKind::accept, "th-no-proto"));
  for (int p : {1, 50, 51, 58, 47})
    a.rules.push_back(rule({MatchL4proto{static_cast<std::uint8_t>(p)}}, VerdictKind::accept,
                           "proto-" + std::to_string(p)));
  a.rules.push_back(rule({MatchNfproto{Family::ipv4}}, VerdictKind::accept, "nfproto4"));
  a.rules.push_back(rule({MatchNfproto{Family::ipv6}}, VerdictKind::drop, "nfproto6"));
  Rule logged = rule({MatchL4proto{6}, MatchPort{23, 23}}, VerdictKind::none, "custom-log");
  logged.log = Log{"netpolicy: rule custom-log: ", 3, 7};
  a.rules.push_back(logged);
  a.rules.push_back(rule({}, VerdictKind::jump, "jump"));
  a.rules.back().verdict.target = "out_a";
  Rule fallback = rule({}, VerdictKind::drop, "default inbound");
  fallback.counter = true;
  a.rules.push_back(fallback);
  t.chains.push_back(a);
  t.chains.push_back(Chain{"out_a", std::nullopt, {}});
  return s;
}

TEST(NftTextGolden, EveryVariant) {
  expect_golden("nft_text_variants.nft", render_nft(every_variant()));
}

TEST(NftTextGolden, ReplacePreamble) {
  DesiredState s;
  s.table.name = "np_replace";
  s.table.chains.push_back(Chain{"input", BaseChain{Hook::input, 0, true}, {}});
  expect_golden("nft_text_replace.nft", render_nft(s, /*replace=*/true));
}

TEST(NftText, ReplaceStartsWithAddThenDelete) {
  DesiredState s;
  s.table.name = "t1";
  std::string text = render_nft(s, true);
  EXPECT_EQ(text, "add table inet t1\ndelete table inet t1\ntable inet t1 {\n}\n");
  EXPECT_EQ(render_nft(s, false), "table inet t1 {\n}\n");
}

TEST(NftText, PortSelectorFollowsTheL4proto) {
  EXPECT_EQ(render_rule(rule({MatchL4proto{6}, MatchPort{22, 22}}, VerdictKind::accept)),
            "meta l4proto tcp tcp dport 22 accept");
  EXPECT_EQ(render_rule(rule({MatchL4proto{17}, MatchPort{53, 54}}, VerdictKind::drop)),
            "meta l4proto udp udp dport 53-54 drop");
  EXPECT_EQ(render_rule(rule({MatchL4proto{132}, MatchPortSet{"p"}}, VerdictKind::accept)),
            "meta l4proto 132 th dport @p accept");
  EXPECT_EQ(render_rule(rule({MatchPort{1, 1}}, VerdictKind::accept)), "th dport 1 accept");
}

TEST(NftText, AsteriskInAnInterfaceNameIsLiteral) {
  EXPECT_EQ(render_rule(rule({MatchIfname{IfDirection::input, "tap*"}}, VerdictKind::accept)),
            "iifname \"tap\\*\" accept");
  DesiredState s;
  // nft treats only a trailing '*' as a wildcard and keeps other backslashes.
  s.table.maps.push_back(VerdictMap{"m", {{"a*b", "c"}, {"d*", "e"}}});
  EXPECT_NE(render_nft(s).find("elements = { \"a*b\" : jump c, \"d\\*\" : jump e }"),
            std::string::npos)
      << render_nft(s);
  // Only interface names are escaped: comments and log prefixes are not globs.
  Rule r = rule({}, VerdictKind::none, "x*");
  r.log = Log{"y*"};
  EXPECT_EQ(render_rule(r),
            "limit rate 10/second burst 5 packets log prefix \"y*\" comment \"x*\"");
}

TEST(NftText, RulePartsInOrder) {
  Rule r = rule(
      {MatchAddressSet{Family::ipv4, true, "g4_a"}, MatchAddressSet{Family::ipv6, false, "g6_b"}},
      VerdictKind::drop, "name");
  r.counter = true;
  r.log = Log{"p: "};
  EXPECT_EQ(render_rule(r),
            "ip saddr @g4_a ip6 daddr @g6_b counter limit rate 10/second burst 5 packets log "
            "prefix \"p: \" drop comment \"name\"");
}

TEST(NftText, CtStateNamesThenUnnamedBitsInHex) {
  EXPECT_EQ(render_rule(rule({MatchCtState{ct::related | ct::established}}, VerdictKind::accept)),
            "ct state established,related accept");
  EXPECT_EQ(render_rule(rule({MatchCtState{ct::invalid | 0x30}}, VerdictKind::drop)),
            "ct state invalid,0x30 drop");
}

TEST(NftText, IntervalsRenderAsPrefixesOnlyWhenExactlyOneBlock) {
  auto text = render_set(Set{"s",
                             SetType::ipv4_addr,
                             {{{10, 0, 0, 0}, {10, 0, 1, 255}},
                              {{10, 0, 2, 0}, {10, 0, 4, 255}},
                              {{10, 0, 8, 1}, {10, 0, 8, 1}},
                              {{10, 0, 9, 1}, {10, 0, 9, 2}},
                              {{10, 0, 10, 2}, {10, 0, 10, 3}}}});
  EXPECT_NE(text.find("elements = { 10.0.0.0/23, 10.0.2.0-10.0.4.255, 10.0.8.1, "
                      "10.0.9.1-10.0.9.2, 10.0.10.2/31 }\n"),
            std::string::npos)
      << text;
  auto six = render_set(Set{"s6", SetType::ipv6_addr, {{Bytes(16, 0), Bytes(16, 0xff)}}});
  EXPECT_NE(six.find("elements = { ::/0 }"), std::string::npos) << six;
  auto ports = render_set(Set{"p", SetType::inet_service, {{{0, 0}, {0xff, 0xff}}}});
  EXPECT_NE(ports.find("type inet_service\n\t\tflags interval\n\t\telements = { 0-65535 }\n"),
            std::string::npos)
      << ports;
}

TEST(NftText, EmptySetsAndMapsHaveNoElementsLine) {
  auto text = render_set(Set{"e", SetType::ipv6_addr, {}});
  EXPECT_EQ(text,
            "table inet netpolicy {\n\tset e {\n\t\ttype ipv6_addr\n\t\tflags interval\n\t}\n}\n");
  DesiredState s;
  s.table.maps.push_back(VerdictMap{"m", {}});
  EXPECT_EQ(render_nft(s),
            "table inet netpolicy {\n\tmap m {\n\t\ttype ifname : verdict\n\t}\n}\n");
}

TEST(NftText, BaseChainHeader) {
  DesiredState s;
  s.table.chains.push_back(Chain{"input", BaseChain{Hook::input, 0, false}, {}});
  s.table.chains.push_back(Chain{"fwd", BaseChain{Hook::forward, -5, true}, {}});
  EXPECT_EQ(render_nft(s),
            "table inet netpolicy {\n"
            "\tchain input {\n"
            "\t\ttype filter hook input priority filter; policy drop;\n"
            "\t}\n"
            "\n"
            "\tchain fwd {\n"
            "\t\ttype filter hook forward priority filter - 5; policy accept;\n"
            "\t}\n"
            "}\n");
}

TEST(NftText, Deterministic) {
  EXPECT_EQ(render_nft(every_variant()), render_nft(every_variant()));
}

}  // namespace
}  // namespace netpolicy::filter
