// daemon/rules_format.cpp: the human table of `netpolicyctl rules`.
#include "daemon/rules_format.h"

#include <gtest/gtest.h>

namespace netpolicy::daemon {
namespace {

using nlohmann::json;

TEST(RulesFormat, TablesOfRulesAndBuiltinsThenNotes) {
  const json data = json::parse(R"({
    "table": "netpolicy", "read_at": "2026-11-22T23:00:00Z",
    "policy": {"path": "/etc/netpolicy/policy.yaml", "sha256": "ab", "source": "central"},
    "rules": [
      {"name": "corp-smtp", "source": "central", "file": "https://c.example/p.yaml", "line": 4,
       "direction": "out", "zones": ["lab", "wan"], "every_zone": true, "action": "block",
       "ipsec": null, "packets": 0, "bytes": 0, "compiled": 2, "nft_rules": [], "note": null},
      {"name": "ssh", "source": "local", "file": "/etc/netpolicy/policy.yaml", "line": 12,
       "direction": "in", "zones": ["lab"], "every_zone": false, "action": "allow",
       "ipsec": null, "packets": 1234567, "bytes": 98765432, "compiled": 1, "nft_rules": [],
       "note": null},
      {"name": "db", "source": "local", "file": "/etc/netpolicy/policy.d/10-db.yaml", "line": 3,
       "direction": "out", "zones": ["lab"], "every_zone": false, "action": "protect",
       "ipsec": "db-link", "packets": 0, "bytes": 0, "compiled": 0, "nft_rules": [],
       "note": "no nft rule: it compiled to none"}
    ],
    "builtin": [
      {"name": "ct-invalid", "description": "ct state invalid", "action": "block",
       "counted": true, "packets": 3, "bytes": 120, "nft_rules": [], "note": null},
      {"name": "unknown-interfaces", "description": "chain policy", "action": "block",
       "counted": false, "packets": null, "bytes": null, "nft_rules": [],
       "note": "not counted"}
    ],
    "notes": ["lo is accepted"]
  })");
  // One row per line, as printed.
  // clang-format off
  const std::string expected =
      "Table inet netpolicy, policy /etc/netpolicy/policy.yaml (central); counters read at "
      "2026-11-22T23:00:00Z\n"
      "\n"
      "RULE       SOURCE                              DIR  ZONES  ACTION             PACKETS     BYTES\n"
      "corp-smtp  central https://c.example/p.yaml:4  out  all    block                    0         0\n"
      "ssh        local policy.yaml:12                in   lab    allow              1234567  98765432\n"
      "db         local policy.d/10-db.yaml:3         out  lab    protect (db-link)        0         0\n"
      "\n"
      "BUILT-IN            ACTION  PACKETS  BYTES  WHAT\n"
      "ct-invalid          block         3    120  ct state invalid\n"
      "unknown-interfaces  block         -      -  chain policy\n"
      "\n"
      "Note: db: no nft rule: it compiled to none\n"
      "Note: unknown-interfaces: not counted\n"
      "Note: lo is accepted\n";
  // clang-format on
  EXPECT_EQ(format_rules(data), expected);
}

TEST(RulesFormat, MissingFieldsShowAsDashes) {
  const std::string out = format_rules(json::parse(R"({"rules": [{"name": "x"}]})"));
  EXPECT_NE(out.find("Table inet -, policy - (-)"), std::string::npos) << out;
  EXPECT_NE(out.find("x     - -     -    -      -             -      -"), std::string::npos) << out;
  EXPECT_EQ(format_rules(json::object()).find("The policy in force has no rules."),
            std::string{"Table inet -, policy - (-); counters read at -\n\n"}.size());
}

}  // namespace
}  // namespace netpolicy::daemon
