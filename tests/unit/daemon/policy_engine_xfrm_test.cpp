// The engine's XFRM + nft apply order with a fake kernel: XFRM first, the
// table after; a refused table puts the XFRM band back; a refused XFRM
// change keeps the table from being sent. Failures are audited as
// filter-add-failed (5477) naming the object and errno.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "daemon/policy_engine.h"
#include "tests/unit/daemon/recording_sink.h"

namespace netpolicy::daemon {
namespace {

using netpolicy::daemon::testing::RecordingSink;
using netpolicy::daemon::testing::field;

// The "kernel": the band's policies and the table, changed only by calls.
struct FakeKernel {
  std::vector<filter::XfrmPolicy> band;
  std::optional<filter::DesiredState> table;
  std::vector<std::string> calls;  // "xfrm N", "nft"
};

class FakeXfrm final : public filter::XfrmApplier {
 public:
  explicit FakeXfrm(FakeKernel& k) : k_(k) {}
  Status replace(const filter::XfrmState& desired) override {
    k_.calls.push_back("xfrm " + std::to_string(desired.policies.size()));
    if (fail_with) return *fail_with;  // the real applier undoes itself
    k_.band = desired.policies;
    return Ok{};
  }
  Result<std::vector<filter::XfrmPolicy>> read_band(const filter::XfrmBand&) override {
    return k_.band;
  }
  std::optional<Error> fail_with;

 private:
  FakeKernel& k_;
};

class FakeNft final : public filter::RulesetApplier {
 public:
  explicit FakeNft(FakeKernel& k) : k_(k) {}
  Status replace_table(const filter::DesiredState& state) override {
    k_.calls.push_back("nft");
    if (fail_with) return *fail_with;
    k_.table = state;
    return Ok{};
  }
  std::optional<Error> fail_with;

 private:
  FakeKernel& k_;
};



constexpr const char* kV1 = R"(version: 1
zones: [{name: lan, interfaces: ["veth*"]}]
ipsec: [{name: db, reqid: 100}]
rules:
  - {name: db, direction: out, to: [10.200.1.1], protocol: tcp, ports: [5432], action: protect, ipsec: db}
)";
constexpr const char* kV2 = R"(version: 1
zones: [{name: lan, interfaces: ["veth*"]}]
ipsec: [{name: db, reqid: 100}]
rules:
  - {name: db, direction: out, to: [10.200.1.1, 10.200.1.2], protocol: tcp, ports: [5432], action: protect, ipsec: db}
)";

class EngineXfrmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (std::filesystem::temp_directory_path() / "np-xfrm-XXXXXX").string();
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
    path_ = dir_ + "/policy.yaml";
    engine_.set_xfrm_applier(&xfrm_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const char* text) { std::ofstream(path_, std::ios::trunc) << text; }

  std::string dir_, path_;
  FakeKernel kernel_;
  FakeXfrm xfrm_{kernel_};
  FakeNft nft_{kernel_};
  RecordingSink sink_;
  std::ostringstream diag_;
  PolicyEngine engine_{nft_, []() -> Result<InterfaceView> { return InterfaceView{}; }, sink_,
                       diag_};
};

TEST_F(EngineXfrmTest, XfrmGoesInBeforeTheTable) {
  write(kV1);
  ASSERT_TRUE(engine_.apply_file(path_).applied) << diag_.str();
  EXPECT_EQ(kernel_.calls, (std::vector<std::string>{"xfrm 2", "nft"}));
  EXPECT_EQ(kernel_.band.size(), 2u);
}

TEST_F(EngineXfrmTest, ARefusedTableRollsTheXfrmBandBack) {
  write(kV1);
  ASSERT_TRUE(engine_.apply_file(path_).applied);
  const auto v1_band = kernel_.band;
  const auto v1_table = kernel_.table;
  write(kV2);
  nft_.fail_with = Error{"Failed to apply table 'netpolicy'", ENOBUFS, "table 'netpolicy'", {}};
  auto outcome = engine_.apply_file(path_);
  EXPECT_FALSE(outcome.applied);
  EXPECT_EQ(kernel_.calls,
            (std::vector<std::string>{"xfrm 2", "nft", "xfrm 4", "nft", "xfrm 2"}));
  EXPECT_EQ(kernel_.band, v1_band);
  EXPECT_EQ(kernel_.table, v1_table);
  const AuditRecord& r = sink_.records.back();
  EXPECT_EQ(r.event, Event::filter_add_failed);
  EXPECT_EQ(field(r, Field::error_code), std::to_string(ENOBUFS));
  EXPECT_NE(r.message.find("kept the previous policy"), std::string::npos) << r.message;
}

TEST_F(EngineXfrmTest, ARefusedXfrmChangeKeepsTheTableFromBeingSent) {
  write(kV1);
  ASSERT_TRUE(engine_.apply_file(path_).applied);
  const auto v1_table = kernel_.table;
  write(kV2);
  Error refused{"Failed to add xfrm policy dir out src 0.0.0.0/0 dst 10.200.1.2/32", EEXIST,
                "xfrm policy dir out src 0.0.0.0/0 dst 10.200.1.2/32 proto tcp dport 5432", "db"};
  xfrm_.fail_with = refused;
  EXPECT_FALSE(engine_.apply_file(path_).applied);
  EXPECT_EQ(kernel_.calls, (std::vector<std::string>{"xfrm 2", "nft", "xfrm 4"}));
  EXPECT_EQ(kernel_.table, v1_table);
  const AuditRecord& r = sink_.records.back();
  EXPECT_EQ(r.event, Event::filter_add_failed);
  EXPECT_EQ(field(r, Field::rule), "db");
  EXPECT_EQ(field(r, Field::error_code), std::to_string(EEXIST));
  EXPECT_EQ(field(r, Field::reason), refused.object);
}

}  // namespace
}  // namespace netpolicy::daemon
