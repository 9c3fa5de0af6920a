#include "daemon/central_fetcher.h"

#include <sys/epoll.h>

#include <cerrno>
#include <string>
#include <utility>

namespace netpolicy::daemon {

struct CentralFetcher::Transfer {
  explicit Transfer(std::size_t cap) : response(cap) {}
  CurlEasyPtr easy;
  CurlSlistPtr headers;  // must outlive the easy handle's use of it
  HttpResponse response;
  std::string url;
  bool conditional = false;
  std::uint64_t max_bytes = 0;
  Done done;
};

namespace {

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* response = static_cast<HttpResponse*>(user);
  const std::size_t n = size * count;
  // 0 aborts the transfer (CURLE_WRITE_ERROR); too_big() says why.
  return response->add_body({data, n}) ? n : 0;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  const std::size_t n = size * count;
  static_cast<HttpResponse*>(user)->add_header_line({data, n});
  return n;
}

std::string multi_error(const std::string& what, CURLMcode code) {
  return "Failed to " + what + ": " + curl_multi_strerror(code);
}

}  // namespace

CentralFetcher::CentralFetcher(sd_event* event) : event_(event) {}

Result<std::unique_ptr<CentralFetcher>> CentralFetcher::open(sd_event* event) {
  std::unique_ptr<CentralFetcher> self{new CentralFetcher(event)};
  if (self->global_.code() != CURLE_OK)
    return errno_error(std::string{"Failed to initialise libcurl: "} +
                           curl_easy_strerror(self->global_.code()),
                       ENOMEM);
  self->multi_.reset(curl_multi_init());
  if (!self->multi_) return errno_error("Failed to create a libcurl multi handle", ENOMEM);
  CURLM* m = self->multi_.get();
  curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, &CentralFetcher::on_socket);
  curl_multi_setopt(m, CURLMOPT_SOCKETDATA, self.get());
  curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, &CentralFetcher::on_timer);
  curl_multi_setopt(m, CURLMOPT_TIMERDATA, self.get());
  return self;
}

CentralFetcher::~CentralFetcher() {
  cancel();
  multi_.reset();  // while sockets_ and timer_ still exist for its callbacks
}

Status CentralFetcher::start(const policy::CentralSource& source, const Validators& validators,
                             Done done) {
  if (transfer_) return errno_error("Failed to start a fetch of '" + source.url + "': busy", EBUSY);
  auto t = std::make_unique<Transfer>(static_cast<std::size_t>(source.max_bytes));
  t->easy.reset(curl_easy_init());
  if (!t->easy) return errno_error("Failed to create a libcurl handle", ENOMEM);
  t->url = source.url;
  t->max_bytes = source.max_bytes;
  t->done = std::move(done);
  curl_slist* list = nullptr;
  for (const std::string& header : conditional_headers(validators)) {
    curl_slist* more = curl_slist_append(list, header.c_str());
    if (more == nullptr) {
      t->headers.reset(list);
      return errno_error("Failed to build the request headers", ENOMEM);
    }
    list = more;
  }
  t->headers.reset(list);
  t->conditional = t->headers != nullptr;

  const long timeout = static_cast<long>(source.timeout_seconds);
  CURL* c = t->easy.get();
  curl_easy_setopt(c, CURLOPT_URL, t->url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  // An https source is never redirected to plain http, where anyone on the
  // path could rewrite the policy.
  const bool tls = t->url.rfind("https://", 0) == 0;
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, tls ? "https" : "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM for DNS timeouts
  curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, timeout);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(source.max_bytes));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t->response);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t->response);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "netpolicyd/" NETPOLICY_VERSION);
  if (t->headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, t->headers.get());

  // Adding asks on_timer for an immediate timeout: the transfer begins on
  // the next loop iteration, never inside start().
  if (CURLMcode code = curl_multi_add_handle(multi_.get(), c); code != CURLM_OK)
    return errno_error(multi_error("start a fetch of '" + t->url + "'", code), ENOMEM);
  transfer_ = std::move(t);
  return Ok{};
}

void CentralFetcher::cancel() {
  if (!transfer_) return;
  // Removing closes the transfer's connection (on_socket: CURL_POLL_REMOVE)
  // before the easy handle goes.
  curl_multi_remove_handle(multi_.get(), transfer_->easy.get());
  transfer_.reset();
}

int CentralFetcher::on_socket(CURL*, curl_socket_t fd, int what, void* userp, void*) {
  return static_cast<CentralFetcher*>(userp)->watch(fd, what);
}

int CentralFetcher::watch(curl_socket_t fd, int what) {
  if (what == CURL_POLL_REMOVE) {
    // libcurl may already have closed fd; sd-event ignores the failed
    // EPOLL_CTL_DEL then.
    sockets_.erase(fd);
    return 0;
  }
  std::uint32_t events = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= EPOLLIN;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= EPOLLOUT;
  if (auto it = sockets_.find(fd); it != sockets_.end()) {
    if (int r = sd_event_source_set_io_events(it->second.get(), events); r < 0) return -1;
    return sd_event_source_set_enabled(it->second.get(), SD_EVENT_ON) < 0 ? -1 : 0;
  }
  sd_event_source* source = nullptr;
  if (sd_event_add_io(event_, &source, fd, events, &CentralFetcher::on_io, this) < 0)
    return -1;  // libcurl fails the transfer: it cannot be driven
  sockets_.emplace(fd, SdEventSourcePtr{source});
  return 0;
}

int CentralFetcher::on_timer(CURLM*, long timeout_ms, void* userp) {
  return static_cast<CentralFetcher*>(userp)->arm_timer(timeout_ms);
}

int CentralFetcher::arm_timer(long timeout_ms) {
  if (timeout_ms < 0) {
    if (timer_) sd_event_source_set_enabled(timer_.get(), SD_EVENT_OFF);
    return 0;
  }
  const auto usec = static_cast<std::uint64_t>(timeout_ms) * 1000u;
  if (!timer_) {
    sd_event_source* source = nullptr;
    // 1 ms accuracy: libcurl's timeouts are in milliseconds, and the
    // 250 ms default would delay every step of a transfer.
    if (sd_event_add_time_relative(event_, &source, CLOCK_MONOTONIC, usec, 1000,
                                   &CentralFetcher::on_time, this) < 0)
      return -1;
    timer_.reset(source);
    return 0;
  }
  if (sd_event_source_set_time_relative(timer_.get(), usec) < 0) return -1;
  return sd_event_source_set_enabled(timer_.get(), SD_EVENT_ONESHOT) < 0 ? -1 : 0;
}

int CentralFetcher::on_io(sd_event_source*, int fd, std::uint32_t revents, void* userdata) {
  int mask = 0;
  if ((revents & EPOLLIN) != 0) mask |= CURL_CSELECT_IN;
  if ((revents & EPOLLOUT) != 0) mask |= CURL_CSELECT_OUT;
  if ((revents & (EPOLLERR | EPOLLHUP)) != 0) mask |= CURL_CSELECT_ERR;
  static_cast<CentralFetcher*>(userdata)->drive(fd, mask);
  return 0;
}

int CentralFetcher::on_time(sd_event_source*, std::uint64_t, void* userdata) {
  static_cast<CentralFetcher*>(userdata)->drive(CURL_SOCKET_TIMEOUT, 0);
  return 0;
}

void CentralFetcher::drive(curl_socket_t fd, int mask) {
  int running = 0;
  const CURLMcode code = curl_multi_socket_action(multi_.get(), fd, mask, &running);
  finish_if_done();
  if (code != CURLM_OK && transfer_) {
    // The multi handle itself failed (out of memory, ...): the transfer
    // would never be driven again, so it ends here.
    curl_multi_remove_handle(multi_.get(), transfer_->easy.get());
    std::unique_ptr<Transfer> t = std::move(transfer_);
    Done done = std::move(t->done);
    const std::string url = t->url;
    t.reset();
    done(fetch_unreachable(url, curl_multi_strerror(code), ENOMEM));
  }
}

void CentralFetcher::finish_if_done() {
  int queued = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_.get(), &queued)) {
    if (msg->msg != CURLMSG_DONE || !transfer_ || msg->easy_handle != transfer_->easy.get())
      continue;
    const CURLcode code = msg->data.result;  // msg dies with the removal below
    long status = 0;
    curl_easy_getinfo(transfer_->easy.get(), CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(multi_.get(), transfer_->easy.get());
    std::unique_ptr<Transfer> t = std::move(transfer_);
    FetchResult result =
        http_result(t->url, code, status, t->response, t->conditional, t->max_bytes);
    Done done = std::move(t->done);
    t.reset();
    // Last: `done` may start the next transfer.
    done(std::move(result));
    return;
  }
}

}  // namespace netpolicy::daemon
