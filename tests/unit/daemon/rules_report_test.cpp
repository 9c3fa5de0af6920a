// daemon/rules_report.cpp: each policy rule's counters are the sum of the
// kernel rules carrying its name; sources, zones and actions come from the
// policy in force; built-ins and what the kernel holds beyond the policy are
// shown; readback failures reach the caller. The kernel is a fake here: a
// table "read back" from the compiled state, with counters we choose.
#include "daemon/rules_report.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <variant>

#include "policy/compiler.h"
#include "policy/loader.h"
#include "policy/policy_set.h"

namespace netpolicy::daemon {
namespace {

using nlohmann::json;

constexpr const char* kMain = "/etc/netpolicy/policy.yaml";
constexpr const char* kDropin = "/etc/netpolicy/policy.d/10-web.yaml";

policy::Policy load(const std::string& text, const std::string& path,
                    policy::PolicyRole role = policy::PolicyRole::main) {
  auto result = policy::load_policy_text(text, path, role);
  if (auto* errors = std::get_if<std::vector<policy::Diagnostic>>(&result)) {
    for (const auto& d : *errors) ADD_FAILURE() << d.where.to_string() << ": " << d.message;
    return {};
  }
  return std::get<policy::Policy>(std::move(result));
}

// The main file and one drop-in, as load_local_policy would merge them.
policy::Policy local_policy(const std::string& settings = "") {
  policy::Policy p;
  const std::string main = "version: 1\n" + settings +
                           "zones:\n"
                           "  - {name: lab, interfaces: [\"vh-lab*\"]}\n"
                           "  - {name: wan, interfaces: [\"vh-wan*\"]}\n"
                           "addresses:\n"
                           "  peers: [10.200.1.2]\n"
                           "rules:\n"
                           "  - {name: ssh, direction: in, zones: [lab], from: [peers], "
                           "protocol: tcp, ports: [22], action: allow}\n"
                           "  - {name: ping-in, direction: in, protocol: icmp, action: allow}\n";
  const std::string dropin =
      "version: 1\n"
      "rules:\n"
      "  - {name: web-block, direction: in, zones: [wan], protocol: tcp, ports: [80, 443], "
      "action: block}\n";
  EXPECT_TRUE(policy::load_policy_into(main, kMain, policy::PolicyRole::main, {}, p).empty());
  EXPECT_TRUE(policy::load_policy_into(dropin, kDropin, policy::PolicyRole::dropin, {}, p).empty());
  p.path = kMain;
  return p;
}

AppliedPolicy applied(policy::Policy p, std::string source = "local") {
  AppliedPolicy a;
  a.state = policy::compile(p, InterfaceView{});
  a.policy = std::move(p);
  a.source = std::move(source);
  return a;
}

// The kernel's view of `state`: every rule in chain order, handles from 2,
// and for each comment (or chain, for rules without one) the counter values
// in `counts` spread over its counted rules: each gets {packets, bytes}.
struct Counts {
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
};
filter::TableRules kernel_of(const filter::DesiredState& state,
                             const std::map<std::string, Counts>& counts) {
  filter::TableRules t;
  t.table = state.table.name;
  std::uint64_t handle = 2;
  for (const auto& chain : state.table.chains) {
    for (const auto& rule : chain.rules) {
      filter::KernelRule k;
      k.chain = chain.name;
      k.handle = handle++;
      k.comment = rule.comment;
      k.counter = rule.counter;
      k.log = rule.log.has_value();
      if (rule.verdict.kind == filter::VerdictKind::accept) k.verdict = "accept";
      if (rule.verdict.kind == filter::VerdictKind::drop) k.verdict = "drop";
      if (rule.verdict.kind == filter::VerdictKind::jump) k.verdict = "jump " + rule.verdict.target;
      const std::string key = rule.comment.empty() ? chain.name : rule.comment;
      if (auto it = counts.find(key); it != counts.end() && k.counter) {
        k.packets = it->second.packets;
        k.bytes = it->second.bytes;
      }
      t.rules.push_back(k);
    }
  }
  return t;
}

const RuleCounters& rule(const RulesReport& r, const std::string& name) {
  for (const auto& c : r.rules)
    if (c.name == name) return c;
  ADD_FAILURE() << "no rule " << name;
  static const RuleCounters kNone;
  return kNone;
}

const BuiltinCounters& builtin(const RulesReport& r, const std::string& name) {
  for (const auto& b : r.builtin)
    if (b.name == name) return b;
  ADD_FAILURE() << "no built-in " << name;
  static const BuiltinCounters kNone;
  return kNone;
}

TEST(RulesReport, CountersAreSummedPerPolicyRuleOverItsNftRules) {
  AppliedPolicy a = applied(local_policy());
  // ping-in names no zone: it is in in_lab and in_wan, one nft rule each
  // (icmp: IPv4 only), each with 3 packets of 84 bytes.
  const auto kernel = kernel_of(a.state, {{"ping-in", {3, 252}}, {"ssh", {7, 420}}});
  RulesReport r = build_rules_report(a, kernel);

  ASSERT_EQ(r.rules.size(), 3u);
  EXPECT_EQ(r.rules[0].name, "ssh");  // policy order
  EXPECT_EQ(r.rules[2].name, "web-block");

  const RuleCounters& ping = rule(r, "ping-in");
  EXPECT_EQ(ping.packets, 6u);
  EXPECT_EQ(ping.bytes, 504u);
  ASSERT_EQ(ping.nft_rules.size(), 2u);
  EXPECT_EQ(ping.nft_rules[0].chain, "in_lab");
  EXPECT_EQ(ping.nft_rules[1].chain, "in_wan");
  EXPECT_EQ(ping.nft_rules[0].packets, 3u);
  EXPECT_EQ(ping.nft_rules[0].verdict, "accept");
  EXPECT_TRUE(ping.every_zone);
  EXPECT_EQ(ping.zones, (std::vector<std::string>{"lab", "wan"}));
  EXPECT_EQ(ping.compiled, 2u);
  EXPECT_EQ(ping.note, "");

  const RuleCounters& ssh = rule(r, "ssh");
  EXPECT_EQ(ssh.packets, 7u);
  EXPECT_EQ(ssh.bytes, 420u);
  EXPECT_EQ(ssh.source, "local");
  EXPECT_EQ(ssh.file, kMain);
  EXPECT_EQ(ssh.line, 8);
  EXPECT_EQ(ssh.direction, "in");
  EXPECT_FALSE(ssh.every_zone);
  EXPECT_EQ(ssh.zones, (std::vector<std::string>{"lab"}));
  EXPECT_EQ(ssh.action, "allow");

  const RuleCounters& web = rule(r, "web-block");
  EXPECT_EQ(web.packets, 0u);  // untouched
  EXPECT_EQ(web.file, kDropin);
  EXPECT_EQ(web.line, 3);
  EXPECT_EQ(web.action, "block");
  ASSERT_EQ(web.nft_rules.size(), 1u);
  EXPECT_EQ(web.nft_rules[0].chain, "in_wan");
  EXPECT_EQ(web.nft_rules[0].verdict, "drop");
}

TEST(RulesReport, BuiltinsAreCountedWhereTheKernelCountsThem) {
  AppliedPolicy a = applied(local_policy());
  const auto kernel = kernel_of(a.state, {{"input", {2, 80}},
                                          {"forward", {1, 40}},
                                          {"default inbound", {5, 300}},
                                          {"default outbound", {4, 200}}});
  RulesReport r = build_rules_report(a, kernel);

  const BuiltinCounters& ct = builtin(r, "ct-invalid");
  EXPECT_TRUE(ct.counted);
  EXPECT_EQ(ct.action, "block");
  ASSERT_EQ(ct.nft_rules.size(), 3u);  // input, output, forward
  EXPECT_EQ(ct.packets, 3u);
  EXPECT_EQ(ct.bytes, 120u);
  EXPECT_EQ(ct.note, "");

  const BuiltinCounters& in = builtin(r, "default-inbound");
  EXPECT_EQ(in.action, "block");
  EXPECT_EQ(in.nft_rules.size(), 2u);  // in_lab, in_wan
  EXPECT_EQ(in.packets, 10u);
  const BuiltinCounters& out = builtin(r, "default-outbound");
  EXPECT_EQ(out.action, "allow");
  EXPECT_EQ(out.packets, 8u);
  EXPECT_EQ(builtin(r, "default-forward").packets, 0u);

  const BuiltinCounters& unknown = builtin(r, "unknown-interfaces");
  EXPECT_FALSE(unknown.counted);
  EXPECT_EQ(unknown.action, "block");
  EXPECT_NE(unknown.note.find("no counter"), std::string::npos);
}

TEST(RulesReport, LogRulesAreListedButOnlyCountersAreSummed) {
  AppliedPolicy a = applied(local_policy("settings: {log_blocked: true}\n"));
  const auto kernel = kernel_of(a.state, {{"web-block", {4, 240}}});
  RulesReport r = build_rules_report(a, kernel);
  const RuleCounters& web = rule(r, "web-block");
  // The zone chain's jump (no counter), then in drop_web-block a log rule
  // (no counter) and the drop rule, all with the rule's comment.
  ASSERT_EQ(web.nft_rules.size(), 3u);
  EXPECT_EQ(web.nft_rules[0].verdict, "jump drop_web-block");
  EXPECT_FALSE(web.nft_rules[0].counter);
  EXPECT_EQ(web.nft_rules[1].chain, "drop_web-block");
  EXPECT_TRUE(web.nft_rules[1].log);
  EXPECT_FALSE(web.nft_rules[1].counter);
  EXPECT_TRUE(web.nft_rules[2].counter);
  EXPECT_EQ(web.packets, 4u);
  EXPECT_EQ(web.compiled, 3u);
  EXPECT_EQ(web.note, "");
}

// The compiler gives every rule of a policy with zones at least one nft
// rule (a rule with `me` or `zone:` gets sets for both families, empty or
// not); a policy without zones has no zone chain at all.
TEST(RulesReport, RuleWithoutNftRuleShowsZeroAndSaysWhy) {
  AppliedPolicy a = applied(
      load("version: 1\nrules:\n  - {name: lonely, direction: in, protocol: tcp, ports: [22], "
           "action: allow}\n",
           kMain));
  RulesReport r = build_rules_report(a, kernel_of(a.state, {}));
  const RuleCounters& lonely = rule(r, "lonely");
  EXPECT_EQ(lonely.packets, 0u);
  EXPECT_TRUE(lonely.nft_rules.empty());
  EXPECT_EQ(lonely.compiled, 0u);
  EXPECT_NE(lonely.note.find("no zones"), std::string::npos) << lonely.note;
  EXPECT_NE(builtin(r, "default-inbound").note.find("no zones"), std::string::npos);
}

TEST(RulesReport, KernelDifferingFromThePolicyIsSaid) {
  AppliedPolicy a = applied(local_policy());
  auto kernel = kernel_of(a.state, {});
  // Someone deleted ssh's rule and added one of their own.
  std::erase_if(kernel.rules, [](const filter::KernelRule& k) { return k.comment == "ssh"; });
  kernel.rules.push_back({"in_lab", 999, "sneaky", true, 1, 60, false, "accept"});
  RulesReport r = build_rules_report(a, kernel);
  const RuleCounters& ssh = rule(r, "ssh");
  EXPECT_EQ(ssh.compiled, 1u);
  EXPECT_TRUE(ssh.nft_rules.empty());
  EXPECT_NE(ssh.note.find("kernel holds 0 nft rules"), std::string::npos) << ssh.note;
  bool said = false;
  for (const auto& n : r.notes) said = said || n.find("'sneaky'") != std::string::npos;
  EXPECT_TRUE(said);

  // A base chain that differs: ct-invalid cannot be placed there.
  auto base = kernel_of(a.state, {});
  std::erase_if(base.rules, [](const filter::KernelRule& k) {
    return k.chain == "input" && k.verdict == "drop";
  });
  const BuiltinCounters& ct = builtin(build_rules_report(a, base), "ct-invalid");
  EXPECT_EQ(ct.nft_rules.size(), 2u);
  EXPECT_NE(ct.note.find("input"), std::string::npos) << ct.note;
}

TEST(RulesReport, CentralRulesAreMarkedWithTheirSource) {
  const std::string label = "https://central.example/policy.yaml";
  policy::Policy central = load(
      "version: 1\nrules:\n  - {name: corp-block, direction: out, protocol: tcp, ports: [25], "
      "action: block}\n",
      label, policy::PolicyRole::central);
  auto merged = policy::merge_central(std::move(central), local_policy());
  ASSERT_TRUE(std::holds_alternative<policy::Policy>(merged));
  const auto& p = std::get<policy::Policy>(merged);
  for (const std::string source : {"central", "cache"}) {
    RulesReport r = build_rules_report(applied(p, source), kernel_of(policy::compile(p, {}), {}));
    ASSERT_EQ(r.rules.size(), 4u);
    EXPECT_EQ(r.rules[0].name, "corp-block");  // central rules first
    EXPECT_EQ(r.rules[0].source, source);
    EXPECT_EQ(r.rules[0].file, label);
    EXPECT_EQ(r.rules[0].direction, "out");
    EXPECT_EQ(rule(r, "ssh").source, "local");
    EXPECT_EQ(rule(r, "web-block").source, "local");
    EXPECT_EQ(r.policy_source, source);
  }
}

TEST(RulesReport, DataHasTheDocumentedShape) {
  AppliedPolicy a = applied(local_policy());
  json d = rules_data(build_rules_report(a, kernel_of(a.state, {{"ssh", {7, 420}}})));
  EXPECT_EQ(d["table"], "netpolicy");
  EXPECT_EQ(d["policy"]["path"], kMain);
  EXPECT_EQ(d["policy"]["source"], "local");
  ASSERT_EQ(d["rules"].size(), 3u);
  const json& ssh = d["rules"][0];
  EXPECT_EQ(ssh["name"], "ssh");
  EXPECT_EQ(ssh["packets"], 7);
  EXPECT_EQ(ssh["bytes"], 420);
  EXPECT_EQ(ssh["zones"], json::array({"lab"}));
  EXPECT_EQ(ssh["ipsec"], nullptr);
  EXPECT_EQ(ssh["note"], nullptr);
  ASSERT_EQ(ssh["nft_rules"].size(), 1u);
  EXPECT_EQ(ssh["nft_rules"][0]["chain"], "in_lab");
  EXPECT_EQ(ssh["nft_rules"][0]["packets"], 7);
  const json& unknown = d["builtin"].back();
  EXPECT_EQ(unknown["name"], "unknown-interfaces");
  EXPECT_EQ(unknown["packets"], nullptr);
  EXPECT_EQ(unknown["counted"], false);
}

class FakeReader : public filter::RuleReader {
 public:
  explicit FakeReader(Result<filter::TableRules> answer) : answer_(std::move(answer)) {}
  Result<filter::TableRules> read_rules(const std::string& table) override {
    asked.push_back(table);
    return answer_;
  }
  std::vector<std::string> asked;

 private:
  Result<filter::TableRules> answer_;
};

TEST(RulesReport, AnswerReadsThePolicysTableAndPassesErrorsOn) {
  AppliedPolicy a = applied(local_policy("settings: {table: np_test}\n"));
  FakeReader good{kernel_of(a.state, {{"ssh", {1, 60}}})};
  auto data = answer_rules(&a, good);
  ASSERT_TRUE(data) << data.error().describe();
  EXPECT_EQ(good.asked, (std::vector<std::string>{"np_test"}));
  EXPECT_EQ((*data)["rules"][0]["packets"], 1);
  EXPECT_TRUE((*data)["read_at"].is_string());

  FakeReader gone{errno_error(
      "Failed to read the rules of table 'inet np_test': the table is not in the kernel", ENOENT)};
  auto failed = answer_rules(&a, gone);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().error_code, ENOENT);
  EXPECT_NE(failed.error().describe().find("not in the kernel"), std::string::npos);

  FakeReader unused{filter::TableRules{}};
  auto none = answer_rules(nullptr, unused);
  ASSERT_FALSE(none);
  EXPECT_TRUE(unused.asked.empty());
  EXPECT_NE(none.error().describe().find("No policy"), std::string::npos);
}

}  // namespace
}  // namespace netpolicy::daemon
