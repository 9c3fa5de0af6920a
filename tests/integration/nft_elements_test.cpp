// NftBackend::update_elements against the real kernel: an interface event's
// element diff lands in one transaction, leaves every rule (and its handle)
// as it was, yields the same table a full replace would, and a refused
// batch changes nothing. Each test first moves the process into a fresh
// network namespace of its own.
#include <sched.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <regex>
#include <string>

#include "filter/nft_backend.h"
#include "filter/nft_elements.h"
#include "policy/compiler.h"
#include "policy/loader.h"
#include "tests/integration/root_test.h"

namespace netpolicy::filter {
namespace {

using netpolicy::testing::enter_fresh_netns;

// stdout of a shell command run in this (fresh) namespace.
std::string shell(const std::string& command) {
  int status = 0;
  std::string out = netpolicy::testing::shell_output(command, &status);
  EXPECT_EQ(status, 0) << command;
  return out;
}

// Only the rule lines of `nft -a list`, each with its handle.
std::string rule_lines(const std::string& listing) {
  static const std::regex rule(R"(\n\t\t[^\n]*# handle [0-9]+)");
  std::string out;
  for (auto it = std::sregex_iterator(listing.begin(), listing.end(), rule);
       it != std::sregex_iterator(); ++it)
    out += it->str();
  return out;
}

// The listing from the first set on: the header differs with owner flags.
std::string body(const std::string& listing) {
  auto pos = listing.find("\tset ");
  return pos == std::string::npos ? listing : listing.substr(pos);
}

policy::Policy keyword_policy() {
  auto loaded = policy::load_policy_text(R"(version: 1
settings: {table: t}
zones:
  - {name: lan, interfaces: ["vl*"]}
  - {name: wan, interfaces: ["vw*"]}
rules:
  - {name: ssh-to-me, direction: in, to: [me], protocol: tcp, ports: [22], action: allow}
  - {name: lan-fwd, direction: forward, from: ["zone:lan"], to: ["zone:lan"], action: allow}
  - {name: mixed, direction: in, to: [me, 192.0.2.0/24], protocol: tcp, ports: [80], action: allow}
)",
                                         "test.yaml");
  EXPECT_TRUE(std::holds_alternative<policy::Policy>(loaded));
  return std::get<policy::Policy>(loaded);
}

Interface iface(std::string name, int ifindex, std::initializer_list<const char*> addresses) {
  Interface i{std::move(name), ifindex, {}};
  for (const char* a : addresses) i.addresses.push_back(*parse_ip_prefix(a));
  return i;
}

TEST(NftElements, UpdateKeepsRulesAndEqualsAFullReplace) {
  enter_fresh_netns();
  auto backend = NftBackend::open();
  ASSERT_TRUE(backend.ok()) << backend.error().describe();
  const policy::Policy p = keyword_policy();

  InterfaceView before;
  before.interfaces = {iface("lo", 1, {"127.0.0.1", "::1"}),
                       iface("vl0", 2, {"10.200.1.1", "fd00:200:1::1"}),
                       iface("vl1", 3, {"10.200.1.2"}), iface("vw0", 4, {"198.51.100.5"})};
  // vl1 gone (10.200.1.1-2 shrinks to .1), vw0 renamed into lan, a new
  // interface with an IPv6 address only.
  InterfaceView after;
  after.interfaces = {iface("lo", 1, {"127.0.0.1", "::1"}),
                      iface("vl0", 2, {"10.200.1.1", "fd00:200:1::1"}),
                      iface("vl7", 4, {"198.51.100.5"}), iface("vw1", 5, {"fd00:200:9::1"})};
  const DesiredState a = policy::compile(p, before);
  const DesiredState b = policy::compile(p, after);
  ASSERT_TRUE((*backend)->replace_table(a).ok());
  const std::string rules_before = rule_lines(shell("nft -a list table inet t"));
  ASSERT_FALSE(rules_before.empty());

  auto diff = diff_elements(a, b);
  ASSERT_TRUE(diff);
  ASSERT_FALSE(diff->set_deletions.empty());
  ASSERT_FALSE(diff->map_deletions.empty());
  Status s = (*backend)->update_elements(*diff);
  ASSERT_TRUE(s.ok()) << s.error().describe();

  const std::string updated = shell("nft -a list table inet t");
  EXPECT_EQ(rule_lines(updated), rules_before) << "rules were re-sent";
  const std::string updated_plain = body(shell("nft -s list table inet t"));
  EXPECT_NE(updated_plain.find("\"vl7\" : jump in_lan"), std::string::npos) << updated_plain;

  // The same table as a full replace with the new view gives.
  ASSERT_TRUE((*backend)->replace_table(b).ok());
  EXPECT_EQ(updated_plain, body(shell("nft -s list table inet t")));
}

TEST(NftElements, ARefusedBatchChangesNothing) {
  enter_fresh_netns();
  auto backend = NftBackend::open();
  ASSERT_TRUE(backend.ok()) << backend.error().describe();
  const policy::Policy p = keyword_policy();
  InterfaceView view;
  view.interfaces = {iface("vl0", 2, {"10.200.1.1"})};
  const DesiredState a = policy::compile(p, view);
  ASSERT_TRUE((*backend)->replace_table(a).ok());
  const std::string listing = shell("nft -s list table inet t");

  ElementDiff diff;
  diff.table = "t";
  diff.map_additions.push_back({"zone_in", {{"vl9", "in_lan"}}});
  diff.map_additions.push_back({"no_such_map", {{"vl9", "in_lan"}}});
  Status s = (*backend)->update_elements(diff);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().error_code, ENOENT) << s.error().describe();
  EXPECT_NE(s.error().object.find("elements of map 'no_such_map'"), std::string::npos)
      << s.error().object;
  EXPECT_NE(s.error().message.find("Failed to update elements of table 'inet t'"),
            std::string::npos);
  EXPECT_EQ(shell("nft -s list table inet t"), listing) << "half a batch was applied";

  // Deleting what is not there is refused too (the daemon tracks the
  // kernel's elements exactly, so it never asks).
  ElementDiff stale;
  stale.table = "t";
  stale.map_deletions.push_back({"zone_in", {{"vl5", "in_lan"}}});
  EXPECT_EQ((*backend)->update_elements(stale).error().error_code, ENOENT);

  // The socket still works after refusals.
  auto ok = diff_elements(a, policy::compile(p, InterfaceView{}));
  ASSERT_TRUE(ok);
  Status fine = (*backend)->update_elements(*ok);
  EXPECT_TRUE(fine.ok()) << fine.error().describe();
}

}  // namespace
}  // namespace netpolicy::filter
