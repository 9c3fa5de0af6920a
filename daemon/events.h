#pragma once
// The audit event table of DESIGN.md. MESSAGE_IDs never change once
// released; systemd/netpolicyd.catalog has an entry for each.
#include <array>
#include <string_view>

namespace netpolicy::daemon {

enum class Event {
  service_started,
  service_stopped,
  policy_applied,
  policy_failed,
  central_policy_applied,
  central_policy_failed,
  cached_policy_applied,
  cached_policy_failed,
  policy_unchanged,
  reload_requested,
  central_unreachable,
  filter_add_failed,
  interfaces_incomplete,
  critical_failure,
  interface_update_failed,
  interfaces_recovered,
  drift_restored,
  ipsec_sa_missing,
};

struct EventInfo {
  Event event;
  std::string_view name;        // NETPOLICY_EVENT
  int event_id;                 // EVENT_ID
  int priority;                 // syslog priority (LOG_INFO, ...)
  std::string_view message_id;  // MESSAGE_ID, 32 lowercase hex digits
};

const EventInfo& event_info(Event event);
// Every event, in declaration order (for the catalog lint test).
const std::array<EventInfo, 18>& all_events();

}  // namespace netpolicy::daemon
