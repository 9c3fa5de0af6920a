#pragma once
// One policy apply at a time, with the central policy's HTTP fetch off the
// loop. A cycle is: PolicyEngine::begin_file (local files; a `path` source
// is read at once) -> when the policy names a `url`, an AsyncFetcher GET
// while the loop carries on -> PolicyEngine::finish_file with its result.
// Without a url source a cycle finishes inside request().
//
// Requests while a cycle runs:
// - start / reload: QUEUED — one more cycle runs after the current one, and
//   every request that arrived meanwhile shares it. A reload therefore
//   always reads files and fetches after it was asked for (an edit made
//   just before `netpolicyctl reload` is never answered by a fetch that
//   began earlier), and at most two fetches are ever due: the running one
//   and the queued one. No second fetch runs concurrently.
// - poll: DROPPED — the running cycle is at least as fresh, and the poll
//   timer is re-armed when it ends.
// Each cycle's outcome goes to the cycle hook once, then to each waiter of
// that cycle (e.g. a held `netpolicyctl reload` reply).
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "daemon/central_fetcher.h"
#include "daemon/policy_engine.h"

namespace netpolicy::daemon {

class ApplyRunner {
 public:
  enum class Kind { start, reload, poll };
  using Outcome = PolicyEngine::Outcome;
  using Waiter = std::function<void(const Outcome&)>;
  // Called when a cycle begins (e.g. RELOADING=1) and when it ends (READY=1,
  // re-arm the poll timer), once per cycle.
  using BeginHook = std::function<void(Kind)>;
  using EndHook = std::function<void(Kind, const Outcome&)>;

  ApplyRunner(PolicyEngine& engine, AsyncFetcher& fetcher, std::string path, BeginHook begin,
              EndHook end);
  ApplyRunner(const ApplyRunner&) = delete;
  ApplyRunner& operator=(const ApplyRunner&) = delete;
  ~ApplyRunner();

  // Runs a cycle now, or queues / drops it as above. `waiter` (may be
  // empty) gets the outcome of the cycle that serves the request.
  void request(Kind kind, Waiter waiter = {});

  // Shutting down: aborts a running fetch (the fetcher frees it), drops
  // the queued cycle and answers every waiter with `reason` as a failure.
  // No cycle runs afterwards; later requests are answered the same way.
  void stop(const std::string& reason);

  [[nodiscard]] bool running() const { return running_.has_value(); }
  [[nodiscard]] bool fetching() const { return pending_.has_value(); }

 private:
  void run(Kind kind, std::vector<Waiter> waiters);
  void fetched(FetchResult result);
  void end(Outcome outcome);

  PolicyEngine& engine_;
  AsyncFetcher& fetcher_;
  std::string path_;
  BeginHook begin_;
  EndHook end_;
  std::optional<Kind> running_;  // the cycle under way
  std::vector<Waiter> waiters_;  // of the running cycle
  std::optional<PolicyEngine::PendingApply> pending_;  // its fetch is under way
  bool queued_ = false;          // one more (reload) cycle after this one
  std::vector<Waiter> queued_waiters_;
  std::optional<std::string> stopped_;  // why no cycle runs any more
};

}  // namespace netpolicy::daemon
