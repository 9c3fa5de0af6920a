#pragma once
// Fetching the central policy: a file (configuration management delivers
// it) or an http(s) URL (libcurl; TLS verified; conditional GET with ETag /
// If-Modified-Since; timeout; size cap).
//
// A `path` source is read synchronously here: it is a local file. An `url`
// source is never fetched on the daemon's loop: central_fetcher.h runs the
// GET with curl's multi interface driven by sd-event, so the loop (watchdog
// pings, control socket, interface events) keeps running while a server is
// slow; central_http.h holds the pure request/response rules it applies.
// The policy engine takes the outcome as a FetchResult either way.
#include <cstddef>
#include <string>

#include "policy/policy.h"

namespace netpolicy::daemon {

// The validators of a copy we hold, for a conditional GET. Empty: the GET
// is unconditional.
struct Validators {
  std::string etag;
  std::string last_modified;
  [[nodiscard]] bool empty() const { return etag.empty() && last_modified.empty(); }
};

// What the last successful fetch returned, for the next conditional GET.
struct FetchMemo {
  std::string body;
  std::string etag;
  std::string last_modified;
  std::string url;  // the source the body came from; validators are per URL
};

struct FetchResult {
  enum class Kind { fetched, not_modified, unreachable };
  Kind kind = Kind::unreachable;
  std::string body;           // fetched
  std::string etag;           // fetched, when the server sent one
  std::string last_modified;  // fetched, when the server sent one
  std::string error;          // unreachable: "Failed to fetch central policy 'URL': ..."
  int error_code = 0;         // unreachable: errno when there is one
};

// The source's label in events: its url or path.
std::string central_label(const policy::CentralSource& source);

// An unreachable result for `what` (a URL or path): "Failed to fetch
// central policy 'WHAT': WHY".
FetchResult fetch_unreachable(const std::string& what, std::string why, int error_code = 0);

// Reads a `path` source: at most max_file_bytes + 1 bytes, so the loader
// reports an oversized file as such. Never throws for I/O failures.
FetchResult read_central_file(const std::string& path, std::size_t max_file_bytes);

}  // namespace netpolicy::daemon
