#pragma once
// The policy engine: load -> list interfaces -> compile -> apply, keeping the
// last policy that reached the kernel. No event loop and no kernel access of
// its own: the applier and the interface lister are given, so tests can make
// any stage fail and check that the previous policy survives.
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/error.h"
#include "base/interface_view.h"
#include "daemon/audit.h"
#include "daemon/central_cache.h"
#include "daemon/central_fetch.h"
#include "filter/model.h"
#include "filter/ruleset_applier.h"
#include "filter/xfrm_applier.h"
#include "policy/loader.h"
#include "policy/policy.h"

namespace netpolicy::daemon {

struct AppliedPolicy {
  policy::Policy policy;
  filter::DesiredState state;
  std::size_t interfaces = 0;  // how many interfaces the listing had
  std::string source = "local";  // POLICY_SOURCE: local | central | cache
};

// Where the engine keeps the central policy's cached copy, and how strict it
// is about the local files' owners and modes.
struct SourceOptions {
  std::string state_dir = "/var/lib/netpolicy";
  bool strict_modes = false;
};

// The loader's diagnostics and, when a file could not be read, its errno.
struct PolicyLoadFailureView {
  const std::vector<policy::Diagnostic>* diagnostics = nullptr;
  int error_code = 0;
  Event event = Event::policy_failed;
  std::string source = "local";
  std::string label;  // the file or URL named in the message
};

class PolicyEngine {
 public:
  using InterfaceLister = std::function<Result<InterfaceView>()>;

  // `diagnostics` receives each policy error as "PATH:LINE:COL: error: MSG".
  PolicyEngine(filter::RulesetApplier& applier, InterfaceLister lister, AuditSink& audit);
  PolicyEngine(filter::RulesetApplier& applier, InterfaceLister lister, AuditSink& audit,
               std::ostream& diagnostics);

  struct Outcome {
    bool applied = false;
    std::string reason;  // on failure: one line saying what went wrong
  };

  // Makes the local policy file PATH the one in force: entirely or not at
  // all. Audits the outcome once (policy-applied, policy-failed,
  // critical-failure or filter-add-failed). On failure the previous policy
  // stays current — and, since the applier replaces atomically, in the
  // kernel; at start-up the kernel keeps whatever it had.
  //
  // The policy is the main file PATH, its drop-ins and, when the main file
  // names sources.central, the central policy (fetched now; its cached copy
  // when it cannot be reached): events 5456-5459, 5466. A `url` source is
  // fetched with the fetcher given to set_url_fetcher (tests); the daemon
  // uses begin_file / finish_file instead, so its loop never waits.
  Outcome apply_file(const std::string& path);
  // The same on the central source's polling timer: when nothing changed
  // (same digest, same source) it audits policy-unchanged (5463) and leaves
  // the kernel alone.
  Outcome poll_file(const std::string& path);

  // apply_file / poll_file in two steps around an HTTP fetch that runs
  // elsewhere. begin_file loads the local files; when they name a `url`
  // source it returns what to GET (PendingApply), else it finishes at once
  // (a `path` source is a local read) and returns the Outcome.
  // finish_file takes the fetch's result and does the rest exactly as
  // apply_file would have. Between the two the engine is unchanged: the
  // policy in force, current(), stays as it was.
  struct PendingApply {
    std::string path;
    bool poll = false;
    policy::Policy local;          // the local files as loaded by begin_file
    policy::CentralSource source;  // local.central: what to GET
    Validators validators;         // empty: an unconditional GET
  };
  std::variant<Outcome, PendingApply> begin_file(const std::string& path, bool poll);
  Outcome finish_file(PendingApply pending, FetchResult fetched);

  using UrlFetcher =
      std::function<FetchResult(const policy::CentralSource&, const Validators&)>;
  void set_url_fetcher(UrlFetcher fetcher) { url_fetcher_ = std::move(fetcher); }

  void set_sources(SourceOptions options) { sources_ = std::move(options); }
  // The XFRM policies of protect rules go through `xfrm` (not owned; may
  // be null: then protect rules get only their nft rules). Apply order:
  // XFRM first (manual SAs, then the policies that need them), then the nft
  // table; if the table is refused, the XFRM band and netpolicyd's SAs are
  // put back as they were; if XFRM is refused, the table is not sent.
  void set_xfrm_applier(filter::XfrmApplier* xfrm) { xfrm_ = xfrm; }

  // The policy in force, or nullptr before the first success.
  [[nodiscard]] const AppliedPolicy* current() const { return current_ ? &*current_ : nullptr; }

  // One line for sd_notify STATUS=: "policy PATH (N rules), M interfaces",
  // or "no policy applied".
  [[nodiscard]] std::string status() const;

 private:
  [[nodiscard]] std::string action_kept() const;
  Outcome apply(const std::string& path, bool poll);
  Outcome report_load_failure(const std::string& path, const PolicyLoadFailureView& failure);
  // The central policy merged with `local`, or nullopt when reported and
  // nothing may be applied.
  struct Resolved {
    policy::Policy policy;
    std::string source;
  };
  std::optional<Resolved> resolve_central(policy::Policy local,
                                          const policy::CentralSource& source,
                                          FetchResult fetched);
  std::optional<Resolved> from_cache(policy::Policy local, const std::string& why);
  // Steps 2-4 (interfaces, compile, apply) and the outcome's event.
  Outcome complete(const std::string& path, bool poll, Resolved resolved);
  // The validators for the next GET of `source`: those of the body in
  // memory, or after a restart those stored with a cache copy that still
  // verifies (which then becomes the body in memory).
  Validators validators_for(const policy::CentralSource& source);
  // Makes the cache file hold `body` (verified by reading it back when it
  // was not written by us just now), and stores its validators.
  void keep_cached(const std::string& body);

  // XFRM, then nft; on failure both are as before (as far as the kernel lets).
  Status apply_state(const filter::DesiredState& state);

  filter::RulesetApplier& applier_;
  filter::XfrmApplier* xfrm_ = nullptr;
  InterfaceLister lister_;
  AuditSink& audit_;
  std::ostream& diagnostics_;
  std::optional<AppliedPolicy> current_;
  SourceOptions sources_;
  UrlFetcher url_fetcher_;
  FetchMemo memo_;  // the last good central fetch, for conditional GETs
};

// REASON for a list of diagnostics: "a; b; c", at most `cap` bytes, ending
// with "; and N more" when some had to be left out.
std::string join_diagnostics(const std::vector<std::string>& lines, std::size_t cap = 4096);

}  // namespace netpolicy::daemon
