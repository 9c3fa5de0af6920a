#include "daemon/policy_engine.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <iostream>
#include <new>

#include "daemon/policy_source.h"
#include "policy/compiler.h"

namespace netpolicy::daemon {

namespace {

constexpr const char* kNothingApplied = "no policy applied; the kernel keeps the rules it had";

}  // namespace

std::string join_diagnostics(const std::vector<std::string>& lines, std::size_t cap) {
  std::string out;
  std::size_t used = 0;
  for (const auto& line : lines) {
    std::size_t extra = (out.empty() ? 0 : 2) + line.size();
    if (out.size() + extra > cap && used > 0) break;
    if (!out.empty()) out += "; ";
    out += line;
    ++used;
  }
  if (used < lines.size()) out += fmt::format("; and {} more", lines.size() - used);
  return out;
}

PolicyEngine::PolicyEngine(filter::RulesetApplier& applier, InterfaceLister lister,
                           AuditSink& audit)
    : PolicyEngine(applier, std::move(lister), audit, std::cerr) {}

PolicyEngine::PolicyEngine(filter::RulesetApplier& applier, InterfaceLister lister,
                           AuditSink& audit, std::ostream& diagnostics)
    : applier_(applier), lister_(std::move(lister)), audit_(audit), diagnostics_(diagnostics) {}

std::string PolicyEngine::action_kept() const {
  if (!current_) return kNothingApplied;
  return fmt::format("kept the previous policy (sha256 {})", current_->policy.sha256.substr(0, 12));
}

std::string PolicyEngine::status() const {
  if (!current_) return "no policy applied";
  return fmt::format("policy {} ({} rules), {} interfaces", current_->policy.path,
                     current_->policy.rules.size(), current_->interfaces);
}

PolicyEngine::Outcome PolicyEngine::apply_file(const std::string& path) {
  // 1. Load and validate.
  PolicyLoad loaded = load_policy(path);
  if (auto* failure = std::get_if<PolicyLoadFailure>(&loaded)) {
    std::vector<std::string> lines;
    for (const auto& d : failure->diagnostics) {
      diagnostics_ << d.to_string() << '\n';
      lines.push_back(d.to_string());
    }
    diagnostics_.flush();
    const policy::Diagnostic& first = failure->diagnostics.front();
    std::string reason =
        failure->error_code != 0
            ? fmt::format("Failed to read policy file '{}': {}", path,
                          std::strerror(failure->error_code))
            : fmt::format(
                  "Policy {} is invalid: {}: {}{}", path, first.where.to_string(), first.message,
                  failure->diagnostics.size() == 1
                      ? std::string{}
                      : fmt::format(" (and {} more error{})", failure->diagnostics.size() - 1,
                                    failure->diagnostics.size() == 2 ? "" : "s"));
    std::string action = action_kept();
    AuditRecord rec{Event::policy_failed, reason + "; " + action, {}};
    rec.add(Field::policy_path, path)
        .add(Field::policy_source, "local")
        .add(Field::error_location, first.where.to_string())
        .add(Field::reason, join_diagnostics(lines))
        .add_errno(failure->error_code)
        .add(Field::action_taken, action);
    audit_.record(rec);
    return {false, reason};
  }
  policy::Policy& policy = std::get<policy::Policy>(loaded);

  // 2. The interfaces the compiler classifies.
  Result<InterfaceView> view = lister_();
  if (!view) {
    const Error& e = view.error();
    std::string action = action_kept();
    AuditRecord rec{Event::critical_failure, e.describe() + "; " + action, {}};
    rec.add(Field::policy_path, path)
        .add(Field::policy_source, "local")
        .add(Field::policy_sha256, policy.sha256)
        .add_errno(e.error_code)
        .add(Field::reason, e.describe())
        .add(Field::action_taken, action);
    audit_.record(rec);
    return {false, e.describe()};
  }

  // 3. Compile (pure) and 4. apply in one kernel transaction.
  filter::DesiredState state;
  Status applied = Ok{};
  try {
    state = policy::compile(policy, *view);
    applied = applier_.replace_table(state);
  } catch (const std::bad_alloc&) {
    // Low memory must not take the daemon (and with it reloads) down; the
    // kernel still holds the previous table, so report and keep it.
    applied = errno_error("Failed to compile and apply policy '" + path + "'", ENOMEM, path);
  }
  if (!applied) {
    const Error& e = applied.error();
    std::string action = action_kept();
    AuditRecord rec{Event::filter_add_failed, e.describe() + "; " + action, {}};
    rec.add(Field::policy_path, path)
        .add(Field::policy_source, "local")
        .add(Field::policy_sha256, policy.sha256)
        .add(Field::rule, e.rule)
        .add_errno(e.error_code)
        .add(Field::reason, e.object.empty() ? e.message : e.object)
        .add(Field::action_taken, action);
    audit_.record(rec);
    return {false, e.describe()};
  }

  current_ = AppliedPolicy{std::move(policy), std::move(state), view->interfaces.size()};
  const policy::Policy& now = current_->policy;
  AuditRecord rec{Event::policy_applied,
                  fmt::format("Applied policy {} ({} rules, {} interfaces)", path, now.rules.size(),
                              current_->interfaces),
                  {}};
  rec.add(Field::policy_path, path)
      .add(Field::policy_source, "local")
      .add(Field::policy_sha256, now.sha256)
      .add(Field::rules, std::to_string(now.rules.size()))
      .add(Field::interfaces, std::to_string(current_->interfaces));
  audit_.record(rec);
  return {true, {}};
}

}  // namespace netpolicy::daemon
