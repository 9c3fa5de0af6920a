#pragma once
// Fetching the central policy: a file (configuration management delivers
// it) or an http(s) URL (libcurl; TLS verified; conditional GET with ETag /
// If-Modified-Since; timeout; size cap).
//
// The HTTP fetch is blocking, bounded by the source's timeout (default 10 s,
// at most 600 s): the daemon's loop waits that long at worst. Why not the
// curl multi interface in sd-event: not done yet; a short timeout keeps the
// watchdog (pinged from the loop) from firing.
#include <string>

#include "policy/policy.h"

namespace netpolicy::daemon {

// What the last successful fetch returned, for the next conditional GET.
struct FetchMemo {
  std::string body;
  std::string etag;
  std::string last_modified;
};

struct FetchResult {
  enum class Kind { fetched, not_modified, unreachable };
  Kind kind = Kind::unreachable;
  std::string body;           // fetched
  std::string etag;           // fetched, when the server sent one
  std::string last_modified;  // fetched, when the server sent one
  std::string error;          // unreachable: "Failed to fetch 'URL': ..."
  int error_code = 0;         // unreachable: errno when there is one
};

// The source's label in events: its url or path.
std::string central_label(const policy::CentralSource& source);

// Reads source.path or GETs source.url (conditional on `memo` when it holds
// a body). Never throws for I/O failures.
FetchResult fetch_central(const policy::CentralSource& source, const FetchMemo& memo,
                          std::size_t max_file_bytes);

}  // namespace netpolicy::daemon
