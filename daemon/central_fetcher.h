#pragma once
// The central policy's HTTP GET, off the daemon's loop: libcurl's multi
// interface driven by sd-event. libcurl says which sockets to watch
// (CURLMOPT_SOCKETFUNCTION -> one sd-event io source per socket) and when
// to call it back (CURLMOPT_TIMERFUNCTION -> one sd-event timer); each
// event goes back to curl_multi_socket_action. So while a server is slow
// the loop keeps pinging the watchdog, answering the control socket and
// following interfaces; the transfer is still bounded by the source's
// timeout (CURLOPT_TIMEOUT and CURLOPT_CONNECTTIMEOUT).
//
// Ownership: the fetcher owns the multi handle, its timer and socket
// sources, and at most one transfer (easy handle, request headers,
// response). The daemon owns the fetcher and never needs two transfers at
// once (central_runner.h runs one apply at a time). Destroying the fetcher
// or cancel() aborts a running transfer; its callback is then never called.
#include <systemd/sd-event.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>

#include "base/error.h"
#include "daemon/central_fetch.h"
#include "daemon/central_http.h"
#include "daemon/curl_handles.h"
#include "daemon/sd_handles.h"
#include "policy/policy.h"

namespace netpolicy::daemon {

// Starts a fetch whose outcome arrives later, from the event loop. The
// runner depends on this rather than on curl, so tests can finish a fetch
// when they choose.
class AsyncFetcher {
 public:
  using Done = std::function<void(FetchResult)>;
  virtual ~AsyncFetcher() = default;
  // Starts GETting source.url, conditional on `validators` when they are
  // not empty. `done` is called exactly once, from the loop — never from
  // within start() and never after cancel(). Fails (EBUSY) while a
  // transfer runs, or when libcurl refuses the transfer.
  virtual Status start(const policy::CentralSource& source, const Validators& validators,
                       Done done) = 0;
  // Aborts the running transfer, if any, without calling its `done`.
  virtual void cancel() = 0;
  [[nodiscard]] virtual bool busy() const = 0;
};

class CentralFetcher final : public AsyncFetcher {
 public:
  static Result<std::unique_ptr<CentralFetcher>> open(sd_event* event);
  CentralFetcher(const CentralFetcher&) = delete;
  CentralFetcher& operator=(const CentralFetcher&) = delete;
  ~CentralFetcher() override;

  Status start(const policy::CentralSource& source, const Validators& validators,
               Done done) override;
  void cancel() override;
  [[nodiscard]] bool busy() const override { return transfer_ != nullptr; }

 private:
  struct Transfer;

  explicit CentralFetcher(sd_event* event);
  static int on_socket(CURL* easy, curl_socket_t fd, int what, void* userp, void* socketp);
  static int on_timer(CURLM* multi, long timeout_ms, void* userp);
  static int on_io(sd_event_source* source, int fd, std::uint32_t revents, void* userdata);
  static int on_time(sd_event_source* source, std::uint64_t usec, void* userdata);
  int watch(curl_socket_t fd, int what);
  int arm_timer(long timeout_ms);
  // Hands an event to libcurl, then finishes the transfer if it is done.
  void drive(curl_socket_t fd, int mask);
  void finish_if_done();

  sd_event* event_;
  CurlGlobal global_;  // before the multi handle: released after it
  std::map<curl_socket_t, SdEventSourcePtr> sockets_;
  SdEventSourcePtr timer_;
  std::unique_ptr<Transfer> transfer_;
  // Released first, in the destructor: curl_multi_cleanup may still call
  // on_socket for the sockets it closes.
  CurlMultiPtr multi_;
};

}  // namespace netpolicy::daemon
