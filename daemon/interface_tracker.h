#pragma once
// What the daemon does with interface changes, without the event loop: it
// keeps the table's elements equal to compile(policy, view) through
// element-only updates, fails closed while the view is incomplete, and
// audits 5480 (interfaces-incomplete), 5485 (interface-update-failed) and
// 5490 (interfaces-recovered). The loop (interface_loop.h) feeds it events
// and runs its timers; unit tests feed it directly, with fake appliers.
//
// Fail closed: while the view is incomplete, the view used for the kernel
// ("trusted view") only ever shrinks — it is the last complete view
// intersected with every view seen since. So no interface gets a map
// element, and no address enters a set, from data that may be stale; what
// the events say is gone is removed at once. A consistent dump restores it.
#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/interface_view.h"
#include "daemon/audit.h"
#include "filter/element_applier.h"
#include "filter/model.h"
#include "filter/ruleset_applier.h"
#include "policy/policy.h"

namespace netpolicy::daemon {

// Interfaces present (same ifindex and name) in both views, with the
// addresses they have in both; in `a`'s order. complete is a's.
InterfaceView intersect_views(const InterfaceView& a, const InterfaceView& b);

// Bounded exponential backoff: initial, 2x initial, ... up to cap.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds cap)
      : initial_(initial), cap_(cap), next_(initial) {}
  std::chrono::milliseconds next() {
    const auto now = next_;
    next_ = std::min(next_ * 2, cap_);
    return now;
  }
  void reset() { next_ = initial_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds cap_;
  std::chrono::milliseconds next_;
};

class InterfaceTracker {
 public:
  using Mono = std::chrono::steady_clock::time_point;
  using Wall = std::chrono::system_clock::time_point;

  struct Changed {  // an interface an event was about
    int ifindex = 0;
    std::string name;
  };

  enum class Result {
    unchanged,      // nothing to send
    updated,        // the element diff is in the kernel
    replaced,       // the structure differed, so the whole table was replaced
    failed,         // the kernel refused: 5485 audited; call retry() after retry_delay()
    out_of_memory,  // could not compute the new state; treat the view as incomplete
  };

  InterfaceTracker(filter::RulesetApplier& tables, filter::ElementApplier& elements,
                   AuditSink& audit);

  // The kernel's table was replaced as a whole with `state`, compiled from
  // trusted_view() (start-up, reload, central poll). Ends any retry.
  void replaced(const filter::DesiredState& state);

  // The watcher's view after events. `changed` lists what the events were
  // about, for the events that name interfaces. With `policy` null (no
  // policy applied yet) only the view is recorded.
  Result update(const policy::Policy* policy, const InterfaceView& view,
                const std::vector<Changed>& changed);

  // Events were lost or could not be recorded. The first call of an
  // incomplete period audits 5480; later ones only keep the view incomplete.
  void incomplete(const policy::Policy* policy, const std::string& reason, int error_code,
                  Mono mono, Wall wall);

  // A consistent dump gave `view` (complete): the trusted view becomes it,
  // the elements are reconciled, and 5490 is audited (when the view was
  // incomplete). Returns what reconciling did.
  Result recovered(const policy::Policy* policy, const InterfaceView& view, Mono now,
                   int attempts);

  // Retries the update the kernel refused; no-op (unchanged) when none is pending.
  Result retry(const policy::Policy* policy);
  [[nodiscard]] bool retry_pending() const { return retry_pending_; }
  // After `failed`: when to call retry() (100 ms, doubling up to 10 s).
  [[nodiscard]] std::chrono::milliseconds retry_in() const { return retry_in_; }

  // The view the last event left (complete flag included): what
  // `netpolicyctl interfaces` shows.
  [[nodiscard]] const InterfaceView& interfaces() const { return view_; }
  // The view the kernel's elements follow; full applies compile from it.
  [[nodiscard]] const InterfaceView& trusted_view() const { return trusted_; }
  [[nodiscard]] bool view_complete() const { return view_.complete; }
  [[nodiscard]] std::optional<Wall> incomplete_since() const { return incomplete_wall_; }
  // The table as the kernel holds it, or nullptr before the first apply.
  [[nodiscard]] const filter::DesiredState* applied() const {
    return applied_ ? &*applied_ : nullptr;
  }

 private:
  Result sync(const policy::Policy* policy);
  void audit_update_failed(const Error& error, const filter::ElementDiff* diff);

  filter::RulesetApplier& tables_;
  filter::ElementApplier& elements_;
  AuditSink& audit_;
  InterfaceView view_;
  InterfaceView trusted_;
  std::optional<filter::DesiredState> applied_;
  std::optional<Wall> incomplete_wall_;
  std::optional<Mono> incomplete_mono_;
  std::map<int, std::string> pending_;  // interfaces changed since the last good update
  bool retry_pending_ = false;
  Backoff retry_backoff_{std::chrono::milliseconds{100}, std::chrono::milliseconds{10'000}};
  std::chrono::milliseconds retry_in_{0};
  std::size_t last_removed_ = 0;  // elements the last successful sync removed / added
  std::size_t last_added_ = 0;
};

}  // namespace netpolicy::daemon
