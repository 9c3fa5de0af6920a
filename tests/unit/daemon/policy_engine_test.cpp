// The engine with a fake kernel: every stage can fail, and the previous
// policy must survive each failure, in the engine and in what it asks of
// the applier.
#include "daemon/policy_engine.h"
#include "tests/unit/daemon/recording_sink.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace netpolicy::daemon {
namespace {

using netpolicy::daemon::testing::RecordingSink;
using netpolicy::daemon::testing::field;

class FakeApplier final : public filter::RulesetApplier {
 public:
  Status replace_table(const filter::DesiredState& state) override {
    asked.push_back(state);
    if (fail_with) return *fail_with;
    return Ok{};
  }
  std::vector<filter::DesiredState> asked;  // every call, failed or not
  std::optional<Error> fail_with;
};



constexpr const char* kGoodPolicy = R"(version: 1
zones:
  - {name: lan, interfaces: ["veth*"]}
rules:
  - name: ssh
    direction: in
    protocol: tcp
    ports: [22]
    action: allow
  - name: web
    direction: in
    protocol: tcp
    ports: [80, 443]
    action: allow
)";

constexpr const char* kOtherPolicy = R"(version: 1
zones:
  - {name: lan, interfaces: ["veth*"]}
rules:
  - name: dns
    direction: out
    protocol: udp
    ports: [53]
    action: allow
)";

// An unknown key on line 4, column 3.
constexpr const char* kBrokenPolicy = R"(version: 1
zones:
  - {name: lan, interfaces: ["veth*"]}
bogus: 1
)";

class PolicyEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (std::filesystem::temp_directory_path() / "np-engine-XXXXXX").string();
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
    path_ = dir_ + "/policy.yaml";
    view_.interfaces = {{"lo", 1, {}}, {"veth0", 2, {}}, {"eth9", 3, {}}};
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void write(const char* text) { std::ofstream(path_, std::ios::trunc) << text; }

  PolicyEngine make() {
    return PolicyEngine{applier_,
                        [this]() -> Result<InterfaceView> {
                          ++listings_;
                          if (list_error_) return *list_error_;
                          return view_;
                        },
                        sink_, diag_};
  }

  std::string dir_, path_;
  FakeApplier applier_;
  RecordingSink sink_;
  std::ostringstream diag_;
  InterfaceView view_;
  std::optional<Error> list_error_;
  int listings_ = 0;
};

TEST_F(PolicyEngineTest, AppliesAValidPolicyAndAuditsIt) {
  write(kGoodPolicy);
  auto engine = make();
  auto outcome = engine.apply_file(path_);
  ASSERT_TRUE(outcome.applied) << outcome.reason << "\n" << diag_.str();

  ASSERT_EQ(applier_.asked.size(), 1u);
  ASSERT_NE(engine.current(), nullptr);
  EXPECT_EQ(engine.current()->state, applier_.asked[0]);
  EXPECT_EQ(engine.current()->policy.path, path_);
  EXPECT_EQ(engine.current()->policy.sha256.size(), 64u);

  ASSERT_EQ(sink_.records.size(), 1u);
  const AuditRecord& r = sink_.records[0];
  EXPECT_EQ(r.event, Event::policy_applied);
  EXPECT_EQ(r.message, "Applied policy " + path_ + " (2 rules, 3 interfaces)");
  EXPECT_EQ(field(r, Field::policy_path), path_);
  EXPECT_EQ(field(r, Field::policy_source), "local");
  EXPECT_EQ(field(r, Field::policy_sha256), engine.current()->policy.sha256);
  EXPECT_EQ(field(r, Field::rules), "2");
  EXPECT_EQ(field(r, Field::interfaces), "3");
  EXPECT_EQ(engine.status(), "policy " + path_ + " (2 rules), 3 interfaces");
  EXPECT_EQ(diag_.str(), "");
}

TEST_F(PolicyEngineTest, InvalidPolicyAtStartAppliesNothing) {
  write(kBrokenPolicy);
  auto engine = make();
  auto outcome = engine.apply_file(path_);
  EXPECT_FALSE(outcome.applied);
  EXPECT_TRUE(applier_.asked.empty());
  EXPECT_EQ(listings_, 0);  // a broken file never reaches the kernel side
  EXPECT_EQ(engine.current(), nullptr);
  EXPECT_EQ(engine.status(), "no policy applied");

  ASSERT_EQ(sink_.records.size(), 1u);
  const AuditRecord& r = sink_.records[0];
  EXPECT_EQ(r.event, Event::policy_failed);
  EXPECT_EQ(field(r, Field::error_location), path_ + ":4:1");
  EXPECT_NE(field(r, Field::reason).find(path_ + ":4:1: error: "), std::string::npos)
      << field(r, Field::reason);
  EXPECT_EQ(field(r, Field::error_code), "<absent>");
  EXPECT_EQ(field(r, Field::action_taken), "no policy applied; the kernel keeps the rules it had");
  // Every diagnostic also goes to stderr in compiler form.
  EXPECT_EQ(diag_.str().rfind(path_ + ":4:1: error: ", 0), 0u) << diag_.str();
}

TEST_F(PolicyEngineTest, UnreadableFileCarriesItsErrno) {
  auto engine = make();
  auto outcome = engine.apply_file(dir_ + "/missing.yaml");
  EXPECT_FALSE(outcome.applied);
  ASSERT_EQ(sink_.records.size(), 1u);
  const AuditRecord& r = sink_.records[0];
  EXPECT_EQ(r.event, Event::policy_failed);
  EXPECT_EQ(field(r, Field::error_code), std::to_string(ENOENT));
  EXPECT_EQ(field(r, Field::error), "No such file or directory");
  EXPECT_EQ(field(r, Field::error_location), dir_ + "/missing.yaml:1:1");
  EXPECT_TRUE(applier_.asked.empty());
}

TEST_F(PolicyEngineTest, BrokenReloadKeepsThePreviousPolicy) {
  write(kGoodPolicy);
  auto engine = make();
  ASSERT_TRUE(engine.apply_file(path_).applied) << diag_.str();
  const std::string sha = engine.current()->policy.sha256;
  const filter::DesiredState state = engine.current()->state;

  write(kBrokenPolicy);
  auto outcome = engine.apply_file(path_);
  EXPECT_FALSE(outcome.applied);
  EXPECT_NE(outcome.reason.find(path_ + ":4:1"), std::string::npos) << outcome.reason;

  ASSERT_NE(engine.current(), nullptr);
  EXPECT_EQ(engine.current()->policy.sha256, sha);
  EXPECT_EQ(engine.current()->state, state);
  EXPECT_EQ(applier_.asked.size(), 1u);  // nothing else was sent
  ASSERT_EQ(sink_.records.size(), 2u);
  EXPECT_EQ(sink_.records[1].event, Event::policy_failed);
  EXPECT_EQ(field(sink_.records[1], Field::action_taken),
            "kept the previous policy (sha256 " + sha.substr(0, 12) + ")");
  EXPECT_NE(sink_.records[1].message.find("kept the previous policy"), std::string::npos);
}

TEST_F(PolicyEngineTest, KernelRejectionKeepsThePreviousPolicy) {
  write(kGoodPolicy);
  auto engine = make();
  ASSERT_TRUE(engine.apply_file(path_).applied) << diag_.str();
  const std::string sha = engine.current()->policy.sha256;

  write(kOtherPolicy);
  applier_.fail_with = Error{"Failed to add rule 'dns' in chain 'out_lan'", EINVAL,
                             "rule 'dns' in chain 'out_lan'", "dns"};
  auto outcome = engine.apply_file(path_);
  EXPECT_FALSE(outcome.applied);
  EXPECT_EQ(outcome.reason, "Failed to add rule 'dns' in chain 'out_lan': Invalid argument");

  // The applier was asked once more (and refused); the engine still holds
  // the first policy, the one the kernel kept.
  ASSERT_EQ(applier_.asked.size(), 2u);
  EXPECT_NE(applier_.asked[1], applier_.asked[0]);
  EXPECT_EQ(engine.current()->policy.sha256, sha);
  EXPECT_EQ(engine.current()->state, applier_.asked[0]);
  EXPECT_EQ(engine.status(), "policy " + path_ + " (2 rules), 3 interfaces");

  ASSERT_EQ(sink_.records.size(), 2u);
  const AuditRecord& r = sink_.records[1];
  EXPECT_EQ(r.event, Event::filter_add_failed);
  EXPECT_EQ(field(r, Field::rule), "dns");
  EXPECT_EQ(field(r, Field::error_code), std::to_string(EINVAL));
  EXPECT_EQ(field(r, Field::error), "Invalid argument");
  EXPECT_EQ(field(r, Field::reason), "rule 'dns' in chain 'out_lan'");
  EXPECT_NE(field(r, Field::policy_sha256), sha);  // names the rejected file
  EXPECT_EQ(field(r, Field::action_taken),
            "kept the previous policy (sha256 " + sha.substr(0, 12) + ")");

  // A later good reload goes through.
  applier_.fail_with.reset();
  ASSERT_TRUE(engine.apply_file(path_).applied);
  EXPECT_NE(engine.current()->policy.sha256, sha);
  EXPECT_EQ(engine.status(), "policy " + path_ + " (1 rules), 3 interfaces");
}

TEST_F(PolicyEngineTest, InterfaceListingFailureAppliesNothing) {
  write(kGoodPolicy);
  auto engine = make();
  ASSERT_TRUE(engine.apply_file(path_).applied) << diag_.str();
  const std::string sha = engine.current()->policy.sha256;

  write(kOtherPolicy);
  list_error_ = errno_error("Failed to read the dump of the links", ENOBUFS);
  auto outcome = engine.apply_file(path_);
  EXPECT_FALSE(outcome.applied);
  EXPECT_EQ(applier_.asked.size(), 1u);
  EXPECT_EQ(engine.current()->policy.sha256, sha);

  ASSERT_EQ(sink_.records.size(), 2u);
  const AuditRecord& r = sink_.records[1];
  EXPECT_EQ(r.event, Event::critical_failure);
  EXPECT_EQ(field(r, Field::error_code), std::to_string(ENOBUFS));
  EXPECT_EQ(field(r, Field::error), "No buffer space available");
  EXPECT_EQ(field(r, Field::action_taken),
            "kept the previous policy (sha256 " + sha.substr(0, 12) + ")");
}

TEST(JoinDiagnostics, JoinsAndCaps) {
  EXPECT_EQ(join_diagnostics({"a", "b", "c"}), "a; b; c");
  EXPECT_EQ(join_diagnostics({}), "");
  EXPECT_EQ(join_diagnostics({"aaaa", "bbbb", "cccc"}, 10), "aaaa; bbbb; and 1 more");
  // The first line always goes in, however long.
  EXPECT_EQ(join_diagnostics({"aaaaaaaaaaaa", "b"}, 5), "aaaaaaaaaaaa; and 1 more");
}

}  // namespace
}  // namespace netpolicy::daemon
