#pragma once
// The policy engine: load -> list interfaces -> compile -> apply, keeping the
// last policy that reached the kernel. No event loop and no kernel access of
// its own: the applier and the interface lister are given, so tests can make
// any stage fail and check that the previous policy survives.
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/interface_view.h"
#include "daemon/audit.h"
#include "filter/model.h"
#include "filter/ruleset_applier.h"
#include "policy/policy.h"

namespace netpolicy::daemon {

struct AppliedPolicy {
  policy::Policy policy;
  filter::DesiredState state;
  std::size_t interfaces = 0;  // how many interfaces the listing had
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
  Outcome apply_file(const std::string& path);

  // The policy in force, or nullptr before the first success.
  [[nodiscard]] const AppliedPolicy* current() const { return current_ ? &*current_ : nullptr; }

  // One line for sd_notify STATUS=: "policy PATH (N rules), M interfaces",
  // or "no policy applied".
  [[nodiscard]] std::string status() const;

 private:
  [[nodiscard]] std::string action_kept() const;

  filter::RulesetApplier& applier_;
  InterfaceLister lister_;
  AuditSink& audit_;
  std::ostream& diagnostics_;
  std::optional<AppliedPolicy> current_;
};

// REASON for a list of diagnostics: "a; b; c", at most `cap` bytes, ending
// with "; and N more" when some had to be left out.
std::string join_diagnostics(const std::vector<std::string>& lines, std::size_t cap = 4096);

}  // namespace netpolicy::daemon
