#include "daemon/central_fetch.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "daemon/curl_handles.h"
#include "daemon/fd.h"

namespace netpolicy::daemon {

namespace {

FetchResult unreachable(const std::string& what, std::string why, int error_code = 0) {
  FetchResult r;
  r.kind = FetchResult::Kind::unreachable;
  r.error = "Failed to fetch central policy '" + what + "': " + std::move(why);
  r.error_code = error_code;
  return r;
}

FetchResult read_path(const std::string& path, std::size_t cap) {
  Fd fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY)};
  if (!fd.valid()) {
    const int e = errno;
    return unreachable(path, std::strerror(e), e);
  }
  FetchResult r;
  char buf[64 * 1024];
  // One byte past the cap, so the loader reports an oversized file as such.
  while (r.body.size() <= cap) {
    const ssize_t n = ::read(fd.get(), buf, std::min(sizeof buf, cap + 1 - r.body.size()));
    if (n < 0) {
      const int e = errno;
      if (e == EINTR) continue;
      return unreachable(path, std::strerror(e), e);
    }
    if (n == 0) break;
    r.body.append(buf, static_cast<std::size_t>(n));
  }
  r.kind = FetchResult::Kind::fetched;
  return r;
}

struct Transfer {
  std::string body;
  std::size_t cap = 0;
  bool too_big = false;
  std::string etag;
  std::string last_modified;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  if (t->body.size() + n > t->cap) {
    t->too_big = true;
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  }
  t->body.append(data, n);
  return n;
}

std::string trimmed(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
  return std::string{v};
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  const std::string_view line{data, n};
  const auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name{line.substr(0, colon)};
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (name == "etag") t->etag = trimmed(line.substr(colon + 1));
    if (name == "last-modified") t->last_modified = trimmed(line.substr(colon + 1));
  }
  return n;
}

FetchResult get_url(const policy::CentralSource& src, const FetchMemo& memo) {
  // curl_global_init is not thread-safe on older libcurl; the daemon is
  // single-threaded, once is enough.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  CurlEasyPtr curl{curl_easy_init()};
  if (!curl) return unreachable(src.url, "cannot create a libcurl handle", ENOMEM);
  Transfer t;
  t.cap = static_cast<std::size_t>(src.max_bytes);
  CurlSlistPtr headers;
  if (!memo.body.empty()) {
    curl_slist* list = nullptr;
    if (!memo.etag.empty())
      list = curl_slist_append(list, ("If-None-Match: " + memo.etag).c_str());
    if (!memo.last_modified.empty())
      list = curl_slist_append(list, ("If-Modified-Since: " + memo.last_modified).c_str());
    headers.reset(list);
  }
  const long timeout = static_cast<long>(src.timeout_seconds);
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, src.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM for DNS timeouts
  curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, timeout);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(src.max_bytes));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "netpolicyd/" NETPOLICY_VERSION);
  if (headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  const CURLcode rc = curl_easy_perform(c);
  if (t.too_big || rc == CURLE_FILESIZE_EXCEEDED)
    return unreachable(src.url, "larger than max_bytes (" + std::to_string(src.max_bytes) + ")",
                       EFBIG);
  if (rc != CURLE_OK) return unreachable(src.url, curl_easy_strerror(rc));
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status == 304 && !memo.body.empty()) {
    FetchResult r;
    r.kind = FetchResult::Kind::not_modified;
    return r;
  }
  if (status != 200) return unreachable(src.url, "HTTP status " + std::to_string(status));
  FetchResult r;
  r.kind = FetchResult::Kind::fetched;
  r.body = std::move(t.body);
  r.etag = std::move(t.etag);
  r.last_modified = std::move(t.last_modified);
  return r;
}

}  // namespace

std::string central_label(const policy::CentralSource& source) {
  return source.url.empty() ? source.path : source.url;
}

FetchResult fetch_central(const policy::CentralSource& source, const FetchMemo& memo,
                          std::size_t max_file_bytes) {
  if (!source.url.empty()) return get_url(source, memo);
  return read_path(source.path, max_file_bytes);
}

}  // namespace netpolicy::daemon
