#include "daemon/control_client.h"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include "daemon/fd.h"

namespace netpolicy::daemon {

namespace {

// Replies are small; this only stops a confused peer from filling memory.
constexpr std::size_t kMaxReplyBytes = 64u << 20;

// The cases a user meets most get a whole sentence (error_code 0: the
// sentence already says it); the rest "Failed to connect to 'PATH': ERROR".
Error connect_error(const std::string& path, int e) {
  switch (e) {
    case ENOENT:
    case ENOTDIR:
      return errno_error(fmt::format("netpolicyd is not running (no {})", path), 0, path);
    case ECONNREFUSED:
      return errno_error(
          fmt::format("netpolicyd is not running ({} exists, but nothing answers on it)", path), 0,
          path);
    case EACCES:
    case EPERM:
      return errno_error(
          fmt::format("Permission denied: '{}' (only root may talk to netpolicyd)", path), 0, path);
    case EAGAIN:
      return errno_error(
          fmt::format("Failed to connect to '{}': netpolicyd accepts no more clients (timed out)",
                      path),
          0, path);
    default:
      return errno_error(fmt::format("Failed to connect to '{}'", path), e, path);
  }
}

}  // namespace

Result<control::Reply> call_daemon(const std::string& socket_path, control::Command command,
                                   const nlohmann::json& arguments,
                                   std::chrono::milliseconds timeout) {
  sockaddr_un addr{};
  if (socket_path.size() >= sizeof addr.sun_path)
    return errno_error(fmt::format("Failed to connect to '{}'", socket_path), ENAMETOOLONG,
                       socket_path);
  Fd fd{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (!fd.valid()) return errno_error("Failed to create a socket", errno);
  // Blocking calls bounded by the socket timeouts (connect(2) on AF_UNIX
  // waits for a full backlog within SO_SNDTIMEO).
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  timeval tv{static_cast<time_t>(seconds.count()),
             static_cast<suseconds_t>(
                 std::chrono::duration_cast<std::chrono::microseconds>(timeout - seconds).count())};
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0 ||
      ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
    return errno_error("Failed to set socket timeouts", errno);

  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) < 0)
    return connect_error(socket_path, errno);

  const std::string request = control::encode_request(command, arguments);
  for (std::size_t sent = 0; sent < request.size();) {
    ssize_t n = ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return errno_error(fmt::format("Failed to send the request to '{}'", socket_path), errno,
                         socket_path);
    sent += static_cast<std::size_t>(n);
  }

  std::string in;
  char buf[64 * 1024];
  std::size_t newline = std::string::npos;
  while (newline == std::string::npos) {
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return errno_error(fmt::format("netpolicyd did not answer within {} ms", timeout.count()), 0,
                         socket_path);
    if (n < 0)
      return errno_error(fmt::format("Failed to read the reply from '{}'", socket_path), errno,
                         socket_path);
    if (n == 0) break;
    const std::size_t old = in.size();
    in.append(buf, static_cast<std::size_t>(n));
    newline = in.find('\n', old);
    if (in.size() > kMaxReplyBytes)
      return errno_error(fmt::format("netpolicyd's reply is larger than {} bytes", kMaxReplyBytes),
                         0, socket_path);
  }
  if (newline != std::string::npos) in.resize(newline);
  if (in.empty())
    return errno_error("netpolicyd closed the connection without a reply", 0, socket_path);

  auto reply = control::parse_reply(in);
  if (auto* problem = std::get_if<std::string>(&reply))
    return errno_error("netpolicyd sent an invalid reply: " + *problem, 0, socket_path);
  return std::get<control::Reply>(std::move(reply));
}

}  // namespace netpolicy::daemon
