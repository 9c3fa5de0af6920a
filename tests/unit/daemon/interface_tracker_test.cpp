// daemon/interface_tracker.cpp with a fake kernel: interface events become
// element-only updates; a refused update is audited (5485) and retried;
// while the view is incomplete nothing is added (5480), and a consistent
// dump reconciles (5490).
#include "daemon/interface_tracker.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "filter/nft_elements.h"
#include "policy/compiler.h"
#include "policy/loader.h"
#include "tests/unit/daemon/recording_sink.h"

namespace netpolicy::daemon {
namespace {

using netpolicy::daemon::testing::RecordingSink;
using netpolicy::daemon::testing::field;

class FakeTables final : public filter::RulesetApplier {
 public:
  Status replace_table(const filter::DesiredState& state) override {
    replaced.push_back(state);
    return Ok{};
  }
  std::vector<filter::DesiredState> replaced;
};

class FakeElements final : public filter::ElementApplier {
 public:
  Status update_elements(const filter::ElementDiff& diff) override {
    asked.push_back(diff);
    if (fail_with) return *fail_with;
    return Ok{};
  }
  std::vector<filter::ElementDiff> asked;
  std::optional<Error> fail_with;
};



policy::Policy load(const char* text) {
  auto loaded = policy::load_policy_text(text, "t.yaml");
  EXPECT_TRUE(std::holds_alternative<policy::Policy>(loaded));
  return std::get<policy::Policy>(loaded);
}

const char* kPolicy = R"(version: 1
zones:
  - {name: lan, interfaces: ["vl*"]}
  - {name: wan, interfaces: ["vw*"]}
rules:
  - {name: ssh-to-me, direction: in, to: [me], protocol: tcp, ports: [22], action: allow}
)";

IpPrefix ip(const char* text) { return *parse_ip_prefix(text); }

InterfaceView view(std::vector<Interface> interfaces) {
  InterfaceView v;
  v.interfaces = std::move(interfaces);
  return v;
}

std::vector<std::string> added_names(const filter::ElementDiff& d) {
  std::vector<std::string> out;
  for (const auto& m : d.map_additions)
    if (m.map == "zone_in")
      for (const auto& e : m.elements) out.push_back(e.ifname);
  return out;
}
std::vector<std::string> removed_names(const filter::ElementDiff& d) {
  std::vector<std::string> out;
  for (const auto& m : d.map_deletions)
    if (m.map == "zone_in")
      for (const auto& e : m.elements) out.push_back(e.ifname);
  return out;
}

class TrackerTest : public ::testing::Test {
 protected:
  // The daemon's start: the first view, then a full apply compiled from it.
  void start(InterfaceView first) {
    tracker_.update(nullptr, first, {});
    tables_.replaced.clear();
    const auto state = policy::compile(policy_, tracker_.trusted_view());
    tracker_.replaced(state);
  }

  policy::Policy policy_ = load(kPolicy);
  FakeTables tables_;
  FakeElements elements_;
  RecordingSink sink_;
  InterfaceTracker tracker_{tables_, elements_, sink_};
  InterfaceTracker::Mono t0_ = std::chrono::steady_clock::now();
};

TEST(IntersectViews, SameIndexAndNameAndCommonAddresses) {
  auto a = view({{"lo", 1, {ip("127.0.0.1")}},
                 {"vl0", 2, {ip("10.0.0.1"), ip("10.0.0.2")}},
                 {"vl1", 3, {}},
                 {"vw0", 4, {}}});
  auto b = view({{"vw0", 4, {}},
                 {"vl0", 2, {ip("10.0.0.2"), ip("10.0.0.3")}},
                 {"vl1-renamed", 3, {}},
                 {"lo", 1, {ip("127.0.0.1")}}});
  auto both = intersect_views(a, b);
  ASSERT_EQ(both.interfaces.size(), 3u);
  EXPECT_EQ(both.interfaces[0], (Interface{"lo", 1, {ip("127.0.0.1")}}));
  EXPECT_EQ(both.interfaces[1], (Interface{"vl0", 2, {ip("10.0.0.2")}}));
  EXPECT_EQ(both.interfaces[2], (Interface{"vw0", 4, {}}));
}

TEST(BackoffTest, DoublesUpToTheCapAndResets) {
  Backoff b{std::chrono::milliseconds{50}, std::chrono::milliseconds{300}};
  EXPECT_EQ(b.next().count(), 50);
  EXPECT_EQ(b.next().count(), 100);
  EXPECT_EQ(b.next().count(), 200);
  EXPECT_EQ(b.next().count(), 300);
  EXPECT_EQ(b.next().count(), 300);
  b.reset();
  EXPECT_EQ(b.next().count(), 50);
}

TEST_F(TrackerTest, NothingIsSentBeforeTheFirstApply) {
  EXPECT_EQ(tracker_.update(nullptr, view({{"vl0", 2, {}}}), {{2, "vl0"}}),
            InterfaceTracker::Result::unchanged);
  EXPECT_EQ(tracker_.update(&policy_, view({{"vl0", 2, {}}}), {{2, "vl0"}}),
            InterfaceTracker::Result::unchanged)
      << "no table in the kernel yet";
  EXPECT_TRUE(elements_.asked.empty());
  EXPECT_EQ(tracker_.applied(), nullptr);
}

TEST_F(TrackerTest, EventsBecomeElementUpdates) {
  start(view({{"lo", 1, {ip("127.0.0.1")}}, {"vl0", 2, {ip("10.0.0.1")}}}));
  // A new interface in wan with an address; vl0 renamed out of every zone.
  auto next = view({{"lo", 1, {ip("127.0.0.1")}},
                    {"eth0", 2, {ip("10.0.0.1")}},
                    {"vw0", 3, {ip("10.0.0.3")}}});
  EXPECT_EQ(tracker_.update(&policy_, next, {{2, "eth0"}, {3, "vw0"}}),
            InterfaceTracker::Result::updated);
  ASSERT_EQ(elements_.asked.size(), 1u);
  EXPECT_EQ(added_names(elements_.asked[0]), (std::vector<std::string>{"vw0"}));
  EXPECT_EQ(removed_names(elements_.asked[0]), (std::vector<std::string>{"vl0"}));
  EXPECT_TRUE(tables_.replaced.empty()) << "no full replace for an interface event";
  ASSERT_NE(tracker_.applied(), nullptr);
  EXPECT_EQ(*tracker_.applied(), policy::compile(policy_, next));
  // Nothing new: nothing sent.
  EXPECT_EQ(tracker_.update(&policy_, next, {}), InterfaceTracker::Result::unchanged);
  EXPECT_EQ(elements_.asked.size(), 1u);
  EXPECT_TRUE(sink_.records.empty());
}

TEST_F(TrackerTest, ARefusedUpdateIsAuditedAndRetriedUntilItSucceeds) {
  start(view({{"lo", 1, {}}}));
  elements_.fail_with = Error{"Failed to update elements of table 'inet netpolicy'", ENOMEM,
                              "elements of map 'zone_in'", {}};
  auto next = view({{"lo", 1, {}}, {"vl5", 7, {}}});
  EXPECT_EQ(tracker_.update(&policy_, next, {{7, "vl5"}}), InterfaceTracker::Result::failed);
  EXPECT_TRUE(tracker_.retry_pending());
  EXPECT_EQ(tracker_.retry_in().count(), 100);
  auto failed = sink_.of(Event::interface_update_failed);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(field(failed[0], Field::interface), "vl5");
  EXPECT_EQ(field(failed[0], Field::ifindex), "7");
  EXPECT_EQ(field(failed[0], Field::error_code), std::to_string(ENOMEM));
  EXPECT_NE(field(failed[0], Field::reason).find("elements of map 'zone_in'"), std::string::npos);
  EXPECT_NE(field(failed[0], Field::action_taken).find("retrying in 100 ms"), std::string::npos);
  EXPECT_EQ(*tracker_.applied(), policy::compile(policy_, view({{"lo", 1, {}}})))
      << "the applied state is what the kernel kept";

  EXPECT_EQ(tracker_.retry(&policy_), InterfaceTracker::Result::failed);
  EXPECT_EQ(tracker_.retry_in().count(), 200) << "backoff";
  EXPECT_EQ(sink_.of(Event::interface_update_failed).size(), 2u);

  elements_.fail_with.reset();
  EXPECT_EQ(tracker_.retry(&policy_), InterfaceTracker::Result::updated);
  EXPECT_FALSE(tracker_.retry_pending());
  EXPECT_EQ(added_names(elements_.asked.back()), (std::vector<std::string>{"vl5"}));
  EXPECT_EQ(tracker_.retry(&policy_), InterfaceTracker::Result::unchanged);
}

TEST_F(TrackerTest, AFullApplyEndsTheRetry) {
  start(view({{"lo", 1, {}}}));
  elements_.fail_with = Error{"Failed", EIO, {}, {}};
  auto next = view({{"lo", 1, {}}, {"vl5", 7, {}}});
  ASSERT_EQ(tracker_.update(&policy_, next, {{7, "vl5"}}), InterfaceTracker::Result::failed);
  tracker_.replaced(policy::compile(policy_, tracker_.trusted_view()));
  EXPECT_FALSE(tracker_.retry_pending());
  EXPECT_EQ(tracker_.retry(&policy_), InterfaceTracker::Result::unchanged);
}

TEST_F(TrackerTest, IncompleteViewOnlyRemovesThenRecoveryReconciles) {
  start(view({{"lo", 1, {ip("127.0.0.1")}},
              {"vl0", 2, {ip("10.0.0.1"), ip("10.0.0.5")}},
              {"vl1", 3, {}}}));
  tracker_.incomplete(&policy_, "the buffer overflowed", ENOBUFS, t0_,
                      std::chrono::system_clock::now());
  tracker_.incomplete(&policy_, "again", ENOBUFS, t0_, std::chrono::system_clock::now());
  auto incomplete = sink_.of(Event::interfaces_incomplete);
  ASSERT_EQ(incomplete.size(), 1u) << "once per incomplete period";
  EXPECT_EQ(field(incomplete[0], Field::reason), "the buffer overflowed");
  EXPECT_EQ(field(incomplete[0], Field::error_code), std::to_string(ENOBUFS));
  EXPECT_NE(field(incomplete[0], Field::action_taken).find("unknown_interfaces posture (block)"),
            std::string::npos);
  EXPECT_FALSE(tracker_.view_complete());
  EXPECT_TRUE(tracker_.incomplete_since());

  // Uncertain data: vl2 appears, vl1 goes, vl0 gains 10.0.0.9 and loses .5.
  auto uncertain = view({{"lo", 1, {ip("127.0.0.1")}},
                         {"vl0", 2, {ip("10.0.0.1"), ip("10.0.0.9")}},
                         {"vl2", 4, {ip("10.0.0.7")}}});
  EXPECT_EQ(tracker_.update(&policy_, uncertain, {{4, "vl2"}, {3, "vl1"}}),
            InterfaceTracker::Result::updated);
  const filter::ElementDiff& d = elements_.asked.back();
  EXPECT_TRUE(added_names(d).empty()) << "no interface added while incomplete";
  EXPECT_EQ(removed_names(d), (std::vector<std::string>{"vl1"}));
  EXPECT_EQ(tracker_.interfaces().interfaces.size(), 3u) << "the monitor sees the events";
  EXPECT_FALSE(tracker_.interfaces().complete);
  // me4 lost .5 and did not gain .9 or .7.
  const auto trusted = tracker_.trusted_view();
  EXPECT_EQ(*tracker_.applied(), policy::compile(policy_, trusted));
  ASSERT_EQ(trusted.interfaces.size(), 2u);
  EXPECT_EQ(trusted.interfaces[1].addresses, (std::vector<IpPrefix>{ip("10.0.0.1")}));
  // vl1 coming back under the same index and name is still not trusted.
  auto back = uncertain;
  back.interfaces.push_back({"vl1", 3, {}});
  EXPECT_EQ(tracker_.update(&policy_, back, {{3, "vl1"}}), InterfaceTracker::Result::unchanged);

  // A consistent dump: everything it shows is added.
  auto dumped = back;
  dumped.complete = true;
  EXPECT_EQ(tracker_.recovered(&policy_, dumped, t0_ + std::chrono::milliseconds{1500}, 3),
            InterfaceTracker::Result::updated);
  EXPECT_EQ(added_names(elements_.asked.back()), (std::vector<std::string>{"vl1", "vl2"}));
  EXPECT_EQ(*tracker_.applied(), policy::compile(policy_, dumped));
  EXPECT_TRUE(tracker_.view_complete());
  EXPECT_FALSE(tracker_.incomplete_since());
  auto recovered = sink_.of(Event::interfaces_recovered);
  ASSERT_EQ(recovered.size(), 1u);
  EXPECT_EQ(field(recovered[0], Field::interfaces), "4");
  EXPECT_NE(recovered[0].message.find("after 1.500 s"), std::string::npos) << recovered[0].message;
  EXPECT_NE(field(recovered[0], Field::reason).find("after 3 attempts"), std::string::npos);
  EXPECT_NE(field(recovered[0], Field::action_taken).find("added"), std::string::npos);

  // Complete again: events add at once.
  auto more = dumped;
  more.interfaces.push_back({"vw9", 9, {}});
  EXPECT_EQ(tracker_.update(&policy_, more, {{9, "vw9"}}), InterfaceTracker::Result::updated);
  EXPECT_EQ(added_names(elements_.asked.back()), (std::vector<std::string>{"vw9"}));
}

TEST_F(TrackerTest, RecoveredWithoutAnIncompletePeriodIsSilent) {
  start(view({{"lo", 1, {}}}));
  auto v = view({{"lo", 1, {}}, {"vl0", 2, {}}});
  EXPECT_EQ(tracker_.recovered(&policy_, v, t0_, 1), InterfaceTracker::Result::updated);
  EXPECT_TRUE(sink_.of(Event::interfaces_recovered).empty());
}

TEST_F(TrackerTest, AStructureMismatchReplacesTheWholeTable) {
  start(view({{"lo", 1, {}}}));
  // The kernel holds a table of another policy (a bug, but not a silent one).
  tracker_.replaced(policy::compile(load("version: 1\n"), tracker_.trusted_view()));
  EXPECT_EQ(tracker_.update(&policy_, view({{"lo", 1, {}}, {"vl0", 2, {}}}), {{2, "vl0"}}),
            InterfaceTracker::Result::replaced);
  ASSERT_EQ(tables_.replaced.size(), 1u);
  EXPECT_TRUE(elements_.asked.empty());
}

}  // namespace
}  // namespace netpolicy::daemon
