#include "daemon/central_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "daemon/fd.h"
#include "policy/policy_digest.h"

namespace netpolicy::daemon {

namespace {

constexpr std::string_view kCacheMagic = "netpolicy-central-cache 1 ";
constexpr std::size_t kMaxCache = (64u << 20) + 256;  // loader cap + header
constexpr std::string_view kValidatorsMagic = "netpolicy-central-validators 1 ";
constexpr std::size_t kMaxValidators = 16u << 10;

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

std::string checked_header(std::string_view magic, const std::string& payload) {
  return std::string{magic} + "sha256=" + policy::sha256_hex(payload) +
         " bytes=" + std::to_string(payload.size()) + "\n";
}

// Reads a file written by write_checked: its payload, or why not.
// CacheMissing when it does not exist.
CacheRead read_checked(const std::string& path, std::string_view magic, std::size_t cap) {
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
    if (all.size() > cap) return CacheCorrupt{"'" + path + "' is larger than any cache", EFBIG};
  }
  const auto newline = all.find('\n');
  if (all.compare(0, magic.size(), magic) != 0 || newline == std::string::npos)
    return CacheCorrupt{"'" + path + "' has no valid cache header", EBADMSG};
  const std::string header = all.substr(magic.size(), newline - magic.size());
  std::string text = all.substr(newline + 1);
  const std::string digest = policy::sha256_hex(text);
  const std::string expected = "sha256=" + digest + " bytes=" + std::to_string(text.size());
  if (header != expected)
    return CacheCorrupt{"checksum mismatch in '" + path + "': header says '" + header.substr(0, 100) +
                            "', content is " + expected,
                        EBADMSG};
  return CachedPolicy{std::move(text), digest};
}

// Header + payload to a temporary file, fsync'ed, renamed over `path`, the
// directory fsync'ed: a crash leaves the old or the new file, never a torn
// one.
Status write_checked(const std::string& state_dir, const std::string& path,
                     std::string_view magic, const std::string& payload) {
  if (Status s = make_dirs(state_dir); !s) return s;
  const std::string tmp = path + ".tmp";
  Fd fd{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600)};
  if (!fd.valid()) return errno_error("Failed to create '" + tmp + "'", errno, tmp);
  if (Status s = write_all(fd.get(), checked_header(magic, payload), tmp); !s) return s;
  if (Status s = write_all(fd.get(), payload, tmp); !s) return s;
  if (::fsync(fd.get()) < 0) return errno_error("Failed to sync '" + tmp + "'", errno, tmp);
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) < 0)
    return errno_error("Failed to rename '" + tmp + "' to '" + path + "'", errno, path);
  Fd dir{::open(state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (!dir.valid() || ::fsync(dir.get()) < 0)
    return errno_error("Failed to sync directory '" + state_dir + "'", errno, state_dir);
  return Ok{};
}

}  // namespace

std::string central_cache_path(const std::string& state_dir) {
  return state_dir + "/central-policy.cache";
}

CacheRead read_central_cache(const std::string& state_dir) {
  return read_checked(central_cache_path(state_dir), kCacheMagic, kMaxCache);
}

Status write_central_cache(const std::string& state_dir, const std::string& text) {
  return write_checked(state_dir, central_cache_path(state_dir), kCacheMagic, text);
}

std::string central_validators_path(const std::string& state_dir) {
  return state_dir + "/central-policy.validators";
}

std::optional<CacheValidators> read_central_validators(const std::string& state_dir,
                                                       std::string* why) {
  const std::string path = central_validators_path(state_dir);
  CacheRead read = read_checked(path, kValidatorsMagic, kMaxValidators);
  if (std::holds_alternative<CacheMissing>(read)) {
    if (why) *why = "'" + path + "' does not exist";
    return std::nullopt;
  }
  if (auto* bad = std::get_if<CacheCorrupt>(&read)) {
    if (why) *why = bad->reason;
    return std::nullopt;
  }
  const std::string& text = std::get<CachedPolicy>(read).text;
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  auto string_at = [&j](const char* key) -> const std::string* {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
  };
  if (!j.is_object() || !string_at("url") || !string_at("cache_sha256") || !string_at("etag") ||
      !string_at("last_modified")) {
    if (why) *why = "'" + path + "' does not hold the expected fields";
    return std::nullopt;
  }
  return CacheValidators{*string_at("url"), *string_at("cache_sha256"), *string_at("etag"),
                         *string_at("last_modified")};
}

Status write_central_validators(const std::string& state_dir, const CacheValidators& validators) {
  const nlohmann::json j = {{"url", validators.url},
                            {"cache_sha256", validators.cache_sha256},
                            {"etag", validators.etag},
                            {"last_modified", validators.last_modified}};
  // replace: a URL that is not UTF-8 must not throw here; it then matches
  // no source, which only costs a full GET.
  const std::string payload =
      j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  return write_checked(state_dir, central_validators_path(state_dir), kValidatorsMagic, payload);
}

}  // namespace netpolicy::daemon
