// The recorder in front of the journal: it forwards every record unchanged
// and remembers what `netpolicyctl status` reports.
#include "daemon/status_recorder.h"

#include <gtest/gtest.h>

#include <vector>

namespace netpolicy::daemon {
namespace {

class Collect final : public AuditSink {
 public:
  void record(const AuditRecord& r) override { records.push_back(r); }
  std::vector<AuditRecord> records;
};

struct FakeClock {
  WallTime now{std::chrono::seconds{1'700'000'000}};
  StatusRecorder::Clock clock() {
    return [this] { return now; };
  }
};

TEST(StatusRecorder, ForwardsEveryRecord) {
  Collect next;
  FakeClock t;
  StatusRecorder recorder{next, t.clock()};
  AuditRecord a{Event::service_started, "hello", {}};
  a.add(Field::rules, "3");
  recorder.record(a);
  recorder.record(AuditRecord{Event::policy_failed, "bad", {}});
  ASSERT_EQ(next.records.size(), 2u);
  EXPECT_EQ(next.records[0].message, "hello");
  EXPECT_EQ(next.records[0].fields, a.fields);
  EXPECT_EQ(next.records[1].event, Event::policy_failed);
}

TEST(StatusRecorder, AppliedAtAndSource) {
  Collect next;
  FakeClock t;
  StatusRecorder recorder{next, t.clock()};
  EXPECT_EQ(recorder.applied_at(), std::nullopt);
  recorder.record(AuditRecord{Event::policy_applied, "ok", {{Field::policy_source, "local"}}});
  EXPECT_EQ(recorder.applied_at(), t.now);
  EXPECT_EQ(recorder.applied_source(), "local");

  t.now += std::chrono::seconds{60};
  recorder.record(AuditRecord{Event::policy_failed, "bad", {}});  // changes nothing applied
  EXPECT_EQ(recorder.applied_at(), t.now - std::chrono::seconds{60});

  recorder.record(
      AuditRecord{Event::cached_policy_applied, "cache", {{Field::policy_source, "cache"}}});
  EXPECT_EQ(recorder.applied_at(), t.now);
  EXPECT_EQ(recorder.applied_source(), "cache");
  recorder.record(AuditRecord{Event::central_policy_applied, "c", {}});
  EXPECT_EQ(recorder.applied_source(), "local") << "no POLICY_SOURCE field: local";
}

TEST(StatusRecorder, LastErrorIsTheLatestOfPriorityErrOrWorse) {
  Collect next;
  FakeClock t;
  StatusRecorder recorder{next, t.clock()};
  recorder.record(AuditRecord{Event::policy_applied, "ok", {}});
  recorder.record(AuditRecord{Event::drift_restored, "warning only", {}});
  recorder.record(AuditRecord{Event::interfaces_recovered, "notice only", {}});
  EXPECT_EQ(recorder.last_error(), std::nullopt);

  AuditRecord failed{Event::policy_failed, "Policy p is invalid", {}};
  failed.add(Field::error_location, "/p.yaml:6:18").add_errno(2);
  recorder.record(failed);
  ASSERT_TRUE(recorder.last_error());
  const ErrorRecord& e = *recorder.last_error();
  EXPECT_EQ(e.event, "policy-failed");
  EXPECT_EQ(e.event_id, 5461);
  EXPECT_EQ(e.message, "Policy p is invalid");
  EXPECT_EQ(e.error_code, 2);
  EXPECT_EQ(e.error, "No such file or directory");
  EXPECT_EQ(e.location, "/p.yaml:6:18");
  EXPECT_EQ(e.time, t.now);

  t.now += std::chrono::seconds{5};
  AuditRecord update{Event::interface_update_failed, "eth0 not updated", {}};
  update.add(Field::interface, "eth0");
  recorder.record(update);
  EXPECT_EQ(recorder.last_error()->event_id, 5485);
  EXPECT_EQ(recorder.last_error()->interface, "eth0");
  EXPECT_EQ(recorder.last_error()->error_code, 0);
  EXPECT_EQ(recorder.last_error()->location, "");
  EXPECT_EQ(recorder.last_error()->time, t.now);

  // A later success does not erase it: it is the last error, with its time.
  recorder.record(AuditRecord{Event::policy_applied, "ok", {}});
  EXPECT_EQ(recorder.last_error()->event_id, 5485);
  recorder.record(AuditRecord{Event::critical_failure, "crit", {}});
  EXPECT_EQ(recorder.last_error()->event, "critical-failure");
}

TEST(StatusRecorder, ViewCompletenessFollowsEvents5480And5490) {
  Collect next;
  FakeClock t;
  const WallTime start = t.now;
  StatusRecorder recorder{next, t.clock()};
  EXPECT_TRUE(recorder.view_complete());
  EXPECT_EQ(recorder.view_since(), start);

  t.now += std::chrono::seconds{10};
  recorder.record(AuditRecord{Event::interfaces_incomplete, "lost", {}});
  EXPECT_FALSE(recorder.view_complete());
  EXPECT_EQ(recorder.view_since(), t.now);
  EXPECT_EQ(recorder.last_error()->event_id, 5480);

  // A second 5480 while incomplete keeps the first time.
  const WallTime incomplete_since = t.now;
  t.now += std::chrono::seconds{1};
  recorder.record(AuditRecord{Event::interfaces_incomplete, "lost again", {}});
  EXPECT_EQ(recorder.view_since(), incomplete_since);

  t.now += std::chrono::seconds{2};
  recorder.record(AuditRecord{Event::interfaces_recovered, "back", {}});
  EXPECT_TRUE(recorder.view_complete());
  EXPECT_EQ(recorder.view_since(), t.now);
}

}  // namespace
}  // namespace netpolicy::daemon
