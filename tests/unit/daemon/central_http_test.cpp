// The HTTP rules of a central fetch without a server: conditional headers,
// validators taken from the final response only, the body cap, and what a
// finished transfer means.
#include "daemon/central_http.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

namespace netpolicy::daemon {
namespace {

TEST(CentralHttp, UsableValidators) {
  EXPECT_TRUE(usable_validator("\"abc\""));
  EXPECT_TRUE(usable_validator("W/\"x\""));
  EXPECT_TRUE(usable_validator("Sun, 22 Nov 2026 23:00:00 GMT"));
  EXPECT_FALSE(usable_validator(""));
  EXPECT_FALSE(usable_validator("\"a\"\r\nX-Evil: 1"));
  EXPECT_FALSE(usable_validator("\"a\nb\""));
  EXPECT_FALSE(usable_validator(std::string{"\"a\0b\"", 5}));
  EXPECT_FALSE(usable_validator("\"\xc3\xa9\""));
  EXPECT_TRUE(usable_validator(std::string(kMaxValidatorBytes, 'a')));
  EXPECT_FALSE(usable_validator(std::string(kMaxValidatorBytes + 1, 'a')));
}

TEST(CentralHttp, ConditionalHeaders) {
  EXPECT_TRUE(conditional_headers({}).empty());
  EXPECT_EQ(conditional_headers({"\"e1\"", ""}),
            std::vector<std::string>{"If-None-Match: \"e1\""});
  EXPECT_EQ(conditional_headers({"", "Sun, 22 Nov 2026 23:00:00 GMT"}),
            std::vector<std::string>{"If-Modified-Since: Sun, 22 Nov 2026 23:00:00 GMT"});
  EXPECT_EQ(conditional_headers({"\"e1\"", "Sun, 22 Nov 2026 23:00:00 GMT"}).size(), 2u);
  // A value that would inject a header is not sent at all.
  EXPECT_EQ(conditional_headers({"\"e\"\r\nHost: evil", "Sun"}),
            std::vector<std::string>{"If-Modified-Since: Sun"});
}

TEST(CentralHttp, HeadersOfTheFinalResponseOnly) {
  HttpResponse r{100};
  r.add_header_line("HTTP/1.1 301 Moved Permanently\r\n");
  r.add_header_line("ETag: \"old\"\r\n");
  r.add_header_line("Last-Modified: Mon, 01 Jan 2024 00:00:00 GMT\r\n");
  r.add_header_line("\r\n");
  r.add_header_line("HTTP/1.1 200 OK\r\n");
  r.add_header_line("etag:   \"new\" \r\n");
  r.add_header_line("Content-Length: 3\r\n");
  EXPECT_EQ(r.etag(), "\"new\"");
  EXPECT_EQ(r.last_modified(), "");  // the redirect's is gone
  r.add_header_line("LAST-MODIFIED: Tue, 02 Jan 2024 00:00:00 GMT\r\n");
  EXPECT_EQ(r.last_modified(), "Tue, 02 Jan 2024 00:00:00 GMT");
}

TEST(CentralHttp, BodyCap) {
  HttpResponse r{5};
  EXPECT_TRUE(r.add_body("abc"));
  EXPECT_TRUE(r.add_body("de"));
  EXPECT_FALSE(r.too_big());
  EXPECT_FALSE(r.add_body("f"));
  EXPECT_TRUE(r.too_big());
  EXPECT_EQ(r.body(), "abcde");
}

TEST(CentralHttp, Results) {
  const std::string url = "http://127.0.0.1/c.yaml";
  {
    HttpResponse r{100};
    r.add_header_line("ETag: \"e\"\r\n");
    ASSERT_TRUE(r.add_body("version: 1\n"));
    FetchResult f = http_result(url, CURLE_OK, 200, r, false, 100);
    EXPECT_EQ(f.kind, FetchResult::Kind::fetched);
    EXPECT_EQ(f.body, "version: 1\n");
    EXPECT_EQ(f.etag, "\"e\"");
  }
  {
    HttpResponse r{100};
    EXPECT_EQ(http_result(url, CURLE_OK, 304, r, true, 100).kind,
              FetchResult::Kind::not_modified);
  }
  {
    // A 304 to a request without validators means nothing we can use.
    HttpResponse r{100};
    FetchResult f = http_result(url, CURLE_OK, 304, r, false, 100);
    EXPECT_EQ(f.kind, FetchResult::Kind::unreachable);
    EXPECT_EQ(f.error, "Failed to fetch central policy '" + url + "': HTTP status 304");
  }
  {
    HttpResponse r{100};
    FetchResult f = http_result(url, CURLE_OK, 404, r, true, 100);
    EXPECT_EQ(f.kind, FetchResult::Kind::unreachable);
    EXPECT_EQ(f.error, "Failed to fetch central policy '" + url + "': HTTP status 404");
  }
  {
    HttpResponse r{100};
    FetchResult f = http_result(url, CURLE_OPERATION_TIMEDOUT, 0, r, false, 100);
    EXPECT_EQ(f.kind, FetchResult::Kind::unreachable);
    EXPECT_EQ(f.error_code, ETIMEDOUT);
  }
  {
    HttpResponse r{2};
    EXPECT_FALSE(r.add_body("abc"));
    FetchResult f = http_result(url, CURLE_WRITE_ERROR, 200, r, false, 2);
    EXPECT_EQ(f.error_code, EFBIG);
    EXPECT_EQ(f.error, "Failed to fetch central policy '" + url + "': larger than max_bytes (2)");
  }
  {
    HttpResponse r{100};
    FetchResult f = http_result(url, CURLE_COULDNT_CONNECT, 0, r, false, 100);
    EXPECT_EQ(f.kind, FetchResult::Kind::unreachable);
    EXPECT_NE(f.error.find(curl_easy_strerror(CURLE_COULDNT_CONNECT)), std::string::npos);
  }
}

}  // namespace
}  // namespace netpolicy::daemon
