#pragma once
// The last good central policy, kept in the state directory for when the
// central source cannot be reached.
//
// File STATE_DIR/central-policy.cache: one header line
//   "netpolicy-central-cache 1 sha256=<64 hex> bytes=<N>\n"
// then the policy's N bytes. Written to a temporary file, fsync'ed, renamed
// over the old one and the directory fsync'ed, so a crash leaves the old or
// the new copy, never a torn one. On read the header's digest and length
// must match the bytes, or the copy is corrupt and nothing is used from it.
#include <optional>
#include <string>
#include <variant>

#include "base/error.h"

namespace netpolicy::daemon {

std::string central_cache_path(const std::string& state_dir);

struct CacheMissing {};
struct CacheCorrupt {
  std::string reason;
  int error_code = 0;
};
struct CachedPolicy {
  std::string text;
  std::string sha256;
};
using CacheRead = std::variant<CacheMissing, CacheCorrupt, CachedPolicy>;

CacheRead read_central_cache(const std::string& state_dir);

// Creates STATE_DIR (mode 0700 for what it creates) when missing.
Status write_central_cache(const std::string& state_dir, const std::string& text);

// The HTTP validators of the cached copy, so that a restarted daemon's
// first GET is conditional and a 304 lets it use the cached copy.
//
// File STATE_DIR/central-policy.validators, written and checked like the
// cache: a header line
//   "netpolicy-central-validators 1 sha256=<64 hex> bytes=<N>\n"
// then N bytes of JSON {"url", "cache_sha256", "etag", "last_modified"}.
// They are only worth anything together with the cache copy whose digest
// they name, fetched from that url: a missing, corrupt or stale memo just
// means an unconditional GET, never an error.
std::string central_validators_path(const std::string& state_dir);

struct CacheValidators {
  std::string url;
  std::string cache_sha256;  // the cached copy they describe
  std::string etag;
  std::string last_modified;
  friend bool operator==(const CacheValidators&, const CacheValidators&) = default;
};

// nullopt when missing, unreadable or corrupt (`why`, when given, says which).
std::optional<CacheValidators> read_central_validators(const std::string& state_dir,
                                                       std::string* why = nullptr);
Status write_central_validators(const std::string& state_dir, const CacheValidators& validators);

}  // namespace netpolicy::daemon
