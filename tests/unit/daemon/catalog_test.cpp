// Lint of systemd/netpolicyd.catalog (and the event list of netpolicyd(8))
// against the event table in daemon/events.cpp: `journalctl -x` can only
// explain an event whose MESSAGE_ID has exactly one entry, and an entry
// nobody emits is dead text.
#include <gtest/gtest.h>
#include <syslog.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/audit.h"
#include "daemon/events.h"

namespace netpolicy::daemon {
namespace {

struct CatalogEntry {
  std::string id;
  int line = 0;                                // of its "-- ID" line
  std::map<std::string, std::string> headers;  // Subject, Defined-By, ...
  std::string text;                            // headers and body
};

std::string catalog_path() {
  // NETPOLICY_TEST_DATA is <source>/tests/unit/data.
  return std::string(NETPOLICY_TEST_DATA) + "/../../../systemd/netpolicyd.catalog";
}

// The catalog format of journalctl(1) --update-catalog: "-- ID [LANG]"
// starts an entry, "Key: value" lines up to the first empty line are its
// headers, '#' lines are comments.
std::vector<CatalogEntry> read_catalog(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::vector<CatalogEntry> entries;
  std::string line;
  bool in_headers = false;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.rfind('#', 0) == 0) continue;
    if (line.rfind("-- ", 0) == 0) {
      entries.push_back({line.substr(3), number, {}, {}});
      in_headers = true;
      continue;
    }
    if (entries.empty()) {
      if (line.empty()) continue;
      ADD_FAILURE() << path << ":" << number << ": text outside an entry: " << line;
      continue;
    }
    CatalogEntry& entry = entries.back();
    entry.text += line + "\n";
    if (line.empty()) {
      in_headers = false;
    } else if (in_headers) {
      auto colon = line.find(": ");
      if (colon == std::string::npos)
        ADD_FAILURE() << path << ":" << number << ": header without 'Key: ': " << line;
      else
        entry.headers[line.substr(0, colon)] = line.substr(colon + 2);
    }
  }
  return entries;
}

std::string priority_name(int priority) {
  switch (priority) {
    case LOG_EMERG:
      return "emerg";
    case LOG_ALERT:
      return "alert";
    case LOG_CRIT:
      return "crit";
    case LOG_ERR:
      return "err";
    case LOG_WARNING:
      return "warning";
    case LOG_NOTICE:
      return "notice";
    case LOG_INFO:
      return "info";
    case LOG_DEBUG:
      return "debug";
  }
  return "priority " + std::to_string(priority);
}

class Catalog : public ::testing::Test {
 protected:
  void SetUp() override {
    entries_ = read_catalog(catalog_path());
    ASSERT_FALSE(entries_.empty()) << catalog_path();
  }
  const CatalogEntry* find(std::string_view id) const {
    for (const auto& e : entries_)
      if (e.id == id) return &e;
    return nullptr;
  }
  std::vector<CatalogEntry> entries_;
};

TEST_F(Catalog, EveryEventHasExactlyOneEntry) {
  for (const auto& info : all_events()) {
    int count = 0;
    for (const auto& e : entries_) count += e.id == info.message_id;
    EXPECT_EQ(count, 1) << info.name << " (" << info.event_id << ") MESSAGE_ID " << info.message_id;
  }
}

TEST_F(Catalog, EveryEntryIsAnEvent) {
  std::set<std::string_view> known;
  for (const auto& info : all_events()) known.insert(info.message_id);
  for (const auto& e : entries_) {
    // 32 lowercase hex digits, no language suffix: the catalog is English only.
    EXPECT_TRUE(std::regex_match(e.id, std::regex("[0-9a-f]{32}")))
        << "line " << e.line << ": bad id '" << e.id << "'";
    EXPECT_TRUE(known.count(e.id))
        << "line " << e.line << ": " << e.id << " is in no row of daemon/events.cpp";
  }
}

// An entry pasted under the wrong id would explain another event: each
// names its own EVENT_ID ("event 5480") in its text.
TEST_F(Catalog, EachEntryNamesItsEventId) {
  for (const auto& info : all_events()) {
    const CatalogEntry* e = find(info.message_id);
    if (!e) continue;  // reported by EveryEventHasExactlyOneEntry
    // Text is wrapped: "event" may end a line.
    std::string flat = std::regex_replace(e->text, std::regex("\\s+"), " ");
    EXPECT_NE(flat.find("event " + std::to_string(info.event_id)), std::string::npos)
        << info.name << ": entry at line " << e->line << " does not say 'event " << info.event_id
        << "'";
  }
}

TEST_F(Catalog, EntriesHaveTheHeadersJournalctlShows) {
  for (const auto& e : entries_) {
    SCOPED_TRACE("entry at line " + std::to_string(e.line));
    EXPECT_FALSE(e.headers.count("Subject") == 0 || e.headers.at("Subject").empty());
    EXPECT_EQ(e.headers.count("Defined-By") ? e.headers.at("Defined-By") : "", "netpolicyd");
    EXPECT_TRUE(e.headers.count("Support"));
    ASSERT_TRUE(e.headers.count("Documentation"));
    EXPECT_NE(e.headers.at("Documentation").find("man:netpolicyd(8)"), std::string::npos);
    // What happened, what netpolicyd did, how to resolve, how to verify.
    EXPECT_NE(e.text.find("What netpolicyd did"), std::string::npos);
    EXPECT_NE(e.text.find("Resolve"), std::string::npos);
    EXPECT_NE(e.text.find("Verify"), std::string::npos);
  }
}

// journalctl replaces @NAME@ with the entry's field NAME; a misspelt name
// would print literally. Every substituted name must be a field the audit
// writer can set, and made of A-Z and '_' only: journalctl 252 leaves
// @POLICY_SHA256@ as it is (seen in tests/integration/catalog_test.sh).
TEST_F(Catalog, SubstitutesOnlyAuditFields) {
  std::set<std::string> fields;
  // Field is a dense enum ending with kLastField (daemon/audit.h).
  for (int i = 0; i <= static_cast<int>(kLastField); ++i)
    fields.insert(std::string(field_name(static_cast<Field>(i))));
  ASSERT_TRUE(fields.count("POLICY_PATH"));
  const std::regex variable("@([A-Za-z0-9_]+)@");
  for (const auto& e : entries_) {
    for (std::sregex_iterator it(e.text.begin(), e.text.end(), variable), end; it != end; ++it) {
      const std::string name = (*it)[1].str();
      EXPECT_TRUE(fields.count(name))
          << "entry at line " << e.line << " substitutes unknown field @" << name << "@";
      EXPECT_TRUE(std::regex_match(name, std::regex("[A-Z_]+")))
          << "entry at line " << e.line << ": journalctl cannot substitute @" << name << "@";
    }
  }
}

// netpolicyd(8) lists the events too (docs/netpolicyd.8.scd, EVENTS).
TEST(ManPage, ListsEveryEvent) {
  const std::string path = std::string(NETPOLICY_TEST_DATA) + "/../../../docs/netpolicyd.8.scd";
  std::ifstream in(path);
  ASSERT_TRUE(in) << "cannot open " << path;
  std::stringstream text;
  text << in.rdbuf();
  for (const auto& info : all_events()) {
    std::string line = "*" + std::to_string(info.event_id) + "* *" + std::string(info.name) +
                       "* (" + priority_name(info.priority) + ") " + std::string(info.message_id);
    EXPECT_NE(text.str().find(line), std::string::npos) << "missing: " << line;
  }
}

}  // namespace
}  // namespace netpolicy::daemon
