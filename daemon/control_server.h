#pragma once
// The control socket: RUNTIME_DIR/control.sock served from the daemon's
// sd-event loop.
//
// Transport: AF_UNIX SOCK_STREAM, one JSON request per line, one reply line
// per request, in order. A stream rather than SOCK_SEQPACKET because a
// reply's size is not bounded by the socket's send buffer (`interfaces`
// with thousands of interfaces, `export` later), partial writes simply wait
// for EPOLLOUT, and any tool (socat, nc -U, python) can speak it.
//
// Access: the socket file is created 0600, owned by the daemon's user
// (root): connect(2) needs write permission, so only root may ask. Each
// connection's SO_PEERCRED (pid, uid, gid) is read at accept and handed to
// every handler, so commands that change something can require uid 0.
//
// Robustness: every socket is non-blocking and the loop never waits for a
// client. A request is at most kMaxRequestBytes; a client has
// `request_timeout` to send a complete request and `reply_timeout` to read
// its reply, then it is dropped; at most `max_clients` are served at once
// (more get a "busy" reply and are closed). Malformed, invalid and oversized
// requests get an error reply; none of it touches the daemon's state.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "base/error.h"
#include "daemon/control_protocol.h"
#include "daemon/fd.h"
#include "daemon/sd_handles.h"

namespace netpolicy::daemon {

// The connecting process, as the kernel saw it at connect(2).
struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  [[nodiscard]] bool is_root() const { return uid == 0; }
};

class ControlServer {
 public:
  struct Limits {
    std::size_t max_clients = 32;
    std::size_t max_request_bytes = control::kMaxRequestBytes;
    std::chrono::microseconds request_timeout = std::chrono::seconds{5};
    std::chrono::microseconds reply_timeout = std::chrono::seconds{5};
  };

  struct Connection;

  // Sends the reply to one request, now or later (a command that waits for
  // an outcome keeps it until then). Only the first call counts; calls
  // after the client has gone do nothing.
  class Responder {
   public:
    Responder(std::weak_ptr<Connection> connection, control::Command command)
        : connection_(std::move(connection)), command_(command) {}
    void reply(nlohmann::json data) const;           // {"ok":true,"data":...}
    void fail(const control::ProtocolError&) const;  // {"ok":false,"error":...}

   private:
    void send(nlohmann::json message) const;
    std::weak_ptr<Connection> connection_;
    control::Command command_;
  };

  using Handler =
      std::function<void(const control::Request&, const PeerCredentials&, const Responder&)>;

  // Creates the socket at `path` (removing a stale one a dead daemon left;
  // refusing if a live process still answers on it) and serves it on
  // `event`. `log` gets one line per refused request or dropped client.
  static Result<std::unique_ptr<ControlServer>> open(sd_event* event, std::string path,
                                                     std::ostream& log, Limits limits);
  static Result<std::unique_ptr<ControlServer>> open(sd_event* event, std::string path,
                                                     std::ostream& log) {
    return open(event, std::move(path), log, Limits{});
  }

  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;
  // Closes every client and removes the socket file if it is still ours.
  ~ControlServer();

  // Registers the handler of `command`; a command without one is answered
  // "unknown-command".
  void handle(control::Command command, Handler handler);

  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::size_t clients() const { return connections_.size(); }

 private:
  ControlServer(sd_event* event, std::string path, std::ostream& log, Limits limits);

  static int on_listen(sd_event_source*, int fd, std::uint32_t revents, void* userdata);
  static int on_resume_accept(sd_event_source*, std::uint64_t usec, void* userdata);
  static int on_client_io(sd_event_source*, int fd, std::uint32_t revents, void* userdata);
  static int on_client_timer(sd_event_source*, std::uint64_t usec, void* userdata);

  void accept_clients();
  void add_client(Fd fd);
  void refuse_busy(const Fd& fd);
  void client_io(Connection& c, std::uint32_t revents);
  void client_timeout(Connection& c);
  void step(Connection& c);
  void read_input(Connection& c);
  bool flush(Connection& c);
  void dispatch(Connection& c, std::string_view line);
  void refuse(Connection& c, const control::ProtocolError& error, bool then_close);
  void arm_timer(Connection& c, std::chrono::microseconds timeout);
  void set_events(Connection& c, std::uint32_t events);
  void finish(Connection& c);
  void log_peer(const Connection& c, const std::string& what);

  sd_event* event_;
  std::string path_;
  std::ostream& log_;
  Limits limits_;
  Fd listen_fd_;
  SdEventSourcePtr listen_source_;
  SdEventSourcePtr resume_timer_;
  dev_t socket_dev_ = 0;
  ino_t socket_ino_ = 0;
  std::map<control::Command, Handler> handlers_;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, std::shared_ptr<Connection>> connections_;
};

}  // namespace netpolicy::daemon
