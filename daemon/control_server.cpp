#include "daemon/control_server.h"

#include <fmt/format.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <ostream>

namespace netpolicy::daemon {

namespace {

using control::ErrorCode;
using control::ProtocolError;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

// How long accepting pauses when the process is out of descriptors or
// memory: the listening socket stays readable, and retrying at once would
// spin the loop.
constexpr std::uint64_t kAcceptPauseUsec = 1'000'000;
// Accepts per wake-up, so a connection flood cannot starve other sources.
constexpr int kAcceptBurst = 64;
// Reads per wake-up while discarding what a refused client still sends.
constexpr int kDrainBurst = 16;
// Timers need no better precision than this (the default is 250 ms).
constexpr std::uint64_t kTimerAccuracyUsec = 10'000;

std::string socket_error(const std::string& path) {
  return "Failed to create control socket '" + path + "'";
}

// A socket file left by a daemon that died is removed; one a live process
// still answers on is not ours to take.
Status remove_stale_socket(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) < 0) {
    if (errno == ENOENT) return Ok{};
    return errno_error(socket_error(path), errno, path);
  }
  if (!S_ISSOCK(st.st_mode))
    return errno_error(socket_error(path) + " (a file that is not a socket is in the way)", EEXIST,
                       path);
  Fd probe{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
  if (!probe.valid()) return errno_error(socket_error(path), errno, path);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 ||
      errno == EAGAIN)
    return errno_error(socket_error(path) + " (another process answers on it)", EADDRINUSE, path);
  if (errno != ECONNREFUSED && errno != ENOENT) return errno_error(socket_error(path), errno, path);
  if (::unlink(path.c_str()) < 0 && errno != ENOENT)
    return errno_error("Failed to remove stale control socket '" + path + "'", errno, path);
  return Ok{};
}

std::string seconds_text(std::chrono::microseconds t) {
  return fmt::format("{:.1f} s", static_cast<double>(duration_cast<milliseconds>(t).count()) / 1e3);
}

}  // namespace

struct ControlServer::Connection : std::enable_shared_from_this<Connection> {
  enum class Timer { none, request, reply, drain };

  ControlServer* server = nullptr;
  std::uint64_t id = 0;
  Fd fd;  // declared before its sources: they go first
  SdEventSourcePtr io;
  SdEventSourcePtr timer;
  PeerCredentials peer;
  std::string in;   // bytes received, not yet taken as a request
  std::string out;  // reply bytes not yet written
  std::size_t out_pos = 0;
  std::uint32_t events = EPOLLIN;
  Timer timer_kind = Timer::none;
  bool awaiting_reply = false;     // a handler holds the Responder
  bool in_step = false;            // step() is on the stack for it
  bool read_eof = false;           // the client shut its sending side
  bool close_after_reply = false;  // serve nothing after the pending output
  bool draining = false;           // our side shut; discarding input until EOF
  bool dead = false;
};

// ---- Responder ----------------------------------------------------------------

void ControlServer::Responder::reply(nlohmann::json data) const {
  send(control::ok_reply(command_, std::move(data)));
}

void ControlServer::Responder::fail(const ProtocolError& error) const {
  if (auto c = connection_.lock())
    c->server->log_peer(*c, fmt::format("refused '{}': {}: {}", control::command_name(command_),
                                        control::error_code_name(error.code), error.message));
  send(control::error_reply(error));
}

void ControlServer::Responder::send(nlohmann::json message) const {
  std::shared_ptr<Connection> c = connection_.lock();  // alive until we return
  if (!c || c->dead || !c->awaiting_reply) return;
  c->awaiting_reply = false;
  c->out += control::encode(message);
  // Answered from within dispatch(): the step() under it writes.
  if (!c->in_step) c->server->step(*c);
}

// ---- the listening socket -------------------------------------------------------

ControlServer::ControlServer(sd_event* event, std::string path, std::ostream& log, Limits limits)
    : event_(event), path_(std::move(path)), log_(log), limits_(limits) {}

Result<std::unique_ptr<ControlServer>> ControlServer::open(sd_event* event, std::string path,
                                                           std::ostream& log, Limits limits) {
  sockaddr_un addr{};
  if (path.empty() || path.size() >= sizeof addr.sun_path)
    return errno_error(socket_error(path), ENAMETOOLONG, path);
  if (Status s = remove_stale_socket(path); !s) return s.error();

  Fd fd{::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
  if (!fd.valid()) return errno_error(socket_error(path), errno, path);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  // The file is born 0600: no moment in which another user could connect.
  // umask is per process; the daemon is single-threaded.
  const mode_t old_mask = ::umask(0177);
  const int bound = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  const int bind_errno = errno;
  ::umask(old_mask);
  if (bound < 0) return errno_error(socket_error(path), bind_errno, path);
  struct stat st {};
  if (::stat(path.c_str(), &st) < 0) return errno_error(socket_error(path), errno, path);
  if (::listen(fd.get(), SOMAXCONN) < 0) {
    int e = errno;
    ::unlink(path.c_str());
    return errno_error("Failed to listen on control socket '" + path + "'", e, path);
  }

  std::unique_ptr<ControlServer> server{new ControlServer(event, path, log, limits)};
  server->socket_dev_ = st.st_dev;
  server->socket_ino_ = st.st_ino;
  server->listen_fd_ = std::move(fd);  // from here the destructor unlinks
  sd_event_source* source = nullptr;
  if (int r = sd_event_add_io(event, &source, server->listen_fd_.get(), EPOLLIN,
                              &ControlServer::on_listen, server.get());
      r < 0)
    return errno_error("Failed to watch control socket '" + path + "'", -r, path);
  server->listen_source_.reset(source);
  return server;
}

ControlServer::~ControlServer() {
  connections_.clear();
  resume_timer_.reset();
  listen_source_.reset();
  if (!listen_fd_.valid()) return;
  listen_fd_.reset();
  // Only the file we made: a new daemon may already have replaced it.
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0 && st.st_dev == socket_dev_ && st.st_ino == socket_ino_)
    ::unlink(path_.c_str());
}

void ControlServer::handle(control::Command command, Handler handler) {
  handlers_[command] = std::move(handler);
}

int ControlServer::on_listen(sd_event_source*, int, std::uint32_t, void* userdata) {
  static_cast<ControlServer*>(userdata)->accept_clients();
  return 0;
}

int ControlServer::on_resume_accept(sd_event_source*, std::uint64_t, void* userdata) {
  auto* self = static_cast<ControlServer*>(userdata);
  sd_event_source_set_enabled(self->listen_source_.get(), SD_EVENT_ON);
  return 0;
}

void ControlServer::accept_clients() {
  for (int i = 0; i < kAcceptBurst; ++i) {
    Fd fd{::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)};
    if (!fd.valid()) {
      const int e = errno;
      if (e == EAGAIN || e == EWOULDBLOCK) return;
      if (e == EINTR || e == ECONNABORTED) continue;
      log_ << fmt::format("netpolicyd: Failed to accept a client on '{}': {}; pausing for 1 s",
                          path_, std::strerror(e))
           << std::endl;
      // Out of descriptors or memory: wait rather than spin on a socket
      // that stays readable.
      sd_event_source_set_enabled(listen_source_.get(), SD_EVENT_OFF);
      if (!resume_timer_) {
        sd_event_source* t = nullptr;
        if (sd_event_add_time_relative(event_, &t, CLOCK_MONOTONIC, kAcceptPauseUsec,
                                       kTimerAccuracyUsec, &ControlServer::on_resume_accept,
                                       this) < 0) {
          sd_event_source_set_enabled(listen_source_.get(), SD_EVENT_ON);
          return;
        }
        resume_timer_.reset(t);
      } else {
        sd_event_source_set_time_relative(resume_timer_.get(), kAcceptPauseUsec);
        sd_event_source_set_enabled(resume_timer_.get(), SD_EVENT_ONESHOT);
      }
      return;
    }
    if (connections_.size() >= limits_.max_clients) {
      refuse_busy(fd);
      continue;
    }
    add_client(std::move(fd));
  }
}

void ControlServer::refuse_busy(const Fd& fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  (void)::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len);
  ProtocolError busy{ErrorCode::busy, fmt::format("netpolicyd serves {} clients at once; try again",
                                                  limits_.max_clients)};
  log_ << fmt::format(
              "netpolicyd: control: refused a client (pid {}, uid {}): {} clients are "
              "already connected",
              cred.pid, cred.uid, connections_.size())
       << std::endl;
  // Best effort and never waiting: a fresh socket's buffer takes one line.
  const std::string line = control::encode(control::error_reply(busy));
  (void)::send(fd.get(), line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

void ControlServer::add_client(Fd fd) {
  auto c = std::make_shared<Connection>();
  c->server = this;
  c->id = next_id_++;
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
    log_ << "netpolicyd: Failed to read the credentials of a control client: "
         << std::strerror(errno) << std::endl;
    return;
  }
  c->peer = PeerCredentials{cred.pid, cred.uid, cred.gid};
  c->fd = std::move(fd);

  sd_event_source* io = nullptr;
  if (int r =
          sd_event_add_io(event_, &io, c->fd.get(), EPOLLIN, &ControlServer::on_client_io, c.get());
      r < 0) {
    log_ << "netpolicyd: Failed to watch a control client: " << std::strerror(-r) << std::endl;
    return;
  }
  c->io.reset(io);
  sd_event_source* timer = nullptr;
  if (int r =
          sd_event_add_time_relative(event_, &timer, CLOCK_MONOTONIC,
                                     static_cast<std::uint64_t>(limits_.request_timeout.count()),
                                     kTimerAccuracyUsec, &ControlServer::on_client_timer, c.get());
      r < 0) {
    log_ << "netpolicyd: Failed to add a control client's timer: " << std::strerror(-r)
         << std::endl;
    return;
  }
  c->timer.reset(timer);
  c->timer_kind = Connection::Timer::request;
  connections_.emplace(c->id, std::move(c));
}

// ---- one client -------------------------------------------------------------------

int ControlServer::on_client_io(sd_event_source*, int, std::uint32_t revents, void* userdata) {
  auto* c = static_cast<Connection*>(userdata);
  c->server->client_io(*c, revents);
  return 0;
}

int ControlServer::on_client_timer(sd_event_source*, std::uint64_t, void* userdata) {
  auto* c = static_cast<Connection*>(userdata);
  c->server->client_timeout(*c);
  return 0;
}

void ControlServer::log_peer(const Connection& c, const std::string& what) {
  log_ << fmt::format("netpolicyd: control client (pid {}, uid {}): {}", c.peer.pid, c.peer.uid,
                      what)
       << std::endl;
}

void ControlServer::set_events(Connection& c, std::uint32_t events) {
  if (c.events == events) return;
  // Even with no events, epoll reports EPOLLHUP and EPOLLERR: a client
  // that leaves while its request is being handled is still noticed.
  if (sd_event_source_set_io_events(c.io.get(), events) < 0) {
    c.dead = true;
    return;
  }
  c.events = events;
}

void ControlServer::arm_timer(Connection& c, std::chrono::microseconds timeout) {
  if (sd_event_source_set_time_relative(c.timer.get(),
                                        static_cast<std::uint64_t>(timeout.count())) < 0 ||
      sd_event_source_set_enabled(c.timer.get(), SD_EVENT_ONESHOT) < 0)
    c.dead = true;  // without a deadline a stuck client could stay for ever
}

void ControlServer::read_input(Connection& c) {
  char buf[16 * 1024];
  for (int reads = 0; !c.read_eof && !c.dead; ++reads) {
    // Enough to find the end of a request or to know it is too long.
    if (!c.draining && c.in.size() > limits_.max_request_bytes) return;
    if (c.draining && reads >= kDrainBurst) return;  // level-triggered: more later
    ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      if (!c.draining) c.in.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0) {
      c.read_eof = true;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return;
    } else if (errno != EINTR) {
      c.dead = true;  // ECONNRESET and the like: the client is gone
    }
  }
}

void ControlServer::client_io(Connection& c, std::uint32_t revents) {
  if (revents & EPOLLERR) {
    c.dead = true;
  } else if (c.awaiting_reply) {
    if (revents & EPOLLHUP) c.dead = true;  // nobody left to answer
  } else if (revents & (EPOLLIN | EPOLLHUP)) {
    read_input(c);
  }
  step(c);  // may end the connection: `c` is not used after it
}

void ControlServer::client_timeout(Connection& c) {
  using Timer = Connection::Timer;
  const Timer kind = std::exchange(c.timer_kind, Timer::none);
  if (kind == Timer::request) {
    log_peer(c, "dropped: no complete request within " + seconds_text(limits_.request_timeout));
    const std::string line = control::encode(
        control::error_reply({ErrorCode::timeout, "no complete request within " +
                                                      seconds_text(limits_.request_timeout)}));
    (void)::send(c.fd.get(), line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  } else if (kind == Timer::reply) {
    log_peer(c, "dropped: did not read its reply within " + seconds_text(limits_.reply_timeout));
  }
  c.dead = true;
  step(c);
}

bool ControlServer::flush(Connection& c) {
  while (c.out_pos < c.out.size()) {
    ssize_t n = ::send(c.fd.get(), c.out.data() + c.out_pos, c.out.size() - c.out_pos,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      c.out_pos += static_cast<std::size_t>(n);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      set_events(c, EPOLLOUT);
      if (c.timer_kind != Connection::Timer::reply) {
        arm_timer(c, limits_.reply_timeout);
        c.timer_kind = Connection::Timer::reply;
      }
      return false;
    } else if (errno != EINTR) {
      c.dead = true;  // EPIPE, ECONNRESET: the client left without its reply
      return false;
    }
  }
  c.out.clear();
  c.out_pos = 0;
  return true;
}

void ControlServer::refuse(Connection& c, const ProtocolError& error, bool then_close) {
  log_peer(c, fmt::format("refused request: {}: {}", control::error_code_name(error.code),
                          error.message));
  c.out += control::encode(control::error_reply(error));
  if (then_close) c.close_after_reply = true;
}

void ControlServer::dispatch(Connection& c, std::string_view line) {
  auto parsed = control::parse_request(line);
  if (const auto* error = std::get_if<ProtocolError>(&parsed)) {
    refuse(c, *error, false);
    return;
  }
  const control::Request& request = std::get<control::Request>(parsed);
  auto handler = handlers_.find(request.command);
  if (handler == handlers_.end()) {
    refuse(c,
           {ErrorCode::unknown_command, fmt::format("this netpolicyd does not serve '{}'",
                                                    control::command_name(request.command))},
           false);
    return;
  }
  c.awaiting_reply = true;
  Responder responder{c.weak_from_this(), request.command};
  try {
    handler->second(request, c.peer, responder);
  } catch (const std::exception& e) {
    // A request must never take the daemon down (e.g. bad_alloc while
    // building a large reply): answer it and carry on.
    responder.fail(
        {ErrorCode::internal_error, fmt::format("Failed to answer '{}': {}",
                                                control::command_name(request.command), e.what())});
  }
}

// Moves a connection on as far as it can go without waiting: write what is
// pending, then take the next request, until it must wait for the client
// (more input, buffer space) or for a handler. Iterative, so a client that
// pipelines many requests costs no stack.
void ControlServer::step(Connection& c) {
  using Timer = Connection::Timer;
  c.in_step = true;
  while (!c.dead) {
    if (c.out_pos < c.out.size()) {
      if (!flush(c)) break;
      sd_event_source_set_enabled(c.timer.get(), SD_EVENT_OFF);
      c.timer_kind = Timer::none;
      continue;
    }
    if (c.awaiting_reply) {
      set_events(c, 0);
      sd_event_source_set_enabled(c.timer.get(), SD_EVENT_OFF);
      c.timer_kind = Timer::none;
      break;
    }
    if (c.draining) {
      if (c.read_eof) c.dead = true;
      break;
    }
    if (c.close_after_reply) {
      // Reply sent; shut our side and read the rest until the client
      // closes, so it sees our reply and then EOF. Closing with unread
      // input would make the client's next read fail with ECONNRESET
      // (af_unix's unix_release_sock sets the peer's sk_err; seen on
      // 6.18, control_server_test catches it).
      c.draining = true;
      c.in.clear();
      if (c.read_eof || ::shutdown(c.fd.get(), SHUT_WR) < 0) {
        c.dead = true;
        break;
      }
      set_events(c, EPOLLIN);
      arm_timer(c, limits_.request_timeout);
      c.timer_kind = Timer::drain;
      break;
    }

    const std::size_t newline = c.in.find('\n');
    if (newline != std::string::npos && newline <= limits_.max_request_bytes) {
      std::string line = c.in.substr(0, newline);
      c.in.erase(0, newline + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      dispatch(c, line);
      continue;
    }
    if (newline != std::string::npos || c.in.size() > limits_.max_request_bytes) {
      // The rest of the request is unread and the next one's start
      // unknown: answer and end the connection.
      refuse(
          c,
          {ErrorCode::request_too_large,
           fmt::format("request is larger than the limit of {} bytes", limits_.max_request_bytes)},
          true);
      c.in.clear();
      continue;
    }
    if (c.read_eof) {
      if (c.in.empty()) {
        c.dead = true;
        break;
      }
      // The last request may end at EOF instead of '\n'.
      std::string line = std::move(c.in);
      c.in.clear();
      c.close_after_reply = true;
      dispatch(c, line);
      continue;
    }
    // Wait for (more of) a request. The deadline runs from the end of the
    // previous reply: trickling bytes does not extend it.
    set_events(c, EPOLLIN);
    if (c.timer_kind != Timer::request) {
      arm_timer(c, limits_.request_timeout);
      c.timer_kind = Timer::request;
    }
    break;
  }
  c.in_step = false;
  if (c.dead) finish(c);
}

void ControlServer::finish(Connection& c) {
  // Erasing may free `c` (a Responder may still hold it alive: then only
  // its sources and socket go now).
  c.io.reset();
  c.timer.reset();
  c.fd.reset();
  connections_.erase(c.id);
}

}  // namespace netpolicy::daemon
