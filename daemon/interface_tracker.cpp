#include "daemon/interface_tracker.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <new>

#include "filter/nft_elements.h"
#include "policy/compiler.h"

namespace netpolicy::daemon {
namespace {

std::string posture_text(const policy::Policy* policy) {
  if (policy == nullptr) return "the unknown_interfaces posture";
  return std::string{"the unknown_interfaces posture ("} +
         (policy->settings.unknown_interfaces == policy::Verdict::allow ? "allow" : "block") + ")";
}

std::size_t count_elements(const std::vector<filter::SetElements>& sets,
                           const std::vector<filter::MapElements>& maps) {
  std::size_t n = 0;
  for (const auto& s : sets) n += s.elements.size();
  for (const auto& m : maps) n += m.elements.size();
  return n;
}

}  // namespace

InterfaceView intersect_views(const InterfaceView& a, const InterfaceView& b) {
  std::map<int, const Interface*> in_b;
  for (const auto& i : b.interfaces) in_b.emplace(i.ifindex, &i);
  InterfaceView out;
  out.complete = a.complete;
  for (const auto& i : a.interfaces) {
    auto it = in_b.find(i.ifindex);
    if (it == in_b.end() || it->second->name != i.name) continue;
    Interface both{i.name, i.ifindex, {}};
    std::vector<IpPrefix> x = i.addresses;
    std::vector<IpPrefix> y = it->second->addresses;
    std::sort(x.begin(), x.end());
    std::sort(y.begin(), y.end());
    std::set_intersection(x.begin(), x.end(), y.begin(), y.end(),
                          std::back_inserter(both.addresses));
    out.interfaces.push_back(std::move(both));
  }
  return out;
}

InterfaceTracker::InterfaceTracker(filter::RulesetApplier& tables,
                                   filter::ElementApplier& elements, AuditSink& audit)
    : tables_(tables), elements_(elements), audit_(audit) {}

void InterfaceTracker::replaced(const filter::DesiredState& state) {
  applied_ = state;
  pending_.clear();
  retry_pending_ = false;
  retry_backoff_.reset();
}

InterfaceTracker::Result InterfaceTracker::update(const policy::Policy* policy,
                                                  const InterfaceView& view,
                                                  const std::vector<Changed>& changed) {
  const bool complete = view_.complete;
  view_ = view;
  view_.complete = complete;  // only incomplete() and recovered() change it
  try {
    trusted_ = complete ? view_ : intersect_views(trusted_, view_);
    trusted_.complete = complete;
    for (const auto& c : changed) pending_[c.ifindex] = c.name;
  } catch (const std::bad_alloc&) {
    return Result::out_of_memory;
  }
  return sync(policy);
}

void InterfaceTracker::incomplete(const policy::Policy* policy, const std::string& reason,
                                  int error_code, Mono mono, Wall wall) {
  if (!view_.complete) return;  // already audited for this period
  view_.complete = false;
  trusted_.complete = false;
  incomplete_mono_ = mono;
  incomplete_wall_ = wall;
  const std::string action = "interfaces not positively classified keep " + posture_text(policy) +
                             "; no interface or address is added to the tables until the "
                             "interface list is read again; re-reading it";
  AuditRecord rec{Event::interfaces_incomplete,
                  "The list of network interfaces may be incomplete: " + reason + "; " + action,
                  {}};
  rec.add(Field::reason, reason)
      .add_errno(error_code)
      .add(Field::interfaces, std::to_string(view_.interfaces.size()))
      .add(Field::action_taken, action);
  audit_.record(rec);
}

InterfaceTracker::Result InterfaceTracker::recovered(const policy::Policy* policy,
                                                     const InterfaceView& view, Mono now,
                                                     int attempts) {
  const bool was_incomplete = !view_.complete;
  view_ = view;
  view_.complete = true;
  trusted_ = view_;
  const Result result = sync(policy);
  if (!was_incomplete) return result;

  const auto incomplete_for =
      std::chrono::duration<double>(now - incomplete_mono_.value_or(now)).count();
  std::string action;
  switch (result) {
    case Result::unchanged:
      action = "the tables already matched the interfaces";
      break;
    case Result::updated:
      action = fmt::format("reconciled the tables: {} elements removed, {} added", last_removed_,
                           last_added_);
      break;
    case Result::replaced:
      action = "replaced the table to match the interfaces";
      break;
    case Result::failed:
      action = "the kernel refused the reconciling update (see interface-update-failed); retrying";
      break;
    case Result::out_of_memory:
      action = "could not compute the reconciling update (out of memory); re-reading the list";
      break;
  }
  AuditRecord rec{Event::interfaces_recovered,
                  fmt::format("The list of network interfaces is complete again after {:.3f} s: "
                              "{} interfaces; {}",
                              incomplete_for, view_.interfaces.size(), action),
                  {}};
  rec.add(Field::interfaces, std::to_string(view_.interfaces.size()))
      .add(Field::reason,
           fmt::format("a consistent dump of links and addresses after {} attempt{}; the view "
                       "was incomplete for {:.3f} s",
                       attempts, attempts == 1 ? "" : "s", incomplete_for))
      .add(Field::action_taken, action);
  audit_.record(rec);
  incomplete_mono_.reset();
  incomplete_wall_.reset();
  return result;
}

InterfaceTracker::Result InterfaceTracker::retry(const policy::Policy* policy) {
  if (!retry_pending_) return Result::unchanged;
  return sync(policy);
}

InterfaceTracker::Result InterfaceTracker::sync(const policy::Policy* policy) {
  if (policy == nullptr || !applied_) return Result::unchanged;  // nothing in the kernel yet
  filter::DesiredState desired;
  std::optional<filter::ElementDiff> diff;
  try {
    desired = policy::compile(*policy, trusted_);
    diff = filter::diff_elements(*applied_, desired);
  } catch (const std::bad_alloc&) {
    return Result::out_of_memory;
  }
  if (diff && diff->empty()) {
    pending_.clear();
    retry_pending_ = false;
    retry_backoff_.reset();
    return Result::unchanged;
  }
  // Not an element change: only a policy and a table that disagree (a
  // bug) can get here. Replace the whole table rather than leave it wrong.
  Status sent = diff ? elements_.update_elements(*diff) : tables_.replace_table(desired);
  if (!sent) {
    retry_pending_ = true;
    retry_in_ = retry_backoff_.next();
    audit_update_failed(sent.error(), diff ? &*diff : nullptr);
    return Result::failed;
  }
  last_removed_ = diff ? count_elements(diff->set_deletions, diff->map_deletions) : 0;
  last_added_ = diff ? count_elements(diff->set_additions, diff->map_additions) : 0;
  applied_ = std::move(desired);
  pending_.clear();
  retry_pending_ = false;
  retry_backoff_.reset();
  return diff ? Result::updated : Result::replaced;
}

void InterfaceTracker::audit_update_failed(const Error& error, const filter::ElementDiff* diff) {
  // The interfaces concerned: those the events named, and those whose map
  // elements the refused update carried.
  std::map<std::string, std::string> names;  // name -> ifindex ("" when gone)
  for (const auto& [ifindex, name] : pending_) names[name] = std::to_string(ifindex);
  if (diff != nullptr)
    for (const auto& name : filter::interfaces_in(*diff)) names.try_emplace(name, "");
  std::string interfaces;
  std::string ifindexes;
  for (const auto& [name, ifindex] : names) {
    if (!interfaces.empty()) interfaces += ", ";
    interfaces += name;
    if (ifindex.empty()) continue;
    if (!ifindexes.empty()) ifindexes += ", ";
    ifindexes += ifindex;
  }
  const std::string action = fmt::format(
      "the kernel keeps the previous elements (interfaces not in them keep the unknown_interfaces "
      "posture); retrying in {} ms",
      retry_in_.count());
  const std::string what = interfaces.empty() ? std::string{"the interfaces"} : interfaces;
  AuditRecord rec{Event::interface_update_failed,
                  fmt::format("Failed to update the tables for {}: {}; {}", what, error.describe(),
                              action),
                  {}};
  rec.add(Field::interface, interfaces)
      .add(Field::ifindex, ifindexes)
      .add_errno(error.error_code)
      .add(Field::reason, error.object.empty() ? error.message : error.message + " (" + error.object + ")")
      .add(Field::action_taken, action);
  audit_.record(rec);
}

}  // namespace netpolicy::daemon
