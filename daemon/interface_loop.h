#pragma once
// Live interface tracking on the daemon's sd-event loop: the watcher's
// socket as an io source, a resync timer with bounded exponential backoff
// (50 ms doubling to 5 s) after the view became incomplete, a retry timer
// for refused element updates, and the tracker that turns each batch of
// events into one element-only update.
//
// It is also the RulesetApplier the policy engine is given: every full
// replace goes through it to the backend, so the tracker always knows what
// the kernel holds, whichever path (start, SIGHUP, central poll) applied it.
#include <systemd/sd-event.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/error.h"
#include "daemon/audit.h"
#include "daemon/interface_tracker.h"
#include "daemon/sd_handles.h"
#include "filter/element_applier.h"
#include "filter/ruleset_applier.h"
#include "netlink/interface_watcher.h"
#include "policy/policy.h"

namespace netpolicy::daemon {

class InterfaceLoop final : public filter::RulesetApplier {
 public:
  // The policy in force, or nullptr before the first apply.
  using PolicyGetter = std::function<const policy::Policy*()>;
  // Called when the view's completeness changed (at once) or its interface
  // count (at most once a second).
  using StatusChanged = std::function<void()>;

  // Subscribes (32 MiB receive buffer until a policy says otherwise), then
  // dumps. A failed dump is not an error: the view starts incomplete (5480)
  // and is re-read with backoff. Fails only when the sockets cannot be made.
  static Result<std::unique_ptr<InterfaceLoop>> open(sd_event* event, filter::RulesetApplier& tables,
                                                     filter::ElementApplier& elements,
                                                     AuditSink& audit, PolicyGetter policy,
                                                     StatusChanged status_changed);
  ~InterfaceLoop() override;

  // The engine's applier: replaces the table and tells the tracker.
  Status replace_table(const filter::DesiredState& state) override;

  // The view full applies compile from (the engine's interface lister).
  [[nodiscard]] Result<InterfaceView> view_for_apply() const { return tracker_.trusted_view(); }

  // Applies the policy's settings.netlink_receive_buffer. Done after every
  // full replace (on the next loop iteration, once the engine has made the
  // new policy current) and whenever the daemon calls it.
  void apply_settings();

  [[nodiscard]] const InterfaceTracker& tracker() const { return tracker_; }
  // For STATUS=: "interface view complete (N interfaces)" or "interface
  // view INCOMPLETE since 2024-05-01T12:34:56Z (N interfaces known)".
  [[nodiscard]] std::string status() const;

 private:
  InterfaceLoop(sd_event* event, std::unique_ptr<netlink::InterfaceWatcher> watcher,
                filter::RulesetApplier& tables, filter::ElementApplier& elements,
                AuditSink& audit, PolicyGetter policy, StatusChanged status_changed);
  Status start();
  void on_readable();
  void on_resync();
  void on_retry();
  void handle(InterfaceTracker::Result result);
  void mark_incomplete(const std::string& reason, int error_code);
  void schedule_resync(std::chrono::milliseconds delay);
  void schedule_retry(std::chrono::milliseconds delay);
  Status arm(SdEventSourcePtr& source, std::chrono::milliseconds delay,
             sd_event_time_handler_t handler);
  // arm(), or when that fails: critical-failure (5484) and exit.
  void arm_or_exit(SdEventSourcePtr& source, std::chrono::milliseconds delay,
                   sd_event_time_handler_t handler);
  // Reports a changed completeness at once, a changed count at most once a
  // second; `now_or_never` (the timer) reports whatever changed.
  void report_status_if_changed(bool now_or_never = false);

  sd_event* event_;
  std::unique_ptr<netlink::InterfaceWatcher> watcher_;
  filter::RulesetApplier& tables_;
  InterfaceTracker tracker_;
  AuditSink& audit_;
  PolicyGetter policy_;
  StatusChanged status_changed_;
  SdEventSourcePtr io_;
  SdEventSourcePtr resync_timer_;
  SdEventSourcePtr retry_timer_;
  SdEventSourcePtr settings_defer_;
  SdEventSourcePtr status_timer_;
  Backoff resync_backoff_{std::chrono::milliseconds{50}, std::chrono::milliseconds{5'000}};
  int resync_attempts_ = 0;
  std::uint64_t buffer_asked_ = 0;
  std::string last_status_;  // as last reported
  bool last_complete_ = true;
};

}  // namespace netpolicy::daemon
