#include "daemon/check.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "base/interface_view.h"
#include "daemon/policy_source.h"
#include "policy/compiler.h"

namespace netpolicy::daemon {

std::string CheckReport::summary() const {
  return fmt::format("{}: ok ({} rules, {} zones, {} address groups)", path, rules, zones,
                     address_groups);
}

std::string CheckReport::to_json() const {
  nlohmann::json errors = nlohmann::json::array();
  for (const auto& d : diagnostics)
    errors.push_back({{"path", d.where.file},
                      {"line", d.where.line},
                      {"column", d.where.column},
                      {"message", d.message}});
  nlohmann::json out = {{"ok", ok()}, {"errors", std::move(errors)}};
  // Replace invalid UTF-8 (a policy file may hold any bytes) instead of throwing.
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

CheckReport check_policy_file(const std::string& path) {
  CheckReport report;
  report.path = path;
  PolicyLoad loaded = load_policy(path);
  if (auto* failure = std::get_if<PolicyLoadFailure>(&loaded)) {
    report.diagnostics = std::move(failure->diagnostics);
    return report;
  }
  const auto& policy = std::get<policy::Policy>(loaded);
  // Compiling against no interfaces proves the policy compiles; the
  // interfaces only add map elements.
  (void)policy::compile(policy, InterfaceView{});
  report.rules = policy.rules.size();
  report.zones = policy.zones.size();
  report.address_groups = policy.addresses.size();
  return report;
}

}  // namespace netpolicy::daemon
