// daemon/sa_missing.cpp: when a protected flow's missing SA is reported
// (5492), how often, and what the event names.
#include "daemon/sa_missing.h"

#include <gtest/gtest.h>

namespace netpolicy::daemon {
namespace {

constexpr std::uint64_t kS = 1'000'000;

filter::XfrmEvent acquire(std::uint32_t reqid, std::uint16_t dport, std::uint32_t priority = 0) {
  filter::XfrmEvent e;
  e.kind = filter::XfrmEvent::Kind::acquire;
  e.reqid = reqid;
  e.flow.proto = 6;
  e.flow.dport = dport;
  e.flow.dst = *parse_ip_prefix("10.200.1.2");
  e.peer = *parse_ip_prefix("10.200.1.2");
  e.priority = priority;
  return e;
}

TEST(SaMissingTracker, ReportsAFlowOncePerIntervalAfterTheDelay) {
  SaMissingTracker t;
  t.observe(acquire(100, 5432), 0);
  EXPECT_TRUE(t.due(9 * kS, 10 * kS).empty());
  EXPECT_EQ(t.due(10 * kS, 10 * kS).size(), 1u);
  t.observe(acquire(100, 5432), 11 * kS);  // the same flow again
  EXPECT_TRUE(t.due(15 * kS, 10 * kS).empty());
  EXPECT_EQ(t.due(20 * kS, 10 * kS).size(), 1u);
}

TEST(SaMissingTracker, AnSaForTheReqidClearsItsFlows) {
  SaMissingTracker t;
  t.observe(acquire(100, 5432), 0);
  t.observe(acquire(101, 8080), 0);
  filter::XfrmEvent sa;
  sa.kind = filter::XfrmEvent::Kind::sa_added;
  sa.reqid = 100;
  t.observe(sa, 1 * kS);
  auto due = t.due(10 * kS, 10 * kS);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].reqid, 101u);
}

TEST(SaMissingTracker, FlowsThatStoppedAreForgottenAndReportsAreBounded) {
  SaMissingTracker t;
  for (std::uint16_t p = 1; p <= 40; ++p) t.observe(acquire(100, p), 0);
  EXPECT_EQ(t.due(10 * kS, 10 * kS).size(), SaMissingTracker::kMaxReportsPerTick);
  EXPECT_EQ(t.due(11 * kS, 10 * kS).size(), SaMissingTracker::kMaxReportsPerTick);
  EXPECT_TRUE(t.due(200 * kS, 10 * kS).empty());  // no ACQUIRE for minutes
  EXPECT_EQ(t.size(), 0u);
}

TEST(SaMissingRecord, NamesRuleProfileAndPeer) {
  policy::Policy p;
  p.settings.xfrm_priority_base = 1000;
  p.rules.resize(2);
  p.rules[1].name = "db-out";
  p.rules[1].action = policy::Action::protect;
  p.rules[1].ipsec = "db";
  const AuditRecord r = sa_missing_record(acquire(100, 5432, 1001), &p, 10);
  EXPECT_EQ(r.event, Event::ipsec_sa_missing);
  auto field = [&](Field f) {
    for (const auto& [name, value] : r.fields)
      if (name == f) return value;
    return std::string{"<absent>"};
  };
  EXPECT_EQ(field(Field::rule), "db-out");
  EXPECT_EQ(field(Field::ipsec_profile), "db");
  EXPECT_EQ(field(Field::peer), "10.200.1.2");
  EXPECT_NE(r.message.find("rule db-out"), std::string::npos) << r.message;
  EXPECT_EQ(field_name(Field::ipsec_profile), "IPSEC_PROFILE");
  EXPECT_EQ(field_name(Field::peer), "PEER");
}

}  // namespace
}  // namespace netpolicy::daemon
