#pragma once
// Audit records: one event of the DESIGN.md table with its message and
// event-specific fields, and the sinks that write them (journald + stderr).
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/events.h"

namespace netpolicy::daemon {

// The event-specific journal fields of DESIGN.md "Audit events".
enum class Field : std::uint8_t {
  policy_path,     // POLICY_PATH
  policy_source,   // POLICY_SOURCE: local | central | cache
  policy_sha256,   // POLICY_SHA256
  rules,           // RULES
  interfaces,      // INTERFACES
  interface,       // INTERFACE
  ifindex,         // IFINDEX
  rule,            // RULE
  error_code,      // ERROR_CODE: errno number
  error,           // ERROR: strerror of ERROR_CODE
  error_location,  // ERROR_LOCATION: path:line:col
  reason,          // REASON
  action_taken,    // ACTION_TAKEN
  local_rules,     // LOCAL_RULES: applied | ignored (a central policy's local_rules)
  ipsec_profile,   // IPSEC_PROFILE: the ipsec profile of a protect rule
  peer,            // PEER: the IPsec peer (an SA's destination)
};
// The last Field: tests walk them all. Keep it the last one when adding.
inline constexpr Field kLastField = Field::peer;

// The journal field name, e.g. "POLICY_PATH".
std::string_view field_name(Field field);

struct AuditRecord {
  Event event = Event::service_started;
  std::string message;
  std::vector<std::pair<Field, std::string>> fields;  // in the order written

  AuditRecord& add(Field field, std::string value) {
    fields.emplace_back(field, std::move(value));
    return *this;
  }
  // ERROR_CODE and ERROR together; nothing when error_code is 0.
  AuditRecord& add_errno(int error_code);
};

// The journal entry for `record`, each element "NAME=value": MESSAGE,
// PRIORITY, MESSAGE_ID, NETPOLICY_EVENT, EVENT_ID, SYSLOG_IDENTIFIER, then
// the record's fields in order. Fields with an empty value are left out
// (an empty field tells the reader nothing). Values are never split: a
// newline stays inside its field, sd_journal_sendv() encodes it.
std::vector<std::string> journal_fields(const AuditRecord& record);

// The one stderr line for `record`: "netpolicyd[event-name]: message".
std::string stderr_line(const AuditRecord& record);

class AuditSink {
 public:
  virtual ~AuditSink() = default;
  virtual void record(const AuditRecord& record) = 0;
};

// Writes each record to journald (sd_journal_sendv) and one line to stderr.
// journald silently drops entries when it does not run; stderr is what
// remains then. Under systemd, stderr is itself a journal stream: the line
// is then skipped, or `journalctl -u netpolicyd` would show every event twice.
class JournalSink final : public AuditSink {
 public:
  JournalSink();
  void record(const AuditRecord& record) override;

 private:
  bool echo_to_stderr_;
};

// True when $JOURNAL_STREAM ("DEVICE:INODE", set by systemd) names the file
// that stderr is, i.e. stderr already goes to the journal.
bool stderr_is_journal_stream(const char* journal_stream, unsigned long long stderr_dev,
                              unsigned long long stderr_ino);

}  // namespace netpolicy::daemon
