// Tests the compiler's address keywords `me` and `zone:NAME`
// (policy/host_addresses.cpp, policy/rule_compiler.cpp): their sets hold the
// view's addresses, and the table's structure never depends on the view, so
// an interface event can only ever change elements.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "filter/nft_text.h"
#include "policy/compiler.h"
#include "tests/unit/golden.h"
#include "tests/unit/policy/policy_builder.h"

namespace netpolicy::policy {
namespace {

using namespace netpolicy::policy::testing;  // NOLINT: terse test vocabulary
using netpolicy::testing::expect_golden;

Policy keyword_policy() {
  return PolicyBuilder{}
      .zone("lan", {"vl*"})
      .zone("wan", {"vw*"})
      .group("admins", {"10.10.0.0/24"})
      .rule(allow("ssh-to-me").to({"me"}).protocol(proto::tcp).ports({"22"}))
      .rule(allow("lan-to-lan", Direction::forward)
                .zones({"lan"})
                .from({"zone:lan"})
                .to({"zone:lan"}))
      .rule(allow("web-mixed").to({"me", "192.0.2.0/24"}).protocol(proto::tcp).ports({"80"}))
      .rule(block("wan-from-admins-or-lan", Direction::out)
                .zones({"wan"})
                .from({"admins", "zone:lan"}))
      .build();
}

InterfaceView keyword_view() {
  InterfaceView view;
  view.interfaces = {
      interface("lo", 1, {"127.0.0.1", "::1"}),
      interface("vl0", 2, {"10.200.1.1", "fd00:200:1::1"}),
      interface("vl1", 3, {"10.200.1.2"}),  // adjacent to vl0's: one interval
      interface("vw0", 4, {"198.51.100.5", "fd00:200:2::1"}),
      interface("vx0", 5, {"203.0.113.9"}),  // in no zone: in me only
  };
  return view;
}

TEST(CompilerKeywords, Golden) {
  expect_golden("compiler_keywords.nft",
                filter::render_nft(compile(keyword_policy(), keyword_view())));
}

TEST(CompilerKeywords, GoldenWithoutAddresses) {
  // The same policy on a host with no address at all: every keyword set
  // is there, empty, and every rule still has its IPv4 and IPv6 form.
  InterfaceView view;
  view.interfaces = {interface("lo", 1, {}), interface("vl0", 2, {})};
  expect_golden("compiler_keywords_empty.nft",
                filter::render_nft(compile(keyword_policy(), view)));
}

// The table with every set and map emptied: what must not depend on the view.
filter::Table structure(filter::Table table) {
  for (auto& s : table.sets) s.elements.clear();
  for (auto& m : table.maps) m.elements.clear();
  return table;
}

TEST(CompilerKeywords, StructureDoesNotDependOnTheView) {
  const Policy p = keyword_policy();
  const filter::Table reference = structure(compile(p, keyword_view()).table);
  std::vector<InterfaceView> views(4);
  views[1].interfaces = {interface("vl0", 2, {"fd00::1"})};   // IPv6 only
  views[2].interfaces = {interface("vw9", 7, {"10.0.0.1"})};  // IPv4 only, other zone
  views[3].interfaces = {interface("lo", 1, {"127.0.0.1"}), interface("eth0", 2, {"10.1.1.1"})};
  for (const auto& view : views)
    EXPECT_EQ(structure(compile(p, view).table), reference)
        << filter::render_nft(compile(p, view));
}

TEST(CompilerKeywords, MeHoldsEveryAddressZoneOnlyItsInterfaces) {
  const filter::Table t = compile(keyword_policy(), keyword_view()).table;
  auto find = [&](const std::string& name) -> const filter::Set* {
    for (const auto& s : t.sets)
      if (s.name == name) return &s;
    return nullptr;
  };
  const filter::Set* me4 = find("me4");
  ASSERT_NE(me4, nullptr);
  // 127.0.0.1, 10.200.1.1-10.200.1.2, 198.51.100.5, 203.0.113.9
  EXPECT_EQ(me4->elements.size(), 4u);
  const filter::Set* z4_lan = find("z4_lan");
  ASSERT_NE(z4_lan, nullptr);
  ASSERT_EQ(z4_lan->elements.size(), 1u);  // 10.200.1.1-10.200.1.2
  EXPECT_EQ(z4_lan->elements[0].first, (std::vector<std::uint8_t>{10, 200, 1, 1}));
  EXPECT_EQ(z4_lan->elements[0].last, (std::vector<std::uint8_t>{10, 200, 1, 2}));
  // wan is only named in `zones`, not as `zone:wan`: no set for it.
  EXPECT_EQ(find("z4_wan"), nullptr);
  // lo is in no zone, even with a glob that matches it.
  Policy star = PolicyBuilder{}.zone("all", {"*"}).rule(allow("r").from({"zone:all"})).build();
  const filter::Table t2 = compile(star, keyword_view()).table;
  bool seen = false;
  for (const auto& s : t2.sets) {
    if (s.name != "z4_all") continue;
    seen = true;
    EXPECT_EQ(s.elements.size(), 3u);  // vl0-vl1 merged, vw0, vx0; not 127.0.0.1
  }
  EXPECT_TRUE(seen);
}

}  // namespace
}  // namespace netpolicy::policy
