#pragma once
// ipsec-sa-missing (5492): a protected flow whose ACQUIREs have gone
// unanswered (no SA with the profile's reqid appeared) for
// settings.sa_missing_after seconds is reported, once per flow per such
// interval, at most kMaxReportsPerTick at a time.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "base/error.h"
#include "daemon/audit.h"
#include "daemon/sd_handles.h"
#include "filter/xfrm_events.h"
#include "policy/policy.h"

namespace netpolicy::daemon {

// Pure bookkeeping, times in microseconds of CLOCK_MONOTONIC.
class SaMissingTracker {
 public:
  static constexpr std::size_t kMaxFlows = 4096;
  static constexpr std::size_t kMaxReportsPerTick = 16;

  void observe(const filter::XfrmEvent& event, std::uint64_t now);
  // The flows to report now (each remembered as reported at `now`).
  std::vector<filter::XfrmEvent> due(std::uint64_t now, std::uint64_t after);
  [[nodiscard]] std::size_t size() const { return flows_.size(); }

 private:
  struct Flow {
    filter::XfrmEvent acquire;
    std::uint64_t since = 0;      // first ACQUIRE
    std::uint64_t last_seen = 0;  // latest ACQUIRE
    std::uint64_t reported = 0;   // 0: never
  };
  std::map<std::pair<std::uint32_t, filter::XfrmSelector>, Flow> flows_;
};

// The 5492 record for a flow of `policy` (rule from the policy's priority,
// profile from the rule, else from the reqid).
AuditRecord sa_missing_record(const filter::XfrmEvent& acquire, const policy::Policy* policy,
                              std::uint64_t after_seconds);

// The loop side: the event socket as an io source, a 1 s timer.
class SaMissingWatch {
 public:
  using CurrentPolicy = std::function<const policy::Policy*()>;
  static Result<std::unique_ptr<SaMissingWatch>> start(sd_event* loop, AuditSink& audit,
                                                       CurrentPolicy current);

 private:
  SaMissingWatch(AuditSink& audit, CurrentPolicy current,
                 std::unique_ptr<filter::XfrmEventSocket> socket)
      : audit_(audit), current_(std::move(current)), socket_(std::move(socket)) {}
  static int on_io(sd_event_source*, int, std::uint32_t, void* self);
  static int on_timer(sd_event_source*, std::uint64_t, void* self);

  AuditSink& audit_;
  CurrentPolicy current_;
  std::unique_ptr<filter::XfrmEventSocket> socket_;
  SaMissingTracker tracker_;
  SdEventSourcePtr io_;
  SdEventSourcePtr timer_;
};

}  // namespace netpolicy::daemon
