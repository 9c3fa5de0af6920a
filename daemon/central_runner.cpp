#include "daemon/central_runner.h"

#include <utility>

namespace netpolicy::daemon {

ApplyRunner::ApplyRunner(PolicyEngine& engine, AsyncFetcher& fetcher, std::string path,
                         BeginHook begin, EndHook end)
    : engine_(engine),
      fetcher_(fetcher),
      path_(std::move(path)),
      begin_(std::move(begin)),
      end_(std::move(end)) {}

ApplyRunner::~ApplyRunner() {
  // The fetcher may outlive us: its callback points here.
  if (pending_) fetcher_.cancel();
}

void ApplyRunner::request(Kind kind, Waiter waiter) {
  if (stopped_) {
    if (waiter) waiter({false, *stopped_});
    return;
  }
  if (running_) {
    if (kind == Kind::poll) return;
    queued_ = true;
    if (waiter) queued_waiters_.push_back(std::move(waiter));
    return;
  }
  std::vector<Waiter> waiters;
  if (waiter) waiters.push_back(std::move(waiter));
  run(kind, std::move(waiters));
}

void ApplyRunner::run(Kind kind, std::vector<Waiter> waiters) {
  running_ = kind;
  waiters_ = std::move(waiters);
  if (begin_) begin_(kind);
  auto begun = engine_.begin_file(path_, kind == Kind::poll);
  if (auto* outcome = std::get_if<Outcome>(&begun)) {
    end(std::move(*outcome));
    return;
  }
  pending_ = std::get<PolicyEngine::PendingApply>(std::move(begun));
  Status started = fetcher_.start(pending_->source, pending_->validators,
                                  [this](FetchResult result) { fetched(std::move(result)); });
  if (!started) {
    // Not even started (no memory for a handle): as unreachable, so the
    // cached copy and events 5466/5458 follow as for any failed fetch.
    fetched(fetch_unreachable(pending_->source.url, started.error().describe(),
                              started.error().error_code));
  }
}

void ApplyRunner::fetched(FetchResult result) {
  PolicyEngine::PendingApply pending = std::move(*pending_);
  pending_.reset();
  end(engine_.finish_file(std::move(pending), std::move(result)));
}

void ApplyRunner::end(Outcome outcome) {
  // Still "running" while the hooks run: a request they make is queued,
  // never nested.
  const Kind kind = *running_;
  std::vector<Waiter> waiters = std::move(waiters_);
  waiters_.clear();
  if (end_) end_(kind, outcome);
  for (const Waiter& w : waiters) w(outcome);
  running_.reset();
  if (stopped_ || !queued_) return;
  queued_ = false;
  std::vector<Waiter> next = std::move(queued_waiters_);
  queued_waiters_.clear();
  run(Kind::reload, std::move(next));
}

void ApplyRunner::stop(const std::string& reason) {
  if (stopped_) return;
  stopped_ = reason;
  if (pending_) {
    // The cycle ends here, without an outcome from the engine (which is
    // unchanged: finish_file never runs).
    fetcher_.cancel();
    pending_.reset();
    running_.reset();
  }
  const Outcome abandoned{false, reason};
  std::vector<Waiter> waiters = std::move(waiters_);
  waiters_.clear();
  for (Waiter& w : queued_waiters_) waiters.push_back(std::move(w));
  queued_waiters_.clear();
  queued_ = false;
  // From within end()'s hooks waiters_ is already empty: end() answers
  // that cycle's waiters with its real outcome.
  for (const Waiter& w : waiters) w(abandoned);
}

}  // namespace netpolicy::daemon
