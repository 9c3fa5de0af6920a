#include "daemon/central_http.h"

#include <algorithm>
#include <cerrno>

namespace netpolicy::daemon {

namespace {

std::string_view trimmed(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ' || v.back() == '\t'))
    v.remove_suffix(1);
  return v;
}

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

bool usable_validator(std::string_view value) {
  if (value.empty() || value.size() > kMaxValidatorBytes) return false;
  return std::all_of(value.begin(), value.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u == '\t' || (u >= 0x20 && u < 0x7f);
  });
}

std::vector<std::string> conditional_headers(const Validators& validators) {
  std::vector<std::string> headers;
  if (usable_validator(validators.etag)) headers.push_back("If-None-Match: " + validators.etag);
  if (usable_validator(validators.last_modified))
    headers.push_back("If-Modified-Since: " + validators.last_modified);
  return headers;
}

bool HttpResponse::add_body(std::string_view data) {
  if (body_.size() + data.size() > cap_) {
    too_big_ = true;
    return false;
  }
  body_.append(data);
  return true;
}

void HttpResponse::add_header_line(std::string_view line) {
  if (line.rfind("HTTP/", 0) == 0) {
    // A new response (after a redirect or a 100 Continue): only the final
    // one's validators describe the body we keep.
    etag_.clear();
    last_modified_.clear();
    return;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return;
  const std::string_view name = trimmed(line.substr(0, colon));
  const std::string_view value = trimmed(line.substr(colon + 1));
  if (same_name(name, "etag")) etag_ = usable_validator(value) ? std::string{value} : std::string{};
  if (same_name(name, "last-modified"))
    last_modified_ = usable_validator(value) ? std::string{value} : std::string{};
}

FetchResult http_result(const std::string& url, CURLcode curl_code, long status,
                        HttpResponse& response, bool conditional, std::uint64_t max_bytes) {
  if (response.too_big() || curl_code == CURLE_FILESIZE_EXCEEDED)
    return fetch_unreachable(url, "larger than max_bytes (" + std::to_string(max_bytes) + ")",
                             EFBIG);
  if (curl_code == CURLE_OPERATION_TIMEDOUT)
    return fetch_unreachable(url, curl_easy_strerror(curl_code), ETIMEDOUT);
  if (curl_code != CURLE_OK) return fetch_unreachable(url, curl_easy_strerror(curl_code));
  if (status == 304 && conditional) {
    FetchResult r;
    r.kind = FetchResult::Kind::not_modified;
    return r;
  }
  if (status != 200) return fetch_unreachable(url, "HTTP status " + std::to_string(status));
  FetchResult r;
  r.kind = FetchResult::Kind::fetched;
  r.etag = response.etag();
  r.last_modified = response.last_modified();
  r.body = response.take_body();
  return r;
}

}  // namespace netpolicy::daemon
