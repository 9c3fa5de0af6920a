#include "daemon/policy_source.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "daemon/fd.h"

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

  // Read one byte more than allowed so the loader, which owns the limit,
  // sees an oversized file as such (st_size is not trusted: procfs, pipes).
  std::string text;
  const std::size_t cap = limits.max_file_bytes + 1;
  char buf[64 * 1024];
  while (text.size() < cap) {
    ssize_t n = ::read(fd.get(), buf, std::min(sizeof buf, cap - text.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      return read_failure(path, errno);
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  policy::LoadResult loaded = policy::load_policy_text(text, path, limits);
  if (auto* diagnostics = std::get_if<std::vector<policy::Diagnostic>>(&loaded))
    return PolicyLoadFailure{std::move(*diagnostics), 0};
  return std::get<policy::Policy>(std::move(loaded));
}

}  // namespace netpolicy::daemon
