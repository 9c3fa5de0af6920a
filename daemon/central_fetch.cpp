#include "daemon/central_fetch.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "daemon/fd.h"

namespace netpolicy::daemon {

std::string central_label(const policy::CentralSource& source) {
  return source.url.empty() ? source.path : source.url;
}

FetchResult fetch_unreachable(const std::string& what, std::string why, int error_code) {
  FetchResult r;
  r.kind = FetchResult::Kind::unreachable;
  r.error = "Failed to fetch central policy '" + what + "': " + std::move(why);
  r.error_code = error_code;
  return r;
}

FetchResult read_central_file(const std::string& path, std::size_t max_file_bytes) {
  Fd fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY)};
  if (!fd.valid()) {
    const int e = errno;
    return fetch_unreachable(path, std::strerror(e), e);
  }
  FetchResult r;
  char buf[64 * 1024];
  // One byte past the cap, so the loader reports an oversized file as such.
  while (r.body.size() <= max_file_bytes) {
    const ssize_t n =
        ::read(fd.get(), buf, std::min(sizeof buf, max_file_bytes + 1 - r.body.size()));
    if (n < 0) {
      const int e = errno;
      if (e == EINTR) continue;
      return fetch_unreachable(path, std::strerror(e), e);
    }
    if (n == 0) break;
    r.body.append(buf, static_cast<std::size_t>(n));
  }
  r.kind = FetchResult::Kind::fetched;
  return r;
}

}  // namespace netpolicy::daemon
