#include "daemon/audit.h"

#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

namespace netpolicy::daemon {

std::string_view field_name(Field field) {
  switch (field) {
    case Field::policy_path:
      return "POLICY_PATH";
    case Field::policy_source:
      return "POLICY_SOURCE";
    case Field::policy_sha256:
      return "POLICY_SHA256";
    case Field::rules:
      return "RULES";
    case Field::interfaces:
      return "INTERFACES";
    case Field::interface:
      return "INTERFACE";
    case Field::ifindex:
      return "IFINDEX";
    case Field::rule:
      return "RULE";
    case Field::error_code:
      return "ERROR_CODE";
    case Field::error:
      return "ERROR";
    case Field::error_location:
      return "ERROR_LOCATION";
    case Field::reason:
      return "REASON";
    case Field::action_taken:
      return "ACTION_TAKEN";
    case Field::local_rules:
      return "LOCAL_RULES";
    case Field::ipsec_profile:
      return "IPSEC_PROFILE";
    case Field::peer:
      return "PEER";
  }
  return "UNKNOWN_FIELD";
}

AuditRecord& AuditRecord::add_errno(int error_code) {
  if (error_code == 0) return *this;
  add(Field::error_code, std::to_string(error_code));
  return add(Field::error, std::strerror(error_code));
}

std::vector<std::string> journal_fields(const AuditRecord& record) {
  const EventInfo& info = event_info(record.event);
  std::vector<std::string> out;
  out.reserve(6 + record.fields.size());
  out.push_back("MESSAGE=" + record.message);
  out.push_back("PRIORITY=" + std::to_string(info.priority));
  out.push_back("MESSAGE_ID=" + std::string{info.message_id});
  out.push_back("NETPOLICY_EVENT=" + std::string{info.name});
  out.push_back("EVENT_ID=" + std::to_string(info.event_id));
  out.emplace_back("SYSLOG_IDENTIFIER=netpolicyd");
  for (const auto& [field, value] : record.fields) {
    if (value.empty()) continue;
    out.push_back(std::string{field_name(field)} + "=" + value);
  }
  return out;
}

std::string stderr_line(const AuditRecord& record) {
  return "netpolicyd[" + std::string{event_info(record.event).name} + "]: " + record.message;
}

bool stderr_is_journal_stream(const char* journal_stream, unsigned long long stderr_dev,
                              unsigned long long stderr_ino) {
  if (journal_stream == nullptr) return false;
  unsigned long long dev = 0, ino = 0;
  char tail = 0;
  if (std::sscanf(journal_stream, "%llu:%llu%c", &dev, &ino, &tail) != 2) return false;
  return dev == stderr_dev && ino == stderr_ino;
}

namespace {
bool stderr_goes_to_journal() {
  struct stat st {};
  if (fstat(STDERR_FILENO, &st) != 0) return false;
  return stderr_is_journal_stream(std::getenv("JOURNAL_STREAM"), st.st_dev, st.st_ino);
}
}  // namespace

JournalSink::JournalSink() : echo_to_stderr_(!stderr_goes_to_journal()) {}

void JournalSink::record(const AuditRecord& record) {
  if (echo_to_stderr_) std::cerr << stderr_line(record) << std::endl;

  const std::vector<std::string> fields = journal_fields(record);
  std::vector<iovec> iov;
  iov.reserve(fields.size());
  for (const auto& f : fields)
    iov.push_back(iovec{const_cast<char*>(f.data()), f.size()});  // sendv only reads
  // A failure to reach journald is not worth more than the stderr line
  // already written: logging it would only repeat the message there.
  (void)sd_journal_sendv(iov.data(), static_cast<int>(iov.size()));
}

}  // namespace netpolicy::daemon
