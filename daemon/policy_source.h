#pragma once
// Reading the local policy file: the loader's diagnostics, plus the errno
// when the file itself could not be read (the audit event carries it).
#include <string>
#include <variant>
#include <vector>

#include "policy/loader.h"
#include "policy/policy.h"

namespace netpolicy::daemon {

struct PolicyLoadFailure {
  std::vector<policy::Diagnostic> diagnostics;  // never empty
  int error_code = 0;                           // errno when PATH could not be read, else 0
};

using PolicyLoad = std::variant<policy::Policy, PolicyLoadFailure>;

// Reads PATH and its drop-ins DIR(PATH)/policy.d/*.yaml (each at most
// limits.max_file_bytes; more is a located error) and validates them with
// the loader (policy_set.h; no strict modes). A file that cannot be opened or read gives
// one diagnostic at PATH:1:1 and its errno.
PolicyLoad load_policy(const std::string& path, const policy::Limits& limits = {});

}  // namespace netpolicy::daemon
