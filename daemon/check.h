#pragma once
// `netpolicyd --check` and `netpolicyctl check`: load, validate and compile
// a policy file against no interfaces. No kernel access.
#include <cstddef>
#include <string>
#include <vector>

#include "policy/loader.h"

namespace netpolicy::daemon {

struct CheckReport {
  std::string path;
  std::vector<policy::Diagnostic> diagnostics;  // empty when the file is valid
  std::size_t rules = 0;
  std::size_t zones = 0;
  std::size_t address_groups = 0;

  [[nodiscard]] bool ok() const { return diagnostics.empty(); }
  // "PATH: ok (N rules, M zones, K address groups)"
  [[nodiscard]] std::string summary() const;
  // {"ok":bool,"errors":[{"path","line","column","message"}]}
  [[nodiscard]] std::string to_json() const;
};

CheckReport check_policy_file(const std::string& path);

}  // namespace netpolicy::daemon
