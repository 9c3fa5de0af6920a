#pragma once
// The HTTP rules of a central fetch, apart from any I/O, so they are
// unit-tested without a server: which headers a conditional GET sends,
// how response headers and the body are collected (with the size cap), and
// what a finished transfer means (fetched, not modified, unreachable).
// central_fetcher.h feeds them from libcurl.
#include <curl/curl.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/central_fetch.h"

namespace netpolicy::daemon {

// Longer validators are not kept: no sane server sends them, and they are
// echoed back in a request header.
inline constexpr std::size_t kMaxValidatorBytes = 1024;

// A validator fit to echo in a request header: non-empty, at most
// kMaxValidatorBytes, printable ASCII or tab only (no CR/LF: a stored value
// must never smuggle in another header).
bool usable_validator(std::string_view value);

// "If-None-Match: ETAG" and "If-Modified-Since: DATE" for the usable ones.
std::vector<std::string> conditional_headers(const Validators& validators);

// One response as it arrives: the body up to `cap` bytes, and the ETag and
// Last-Modified of the final response (a redirect's headers are dropped
// when the next status line starts).
class HttpResponse {
 public:
  explicit HttpResponse(std::size_t cap) : cap_(cap) {}

  // Appends a piece of the body; false (and nothing appended) when it
  // would pass the cap: the transfer must then be aborted.
  bool add_body(std::string_view data);
  // One raw header line as libcurl passes it ("Name: value\r\n", or the
  // status line).
  void add_header_line(std::string_view line);

  [[nodiscard]] bool too_big() const { return too_big_; }
  [[nodiscard]] const std::string& body() const { return body_; }
  [[nodiscard]] const std::string& etag() const { return etag_; }
  [[nodiscard]] const std::string& last_modified() const { return last_modified_; }
  std::string take_body() { return std::move(body_); }

 private:
  std::size_t cap_;
  bool too_big_ = false;
  std::string body_;
  std::string etag_;
  std::string last_modified_;
};

// What a finished transfer of `url` means. `curl_code` is the transfer's
// result, `status` the final HTTP status; `conditional`: the request
// carried validators (a 304 without them is an error, not "unchanged").
FetchResult http_result(const std::string& url, CURLcode curl_code, long status,
                        HttpResponse& response, bool conditional, std::uint64_t max_bytes);

}  // namespace netpolicy::daemon
