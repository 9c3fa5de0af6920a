#include "daemon/sa_missing.h"

#include <fmt/format.h>
#include <sys/epoll.h>
#include <time.h>

#include "filter/xfrm_text.h"

namespace netpolicy::daemon {

namespace {
constexpr std::uint64_t kSecond = 1'000'000;
// The kernel sends one ACQUIRE per flow per larval-state lifetime
// (net.core.xfrm_acq_expires, 30 s by default): a flow with no ACQUIRE for
// longer than two of those has stopped sending and is forgotten.
constexpr std::uint64_t kForgetAfter = 65 * kSecond;
constexpr std::uint64_t kTick = kSecond;

std::uint64_t now_usec() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * kSecond +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1000;
}
}  // namespace

void SaMissingTracker::observe(const filter::XfrmEvent& event, std::uint64_t now) {
  if (event.kind == filter::XfrmEvent::Kind::sa_added) {
    // An SA for the reqid exists now: its flows are no longer missing one.
    std::erase_if(flows_, [&](const auto& entry) { return entry.first.first == event.reqid; });
    return;
  }
  auto key = std::make_pair(event.reqid, event.flow);
  auto it = flows_.find(key);
  if (it == flows_.end()) {
    if (flows_.size() >= kMaxFlows) return;  // bounded; the oldest are reported first
    flows_.emplace(key, Flow{event, now, now, 0});
    return;
  }
  it->second.last_seen = now;
}

std::vector<filter::XfrmEvent> SaMissingTracker::due(std::uint64_t now, std::uint64_t after) {
  std::vector<filter::XfrmEvent> out;
  for (auto it = flows_.begin(); it != flows_.end();) {
    Flow& f = it->second;
    if (now - f.last_seen > std::max(kForgetAfter, 2 * after)) {
      it = flows_.erase(it);
      continue;
    }
    const bool old_enough = now - f.since >= after;
    const bool not_recent = f.reported == 0 || now - f.reported >= after;
    if (old_enough && not_recent && out.size() < kMaxReportsPerTick) {
      f.reported = now;
      out.push_back(f.acquire);
    }
    ++it;
  }
  return out;
}

AuditRecord sa_missing_record(const filter::XfrmEvent& a, const policy::Policy* policy,
                              std::uint64_t after_seconds) {
  std::string rule, profile;
  if (policy != nullptr) {
    const std::uint32_t base = policy->settings.xfrm_priority_base;
    if (a.priority >= base && a.priority - base < policy->rules.size()) {
      const policy::Rule& r = policy->rules[a.priority - base];
      if (r.action == policy::Action::protect) rule = r.name, profile = r.ipsec;
    }
    if (profile.empty())
      for (const auto& p : policy->ipsec)
        if (p.reqid == a.reqid) profile = p.name;
  }
  const std::string peer = a.peer.to_string();
  filter::XfrmPolicy flow;
  flow.selector = a.flow;
  flow.dir = filter::XfrmDir::out;
  AuditRecord rec{Event::ipsec_sa_missing,
                  fmt::format("No IPsec SA for {} (reqid {}) to peer {} after {} s; its traffic "
                              "is held back{}",
                              rule.empty() ? "a protected flow" : "rule " + rule, a.reqid, peer,
                              after_seconds,
                              profile.empty() ? "" : "; is the IKE daemon negotiating profile " +
                                                         profile + "?"),
                  {}};
  rec.add(Field::rule, rule)
      .add(Field::ipsec_profile, profile)
      .add(Field::peer, peer)
      .add(Field::reason, "ACQUIRE unanswered: " + filter::describe_xfrm_policy(flow) +
                              " reqid " + std::to_string(a.reqid));
  return rec;
}

Result<std::unique_ptr<SaMissingWatch>> SaMissingWatch::start(sd_event* loop, AuditSink& audit,
                                                              CurrentPolicy current) {
  auto socket = filter::XfrmEventSocket::open();
  if (!socket) return socket.error();
  std::unique_ptr<SaMissingWatch> w{
      new SaMissingWatch(audit, std::move(current), std::move(socket.value()))};
  sd_event_source* io = nullptr;
  if (int r = sd_event_add_io(loop, &io, w->socket_->fd(), EPOLLIN, &SaMissingWatch::on_io,
                              w.get());
      r < 0)
    return errno_error("Failed to watch XFRM acquire events", -r);
  w->io_.reset(io);
  sd_event_source* timer = nullptr;
  if (int r = sd_event_add_time_relative(loop, &timer, CLOCK_MONOTONIC, kTick, 0,
                                         &SaMissingWatch::on_timer, w.get());
      r < 0)
    return errno_error("Failed to arm the SA-missing timer", -r);
  w->timer_.reset(timer);
  return w;
}

int SaMissingWatch::on_io(sd_event_source*, int, std::uint32_t, void* userdata) {
  auto* self = static_cast<SaMissingWatch*>(userdata);
  auto events = self->socket_->read();
  if (!events) return 0;  // ENOBUFS: lost ACQUIREs come again after xfrm_acq_expires
  const std::uint64_t now = now_usec();
  for (const auto& e : *events) self->tracker_.observe(e, now);
  return 0;
}

int SaMissingWatch::on_timer(sd_event_source* source, std::uint64_t, void* userdata) {
  auto* self = static_cast<SaMissingWatch*>(userdata);
  const policy::Policy* policy = self->current_();
  const std::uint64_t after_s = policy ? policy->settings.sa_missing_after_seconds : 10;
  for (const auto& a : self->tracker_.due(now_usec(), after_s * kSecond))
    self->audit_.record(sa_missing_record(a, policy, after_s));
  sd_event_source_set_time_relative(source, kTick);
  sd_event_source_set_enabled(source, SD_EVENT_ONESHOT);
  return 0;
}

}  // namespace netpolicy::daemon
