#pragma once
// Owners of libcurl handles: the one place their release functions appear.
#include <curl/curl.h>

#include <memory>

namespace netpolicy::daemon {

struct CurlEasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
using CurlEasyPtr = std::unique_ptr<CURL, CurlEasyDeleter>;

struct CurlMultiDeleter {
  // Every easy handle must have been removed first (their owners do that).
  void operator()(CURLM* m) const { curl_multi_cleanup(m); }
};
using CurlMultiPtr = std::unique_ptr<CURLM, CurlMultiDeleter>;

struct CurlSlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using CurlSlistPtr = std::unique_ptr<curl_slist, CurlSlistDeleter>;

// curl_global_init / curl_global_cleanup, reference-counted by libcurl:
// whoever uses libcurl holds one for as long as it does.
class CurlGlobal {
 public:
  CurlGlobal() : code_(curl_global_init(CURL_GLOBAL_DEFAULT)) {}
  ~CurlGlobal() {
    if (code_ == CURLE_OK) curl_global_cleanup();
  }
  CurlGlobal(const CurlGlobal&) = delete;
  CurlGlobal& operator=(const CurlGlobal&) = delete;
  [[nodiscard]] CURLcode code() const { return code_; }

 private:
  CURLcode code_;
};

}  // namespace netpolicy::daemon
