#include "daemon/audit.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

namespace netpolicy::daemon {
namespace {

TEST(AuditRecord, JournalFieldsStartWithTheCommonFieldsInOrder) {
  AuditRecord rec{Event::policy_failed, "Policy /p.yaml is invalid", {}};
  rec.add(Field::policy_path, "/p.yaml")
      .add(Field::policy_source, "local")
      .add(Field::error_location, "/p.yaml:3:7")
      .add(Field::action_taken, "kept the previous policy (sha256 0123456789ab)");
  const std::vector<std::string> expected = {
      "MESSAGE=Policy /p.yaml is invalid",
      "PRIORITY=3",
      "MESSAGE_ID=8eb727020cc44f3ca8539e3857dea9ab",
      "NETPOLICY_EVENT=policy-failed",
      "EVENT_ID=5461",
      "SYSLOG_IDENTIFIER=netpolicyd",
      "POLICY_PATH=/p.yaml",
      "POLICY_SOURCE=local",
      "ERROR_LOCATION=/p.yaml:3:7",
      "ACTION_TAKEN=kept the previous policy (sha256 0123456789ab)",
  };
  EXPECT_EQ(journal_fields(rec), expected);
}

TEST(AuditRecord, FieldsKeepTheOrderTheyWereAddedIn) {
  AuditRecord rec{Event::filter_add_failed, "m", {}};
  rec.add(Field::rule, "ssh").add(Field::policy_path, "/x");
  auto fields = journal_fields(rec);
  ASSERT_EQ(fields.size(), 8u);
  EXPECT_EQ(fields[6], "RULE=ssh");
  EXPECT_EQ(fields[7], "POLICY_PATH=/x");
}

TEST(AuditRecord, EmptyValuesAreLeftOut) {
  AuditRecord rec{Event::service_stopped, "bye", {}};
  rec.add(Field::policy_sha256, "").add(Field::reason, "SIGTERM");
  auto fields = journal_fields(rec);
  ASSERT_EQ(fields.size(), 7u);
  EXPECT_EQ(fields.back(), "REASON=SIGTERM");
}

TEST(AuditRecord, ErrnoAddsCodeAndText) {
  AuditRecord rec{Event::critical_failure, "m", {}};
  rec.add_errno(EACCES);
  ASSERT_EQ(rec.fields.size(), 2u);
  EXPECT_EQ(rec.fields[0], std::make_pair(Field::error_code, std::string{"13"}));
  EXPECT_EQ(rec.fields[1], std::make_pair(Field::error, std::string{"Permission denied"}));

  AuditRecord none{Event::critical_failure, "m", {}};
  none.add_errno(0);
  EXPECT_TRUE(none.fields.empty());
}

TEST(AuditRecord, NewlinesStayInsideOneField) {
  AuditRecord rec{Event::policy_failed, "two\nlines", {}};
  rec.add(Field::reason, "a\nb");
  auto fields = journal_fields(rec);
  ASSERT_EQ(fields.size(), 7u);
  EXPECT_EQ(fields[0], "MESSAGE=two\nlines");
  EXPECT_EQ(fields[6], "REASON=a\nb");
}

TEST(AuditRecord, PriorityIsTheSyslogNumberOfTheEvent) {
  EXPECT_EQ(journal_fields(AuditRecord{Event::critical_failure, "m", {}})[1], "PRIORITY=2");
  EXPECT_EQ(journal_fields(AuditRecord{Event::policy_unchanged, "m", {}})[1], "PRIORITY=7");
  EXPECT_EQ(journal_fields(AuditRecord{Event::interfaces_recovered, "m", {}})[1], "PRIORITY=5");
}

TEST(AuditRecord, StderrLineNamesTheEvent) {
  EXPECT_EQ(stderr_line(AuditRecord{Event::reload_requested, "Reload requested", {}}),
            "netpolicyd[reload-requested]: Reload requested");
}

TEST(AuditRecord, EveryFieldHasItsJournalName) {
  EXPECT_EQ(field_name(Field::policy_path), "POLICY_PATH");
  EXPECT_EQ(field_name(Field::policy_source), "POLICY_SOURCE");
  EXPECT_EQ(field_name(Field::policy_sha256), "POLICY_SHA256");
  EXPECT_EQ(field_name(Field::rules), "RULES");
  EXPECT_EQ(field_name(Field::interfaces), "INTERFACES");
  EXPECT_EQ(field_name(Field::interface), "INTERFACE");
  EXPECT_EQ(field_name(Field::ifindex), "IFINDEX");
  EXPECT_EQ(field_name(Field::rule), "RULE");
  EXPECT_EQ(field_name(Field::error_code), "ERROR_CODE");
  EXPECT_EQ(field_name(Field::error), "ERROR");
  EXPECT_EQ(field_name(Field::error_location), "ERROR_LOCATION");
  EXPECT_EQ(field_name(Field::reason), "REASON");
  EXPECT_EQ(field_name(Field::action_taken), "ACTION_TAKEN");
}

}  // namespace
}  // namespace netpolicy::daemon

namespace netpolicy::daemon {
namespace {

TEST(AuditJournalStream, RecognisesStderrAsTheJournalStreamSystemdGaveUs) {
  EXPECT_TRUE(stderr_is_journal_stream("8:1234", 8, 1234));
  EXPECT_FALSE(stderr_is_journal_stream("8:1234", 8, 1235));
  EXPECT_FALSE(stderr_is_journal_stream("9:1234", 8, 1234));
  EXPECT_FALSE(stderr_is_journal_stream(nullptr, 8, 1234));
  EXPECT_FALSE(stderr_is_journal_stream("", 8, 1234));
  EXPECT_FALSE(stderr_is_journal_stream("8:1234x", 8, 1234));
  EXPECT_FALSE(stderr_is_journal_stream("8", 8, 1234));
}

}  // namespace
}  // namespace netpolicy::daemon
