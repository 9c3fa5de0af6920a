#include "daemon/policy_source.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "daemon/fd.h"
#include "policy/policy_set.h"

namespace netpolicy::daemon {

namespace {

PolicyLoadFailure read_failure(const std::string& path, int error_code) {
  // Worded as the loader words its own read errors.
  policy::Diagnostic d{policy::Location{path, 1, 1},
                       std::string{"cannot read policy: "} + std::strerror(error_code)};
  return PolicyLoadFailure{{std::move(d)}, error_code};
}

}  // namespace

PolicyLoad load_policy(const std::string& path, const policy::Limits& limits) {
  Fd fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY)};
  if (!fd.valid()) return read_failure(path, errno);

  fd.reset();
  // The main file and its drop-ins (policy.d/*.yaml); the open above only
  // gives an unreadable main file its errno.
  policy::LocalLoadOptions options;
  options.limits = limits;
  policy::LoadResult loaded = policy::load_local_policy(path, options);
  if (auto* diagnostics = std::get_if<std::vector<policy::Diagnostic>>(&loaded))
    return PolicyLoadFailure{std::move(*diagnostics), 0};
  return std::get<policy::Policy>(std::move(loaded));
}

}  // namespace netpolicy::daemon
