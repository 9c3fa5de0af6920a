#pragma once
// An AuditSink in front of another that remembers what `netpolicyctl
// status` reports from the audit trail: when the policy in force was
// applied and from which source, the last error, and when the interface
// view last changed between complete and incomplete. Every event goes
// through the audit writer anyway, so this sees every outcome — from the
// policy engine, the interface watcher and the daemon alike — without any
// of them knowing about the monitor.
#include <functional>
#include <optional>
#include <string>

#include "daemon/audit.h"
#include "daemon/daemon_status.h"

namespace netpolicy::daemon {

class StatusRecorder final : public AuditSink {
 public:
  using Clock = std::function<WallTime()>;

  explicit StatusRecorder(AuditSink& next, Clock clock = &std::chrono::system_clock::now);

  // Remembers, then forwards `record` to the next sink.
  void record(const AuditRecord& record) override;

  // The time and POLICY_SOURCE of the last policy-applied,
  // central-policy-applied or cached-policy-applied event; nullopt before.
  [[nodiscard]] const std::optional<WallTime>& applied_at() const { return applied_at_; }
  [[nodiscard]] const std::string& applied_source() const { return applied_source_; }

  // The last event of priority err or worse (err, crit, ...).
  [[nodiscard]] const std::optional<ErrorRecord>& last_error() const { return last_error_; }

  // interfaces-incomplete (5480) makes the view incomplete, interfaces-
  // recovered (5490) complete again; `view_since` is when that last
  // changed, or when the recorder was made.
  [[nodiscard]] bool view_complete() const { return view_complete_; }
  [[nodiscard]] WallTime view_since() const { return view_since_; }

 private:
  AuditSink& next_;
  Clock clock_;
  std::optional<WallTime> applied_at_;
  std::string applied_source_ = "local";
  std::optional<ErrorRecord> last_error_;
  bool view_complete_ = true;
  WallTime view_since_;
};

}  // namespace netpolicy::daemon
