// Tests policy/loader.cpp: every kind of bad input is reported at its exact
// line and column with its message, and a good policy comes out whole.
#include "policy/loader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "policy/spelling_hint.h"

namespace netpolicy::policy {
namespace {

constexpr const char* kPath = "test.yaml";

std::vector<Diagnostic> errors_of(std::string_view text, const Limits& limits = {}) {
  auto result = load_policy_text(text, kPath, limits);
  if (std::holds_alternative<Policy>(result)) {
    ADD_FAILURE() << "policy loaded without errors:\n" << text;
    return {};
  }
  auto errors = std::get<std::vector<Diagnostic>>(std::move(result));
  EXPECT_FALSE(errors.empty()) << "a failed load must say why";
  return errors;
}

Policy policy_of(std::string_view text) {
  auto result = load_policy_text(text, kPath);
  if (auto* errors = std::get_if<std::vector<Diagnostic>>(&result)) {
    std::string all;
    for (const auto& d : *errors) all += d.to_string() + "\n";
    ADD_FAILURE() << "unexpected errors:\n" << all;
    return {};
  }
  return std::get<Policy>(std::move(result));
}

std::string dump(const std::vector<Diagnostic>& errors) {
  std::string all;
  for (const auto& d : errors) all += "  " + d.to_string() + "\n";
  return all;
}

// An error at exactly LINE:COL whose message contains `text`.
::testing::AssertionResult has_error(const std::vector<Diagnostic>& errors, int line, int column,
                                     std::string_view text) {
  for (const auto& d : errors)
    if (d.where.line == line && d.where.column == column &&
        d.message.find(text) != std::string::npos) {
      if (d.where.file != kPath)
        return ::testing::AssertionFailure() << "wrong file in " << d.to_string();
      return ::testing::AssertionSuccess();
    }
  return ::testing::AssertionFailure()
         << "no error at " << line << ":" << column << " containing \"" << text << "\"; got:\n"
         << dump(errors);
}

// The only error is at LINE:COL and contains `text`.
::testing::AssertionResult only_error(const std::vector<Diagnostic>& errors, int line, int column,
                                      std::string_view text) {
  if (errors.size() != 1)
    return ::testing::AssertionFailure() << "expected one error, got " << errors.size() << ":\n"
                                         << dump(errors);
  return has_error(errors, line, column, text);
}

// ---------------------------------------------------------------- file level

TEST(LoaderFile, EmptyTextIsEmptyPolicyAtOneOne) {
  EXPECT_TRUE(only_error(errors_of(""), 1, 1, "policy is empty"));
}

TEST(LoaderFile, OnlyCommentsIsEmptyPolicy) {
  EXPECT_TRUE(
      only_error(errors_of("# nothing here\n\n   # still nothing\n"), 1, 1, "policy is empty"));
}

TEST(LoaderFile, NotYamlReportsTheParserMessageAtItsMark) {
  // The flow list is never closed; yaml-cpp notices at the start of line 3.
  auto errors = errors_of("version: 1\nzones: [a, b\n");
  EXPECT_TRUE(only_error(errors, 3, 1, "invalid YAML: end of sequence flow not found"));
}

TEST(LoaderFile, DeepNestingIsRefusedNotACrash) {
  // yaml-cpp's recursion guard (500 calls, two per flow list) trips inside
  // the 250th '['; the error points at it (column 7 + 250), not at the
  // end of the file where yaml-cpp's scanner had got to.
  std::string text = "version: 1\nrules: " + std::string(100000, '[') + "\n";
  EXPECT_TRUE(
      only_error(errors_of(text), 2, 257, "invalid YAML: nested too deeply for the parser"));
}

TEST(LoaderFile, RootNotAMappingIsAnErrorAtOneOne) {
  EXPECT_TRUE(only_error(errors_of("# a list\n- version: 1\n"), 1, 1,
                         "expected a mapping of policy sections"));
  EXPECT_TRUE(only_error(errors_of("just a string\n"), 1, 1, "got 'just a string'"));
}

TEST(LoaderFile, SecondDocumentIsAnError) {
  auto errors = errors_of("version: 1\n---\nversion: 1\n");
  EXPECT_TRUE(only_error(errors, 3, 1, "a policy file holds one YAML document"));
}

TEST(LoaderFile, UnreadableFileGivesStrerrorAtPathOneOne) {
  const std::string path = "/nonexistent/netpolicy-loader-test.yaml";
  auto result = load_policy_file(path);
  ASSERT_TRUE(std::holds_alternative<std::vector<Diagnostic>>(result));
  const auto& errors = std::get<std::vector<Diagnostic>>(result);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(),
            path + ":1:1: error: cannot read policy: No such file or directory");
}

TEST(LoaderFile, DirectoryIsUnreadable) {
  auto result = load_policy_file("/");
  ASSERT_TRUE(std::holds_alternative<std::vector<Diagnostic>>(result));
  const auto& errors = std::get<std::vector<Diagnostic>>(result);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(), "/:1:1: error: cannot read policy: Is a directory");
}

class LoaderTempFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char name[] = "/tmp/netpolicy-loader-XXXXXX";
    int fd = mkstemp(name);
    ASSERT_GE(fd, 0);
    close(fd);
    path_ = name;
  }
  void TearDown() override { std::remove(path_.c_str()); }
  void write(std::string_view text) {
    std::ofstream out(path_, std::ios::binary);
    out << text;
  }
  std::string path_;
};

TEST_F(LoaderTempFile, OversizedFileIsRefusedBeforeParsing) {
  // Not YAML at all: an error about the size proves it was never parsed.
  write(std::string(100, '['));
  Limits limits;
  limits.max_file_bytes = 99;
  auto result = load_policy_file(path_, limits);
  ASSERT_TRUE(std::holds_alternative<std::vector<Diagnostic>>(result));
  const auto& errors = std::get<std::vector<Diagnostic>>(result);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(),
            path_ + ":1:1: error: policy is larger than the limit of 99 bytes");

  limits.max_file_bytes = 100;  // exactly at the limit is fine: now the parser complains
  auto at_limit = load_policy_file(path_, limits);
  ASSERT_TRUE(std::holds_alternative<std::vector<Diagnostic>>(at_limit));
  EXPECT_NE(std::get<std::vector<Diagnostic>>(at_limit)[0].message.find("invalid YAML"),
            std::string::npos);
}

TEST(LoaderFile, OversizedTextIsRefused) {
  Limits limits;
  limits.max_file_bytes = 10;
  EXPECT_TRUE(only_error(errors_of("version: 1\n", limits), 1, 1,
                         "policy is larger than the limit of 10 bytes"));
}

TEST_F(LoaderTempFile, FileLoadSetsPathAndSha256OfTheBytes) {
  write("version: 1\n");
  auto result = load_policy_file(path_);
  ASSERT_TRUE(std::holds_alternative<Policy>(result)) << dump(std::get<1>(result));
  const Policy& p = std::get<Policy>(result);
  EXPECT_EQ(p.path, path_);
  // printf 'version: 1\n' | sha256sum
  EXPECT_EQ(p.sha256, "09bfcc6a14b83e2192b8673677725c84883ee9cd0c70e45c9ec09daa8f2b2847");
}

TEST(LoaderFile, Sha256ChangesWithAnyByte) {
  Policy a = policy_of("version: 1\n");
  Policy b = policy_of("version: 1\n# comment\n");
  EXPECT_EQ(a.sha256, "09bfcc6a14b83e2192b8673677725c84883ee9cd0c70e45c9ec09daa8f2b2847");
  EXPECT_EQ(b.sha256.size(), 64u);
  EXPECT_NE(a.sha256, b.sha256);
  EXPECT_EQ(a.path, kPath);
}

// ------------------------------------------------------------ version & keys

TEST(LoaderTopLevel, MissingVersion) {
  EXPECT_TRUE(only_error(errors_of("\nzones: []\n"), 2, 1, "missing required key 'version'"));
}

TEST(LoaderTopLevel, UnsupportedVersion) {
  EXPECT_TRUE(
      only_error(errors_of("version: 2\n"), 1, 10, "version: unsupported schema version 2"));
}

TEST(LoaderTopLevel, VersionMustBeAnInteger) {
  EXPECT_TRUE(only_error(errors_of("version: \"1\"\n"), 1, 10,
                         "version: expected the integer 1, got the quoted string '1'"));
  EXPECT_TRUE(only_error(errors_of("version: [1]\n"), 1, 10,
                         "version: expected the integer 1, got a list"));
}

TEST(LoaderTopLevel, CoreTagsCountAsPlainOthersAreNamed) {
  Policy p = policy_of("version: !!int 1\nsettings: {log_blocked: !!bool true}\n");
  EXPECT_TRUE(p.settings.log_blocked);
  auto errors = errors_of("version: !!str 1\n");
  EXPECT_TRUE(only_error(errors, 1, 10,
                         "version: expected the integer 1, got '1' tagged "
                         "'tag:yaml.org,2002:str'"));
}

TEST(LoaderTopLevel, CentralSourceByPathOrUrl) {
  Policy p = policy_of("version: 1\nsources:\n  central: {path: /x}\n");
  ASSERT_TRUE(p.central.has_value());
  EXPECT_EQ(p.central->path, "/x");
  Policy u = policy_of(
      "version: 1\nsources:\n  central: {url: https://h/p.yaml, interval: 5m, timeout: 3s, "
      "max_bytes: 4096}\n");
  ASSERT_TRUE(u.central.has_value());
  EXPECT_EQ(u.central->url, "https://h/p.yaml");
  EXPECT_EQ(u.central->interval_seconds, 300u);
  EXPECT_EQ(u.central->timeout_seconds, 3u);
  EXPECT_EQ(u.central->max_bytes, 4096u);
  EXPECT_TRUE(only_error(errors_of("version: 1\nsources:\n  central: {url: ftp://h/x}\n"), 3, 18,
                         "sources.central.url: the central policy url 'ftp://h/x' does not start "
                         "with http:// or https://"));
  EXPECT_TRUE(only_error(errors_of("version: 1\nsources:\n  central: {path: /x, url: http://h}\n"),
                         3, 12, "sources.central: give either path or url, not both"));
}

TEST(LoaderTopLevel, LocalRulesBelongToTheCentralPolicy) {
  EXPECT_TRUE(only_error(errors_of("version: 1\nsettings: {local_rules: false}\n"), 2, 12,
                         "settings: local_rules is set by a central policy, not by the local one"));
  auto central = load_policy_text("version: 1\nsettings: {local_rules: false}\n", "c.yaml",
                                  PolicyRole::central);
  ASSERT_TRUE(std::holds_alternative<Policy>(central));
  EXPECT_FALSE(std::get<Policy>(central).local_rules);
  auto bad = load_policy_text("version: 1\nsettings: {table: x}\n", "c.yaml", PolicyRole::central);
  ASSERT_TRUE(std::holds_alternative<std::vector<Diagnostic>>(bad));
  EXPECT_EQ(std::get<std::vector<Diagnostic>>(bad).front().to_string(),
            "c.yaml:2:12: error: settings: a central policy's settings hold only local_rules; "
            "'table' belongs in the machine's main policy file");
}

TEST(LoaderTopLevel, UnknownKeyWithHint) {
  auto errors = errors_of("version: 1\nzone: []\n");
  EXPECT_TRUE(only_error(errors, 2, 1, "unknown key 'zone'; did you mean 'zones'?"));
}

TEST(LoaderTopLevel, UnknownKeyFarFromAnyHasNoHint) {
  auto errors = errors_of("version: 1\nfrobnicate: 3\n");
  ASSERT_TRUE(only_error(errors, 2, 1, "unknown key 'frobnicate'"));
  EXPECT_EQ(errors[0].message.find("did you mean"), std::string::npos);
}

TEST(LoaderTopLevel, DuplicateKeyIsAnError) {
  auto errors = errors_of("version: 1\nzones: []\nversion: 1\n");
  EXPECT_TRUE(only_error(errors, 3, 1, "duplicate key 'version' (first at 1:1)"));
}

TEST(LoaderTopLevel, NonScalarKeyIsAnError) {
  auto errors = errors_of("version: 1\n? [a, b]\n: 1\n");
  EXPECT_TRUE(only_error(errors, 2, 3, "expected a key name, got a list"));
}

// ----------------------------------------------------------------- settings

TEST(LoaderSettings, TableMustBeAnNftIdentifier) {
  auto errors = errors_of("version: 1\nsettings:\n  table: 9lives\n");
  EXPECT_TRUE(only_error(errors, 3, 10, "settings.table: '9lives' is not a valid table name"));
  errors = errors_of("version: 1\nsettings:\n  table: " + std::string(65, 'a') + "\n");
  EXPECT_TRUE(only_error(errors, 3, 10, "is not a valid table name"));
}

TEST(LoaderSettings, VerdictsAreAllowOrBlock) {
  auto errors = errors_of(
      "version: 1\n"
      "settings:\n"
      "  default: {inbound: alow, outbound: drop}\n"
      "  unknown_interfaces: accept\n");
  ASSERT_EQ(errors.size(), 3u) << dump(errors);
  EXPECT_TRUE(has_error(errors, 3, 22,
                        "settings.default.inbound: expected allow or block, got 'alow'; did you "
                        "mean 'allow'?"));
  EXPECT_TRUE(has_error(errors, 3, 38, "settings.default.outbound: expected allow or block"));
  EXPECT_TRUE(has_error(errors, 4, 23, "settings.unknown_interfaces: expected allow or block"));
}

TEST(LoaderSettings, LogBlockedIsAStrictBoolean) {
  // YAML 1.1 "yes" is a string here, not a boolean.
  auto errors = errors_of("version: 1\nsettings:\n  log_blocked: yes\n");
  EXPECT_TRUE(only_error(errors, 3, 16, "settings.log_blocked: expected true or false, got 'yes'"));
}

TEST(LoaderSettings, WrongTypeForSettings) {
  auto errors = errors_of("version: 1\nsettings: [table]\n");
  EXPECT_TRUE(only_error(errors, 2, 11, "settings: expected a mapping of settings, got a list"));
}

TEST(LoaderSettings, UnknownSettingWithHint) {
  auto errors = errors_of("version: 1\nsettings:\n  log_block: true\n");
  EXPECT_TRUE(
      only_error(errors, 3, 3, "settings: unknown key 'log_block'; did you mean 'log_blocked'?"));
}

TEST(LoaderSettings, EmptyValuePointsAtItsKey) {
  // `table:` with nothing: yaml-cpp marks the null where the next line
  // starts; the message must point at the key instead.
  auto errors = errors_of("version: 1\nsettings:\n  table:\n  log_blocked: true\n");
  EXPECT_TRUE(only_error(errors, 3, 3, "settings.table: expected a table name, got nothing"));
  // Even when the next key starts like "null".
  errors = errors_of("version: 1\nsettings:\n  default:\n  nothing: 1\n");
  ASSERT_EQ(errors.size(), 2u) << dump(errors);
  EXPECT_TRUE(has_error(errors, 3, 3, "settings.default: expected a mapping"));
  // An explicit null is where it is written.
  errors = errors_of("version: 1\nsettings:\n  table: ~\n");
  EXPECT_TRUE(only_error(errors, 3, 10, "settings.table: expected a table name, got nothing"));
}

// -------------------------------------------------------------------- zones

TEST(LoaderZones, ZonesMustBeAList) {
  auto errors = errors_of("version: 1\nzones:\n  lan: [eth0]\n");
  EXPECT_TRUE(only_error(errors, 3, 3, "zones: expected a list of zones, got a mapping"));
}

TEST(LoaderZones, BadZoneName) {
  auto errors = errors_of("version: 1\nzones:\n  - {name: my zone, interfaces: [eth0]}\n");
  EXPECT_TRUE(only_error(errors, 3, 12, "zones[0].name: 'my zone' is not a valid zone name"));
}

TEST(LoaderZones, DuplicateZoneName) {
  auto errors = errors_of(
      "version: 1\n"
      "zones:\n"
      "  - {name: lan, interfaces: [eth0]}\n"
      "  - {name: lan, interfaces: [eth1]}\n");
  EXPECT_TRUE(only_error(errors, 4, 12,
                         "zones[1].name: duplicate zone name 'lan' (first defined at 3:12)"));
}

TEST(LoaderZones, MissingInterfaces) {
  auto errors = errors_of("version: 1\nzones:\n  - name: lan\n");
  EXPECT_TRUE(only_error(errors, 3, 5, "zones[0]: missing required key 'interfaces'"));
}

TEST(LoaderZones, EmptyInterfaceList) {
  auto errors = errors_of("version: 1\nzones:\n  - {name: lan, interfaces: []}\n");
  EXPECT_TRUE(only_error(errors, 3, 29, "zones[0].interfaces: a zone needs at least one"));
}

TEST(LoaderZones, InterfacePatterns) {
  auto errors = errors_of(
      "version: 1\n"
      "zones:\n"
      "  - name: lan\n"
      "    interfaces:\n"
      "      - eth0\n"
      "      - \"\"\n"
      "      - veth-internal-01\n"
      "      - eth0:1\n"
      "      - \"a b\"\n"
      "      - net/0\n"
      "      - {x: 1}\n"
      "      - wl*\n");
  ASSERT_EQ(errors.size(), 6u) << dump(errors);
  EXPECT_TRUE(has_error(errors, 6, 9, "zones[0].interfaces[1]: interface pattern is empty"));
  EXPECT_TRUE(has_error(errors, 7, 9,
                        "zones[0].interfaces[2]: interface pattern 'veth-internal-01' is longer "
                        "than 15 bytes"));
  EXPECT_TRUE(
      has_error(errors, 8, 9, "zones[0].interfaces[3]: interface pattern 'eth0:1' contains"));
  EXPECT_TRUE(has_error(errors, 9, 9, "interface pattern 'a b' contains"));
  EXPECT_TRUE(has_error(errors, 10, 9, "interface pattern 'net/0' contains"));
  EXPECT_TRUE(has_error(errors, 11, 9,
                        "zones[0].interfaces[6]: expected an interface name or pattern, got a "
                        "mapping"));
}

// ---------------------------------------------------------------- addresses

TEST(LoaderAddresses, HostBitsSetSuggestsTheNetwork) {
  auto errors = errors_of("version: 1\naddresses:\n  lan: [10.0.0.1/8]\n");
  EXPECT_TRUE(only_error(errors, 3, 9,
                         "addresses.lan[0]: '10.0.0.1/8' has host bits set; did you mean "
                         "'10.0.0.0/8'?"));
  errors = errors_of("version: 1\naddresses:\n  lan: [\"fd00:10::1/64\"]\n");
  EXPECT_TRUE(only_error(errors, 3, 9, "did you mean 'fd00:10::/64'?"));
}

TEST(LoaderAddresses, InvalidAddress) {
  auto errors = errors_of("version: 1\naddresses:\n  lan:\n    - 10.0.0.0/8\n    - 300.1.1.1\n");
  EXPECT_TRUE(only_error(errors, 5, 7,
                         "addresses.lan[1]: '300.1.1.1' is not an IPv4 or IPv6 address or prefix"));
}

TEST(LoaderAddresses, DuplicateGroupIsCaught) {
  // yaml-cpp would keep both keys; the loader must notice.
  auto errors = errors_of(
      "version: 1\n"
      "addresses:\n"
      "  admins: [10.0.0.0/8]\n"
      "  web: [192.0.2.1]\n"
      "  admins: [10.1.0.0/16]\n");
  EXPECT_TRUE(only_error(errors, 5, 3,
                         "addresses: duplicate address group 'admins' (first defined at 3:3)"));
}

TEST(LoaderAddresses, EmptyGroup) {
  auto errors = errors_of("version: 1\naddresses:\n  admins: []\n");
  EXPECT_TRUE(
      only_error(errors, 3, 11, "addresses.admins: an address group needs at least one address"));
}

TEST(LoaderAddresses, BadGroupName) {
  auto errors = errors_of("version: 1\naddresses:\n  -admins: [10.0.0.0/8]\n");
  EXPECT_TRUE(only_error(errors, 3, 3, "addresses: '-admins' is not a valid address group name"));
}

TEST(LoaderAddresses, WrongTypes) {
  auto errors = errors_of("version: 1\naddresses: [10.0.0.0/8]\n");
  EXPECT_TRUE(only_error(errors, 2, 12,
                         "addresses: expected a mapping of address group names to lists of "
                         "addresses, got a list"));
  errors = errors_of("version: 1\naddresses:\n  admins: 10.0.0.0/8\n");
  EXPECT_TRUE(only_error(errors, 3, 11,
                         "addresses.admins: expected a list of addresses or prefixes, got "
                         "'10.0.0.0/8'"));
}

// -------------------------------------------------------------------- rules

// Lines 1-11; rules start at line 12.
constexpr std::string_view kDefs =
    "version: 1\n"
    "zones:\n"
    "  - {name: internal, interfaces: [eth1]}\n"
    "  - {name: public, interfaces: [eth0]}\n"
    "addresses:\n"
    "  admins: [10.10.0.0/24, \"fd00:10::/64\"]\n"
    "  v4only: [192.0.2.0/24]\n"
    "  v6only: [\"2001:db8::/32\"]\n"
    "ipsec:\n"
    "  - {name: db-link, reqid: 100}\n"
    "rules:\n";

std::vector<Diagnostic> rule_errors(std::string_view rules) {
  return errors_of(std::string{kDefs} + std::string{rules});
}

TEST(LoaderRules, RulesMustBeAList) {
  auto errors = errors_of("version: 1\nrules:\n  name: x\n");
  EXPECT_TRUE(only_error(errors, 3, 3, "rules: expected a list of rules, got a mapping"));
}

TEST(LoaderRules, MissingRequiredKeys) {
  auto errors = rule_errors("  - zones: [internal]\n");
  ASSERT_EQ(errors.size(), 3u) << dump(errors);
  EXPECT_TRUE(has_error(errors, 12, 5, "rules[0]: missing required key 'name'"));
  EXPECT_TRUE(has_error(errors, 12, 5, "rules[0]: missing required key 'direction'"));
  EXPECT_TRUE(has_error(errors, 12, 5, "rules[0]: missing required key 'action'"));
}

TEST(LoaderRules, DuplicateRuleName) {
  auto errors = rule_errors(
      "  - {name: ssh, direction: in, action: allow}\n"
      "  - {name: ssh, direction: out, action: allow}\n");
  EXPECT_TRUE(only_error(errors, 13, 12,
                         "rules[1].name: duplicate rule name 'ssh' (first defined at 12:12)"));
}

TEST(LoaderRules, BadDirectionAndAction) {
  auto errors = rule_errors("  - {name: a, direction: inbound, action: deny}\n");
  ASSERT_EQ(errors.size(), 2u) << dump(errors);
  EXPECT_TRUE(has_error(errors, 12, 26,
                        "rules[0].direction: expected one of in, out or forward, got 'inbound'"));
  EXPECT_TRUE(has_error(errors, 12, 43,
                        "rules[0].action: expected one of allow, block or protect, got 'deny'"));
}

TEST(LoaderRules, UnknownRuleKeyWithHint) {
  auto errors = rule_errors(
      "  - name: a\n"
      "    direction: in\n"
      "    action: allow\n"
      "    protcol: tcp\n");
  EXPECT_TRUE(
      only_error(errors, 15, 5, "rules[0]: unknown key 'protcol'; did you mean 'protocol'?"));
}

TEST(LoaderRules, UndefinedZoneWithHint) {
  auto errors = rule_errors(
      "  - name: a\n"
      "    direction: in\n"
      "    zones: [internal, intenral]\n"
      "    action: allow\n");
  EXPECT_TRUE(only_error(errors, 14, 23,
                         "rules[0].zones[1]: undefined zone 'intenral'; did you mean 'internal'?"));
}

TEST(LoaderRules, ZonesOfWrongType) {
  auto errors = rule_errors(
      "  - name: a\n"
      "    direction: in\n"
      "    zones: {internal: 1}\n"
      "    action: allow\n");
  EXPECT_TRUE(
      only_error(errors, 14, 12, "rules[0].zones: expected a list of zone names, got a mapping"));
  errors = rule_errors(
      "  - name: a\n"
      "    direction: in\n"
      "    zones: internal\n"
      "    action: allow\n");
  EXPECT_TRUE(only_error(errors, 14, 12,
                         "rules[0].zones: expected a list of zone names, got a single value "
                         "'internal'; write [internal]"));
}

TEST(LoaderRules, EmptyListsAreRefused) {
  // An empty list would silently mean "any"; leaving the key out says so.
  auto errors = rule_errors("  - {name: a, direction: in, from: [], action: allow}\n");
  EXPECT_TRUE(only_error(errors, 12, 36,
                         "rules[0].from: empty list; leave 'from' out to match any address"));
}

TEST(LoaderRules, UnknownGroupOrInvalidAddress) {
  auto errors = rule_errors(
      "  - name: a\n"
      "    direction: in\n"
      "    from: [admin, 10.0.0.0/8, nonsense]\n"
      "    to: [10.0.0.1/8]\n"
      "    action: allow\n");
  ASSERT_EQ(errors.size(), 3u) << dump(errors);
  EXPECT_TRUE(has_error(errors, 14, 12,
                        "rules[0].from[0]: unknown address group or invalid address 'admin'; did "
                        "you mean 'admins'?"));
  EXPECT_TRUE(has_error(errors, 14, 31,
                        "rules[0].from[2]: unknown address group or invalid address 'nonsense'"));
  EXPECT_TRUE(has_error(errors, 15, 10,
                        "rules[0].to[0]: '10.0.0.1/8' has host bits set; did you mean "
                        "'10.0.0.0/8'?"));
}

TEST(LoaderRules, Protocol) {
  auto errors = rule_errors(
      "  - {name: a, direction: in, protocol: tpc, action: allow}\n"
      "  - {name: b, direction: in, protocol: 256, action: allow}\n"
      "  - {name: c, direction: in, protocol: [tcp], action: allow}\n");
  ASSERT_EQ(errors.size(), 3u) << dump(errors);
  EXPECT_TRUE(has_error(errors, 12, 40,
                        "rules[0].protocol: expected one of tcp, udp, icmp, icmpv6, esp, ah, any "
                        "or a protocol number 0-255, got 'tpc'; did you mean 'tcp'?"));
  EXPECT_TRUE(has_error(errors, 13, 40, "rules[1].protocol: protocol 256 is out of range 0-255"));
  EXPECT_TRUE(has_error(errors, 14, 40, "got a list"));
}

TEST(LoaderRules, PortsMustBeAList) {
  auto errors =
      rule_errors("  - {name: a, direction: in, protocol: tcp, ports: 22, action: allow}\n");
  EXPECT_TRUE(only_error(errors, 12, 52,
                         "rules[0].ports: expected a list of ports, got a single value '22'; "
                         "write [22]"));
}

TEST(LoaderRules, PortValues) {
  auto errors = rule_errors(
      "  - name: a\n"
      "    direction: in\n"
      "    protocol: udp\n"
      "    ports: [53, 70000, \"9000-8000\", 0, \"80-\", \"1-65536\", http, 8000-8100]\n"
      "    action: allow\n"
      "  - {name: b, direction: in, protocol: tcp, ports: [123456789012345678901234567890]}\n");
  ASSERT_EQ(errors.size(), 8u) << dump(errors);
  // Too many digits for any integer type is still just out of range.
  EXPECT_TRUE(has_error(errors, 17, 53,
                        "rules[1].ports[0]: port 123456789012345678901234... is out of range"));
  EXPECT_TRUE(has_error(errors, 17, 5, "rules[1]: missing required key 'action'"));
  EXPECT_TRUE(has_error(errors, 15, 17, "rules[0].ports[1]: port 70000 is out of range 1-65535"));
  EXPECT_TRUE(has_error(errors, 15, 24,
                        "rules[0].ports[2]: port range '9000-8000' is reversed; did you mean "
                        "'8000-9000'?"));
  EXPECT_TRUE(has_error(errors, 15, 37, "rules[0].ports[3]: port 0 is out of range 1-65535"));
  EXPECT_TRUE(has_error(errors, 15, 40,
                        "rules[0].ports[4]: expected a port number or a range \"A-B\", got the "
                        "quoted string '80-'"));
  EXPECT_TRUE(has_error(errors, 15, 47, "rules[0].ports[5]: port 65536 is out of range 1-65535"));
  EXPECT_TRUE(has_error(errors, 15, 58, "rules[0].ports[6]: expected a port number"));
}

TEST(LoaderRules, PortsNeedTcpOrUdp) {
  auto errors = rule_errors(
      "  - name: a\n"
      "    direction: in\n"
      "    protocol: icmp\n"
      "    ports: [22]\n"
      "    action: allow\n"
      "  - name: b\n"
      "    direction: in\n"
      "    ports: [22]\n"
      "    action: allow\n");
  ASSERT_EQ(errors.size(), 2u) << dump(errors);
  EXPECT_TRUE(has_error(errors, 15, 5, "rules[0].ports: ports need protocol tcp or udp, not icmp"));
  EXPECT_TRUE(has_error(errors, 19, 5, "rules[1].ports: ports need protocol tcp or udp"));
}

TEST(LoaderRules, NoAddressFamilyInCommon) {
  auto errors = rule_errors(
      "  - name: a\n"
      "    direction: in\n"
      "    from: [v4only, 10.0.0.0/8]\n"
      "    to: [v6only]\n"
      "    action: allow\n");
  EXPECT_TRUE(only_error(errors, 15, 9,
                         "rules[0].to: no address family in common with 'from': 'from' is IPv4 "
                         "only, 'to' is IPv6 only"));
}

TEST(LoaderRules, MixedGroupsShareAFamily) {
  // admins has both families, so it meets either side.
  Policy p =
      policy_of(std::string{kDefs} +
                "  - {name: a, direction: in, from: [admins], to: [v6only], action: allow}\n"
                "  - {name: b, direction: in, from: [v4only], to: [admins], action: allow}\n");
  EXPECT_EQ(p.rules.size(), 2u);
}

TEST(LoaderRules, IcmpNeedsIpv4AndIcmpv6NeedsIpv6) {
  auto errors = rule_errors(
      "  - {name: a, direction: in, from: [v6only], protocol: icmp, action: allow}\n"
      "  - {name: b, direction: in, to: [\"192.0.2.1\"], protocol: icmpv6, action: allow}\n");
  ASSERT_EQ(errors.size(), 2u) << dump(errors);
  EXPECT_TRUE(has_error(errors, 12, 56,
                        "rules[0].protocol: icmp is IPv4 only but the rule's addresses are IPv6 "
                        "only; use icmpv6"));
  EXPECT_TRUE(has_error(errors, 13, 59,
                        "rules[1].protocol: icmpv6 is IPv6 only but the rule's addresses are "
                        "IPv4 only; use icmp"));
}

TEST(LoaderRules, ProtectNeedsAProfile) {
  auto errors = rule_errors("  - {name: a, direction: out, action: protect}\n");
  EXPECT_TRUE(only_error(errors, 12, 39, "rules[0].action: protect needs 'ipsec: <profile name>'"));
}

TEST(LoaderRules, ProtectWithUndefinedProfile) {
  auto errors = rule_errors("  - {name: a, direction: out, action: protect, ipsec: db-lnk}\n");
  EXPECT_TRUE(only_error(errors, 12, 55,
                         "rules[0].ipsec: undefined ipsec profile 'db-lnk'; did you mean "
                         "'db-link'?"));
}

TEST(LoaderRules, IpsecOnlyOnProtectRules) {
  auto errors = rule_errors("  - {name: a, direction: out, action: allow, ipsec: db-link}\n");
  EXPECT_TRUE(only_error(errors, 12, 46,
                         "rules[0].ipsec: only rules with action protect take an ipsec profile"));
}

TEST(LoaderRules, RuleOfWrongType) {
  auto errors = rule_errors("  - just-a-name\n");
  EXPECT_TRUE(
      only_error(errors, 12, 5, "rules[0]: expected a rule (a mapping), got 'just-a-name'"));
}

// -------------------------------------------------------------------- ipsec

TEST(LoaderIpsec, TunnelNeedsBothEndpoints) {
  auto errors = errors_of(
      "version: 1\n"
      "ipsec:\n"
      "  - name: t\n"
      "    mode: tunnel\n"
      "    local: 192.0.2.1\n"
      "    reqid: 1\n");
  EXPECT_TRUE(
      only_error(errors, 4, 11, "ipsec[0].mode: tunnel mode needs a 'remote' endpoint address"));
}

TEST(LoaderIpsec, TransportRefusesEndpoints) {
  auto errors = errors_of(
      "version: 1\n"
      "ipsec:\n"
      "  - name: t\n"
      "    remote: 192.0.2.1\n"
      "    reqid: 1\n");
  EXPECT_TRUE(only_error(errors, 4, 5, "ipsec[0].remote: only tunnel mode takes endpoints"));
}

TEST(LoaderIpsec, EndpointsShareAFamilyAndAreHosts) {
  auto errors = errors_of(
      "version: 1\n"
      "ipsec:\n"
      "  - {name: t, mode: tunnel, local: 192.0.2.1, remote: \"2001:db8::1\", reqid: 1}\n"
      "  - {name: u, mode: tunnel, local: 192.0.2.0/24, remote: 192.0.2.9, reqid: 2}\n");
  ASSERT_EQ(errors.size(), 2u) << dump(errors);
  EXPECT_TRUE(has_error(errors, 3, 55,
                        "ipsec[0].remote: remote '2001:db8::1' is IPv6 but local '192.0.2.1' is "
                        "IPv4"));
  EXPECT_TRUE(has_error(errors, 4, 36,
                        "ipsec[1].local: endpoint '192.0.2.0/24' must be a single address"));
}

TEST(LoaderIpsec, Reqid) {
  auto errors = errors_of(
      "version: 1\n"
      "ipsec:\n"
      "  - {name: a, reqid: 7}\n"
      "  - {name: b, reqid: 7}\n"
      "  - {name: c, reqid: 0}\n"
      "  - {name: d, reqid: 4294967296}\n"
      "  - {name: e}\n");
  ASSERT_EQ(errors.size(), 4u) << dump(errors);
  EXPECT_TRUE(
      has_error(errors, 4, 22, "ipsec[1].reqid: reqid 7 is already used by profile 'a' at 3:22"));
  EXPECT_TRUE(has_error(errors, 5, 22, "ipsec[2].reqid: reqid 0 is out of range 1-4294967295"));
  EXPECT_TRUE(
      has_error(errors, 6, 22, "ipsec[3].reqid: reqid 4294967296 is out of range 1-4294967295"));
  EXPECT_TRUE(has_error(errors, 7, 5, "ipsec[4]: missing required key 'reqid'"));
}

// More in ipsec_manual_test.cpp.
TEST(LoaderIpsec, ManualKeyingNeedsEndpointsAndTheSas) {
  auto errors = errors_of(
      "version: 1\n"
      "ipsec:\n"
      "  - name: m\n"
      "    reqid: 1\n"
      "    keying: manual\n"
      "    manual: {key_file: /etc/k}\n");
  ASSERT_EQ(errors.size(), 5u) << dump(errors);
  EXPECT_TRUE(has_error(errors, 5, 13,
                        "ipsec[0].keying: manual keying needs 'local' and 'remote' endpoint "
                        "addresses (in transport mode: this host's address and the peer's"));
  EXPECT_TRUE(has_error(errors, 6, 13, "ipsec[0].manual: missing required key 'algorithm'"));
  EXPECT_TRUE(has_error(errors, 6, 13, "ipsec[0].manual: missing required key 'out'"));
  EXPECT_TRUE(has_error(errors, 6, 13, "ipsec[0].manual: missing required key 'in'"));
  EXPECT_TRUE(has_error(errors, 6, 14, "ipsec[0].manual: unknown key 'key_file'"));
}

TEST(LoaderIpsec, ChoicesAndDuplicateNames) {
  auto errors = errors_of(
      "version: 1\n"
      "ipsec:\n"
      "  - {name: a, reqid: 1, protocol: ipcomp, level: required, mode: tunel}\n"
      "  - {name: a, reqid: 2}\n");
  ASSERT_EQ(errors.size(), 4u) << dump(errors);
  EXPECT_TRUE(has_error(errors, 3, 35, "ipsec[0].protocol: expected esp or ah, got 'ipcomp'"));
  EXPECT_TRUE(has_error(errors, 3, 50,
                        "ipsec[0].level: expected require or request, got 'required'; did you "
                        "mean 'require'?"));
  EXPECT_TRUE(has_error(errors, 3, 66,
                        "ipsec[0].mode: expected transport or tunnel, got 'tunel'; did you mean "
                        "'tunnel'?"));
  EXPECT_TRUE(has_error(errors, 4, 12,
                        "ipsec[1].name: duplicate ipsec profile name 'a' (first defined at 3:12)"));
}

// ------------------------------------------------------------------- limits

TEST(LoaderLimits, TooManyRules) {
  Limits limits;
  limits.max_rules = 2;
  auto errors = errors_of(
      "version: 1\n"
      "rules:\n"
      "  - {name: a, direction: in, action: allow}\n"
      "  - {name: b, direction: in, action: allow}\n"
      "  - {name: c, direction: in, action: allow}\n",
      limits);
  EXPECT_TRUE(only_error(errors, 3, 3, "rules: 3 rules exceed the limit of 2"));
}

TEST(LoaderLimits, EveryOtherCap) {
  Limits limits;
  limits.max_zones = 1;
  limits.max_interface_globs = 2;
  limits.max_groups = 1;
  limits.max_group_entries = 1;
  limits.max_rule_entries = 1;
  limits.max_ipsec_profiles = 1;

  EXPECT_TRUE(only_error(errors_of("version: 1\nzones: [{name: a, interfaces: [x]}, "
                                   "{name: b, interfaces: [y]}]\n",
                                   limits),
                         2, 8, "zones: 2 zones exceed the limit of 1"));
  EXPECT_TRUE(
      only_error(errors_of("version: 1\nzones: [{name: a, interfaces: [x, y, z]}]\n", limits), 2,
                 31, "zones[0].interfaces: 3 interface patterns exceed the limit of 2"));
  EXPECT_TRUE(
      only_error(errors_of("version: 1\naddresses: {a: [10.0.0.0/8], b: [10.0.0.0/8]}\n", limits),
                 2, 12, "addresses: 2 address groups exceed the limit of 1"));
  EXPECT_TRUE(
      only_error(errors_of("version: 1\naddresses: {a: [10.0.0.0/8, 10.1.0.0/16]}\n", limits), 2,
                 16, "addresses.a: 2 entries exceed the limit of 1"));
  EXPECT_TRUE(only_error(errors_of("version: 1\nrules: [{name: a, direction: in, action: allow, "
                                   "protocol: tcp, ports: [1, 2]}]\n",
                                   limits),
                         2, 71, "rules[0].ports: 2 ports exceed the limit of 1"));
  EXPECT_TRUE(only_error(errors_of("version: 1\nrules: [{name: a, direction: in, action: allow, "
                                   "from: [10.0.0.0/8, 10.1.0.0/16]}]\n",
                                   limits),
                         2, 55, "rules[0].from: 2 entries exceed the limit of 1"));
  EXPECT_TRUE(only_error(
      errors_of("version: 1\nipsec: [{name: a, reqid: 1}, {name: b, reqid: 2}]\n", limits), 2, 8,
      "ipsec: 2 ipsec profiles exceed the limit of 1"));
}

TEST(LoaderLimits, AliasesCannotMultiplyWork) {
  // One anchored rule with 8 ports, used 200 times: 200 * 14 nodes to
  // visit. With a budget of 1000 the loader stops inside the 72nd use:
  // 3 top-level keys + 71 rules * (1 element + 5 keys + 8 ports) = 997,
  // then the element, name and direction, and the `action` key is one too
  // many. Aliased nodes keep the anchor's position: line 2.
  std::string bomb =
      "version: 1\n"
      "r: &r {name: a, direction: in, action: allow, protocol: tcp, ports: [1, 2, 3, 4, 5, 6, 7, "
      "8]}\n"
      "rules: [";
  for (int i = 0; i < 200; ++i) bomb += i ? ", *r" : "*r";
  bomb += "]\n";
  Limits limits;
  limits.max_nodes = 1000;
  auto errors = errors_of(bomb, limits);
  EXPECT_TRUE(has_error(errors, 2, 32,
                        "the policy has more than 1000 entries (counting each use of an alias); "
                        "stopped reading here"));
  // The unknown key 'r', the duplicate names of rules[1] to rules[70], the
  // budget; nothing from rules[71], whose reading the budget cut short.
  EXPECT_EQ(errors.size(), 1u + 70u + 1u) << dump(errors);

  // Within the budget, aliases are ordinary YAML.
  Policy p = policy_of(
      "version: 1\n"
      "addresses:\n"
      "  a: &nets [10.0.0.0/8, 192.0.2.0/24]\n"
      "  b: *nets\n");
  ASSERT_EQ(p.addresses.size(), 2u);
  EXPECT_EQ(p.addresses[1].prefixes.size(), 2u);
}

// ------------------------------------------------------- whole-file behaviour

TEST(LoaderReport, AllErrorsReportedSortedByLocation) {
  auto errors = errors_of(
      "version: 1\n"
      "rules:\n"
      "  - {name: a, direction: sideways, action: allow, zones: [nowhere]}\n"
      "settings:\n"
      "  log_blocked: maybe\n"
      "zones:\n"
      "  - {name: lan, interfaces: [\"\"]}\n"
      "bogus: 1\n");
  ASSERT_EQ(errors.size(), 5u) << dump(errors);
  EXPECT_TRUE(has_error(errors, 3, 26, "rules[0].direction"));
  EXPECT_TRUE(has_error(errors, 3, 59, "rules[0].zones[0]: undefined zone 'nowhere'"));
  EXPECT_TRUE(has_error(errors, 5, 16, "settings.log_blocked"));
  EXPECT_TRUE(has_error(errors, 7, 30, "zones[0].interfaces[0]: interface pattern is empty"));
  EXPECT_TRUE(has_error(errors, 8, 1, "unknown key 'bogus'"));
  for (std::size_t i = 1; i < errors.size(); ++i) {
    const auto& a = errors[i - 1].where;
    const auto& b = errors[i].where;
    EXPECT_TRUE(a.line < b.line || (a.line == b.line && a.column <= b.column)) << dump(errors);
  }
  EXPECT_EQ(errors[0].to_string(),
            "test.yaml:3:26: error: rules[0].direction: expected one of in, out or forward, got "
            "'sideways'");
}

TEST(LoaderReport, FullPolicyRoundTrip) {
  Policy p = policy_of(
      "version: 1\n"                                                             // 1
      "settings:\n"                                                              // 2
      "  table: np_test\n"                                                       // 3
      "  default: {inbound: allow, outbound: block, forward: allow}\n"           // 4
      "  unknown_interfaces: allow\n"                                            // 5
      "  log_blocked: true\n"                                                    // 6
      "zones:\n"                                                                 // 7
      "  - {name: public,   interfaces: [\"eth0\", \"wl*\"]}\n"                  // 8
      "  - {name: internal, interfaces: [\"eth1\", \"veth-int*\"]}\n"            // 9
      "addresses:\n"                                                             // 10
      "  admins: [10.10.0.0/24, \"fd00:10::/64\"]\n"                             // 11
      "  db: [192.0.2.10]\n"                                                     // 12
      "rules:\n"                                                                 // 13
      "  - name: ssh-from-admins\n"                                              // 14
      "    direction: in\n"                                                      // 15
      "    zones: [internal]\n"                                                  // 16
      "    from: [admins, 198.51.100.7]\n"                                       // 17
      "    protocol: tcp\n"                                                      // 18
      "    ports: [22, \"8000-8100\", 443-444]\n"                                // 19
      "    action: allow\n"                                                      // 20
      "  - name: db-protected\n"                                                 // 21
      "    direction: out\n"                                                     // 22
      "    to: [db]\n"                                                           // 23
      "    protocol: 6\n"                                                        // 24
      "    ports: [5432]\n"                                                      // 25
      "    action: protect\n"                                                    // 26
      "    ipsec: db-link\n"                                                     // 27
      "  - {name: fwd-any, direction: forward, protocol: any, action: block}\n"  // 28
      "  - {name: ping6, direction: in, to: [\"fd00:10::1\"], protocol: icmpv6, action: allow}\n"
      "ipsec:\n"             // 30
      "  - name: db-link\n"  // 31
      "    mode: transport\n"
      "    protocol: esp\n"
      "    level: require\n"
      "    reqid: 100\n"
      "    keying: ike\n"
      "  - {name: tun, mode: tunnel, local: 192.0.2.1, remote: 198.51.100.1, protocol: ah,\n"
      "     level: request, reqid: 4294967295}\n");
  EXPECT_EQ(p.version, 1);
  EXPECT_EQ(p.settings.table, "np_test");
  EXPECT_EQ(p.settings.defaults.inbound, Verdict::allow);
  EXPECT_EQ(p.settings.defaults.outbound, Verdict::block);
  EXPECT_EQ(p.settings.defaults.forward, Verdict::allow);
  EXPECT_EQ(p.settings.unknown_interfaces, Verdict::allow);
  EXPECT_TRUE(p.settings.log_blocked);

  ASSERT_EQ(p.zones.size(), 2u);
  EXPECT_EQ(p.zones[0].name, "public");
  EXPECT_EQ(p.zones[0].interfaces, (std::vector<std::string>{"eth0", "wl*"}));
  EXPECT_EQ(p.zones[1].name, "internal");
  EXPECT_EQ(p.zones[1].interfaces, (std::vector<std::string>{"eth1", "veth-int*"}));
  EXPECT_EQ(p.zones[1].where.to_string(), "test.yaml:9:5");

  ASSERT_EQ(p.addresses.size(), 2u);
  EXPECT_EQ(p.addresses[0].name, "admins");
  ASSERT_EQ(p.addresses[0].prefixes.size(), 2u);
  EXPECT_EQ(p.addresses[0].prefixes[0].to_string(), "10.10.0.0/24");
  EXPECT_EQ(p.addresses[0].prefixes[1].family, Family::ipv6);
  EXPECT_EQ(p.addresses[0].prefixes[1].to_string(), "fd00:10::/64");
  EXPECT_EQ(p.addresses[0].where.to_string(), "test.yaml:11:3");
  EXPECT_EQ(p.addresses[1].prefixes[0].to_string(), "192.0.2.10");
  EXPECT_NE(p.find_group("db"), nullptr);

  ASSERT_EQ(p.rules.size(), 4u);
  const Rule& ssh = p.rules[0];
  EXPECT_EQ(ssh.name, "ssh-from-admins");
  EXPECT_EQ(ssh.direction, Direction::in);
  EXPECT_EQ(ssh.zones, (std::vector<std::string>{"internal"}));
  ASSERT_EQ(ssh.from.size(), 2u);
  EXPECT_EQ(ssh.from[0].group, "admins");
  EXPECT_EQ(ssh.from[0].where.to_string(), "test.yaml:17:12");
  EXPECT_FALSE(ssh.from[1].group);
  EXPECT_EQ(ssh.from[1].prefix.to_string(), "198.51.100.7");
  EXPECT_TRUE(ssh.to.empty());
  EXPECT_EQ(ssh.protocol, proto::tcp);
  EXPECT_EQ(ssh.ports, (std::vector<PortRange>{{22, 22}, {8000, 8100}, {443, 444}}));
  EXPECT_EQ(ssh.action, Action::allow);
  EXPECT_TRUE(ssh.ipsec.empty());
  EXPECT_EQ(ssh.where.to_string(), "test.yaml:14:5");

  const Rule& db = p.rules[1];
  EXPECT_EQ(db.direction, Direction::out);
  EXPECT_TRUE(db.zones.empty());
  ASSERT_EQ(db.to.size(), 1u);
  EXPECT_EQ(db.to[0].group, "db");
  EXPECT_EQ(db.protocol, proto::tcp);  // 6, written as a number
  EXPECT_EQ(db.action, Action::protect);
  EXPECT_EQ(db.ipsec, "db-link");

  EXPECT_EQ(p.rules[2].direction, Direction::forward);
  EXPECT_FALSE(p.rules[2].protocol);  // any
  EXPECT_EQ(p.rules[2].action, Action::block);
  EXPECT_EQ(p.rules[3].protocol, proto::icmpv6);
  EXPECT_EQ(p.rules[3].to[0].prefix.family, Family::ipv6);

  ASSERT_EQ(p.ipsec.size(), 2u);
  const IpsecProfile& link = p.ipsec[0];
  EXPECT_EQ(link.name, "db-link");
  EXPECT_EQ(link.mode, IpsecMode::transport);
  EXPECT_FALSE(link.local);
  EXPECT_FALSE(link.remote);
  EXPECT_EQ(link.protocol, proto::esp);
  EXPECT_EQ(link.level, IpsecLevel::require);
  EXPECT_EQ(link.reqid, 100u);
  EXPECT_EQ(link.keying, Keying::ike);
  const IpsecProfile& tun = p.ipsec[1];
  EXPECT_EQ(tun.mode, IpsecMode::tunnel);
  ASSERT_TRUE(tun.local && tun.remote);
  EXPECT_EQ(tun.local->to_string(), "192.0.2.1");
  EXPECT_EQ(tun.remote->to_string(), "198.51.100.1");
  EXPECT_EQ(tun.protocol, proto::ah);
  EXPECT_EQ(tun.level, IpsecLevel::request);
  EXPECT_EQ(tun.reqid, 4294967295u);
}

TEST(LoaderReport, DefaultsWhenSectionsAreAbsent) {
  Policy p = policy_of("version: 1\n");
  Settings defaults;
  EXPECT_EQ(p.settings.table, defaults.table);
  EXPECT_EQ(p.settings.defaults.inbound, Verdict::block);
  EXPECT_EQ(p.settings.defaults.outbound, Verdict::allow);
  EXPECT_EQ(p.settings.unknown_interfaces, Verdict::block);
  EXPECT_FALSE(p.settings.log_blocked);
  EXPECT_TRUE(p.zones.empty());
  EXPECT_TRUE(p.rules.empty());
}

TEST(LoaderReport, ExampleFilesInTheTreeLoad) {
  // The policies shipped for users and the demo must stay valid.
  const auto examples = std::filesystem::path{NETPOLICY_TEST_DATA} / "../../../examples";
  int loaded = 0;
  for (const auto& entry : std::filesystem::directory_iterator{examples}) {
    if (entry.path().extension() != ".yaml") continue;
    auto result = load_policy_file(entry.path().string());
    if (auto* errors = std::get_if<std::vector<Diagnostic>>(&result))
      ADD_FAILURE() << entry.path() << ":\n" << dump(*errors);
    ++loaded;
  }
  EXPECT_GE(loaded, 1);
}

// ------------------------------------------------------------------ hints

TEST(LoaderSpelling, EditDistance) {
  EXPECT_EQ(edit_distance("zones", "zones", 2), 0u);
  EXPECT_EQ(edit_distance("zone", "zones", 2), 1u);
  EXPECT_EQ(edit_distance("actoin", "action", 2), 1u);  // a transposition is one edit
  EXPECT_EQ(edit_distance("kitten", "sitting", 3), 3u);
  EXPECT_EQ(edit_distance("kitten", "sitting", 2), 3u);  // gave up: max + 1
  EXPECT_EQ(edit_distance("a", "abcdef", 2), 3u);
}

TEST(LoaderSpelling, ClosestMatch) {
  constexpr std::string_view words[] = {"inbound", "outbound", "forward"};
  EXPECT_EQ(closest_match("inbond", words), "inbound");
  EXPECT_EQ(closest_match("forwrd", words), "forward");
  EXPECT_FALSE(closest_match("sideways", words));
  EXPECT_FALSE(closest_match("", words));
}

}  // namespace
}  // namespace netpolicy::policy
