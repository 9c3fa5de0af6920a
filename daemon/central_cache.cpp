#include "daemon/central_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "daemon/fd.h"
#include "policy/policy_digest.h"

namespace netpolicy::daemon {

namespace {

constexpr std::string_view kMagic = "netpolicy-central-cache 1 ";
constexpr std::size_t kMaxCache = (64u << 20) + 256;  // loader cap + header

Status write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("Failed to write '" + path + "'", errno, path);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return Ok{};
}

Status make_dirs(const std::string& path) {
  for (std::size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') continue;
    const std::string prefix = path.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0700) < 0 && errno != EEXIST)
      return errno_error("Failed to create directory '" + prefix + "'", errno, prefix);
  }
  return Ok{};
}

}  // namespace

std::string central_cache_path(const std::string& state_dir) {
  return state_dir + "/central-policy.cache";
}

CacheRead read_central_cache(const std::string& state_dir) {
  const std::string path = central_cache_path(state_dir);
  Fd fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY)};
  if (!fd.valid()) {
    const int e = errno;
    if (e == ENOENT) return CacheMissing{};
    return CacheCorrupt{"Failed to read '" + path + "': " + std::strerror(e), e};
  }
  std::string all;
  char buf[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      const int e = errno;
      if (e == EINTR) continue;
      return CacheCorrupt{"Failed to read '" + path + "': " + std::strerror(e), e};
    }
    if (n == 0) break;
    all.append(buf, static_cast<std::size_t>(n));
    if (all.size() > kMaxCache) return CacheCorrupt{"'" + path + "' is larger than any cache", EFBIG};
  }
  const auto newline = all.find('\n');
  if (all.compare(0, kMagic.size(), kMagic) != 0 || newline == std::string::npos)
    return CacheCorrupt{"'" + path + "' has no valid cache header", EBADMSG};
  const std::string header = all.substr(kMagic.size(), newline - kMagic.size());
  std::string text = all.substr(newline + 1);
  const std::string digest = policy::sha256_hex(text);
  const std::string expected =
      "sha256=" + digest + " bytes=" + std::to_string(text.size());
  if (header != expected)
    return CacheCorrupt{"checksum mismatch in '" + path + "': header says '" + header.substr(0, 100) +
                            "', content is " + expected,
                        EBADMSG};
  return CachedPolicy{std::move(text), digest};
}

Status write_central_cache(const std::string& state_dir, const std::string& text) {
  if (Status s = make_dirs(state_dir); !s) return s;
  const std::string path = central_cache_path(state_dir);
  const std::string tmp = path + ".tmp";
  Fd fd{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600)};
  if (!fd.valid()) return errno_error("Failed to create '" + tmp + "'", errno, tmp);
  const std::string header = std::string{kMagic} + "sha256=" + policy::sha256_hex(text) +
                             " bytes=" + std::to_string(text.size()) + "\n";
  if (Status s = write_all(fd.get(), header, tmp); !s) return s;
  if (Status s = write_all(fd.get(), text, tmp); !s) return s;
  if (::fsync(fd.get()) < 0) return errno_error("Failed to sync '" + tmp + "'", errno, tmp);
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) < 0)
    return errno_error("Failed to rename '" + tmp + "' to '" + path + "'", errno, path);
  Fd dir{::open(state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (!dir.valid() || ::fsync(dir.get()) < 0)
    return errno_error("Failed to sync directory '" + state_dir + "'", errno, state_dir);
  return Ok{};
}

}  // namespace netpolicy::daemon
