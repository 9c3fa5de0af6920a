#include "daemon/status_recorder.h"

#include <syslog.h>

#include <charconv>

namespace netpolicy::daemon {

namespace {

std::string field_value(const AuditRecord& record, Field field) {
  for (const auto& [f, value] : record.fields)
    if (f == field) return value;
  return {};
}

}  // namespace

StatusRecorder::StatusRecorder(AuditSink& next, Clock clock)
    : next_(next), clock_(std::move(clock)), view_since_(clock_()) {}

void StatusRecorder::record(const AuditRecord& record) {
  const EventInfo& info = event_info(record.event);
  const WallTime now = clock_();
  switch (record.event) {
    case Event::policy_applied:
    case Event::central_policy_applied:
    case Event::cached_policy_applied: {
      applied_at_ = now;
      std::string source = field_value(record, Field::policy_source);
      applied_source_ = source.empty() ? "local" : std::move(source);
      break;
    }
    case Event::interfaces_incomplete:
      if (view_complete_) view_since_ = now;
      view_complete_ = false;
      break;
    case Event::interfaces_recovered:
      if (!view_complete_) view_since_ = now;
      view_complete_ = true;
      break;
    default:
      break;
  }
  if (info.priority <= LOG_ERR) {
    ErrorRecord e;
    e.event = std::string{info.name};
    e.event_id = info.event_id;
    e.message = record.message;
    const std::string code = field_value(record, Field::error_code);
    int value = 0;
    if (std::from_chars(code.data(), code.data() + code.size(), value).ec == std::errc{})
      e.error_code = value;
    e.error = field_value(record, Field::error);
    e.location = field_value(record, Field::error_location);
    e.interface = field_value(record, Field::interface);
    e.time = now;
    last_error_ = std::move(e);
  }
  next_.record(record);
}

}  // namespace netpolicy::daemon
