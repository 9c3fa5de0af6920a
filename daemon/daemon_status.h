#pragma once
// What `netpolicyctl status` and `netpolicyctl interfaces` show: a plain
// snapshot the daemon fills on request, and the pure rules that turn the
// policy in force and the interface view into per-interface states.
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/interface_view.h"
#include "base/ip_prefix.h"
#include "filter/model.h"
#include "policy/policy.h"

namespace netpolicy::daemon {

using WallTime = std::chrono::system_clock::time_point;

// The most recent event of priority err or worse, as audited.
struct ErrorRecord {
  std::string event;      // NETPOLICY_EVENT, e.g. "policy-failed"
  int event_id = 0;       // EVENT_ID
  std::string message;    // MESSAGE
  int error_code = 0;     // ERROR_CODE (errno), 0 when none applies
  std::string error;      // ERROR (strerror of error_code)
  std::string location;   // ERROR_LOCATION (path:line:col), may be empty
  std::string interface;  // INTERFACE, may be empty
  WallTime time{};
};

struct PolicyStatus {
  std::string path;
  std::string sha256;
  std::string source = "local";  // POLICY_SOURCE: local | central | cache
  WallTime applied_at{};
  std::size_t rules = 0;
  std::size_t zones = 0;
};

enum class InterfaceState {
  protected_,       // in a zone, and its zone map elements are in the kernel
  unknown_posture,  // in no zone (or its elements are not in the kernel):
                    // the kernel gives it settings.unknown_interfaces
  uncertain,        // the view is incomplete and it is not protected
  loopback,         // "lo": accepted by the base chains, never in the maps
};

// "protected", "unknown-posture", "uncertain", "loopback".
std::string_view state_name(InterfaceState state);

struct InterfaceStatus {
  std::string name;
  int ifindex = 0;
  std::optional<std::string> zone;  // the zone classify() gives, if any
  InterfaceState state = InterfaceState::unknown_posture;
  std::vector<IpPrefix> addresses;
  friend bool operator==(const InterfaceStatus&, const InterfaceStatus&) = default;
};

struct DaemonStatus {
  int pid = 0;
  std::string version;
  std::optional<PolicyStatus> policy;  // nullopt before the first success
  std::size_t interface_count = 0;
  bool view_complete = true;
  WallTime view_since{};  // when the view last became complete (or incomplete)
  std::optional<ErrorRecord> last_error;
  std::vector<InterfaceStatus> interfaces;
};

// Each interface of `view`, in the view's order, with its zone (from
// policy::classify) and its state. `policy` and `state` are the policy in
// force and the table it put in the kernel (both null before the first
// success: then no interface is protected). An interface is protected only
// when every zone map of `state` holds its element jumping to its zone's
// chain — the same elements the compiler emits and the kernel accepted.
std::vector<InterfaceStatus> interface_statuses(const policy::Policy* policy,
                                                const filter::DesiredState* state,
                                                const InterfaceView& view);

// "2024-05-01T12:34:56Z" (ISO 8601, UTC, whole seconds).
std::string iso8601_utc(WallTime time);

}  // namespace netpolicy::daemon
