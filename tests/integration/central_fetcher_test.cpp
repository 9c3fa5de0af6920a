// CentralFetcher (libcurl multi on sd-event) against a real HTTP server on
// loopback. Each test moves the process into a fresh network namespace
// first (unshare(CLONE_NEWNET)) and serves from a thread there; the loop
// under test is a private sd_event with a 20 ms ticker that shows it keeps
// running while a transfer waits.
#include "daemon/central_fetcher.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "daemon/fd.h"
#include "daemon/sd_handles.h"
#include "tests/integration/root_test.h"

namespace netpolicy::daemon {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A fresh namespace with its loopback up, for the server on 127.0.0.1.
void enter_fresh_netns_with_loopback() {
  ASSERT_NO_FATAL_FAILURE(netpolicy::testing::enter_fresh_netns());
  Fd s{::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
  ASSERT_TRUE(s.valid());
  ifreq ifr{};
  std::strcpy(ifr.ifr_name, "lo");
  ASSERT_EQ(ioctl(s.get(), SIOCGIFFLAGS, &ifr), 0);
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  ASSERT_EQ(ioctl(s.get(), SIOCSIFFLAGS, &ifr), 0) << std::strerror(errno);
}

std::size_t open_fds() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

// Answers each connection, one at a time, with `head` + `body` after
// `delay`; records the last request's head.
class TestServer {
 public:
  TestServer(std::string head, std::string body, milliseconds delay = milliseconds{0})
      : head_(std::move(head)), body_(std::move(body)), delay_(delay) {
    listen_ = Fd{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listen_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_.get(), 8) != 0 ||
        ::getsockname(listen_.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
      ADD_FAILURE() << "server socket: " << std::strerror(errno);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~TestServer() {
    stop_ = true;
    ::shutdown(listen_.get(), SHUT_RDWR);  // wakes accept()
    thread_.join();
  }
  [[nodiscard]] std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/central.yaml";
  }
  std::string request() {
    std::lock_guard lock(mutex_);
    return request_;
  }
  int connections() const { return connections_; }

 private:
  void serve() {
    while (!stop_) {
      Fd c{::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC)};
      if (!c.valid()) return;
      ++connections_;
      std::string in;
      char buf[4096];
      while (in.find("\r\n\r\n") == std::string::npos) {
        pollfd p{c.get(), POLLIN, 0};
        if (::poll(&p, 1, 2000) <= 0) break;
        const ssize_t n = ::read(c.get(), buf, sizeof buf);
        if (n <= 0) break;
        in.append(buf, static_cast<std::size_t>(n));
      }
      {
        std::lock_guard lock(mutex_);
        request_ = in;
      }
      for (auto until = Clock::now() + delay_; !stop_ && Clock::now() < until;)
        std::this_thread::sleep_for(milliseconds{10});
      const std::string out = head_ + body_;
      // MSG_NOSIGNAL: the client may be gone (cancelled, timed out).
      (void)::send(c.get(), out.data(), out.size(), MSG_NOSIGNAL);
    }
  }

  std::string head_, body_;
  milliseconds delay_;
  Fd listen_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::mutex mutex_;
  std::string request_;
  std::thread thread_;
};

std::string ok_head(std::size_t length) {
  return "HTTP/1.1 200 OK\r\nETag: \"v1\"\r\nLast-Modified: Sun, 22 Nov 2026 23:00:00 GMT\r\n"
         "Content-Length: " +
         std::to_string(length) + "\r\nConnection: close\r\n\r\n";
}

class CentralFetcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    enter_fresh_netns_with_loopback();
    if (HasFatalFailure()) return;
    sd_event* e = nullptr;
    ASSERT_GE(sd_event_new(&e), 0);
    event_.reset(e);
    sd_event_source* t = nullptr;
    ASSERT_GE(sd_event_add_time_relative(event_.get(), &t, CLOCK_MONOTONIC, 20'000, 1000,
                                         &CentralFetcherTest::on_tick, this),
              0);
    ticker_.reset(t);
    ASSERT_GE(sd_event_source_set_enabled(t, SD_EVENT_ON), 0);
  }

  static int on_tick(sd_event_source* s, std::uint64_t, void* userdata) {
    ++static_cast<CentralFetcherTest*>(userdata)->ticks_;
    sd_event_source_set_time_relative(s, 20'000);
    return 0;
  }

  policy::CentralSource source(const std::string& url, std::uint64_t timeout = 5) {
    policy::CentralSource s;
    s.url = url;
    s.timeout_seconds = timeout;
    s.max_bytes = 1 << 20;
    return s;
  }

  // Runs the loop until `result_` is set or `limit` passed.
  void run_until_done(milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    while (!result_ && Clock::now() < deadline)
      ASSERT_GE(sd_event_run(event_.get(), 50'000), 0);
  }
  void run_for(milliseconds d) {
    for (const auto until = Clock::now() + d; Clock::now() < until;)
      ASSERT_GE(sd_event_run(event_.get(), 10'000), 0);
  }
  AsyncFetcher::Done keep() {
    return [this](FetchResult r) { result_ = std::move(r); };
  }

  SdEventPtr event_;
  SdEventSourcePtr ticker_;
  int ticks_ = 0;
  std::optional<FetchResult> result_;
};

TEST_F(CentralFetcherTest, FetchesWithValidators) {
  const std::string body = "version: 1\n";
  TestServer server{ok_head(body.size()), body};
  auto fetcher = CentralFetcher::open(event_.get());
  ASSERT_TRUE(fetcher) << fetcher.error().describe();
  ASSERT_TRUE((*fetcher)->start(source(server.url()), {}, keep()));
  EXPECT_TRUE((*fetcher)->busy());
  EXPECT_FALSE(result_);  // never from within start()
  run_until_done(milliseconds{5000});
  ASSERT_TRUE(result_);
  EXPECT_EQ(result_->kind, FetchResult::Kind::fetched) << result_->error;
  EXPECT_EQ(result_->body, body);
  EXPECT_EQ(result_->etag, "\"v1\"");
  EXPECT_EQ(result_->last_modified, "Sun, 22 Nov 2026 23:00:00 GMT");
  EXPECT_FALSE((*fetcher)->busy());
  const std::string request = server.request();
  EXPECT_EQ(request.find("If-None-Match"), std::string::npos) << request;
  EXPECT_NE(request.find("User-Agent: netpolicyd/"), std::string::npos) << request;
}

TEST_F(CentralFetcherTest, ConditionalGetAnd304) {
  TestServer server{"HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nConnection: close\r\n\r\n", ""};
  auto fetcher = CentralFetcher::open(event_.get());
  ASSERT_TRUE(fetcher);
  ASSERT_TRUE((*fetcher)->start(source(server.url()),
                                {"\"v1\"", "Sun, 22 Nov 2026 23:00:00 GMT"}, keep()));
  run_until_done(milliseconds{5000});
  ASSERT_TRUE(result_);
  EXPECT_EQ(result_->kind, FetchResult::Kind::not_modified) << result_->error;
  const std::string request = server.request();
  EXPECT_NE(request.find("If-None-Match: \"v1\"\r\n"), std::string::npos) << request;
  EXPECT_NE(request.find("If-Modified-Since: Sun, 22 Nov 2026 23:00:00 GMT\r\n"),
            std::string::npos)
      << request;
}

TEST_F(CentralFetcherTest, AStalledServerTimesOutWhileTheLoopRuns) {
  TestServer server{ok_head(3), "abc", milliseconds{4000}};
  auto fetcher = CentralFetcher::open(event_.get());
  ASSERT_TRUE(fetcher);
  const auto t0 = Clock::now();
  ASSERT_TRUE((*fetcher)->start(source(server.url(), 1), {}, keep()));
  run_until_done(milliseconds{3000});
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
  ASSERT_TRUE(result_);
  EXPECT_EQ(result_->kind, FetchResult::Kind::unreachable);
  EXPECT_EQ(result_->error_code, ETIMEDOUT) << result_->error;
  EXPECT_GE(took.count(), 900);
  EXPECT_LT(took.count(), 2500);
  // The loop ran its 20 ms ticker throughout (a blocked loop: 0 or 1; a
  // busy machine may delay some).
  EXPECT_GE(ticks_, 10) << "in " << took.count() << " ms";
}

TEST_F(CentralFetcherTest, CancelAbortsWithoutCallbackOrLeak) {
  // Each answer comes 700 ms after its request: after the cancels below.
  TestServer server{ok_head(3), "abc", milliseconds{700}};
  const std::size_t fds_before = open_fds();
  {
    auto fetcher = CentralFetcher::open(event_.get());
    ASSERT_TRUE(fetcher);
    ASSERT_TRUE((*fetcher)->start(source(server.url()), {}, keep()));
    for (auto until = Clock::now() + milliseconds{3000};
         server.connections() < 1 && Clock::now() < until;)
      run_for(milliseconds{10});
    ASSERT_EQ(server.connections(), 1);
    EXPECT_GT(open_fds(), fds_before);  // the connection
    EXPECT_FALSE((*fetcher)->start(source(server.url()), {}, keep()));  // busy
    (*fetcher)->cancel();
    EXPECT_FALSE((*fetcher)->busy());
    run_for(milliseconds{200});
    EXPECT_FALSE(result_);
    // And a new transfer may start after a cancel; destroying the fetcher
    // aborts it the same way.
    ASSERT_TRUE((*fetcher)->start(source(server.url()), {}, keep()));
    run_for(milliseconds{50});
  }
  // Until the server has closed its ends too: then every socket libcurl
  // opened must be closed.
  run_for(milliseconds{2000});
  EXPECT_FALSE(result_);
  EXPECT_EQ(open_fds(), fds_before);
}

TEST_F(CentralFetcherTest, OversizedBodyAndRefusedConnection) {
  const std::string body(200, 'x');
  TestServer server{ok_head(body.size()), body};
  auto fetcher = CentralFetcher::open(event_.get());
  ASSERT_TRUE(fetcher);
  auto small = source(server.url());
  small.max_bytes = 100;
  ASSERT_TRUE((*fetcher)->start(small, {}, keep()));
  run_until_done(milliseconds{5000});
  ASSERT_TRUE(result_);
  EXPECT_EQ(result_->kind, FetchResult::Kind::unreachable);
  EXPECT_EQ(result_->error_code, EFBIG) << result_->error;

  result_.reset();
  ASSERT_TRUE((*fetcher)->start(source("http://127.0.0.1:9/none.yaml"), {}, keep()));
  run_until_done(milliseconds{5000});
  ASSERT_TRUE(result_);
  EXPECT_EQ(result_->kind, FetchResult::Kind::unreachable);
  EXPECT_NE(result_->error.find("http://127.0.0.1:9/none.yaml"), std::string::npos);
}

TEST_F(CentralFetcherTest, AnotherFetchMayStartFromTheCallback) {
  const std::string body = "version: 1\n";
  TestServer server{ok_head(body.size()), body};
  auto fetcher = CentralFetcher::open(event_.get());
  ASSERT_TRUE(fetcher);
  int done = 0;
  CentralFetcher& f = **fetcher;
  std::function<void(FetchResult)> again = [&](FetchResult r) {
    EXPECT_EQ(r.kind, FetchResult::Kind::fetched) << r.error;
    if (++done < 3) {
      EXPECT_TRUE(f.start(source(server.url()), {}, again));
    } else {
      result_ = std::move(r);
    }
  };
  ASSERT_TRUE(f.start(source(server.url()), {}, again));
  run_until_done(milliseconds{8000});
  EXPECT_EQ(done, 3);
  EXPECT_EQ(server.connections(), 3);
}

}  // namespace
}  // namespace netpolicy::daemon
