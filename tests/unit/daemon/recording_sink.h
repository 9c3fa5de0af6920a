#pragma once
// An AuditSink that keeps every record, for the daemon's unit tests.
#include <string>
#include <vector>

#include "daemon/audit.h"

namespace netpolicy::daemon::testing {

// The value of `f` in `r`, or "<absent>".
inline std::string field(const AuditRecord& r, Field f) {
  for (const auto& [name, value] : r.fields)
    if (name == f) return value;
  return "<absent>";
}

class RecordingSink final : public AuditSink {
 public:
  void record(const AuditRecord& r) override { records.push_back(r); }

  [[nodiscard]] std::vector<Event> events() const {
    std::vector<Event> out;
    for (const auto& r : records) out.push_back(r.event);
    return out;
  }
  [[nodiscard]] std::vector<AuditRecord> of(Event e) const {
    std::vector<AuditRecord> out;
    for (const auto& r : records)
      if (r.event == e) out.push_back(r);
    return out;
  }
  // `f` of the last record of event `e`, or "<absent>".
  [[nodiscard]] std::string field(Event e, Field f) const {
    for (auto r = records.rbegin(); r != records.rend(); ++r)
      if (r->event == e) return testing::field(*r, f);
    return "<absent>";
  }

  std::vector<AuditRecord> records;
};

}  // namespace netpolicy::daemon::testing
