#include "daemon/policy_engine.h"

#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <iostream>
#include <new>

#include "daemon/central_http.h"
#include "daemon/policy_source.h"
#include "policy/policy_digest.h"
#include "policy/policy_set.h"
#include "policy/compiler.h"

namespace netpolicy::daemon {

namespace {

constexpr const char* kNothingApplied = "no policy applied; the kernel keeps the rules it had";

}  // namespace

namespace {
// The errno behind the loader's "cannot read policy: TEXT" (strerror text).
int errno_from_text(const std::string& message) {
  const std::string text = message.substr(std::string{"cannot read policy: "}.size());
  for (int e = 1; e < 134; ++e)
    if (text == std::strerror(e)) return e;
  return 0;
}
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

PolicyEngine::Outcome PolicyEngine::report_load_failure(const std::string& path,
                                                        const PolicyLoadFailureView& failure) {
  std::vector<std::string> lines;
  for (const auto& d : *failure.diagnostics) {
    diagnostics_ << d.to_string() << '\n';
    lines.push_back(d.to_string());
  }
  diagnostics_.flush();
  const policy::Diagnostic& first = failure.diagnostics->front();
  const std::size_t count = failure.diagnostics->size();
  const std::string what = failure.source == "local" ? "Policy" : "Central policy";
  std::string reason =
      failure.error_code != 0
          ? fmt::format("Failed to read policy file '{}': {}", first.where.file,
                        std::strerror(failure.error_code))
          : fmt::format("{} {} is invalid: {}: {}{}", what, failure.label, first.where.to_string(),
                        first.message,
                        count == 1 ? std::string{}
                                   : fmt::format(" (and {} more error{})", count - 1,
                                                 count == 2 ? "" : "s"));
  std::string action = action_kept();
  AuditRecord rec{failure.event, reason + "; " + action, {}};
  rec.add(Field::policy_path, failure.source == "local" ? path : failure.label)
      .add(Field::policy_source, failure.source)
      .add(Field::error_location, first.where.to_string())
      .add(Field::reason, join_diagnostics(lines))
      .add_errno(failure.error_code)
      .add(Field::action_taken, action);
  audit_.record(rec);
  return {false, reason};
}

Status PolicyEngine::apply_state(const filter::DesiredState& state) {
  if (xfrm_ == nullptr) return applier_.replace_table(state);
  // What the band and our manual SAs hold now (keys included), to go back
  // to if the table is refused. A reload changes only the difference (the
  // applier diffs its readback).
  auto before = xfrm_->snapshot(state.xfrm);
  if (!before) return before.error();
  // XFRM first (SAs, then the policies that need them): a refused XFRM
  // change (undone by the applier) stops here, before the table changes.
  if (Status s = xfrm_->replace(state.xfrm); !s) return s;
  Status table = applier_.replace_table(state);
  if (table) return table;
  if (Status back = xfrm_->replace(*before); !back) {
    Error e = table.error();
    e.message += "; and restoring the previous XFRM policies failed too (" +
                 back.error().describe() + ")";
    return e;
  }
  return table;
}

PolicyEngine::Outcome PolicyEngine::apply_file(const std::string& path) {
  return apply(path, false);
}

PolicyEngine::Outcome PolicyEngine::poll_file(const std::string& path) {
  return apply(path, true);
}

std::optional<PolicyEngine::Resolved> PolicyEngine::from_cache(policy::Policy local,
                                                               const std::string& why) {
  const std::string cache = central_cache_path(sources_.state_dir);
  CacheRead read = read_central_cache(sources_.state_dir);
  if (std::holds_alternative<CacheMissing>(read)) {
    // Never received a central policy: the machine's own policy is all
    // there is (as before it was enrolled).
    return Resolved{std::move(local), "local"};
  }
  if (auto* bad = std::get_if<CacheCorrupt>(&read)) {
    std::string action = action_kept();
    AuditRecord rec{Event::cached_policy_failed,
                    "Cached central policy " + cache + " is unusable: " + bad->reason + "; " +
                        action,
                    {}};
    rec.add(Field::policy_path, cache)
        .add(Field::policy_source, "cache")
        .add(Field::reason, bad->reason + " (central: " + why + ")")
        .add_errno(bad->error_code)
        .add(Field::action_taken, action);
    audit_.record(rec);
    return std::nullopt;
  }
  auto& cached = std::get<CachedPolicy>(read);
  policy::LoadResult central =
      policy::load_policy_text(cached.text, cache, policy::PolicyRole::central);
  if (auto* errors = std::get_if<std::vector<policy::Diagnostic>>(&central)) {
    report_load_failure(local.path, {errors, 0, Event::cached_policy_failed, "cache", cache});
    return std::nullopt;
  }
  policy::LoadResult merged =
      policy::merge_central(std::get<policy::Policy>(std::move(central)), std::move(local));
  if (auto* errors = std::get_if<std::vector<policy::Diagnostic>>(&merged)) {
    report_load_failure(cache, {errors, 0, Event::cached_policy_failed, "cache", cache});
    return std::nullopt;
  }
  return Resolved{std::get<policy::Policy>(std::move(merged)), "cache"};
}

Validators PolicyEngine::validators_for(const policy::CentralSource& source) {
  if (!memo_.body.empty() && memo_.url == source.url) return {memo_.etag, memo_.last_modified};
  memo_ = FetchMemo{};  // nothing in memory, or from another URL
  // After a restart (or a broken central policy): the validators stored
  // with the cache, when they describe the cache copy as it verifies now.
  // Anything else is an unconditional GET, so a 304 is never taken for a
  // copy we do not hold.
  std::optional<CacheValidators> stored = read_central_validators(sources_.state_dir);
  if (!stored || stored->url != source.url) return {};
  Validators validators{stored->etag, stored->last_modified};
  if (conditional_headers(validators).empty()) return {};
  CacheRead read = read_central_cache(sources_.state_dir);
  auto* cached = std::get_if<CachedPolicy>(&read);
  if (cached == nullptr || cached->sha256 != stored->cache_sha256) return {};
  memo_ = FetchMemo{std::move(cached->text), stored->etag, stored->last_modified, source.url};
  return validators;
}

void PolicyEngine::keep_cached(const std::string& body) {
  const std::string digest = policy::sha256_hex(body);
  // Read back rather than trusted from memory: a cache damaged while we
  // run is repaired by the next fetch or 304, not found only on the day
  // the source is unreachable.
  CacheRead read = read_central_cache(sources_.state_dir);
  const auto* cached = std::get_if<CachedPolicy>(&read);
  if (cached == nullptr || cached->sha256 != digest) {
    if (const auto* bad = std::get_if<CacheCorrupt>(&read))
      diagnostics_ << "netpolicyd: replacing the damaged central policy cache: " << bad->reason
                   << '\n';
    if (Status s = write_central_cache(sources_.state_dir, body); !s) {
      diagnostics_ << "netpolicyd: " << s.error().describe() << '\n';
      diagnostics_.flush();
      return;
    }
  }
  if (memo_.url.empty()) return;  // a path source: nothing to revalidate
  // Written after the cache it names: a crash between the two leaves
  // validators naming another copy, i.e. an unconditional GET.
  const CacheValidators validators{memo_.url, digest, memo_.etag, memo_.last_modified};
  if (read_central_validators(sources_.state_dir) == validators) return;
  if (Status s = write_central_validators(sources_.state_dir, validators); !s)
    diagnostics_ << "netpolicyd: " << s.error().describe() << '\n';
  diagnostics_.flush();
}

std::optional<PolicyEngine::Resolved> PolicyEngine::resolve_central(
    policy::Policy local, const policy::CentralSource& source, FetchResult fetched) {
  const std::string label = central_label(source);
  if (fetched.kind == FetchResult::Kind::not_modified &&
      (memo_.body.empty() || memo_.url != source.url)) {
    // Cannot happen when the request carried validators_for(source); never
    // take a 304 for a copy we do not hold.
    fetched = fetch_unreachable(label, "HTTP status 304 for an unconditional request");
  }
  if (fetched.kind == FetchResult::Kind::unreachable) {
    const std::string cache = central_cache_path(sources_.state_dir);
    // Never enrolled (no copy yet): the local policy alone, as from_cache does.
    const std::string action =
        ::access(cache.c_str(), F_OK) == 0
            ? "using the cached central policy " + cache
            : "no cached central policy (" + cache + "): applying the local policy alone";
    AuditRecord rec{Event::central_unreachable, fetched.error + "; " + action, {}};
    rec.add(Field::policy_path, label)
        .add(Field::policy_source, "central")
        .add(Field::reason, fetched.error)
        .add_errno(fetched.error_code)
        .add(Field::action_taken, action);
    audit_.record(rec);
    return from_cache(std::move(local), fetched.error);
  }
  if (fetched.kind == FetchResult::Kind::fetched) {
    memo_ = FetchMemo{std::move(fetched.body), std::move(fetched.etag),
                      std::move(fetched.last_modified), source.url};
  }
  policy::LoadResult central =
      policy::load_policy_text(memo_.body, label, policy::PolicyRole::central);
  std::vector<policy::Diagnostic>* errors = std::get_if<std::vector<policy::Diagnostic>>(&central);
  policy::LoadResult merged;
  if (errors == nullptr) {
    merged = policy::merge_central(std::get<policy::Policy>(std::move(central)), local);
    errors = std::get_if<std::vector<policy::Diagnostic>>(&merged);
  }
  if (errors != nullptr) {
    // Never replaces the policy in force; forget the body, so the next
    // poll fetches it in full rather than a 304 for a broken policy (or
    // revalidates the cached good copy).
    report_load_failure(local.path, {errors, 0, Event::central_policy_failed, "central", label});
    memo_ = FetchMemo{};
    if (current_) return std::nullopt;
    // At start-up nothing is in force yet: the last good copy is better
    // than nothing.
    return from_cache(std::move(local), "central policy invalid");
  }
  keep_cached(memo_.body);
  return Resolved{std::get<policy::Policy>(std::move(merged)), "central"};
}

PolicyEngine::Outcome PolicyEngine::apply(const std::string& path, bool poll) {
  auto begun = begin_file(path, poll);
  if (auto* done = std::get_if<Outcome>(&begun)) return std::move(*done);
  auto& pending = std::get<PendingApply>(begun);
  FetchResult fetched =
      url_fetcher_ ? url_fetcher_(pending.source, pending.validators)
                   : fetch_unreachable(pending.source.url,
                                       "no HTTP client here (netpolicyd fetches in its loop)");
  return finish_file(std::move(pending), std::move(fetched));
}

std::variant<PolicyEngine::Outcome, PolicyEngine::PendingApply> PolicyEngine::begin_file(
    const std::string& path, bool poll) {
  // 1. Load and validate: the local files, then the central policy.
  policy::LocalLoadOptions load_options;
  load_options.strict_modes = sources_.strict_modes;
  policy::LoadResult loaded = policy::load_local_policy(path, load_options);
  if (auto* errors = std::get_if<std::vector<policy::Diagnostic>>(&loaded)) {
    int error_code = 0;
    if (errors->size() == 1 && errors->front().message.rfind("cannot read policy: ", 0) == 0)
      error_code = errno_from_text(errors->front().message);
    return report_load_failure(path, {errors, error_code, Event::policy_failed, "local", path});
  }
  policy::Policy local = std::get<policy::Policy>(std::move(loaded));
  if (!local.central) return complete(path, poll, Resolved{std::move(local), "local"});
  policy::CentralSource source = *local.central;
  if (source.url.empty()) {
    // A local file: read now.
    FetchResult fetched = read_central_file(source.path, policy::Limits{}.max_file_bytes);
    return finish_file(PendingApply{path, poll, std::move(local), std::move(source), {}},
                       std::move(fetched));
  }
  Validators validators = validators_for(source);
  return PendingApply{path, poll, std::move(local), std::move(source), std::move(validators)};
}

PolicyEngine::Outcome PolicyEngine::finish_file(PendingApply pending, FetchResult fetched) {
  auto resolved =
      resolve_central(std::move(pending.local), pending.source, std::move(fetched));
  if (!resolved) return {false, "central policy not applied; " + action_kept()};
  return complete(pending.path, pending.poll, std::move(*resolved));
}

PolicyEngine::Outcome PolicyEngine::complete(const std::string& path, bool poll,
                                             Resolved resolved) {
  policy::Policy& policy = resolved.policy;
  const std::string& source = resolved.source;

  if (poll && current_ && current_->policy.sha256 == policy.sha256 && current_->source == source) {
    AuditRecord rec{Event::policy_unchanged,
                    fmt::format("Policy {} unchanged (sha256 {}); nothing applied", path,
                                policy.sha256.substr(0, 12)),
                    {}};
    rec.add(Field::policy_path, path)
        .add(Field::policy_source, source)
        .add(Field::policy_sha256, policy.sha256);
    audit_.record(rec);
    return {true, "unchanged"};
  }

  // 2. The interfaces the compiler classifies.
  Result<InterfaceView> view = lister_();
  if (!view) {
    const Error& e = view.error();
    std::string action = action_kept();
    AuditRecord rec{Event::critical_failure, e.describe() + "; " + action, {}};
    rec.add(Field::policy_path, path)
        .add(Field::policy_source, source)
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
    applied = apply_state(state);
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
        .add(Field::policy_source, source)
        .add(Field::policy_sha256, policy.sha256)
        .add(Field::rule, e.rule)
        .add_errno(e.error_code)
        .add(Field::reason, e.object.empty() ? e.message : e.object)
        .add(Field::action_taken, action);
    audit_.record(rec);
    return {false, e.describe()};
  }

  current_ = AppliedPolicy{std::move(policy), std::move(state), view->interfaces.size(), source};
  const policy::Policy& now = current_->policy;
  const Event event = source == "central" ? Event::central_policy_applied
                      : source == "cache" ? Event::cached_policy_applied
                                          : Event::policy_applied;
  const std::string from = source == "central" ? " with the central policy"
                           : source == "cache" ? " with the cached central policy"
                                               : "";
  AuditRecord rec{event,
                  fmt::format("Applied policy {}{} ({} rules, {} interfaces)", path, from,
                              now.rules.size(), current_->interfaces),
                  {}};
  if (now.central) rec.add(Field::local_rules, now.local_rules ? "applied" : "ignored");
  rec.add(Field::policy_path, path)
      .add(Field::policy_source, source)
      .add(Field::policy_sha256, now.sha256)
      .add(Field::rules, std::to_string(now.rules.size()))
      .add(Field::interfaces, std::to_string(current_->interfaces));
  audit_.record(rec);
  return {true, {}};
}

}  // namespace netpolicy::daemon
