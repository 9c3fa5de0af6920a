#include "daemon/events.h"

#include <syslog.h>

#include <cstddef>

namespace netpolicy::daemon {

namespace {

// The table of DESIGN.md "Audit events", in the order of the Event enum.
// EVENT_IDs below 5490 are the Windows IPsec events with the same meaning.
constexpr std::array<EventInfo, 18> kEvents{{
    {Event::service_started, "service-started", 5478, LOG_INFO, "a29dbac7ffa141369e77a954c6de4104"},
    {Event::service_stopped, "service-stopped", 5479, LOG_INFO, "cc8a7de14b624c98a08ade3ccba6759b"},
    {Event::policy_applied, "policy-applied", 5460, LOG_INFO, "02c7fb1e39604aa28535d3498340d333"},
    {Event::policy_failed, "policy-failed", 5461, LOG_ERR, "8eb727020cc44f3ca8539e3857dea9ab"},
    {Event::central_policy_applied, "central-policy-applied", 5456, LOG_INFO,
     "86e16fc0865a4cb49d230997166d8842"},
    {Event::central_policy_failed, "central-policy-failed", 5457, LOG_ERR,
     "c41304c929004ad893ab10aecfc52a1e"},
    {Event::cached_policy_applied, "cached-policy-applied", 5458, LOG_WARNING,
     "9093bf0928cd46258259ceae1e699836"},
    {Event::cached_policy_failed, "cached-policy-failed", 5459, LOG_ERR,
     "cb1d7943e7884ae6a863dab927a83e4c"},
    {Event::policy_unchanged, "policy-unchanged", 5463, LOG_DEBUG,
     "1e18d8aa42eb4d7faefbdce010b633fd"},
    {Event::reload_requested, "reload-requested", 5465, LOG_INFO,
     "75dbaf015c1e45cb9f78b26c402aad31"},
    {Event::central_unreachable, "central-unreachable", 5466, LOG_WARNING,
     "778d1d75acd047b6a68af9d9ff95e7b2"},
    {Event::filter_add_failed, "filter-add-failed", 5477, LOG_ERR,
     "05dc268ce4ad4e45bce69ac13228a8d7"},
    {Event::interfaces_incomplete, "interfaces-incomplete", 5480, LOG_CRIT,
     "c76be8178b084c25a7048ae08944c82b"},
    {Event::critical_failure, "critical-failure", 5484, LOG_CRIT,
     "57f885dbc8c04ef9b0d5b517eca22ced"},
    {Event::interface_update_failed, "interface-update-failed", 5485, LOG_ERR,
     "be579291137740f39ebd08f43a7ec2f2"},
    {Event::interfaces_recovered, "interfaces-recovered", 5490, LOG_NOTICE,
     "d8bdfbaa032c4b7ea174e345ac6005f1"},
    {Event::drift_restored, "drift-restored", 5491, LOG_WARNING,
     "b6c203c95b2449a5a0184125cdbd6081"},
    {Event::ipsec_sa_missing, "ipsec-sa-missing", 5492, LOG_WARNING,
     "22148ea8b440442d9f01dd508254dcfe"},
}};

// The table is indexed by the enum: catch a reordering at compile time.
constexpr bool table_matches_enum() {
  for (std::size_t i = 0; i < kEvents.size(); ++i)
    if (static_cast<std::size_t>(kEvents[i].event) != i) return false;
  return true;
}
static_assert(table_matches_enum(), "kEvents must follow the order of enum Event");

}  // namespace

const EventInfo& event_info(Event event) {
  return kEvents.at(static_cast<std::size_t>(event));
}

const std::array<EventInfo, 18>& all_events() {
  return kEvents;
}

}  // namespace netpolicy::daemon
