#include "daemon/interface_loop.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "daemon/daemon_status.h"

namespace netpolicy::daemon {
namespace {

constexpr std::uint64_t kDefaultReceiveBuffer = 32u << 20;
constexpr std::chrono::milliseconds kStatusInterval{1000};

std::uint64_t usec(std::chrono::milliseconds delay) {
  return static_cast<std::uint64_t>(delay.count()) * 1000u;
}

}  // namespace

Result<std::unique_ptr<InterfaceLoop>> InterfaceLoop::open(
    sd_event* event, filter::RulesetApplier& tables, filter::ElementApplier& elements,
    AuditSink& audit, PolicyGetter policy, StatusChanged status_changed) {
  auto watcher = netlink::InterfaceWatcher::open(kDefaultReceiveBuffer);
  if (!watcher) return watcher.error();
  std::unique_ptr<InterfaceLoop> loop(new InterfaceLoop(event, std::move(watcher).value(), tables,
                                                        elements, audit, std::move(policy),
                                                        std::move(status_changed)));
  if (Status s = loop->start(); !s) return s.error();
  return loop;
}

InterfaceLoop::InterfaceLoop(sd_event* event, std::unique_ptr<netlink::InterfaceWatcher> watcher,
                             filter::RulesetApplier& tables, filter::ElementApplier& elements,
                             AuditSink& audit, PolicyGetter policy, StatusChanged status_changed)
    : event_(event),
      watcher_(std::move(watcher)),
      tables_(tables),
      tracker_(tables, elements, audit),
      audit_(audit),
      policy_(std::move(policy)),
      status_changed_(std::move(status_changed)),
      buffer_asked_(kDefaultReceiveBuffer) {}

InterfaceLoop::~InterfaceLoop() = default;

Status InterfaceLoop::start() {
  sd_event_source* source = nullptr;
  auto on_io = [](sd_event_source*, int, std::uint32_t, void* self) {
    static_cast<InterfaceLoop*>(self)->on_readable();
    return 0;
  };
  if (int r = sd_event_add_io(event_, &source, watcher_->fd(), EPOLLIN, on_io, this); r < 0)
    return errno_error("Failed to watch the interface watcher's socket", -r);
  io_.reset(source);

  // Subscribed already (open()); now the first dump.
  Status s = watcher_->resync();
  if (s) {
    (void)tracker_.update(nullptr, watcher_->view(), {});
  } else {
    mark_incomplete(s.error().describe(), s.error().error_code);
    (void)tracker_.update(nullptr, watcher_->view(), {});
  }
  last_status_ = status();
  last_complete_ = tracker_.view_complete();
  return Ok{};
}

Status InterfaceLoop::replace_table(const filter::DesiredState& state) {
  Status s = tables_.replace_table(state);
  if (!s) return s;
  tracker_.replaced(state);
  // The engine makes the new policy current after this returns: read its
  // settings on the next loop iteration.
  if (!settings_defer_) {
    sd_event_source* source = nullptr;
    auto on_defer = [](sd_event_source*, void* self) {
      auto* loop = static_cast<InterfaceLoop*>(self);
      loop->apply_settings();
      loop->report_status_if_changed();
      return 0;
    };
    if (sd_event_add_defer(event_, &source, on_defer, this) >= 0) settings_defer_.reset(source);
  }
  if (settings_defer_) sd_event_source_set_enabled(settings_defer_.get(), SD_EVENT_ONESHOT);
  return s;
}

void InterfaceLoop::apply_settings() {
  const policy::Policy* policy = policy_();
  if (policy == nullptr || policy->settings.netlink_receive_buffer == buffer_asked_) return;
  if (Status s = watcher_->set_receive_buffer(policy->settings.netlink_receive_buffer); !s) {
    // The previous size stays; worth a line, not an event: overruns are
    // detected and recovered from whatever the size.
    std::cerr << "netpolicyd: " << s.error().describe() << std::endl;
    return;
  }
  buffer_asked_ = policy->settings.netlink_receive_buffer;
}

std::string InterfaceLoop::status() const {
  const auto& view = tracker_.interfaces();
  if (view.complete)
    return fmt::format("interface view complete ({} interfaces)", view.interfaces.size());
  const auto since = tracker_.incomplete_since();
  return fmt::format("interface view INCOMPLETE{} ({} interfaces known)",
                     since ? " since " + iso8601_utc(*since) : std::string{},
                     view.interfaces.size());
}

void InterfaceLoop::report_status_if_changed(bool now_or_never) {
  std::string now = status();
  if (now == last_status_) return;
  const bool complete = tracker_.view_complete();
  if (complete == last_complete_ && !now_or_never) {
    // Only the count changed: at most one STATUS= a second, so a storm of
    // events does not become a storm of notifications (sd_notify blocks
    // when the service manager does not read as fast).
    auto handler = [](sd_event_source*, std::uint64_t, void* self) {
      static_cast<InterfaceLoop*>(self)->report_status_if_changed(true);
      return 0;
    };
    int enabled = SD_EVENT_OFF;
    if (status_timer_) (void)sd_event_source_get_enabled(status_timer_.get(), &enabled);
    if (enabled == SD_EVENT_OFF) (void)arm(status_timer_, kStatusInterval, handler);
    return;
  }
  last_status_ = std::move(now);
  last_complete_ = complete;
  if (status_changed_) status_changed_();
}

void InterfaceLoop::mark_incomplete(const std::string& reason, int error_code) {
  tracker_.incomplete(policy_(), reason, error_code, std::chrono::steady_clock::now(),
                      std::chrono::system_clock::now());
  int enabled = SD_EVENT_OFF;
  if (resync_timer_) (void)sd_event_source_get_enabled(resync_timer_.get(), &enabled);
  if (enabled == SD_EVENT_OFF) {  // no resync under way: start one
    resync_backoff_.reset();
    resync_attempts_ = 0;
    // At once: the watcher drains what is queued before it dumps.
    schedule_resync(std::chrono::milliseconds{0});
  }
}

void InterfaceLoop::on_readable() {
  auto batch = watcher_->read_events();
  if (!batch) {
    mark_incomplete(batch.error().describe(), batch.error().error_code);
    handle(tracker_.update(policy_(), watcher_->view(), {}));
    return;
  }
  if (batch->overrun)
    mark_incomplete(
        fmt::format("the netlink receive buffer ({} bytes) overflowed and link or address events "
                    "were lost",
                    watcher_->receive_buffer()),
        ENOBUFS);
  if (batch->changed.empty() && !batch->overrun) return;
  std::vector<InterfaceTracker::Changed> changed;
  changed.reserve(batch->changed.size());
  for (auto& c : batch->changed) changed.push_back({c.ifindex, std::move(c.name)});
  handle(tracker_.update(policy_(), watcher_->view(), changed));
}

void InterfaceLoop::on_resync() {
  ++resync_attempts_;
  Status s = watcher_->resync();
  if (!s) {
    // Still incomplete: apply what the events said is gone, try again later.
    // One line per attempt (the backoff bounds them); 5480 said it already.
    const auto delay = resync_backoff_.next();
    std::cerr << "netpolicyd: re-reading the interface list failed (attempt " << resync_attempts_
              << "): " << s.error().describe() << "; next attempt in " << delay.count() << " ms"
              << std::endl;
    handle(tracker_.update(policy_(), watcher_->view(), {}));
    schedule_resync(delay);
    return;
  }
  handle(tracker_.recovered(policy_(), watcher_->view(), std::chrono::steady_clock::now(),
                            resync_attempts_));
}

void InterfaceLoop::on_retry() { handle(tracker_.retry(policy_())); }

void InterfaceLoop::handle(InterfaceTracker::Result result) {
  switch (result) {
    case InterfaceTracker::Result::failed:
      schedule_retry(tracker_.retry_in());
      break;
    case InterfaceTracker::Result::out_of_memory:
      mark_incomplete("out of memory while computing the tables for an interface change", ENOMEM);
      break;
    default:
      break;
  }
  report_status_if_changed();
}

Status InterfaceLoop::arm(SdEventSourcePtr& source, std::chrono::milliseconds delay,
                          sd_event_time_handler_t handler) {
  if (source) {
    if (int r = sd_event_source_set_time_relative(source.get(), usec(delay)); r < 0)
      return errno_error("Failed to arm a timer", -r);
    if (int r = sd_event_source_set_enabled(source.get(), SD_EVENT_ONESHOT); r < 0)
      return errno_error("Failed to arm a timer", -r);
    return Ok{};
  }
  sd_event_source* raw = nullptr;
  // Accuracy 1 ms: the default (250 ms) would delay a resync due at once.
  if (int r = sd_event_add_time_relative(event_, &raw, CLOCK_MONOTONIC, usec(delay), 1000, handler,
                                         this);
      r < 0)
    return errno_error("Failed to arm a timer", -r);
  source.reset(raw);
  return Ok{};
}

void InterfaceLoop::schedule_resync(std::chrono::milliseconds delay) {
  auto handler = [](sd_event_source*, std::uint64_t, void* self) {
    static_cast<InterfaceLoop*>(self)->on_resync();
    return 0;
  };
  arm_or_exit(resync_timer_, delay, handler);
}

void InterfaceLoop::schedule_retry(std::chrono::milliseconds delay) {
  auto handler = [](sd_event_source*, std::uint64_t, void* self) {
    static_cast<InterfaceLoop*>(self)->on_retry();
    return 0;
  };
  arm_or_exit(retry_timer_, delay, handler);
}

void InterfaceLoop::arm_or_exit(SdEventSourcePtr& source, std::chrono::milliseconds delay,
                                sd_event_time_handler_t handler) {
  if (Status s = arm(source, delay, handler); !s) {
    // Without the timer the view would stay incomplete, or the kernel
    // behind, for good: exit and let the service manager restart us (the
    // rules stay in the kernel).
    audit_.record(AuditRecord{Event::critical_failure,
                              s.error().describe() + "; exiting to be restarted",
                              {{Field::reason, s.error().describe()}}});
    sd_event_exit(event_, 1);
  }
}

}  // namespace netpolicy::daemon
