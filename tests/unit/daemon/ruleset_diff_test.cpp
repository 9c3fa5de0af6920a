#include "daemon/ruleset_diff.h"

#include <gtest/gtest.h>

namespace netpolicy::daemon {
namespace {

constexpr const char* kBase =
    "table inet netpolicy {\n"
    "\tset r_web_ports {\n\t\ttype inet_service\n\t\tflags interval\n\t\telements = { 80, 443 }\n\t}\n\n"
    "\tchain in_lab {\n"
    "\t\tmeta l4proto tcp tcp dport @r_web_ports counter accept comment \"web\"\n"
    "\t\tmeta l4proto tcp tcp dport 22 counter accept comment \"ssh\"\n"
    "\t\tcounter drop comment \"default inbound\"\n\t}\n}\n";

TEST(RulesetDiff, SameTextNoChange) { EXPECT_TRUE(diff_rulesets(kBase, kBase).empty()); }

TEST(RulesetDiff, ElementsRulesAndObjects) {
  std::string after = kBase;
  after.replace(after.find("80, 443"), 7, "443, 8443");
  after.replace(after.find("dport 22"), 8, "dport 2222");
  after.replace(after.find("\t\tcounter drop"), 0,
                "\t\tmeta l4proto udp udp dport 53 counter accept comment \"dns\"\n");
  after.replace(after.find("}\n}\n"), 4,
                "}\n\n\tchain out_lab {\n\t\tcounter accept comment \"default outbound\"\n\t}\n}\n");
  const std::vector<std::string> expected = {
      "~ set r_web_ports: - element 80",
      "~ set r_web_ports: + element 8443",
      "~ chain in_lab: rule 'ssh': meta l4proto tcp tcp dport 22 counter accept comment \"ssh\" -> "
      "meta l4proto tcp tcp dport 2222 counter accept comment \"ssh\"",
      "~ chain in_lab: + rule meta l4proto udp udp dport 53 counter accept comment \"dns\"",
      "+ chain out_lab",
      "~ chain out_lab: + rule counter accept comment \"default outbound\"",
  };
  EXPECT_EQ(diff_rulesets(kBase, after), expected);
  // And back: the opposite.
  auto back = diff_rulesets(after, kBase);
  EXPECT_NE(std::find(back.begin(), back.end(), "- chain out_lab"), back.end());
  EXPECT_NE(std::find(back.begin(), back.end(),
                      "~ chain in_lab: - rule meta l4proto udp udp dport 53 counter accept "
                      "comment \"dns\""),
            back.end());
}

TEST(RulesetDiff, OrderOnly) {
  std::string after = kBase;
  const std::string web = "\t\tmeta l4proto tcp tcp dport @r_web_ports counter accept comment \"web\"\n";
  after.erase(after.find(web), web.size());
  after.replace(after.find("\t\tcounter drop"), 0, web);
  EXPECT_EQ(diff_rulesets(kBase, after),
            std::vector<std::string>{"~ chain in_lab: rule order changed"});
}

}  // namespace
}  // namespace netpolicy::daemon
