// The control server on a real AF_UNIX socket in a temporary directory and
// a private sd-event loop (no root needed): bad, oversized, slow, stuck and
// too many clients are answered or dropped, and the loop keeps serving.
#include "daemon/control_server.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <thread>

#include "daemon/control_client.h"

namespace netpolicy::daemon {
namespace {

using control::Command;
using nlohmann::json;
using namespace std::chrono_literals;

// One raw client: non-blocking, reads whatever has arrived.
struct Client {
  Fd fd;
  std::string in;
  bool eof = false;
  int error = 0;  // errno of a failed read (ECONNRESET, ...)

  void poll() {
    char buf[64 * 1024];
    while (!eof && error == 0) {
      ssize_t n = ::recv(fd.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        in.append(buf, static_cast<std::size_t>(n));
      } else if (n == 0) {
        eof = true;
      } else {
        if (errno != EAGAIN && errno != EWOULDBLOCK) error = errno;
        return;
      }
    }
  }
  [[nodiscard]] std::vector<json> replies() const {
    std::vector<json> out;
    std::size_t start = 0;
    for (std::size_t nl; (nl = in.find('\n', start)) != std::string::npos; start = nl + 1)
      out.push_back(json::parse(in.substr(start, nl - start)));
    return out;
  }
  // Sends what the socket takes now; returns how much.
  std::size_t send_some(std::string_view data) const {
    ssize_t n = ::send(fd.get(), data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    return n < 0 ? 0 : static_cast<std::size_t>(n);
  }
};

class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/np-control-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/control.sock";
    sd_event* e = nullptr;
    ASSERT_GE(sd_event_new(&e), 0);
    event_.reset(e);
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A server whose status handler answers with the peer's credentials and
  // whose interfaces handler answers with `interfaces_data`.
  void start(ControlServer::Limits limits = {}) {
    auto server = ControlServer::open(event_.get(), path_, log_, limits);
    ASSERT_TRUE(server) << server.error().describe();
    server_ = std::move(server.value());
    server_->handle(Command::status, [](const control::Request&, const PeerCredentials& peer,
                                        const ControlServer::Responder& respond) {
      respond.reply({{"pid", peer.pid}, {"uid", peer.uid}, {"gid", peer.gid}});
    });
    server_->handle(Command::interfaces, [this](const control::Request&, const PeerCredentials&,
                                                const ControlServer::Responder& respond) {
      respond.reply(interfaces_data_);
    });
  }

  Client connect() {
    Client c;
    c.fd = Fd{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    EXPECT_TRUE(c.fd.valid());
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    EXPECT_EQ(::connect(c.fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0)
        << std::strerror(errno);
    return c;
  }

  // Runs the loop (and reads the clients) until `done` or the deadline.
  bool pump(const std::function<bool()>& done, std::vector<Client*> clients = {},
            std::chrono::milliseconds deadline = 3s) {
    const auto end = std::chrono::steady_clock::now() + deadline;
    for (;;) {
      for (Client* c : clients) c->poll();
      if (done()) return true;
      if (std::chrono::steady_clock::now() > end) return false;
      EXPECT_GE(sd_event_run(event_.get(), 5'000), 0);
    }
  }

  // Sends `request` on a new connection and waits for its one reply.
  json ask(const std::string& request) {
    Client c = connect();
    EXPECT_EQ(c.send_some(request), request.size());
    EXPECT_TRUE(pump([&] { return c.replies().size() == 1; }, {&c})) << "no reply to " << request;
    auto r = c.replies();
    return r.empty() ? json{} : r.front();
  }

  std::string dir_;
  std::string path_;
  std::ostringstream log_;
  SdEventPtr event_;
  std::unique_ptr<ControlServer> server_;
  json interfaces_data_ = {{"interfaces", json::array()}};
};

const std::string kStatus = R"({"version":1,"command":"status"})"
                            "\n";

std::string code_of(const json& reply) {
  return reply.value("/error/code"_json_pointer, "");
}

TEST_F(ControlServerTest, AnswersWithThePeersCredentials) {
  start();
  json reply = ask(kStatus);
  EXPECT_EQ(reply["version"], 1);
  EXPECT_EQ(reply["ok"], true);
  EXPECT_EQ(reply["command"], "status");
  EXPECT_EQ(reply["data"]["pid"], ::getpid());
  EXPECT_EQ(reply["data"]["uid"], ::getuid());
  EXPECT_EQ(reply["data"]["gid"], ::getgid());
}

TEST_F(ControlServerTest, SocketIs0600AndRemovedWithTheServer) {
  start();
  struct stat st {};
  ASSERT_EQ(::lstat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  server_.reset();
  EXPECT_NE(::lstat(path_.c_str(), &st), 0);
  EXPECT_EQ(errno, ENOENT);
}

TEST_F(ControlServerTest, BadRequestsAreAnsweredAndTheConnectionGoesOn) {
  start();
  Client c = connect();
  const std::string batch =
      "garbage\n"
      R"({"version":9,"command":"status"})"
      "\n"
      R"({"version":1,"command":"launch"})"
      "\n"
      "[]\n" +
      kStatus;
  ASSERT_EQ(c.send_some(batch), batch.size());
  ASSERT_TRUE(pump([&] { return c.replies().size() == 5; }, {&c})) << c.in;
  auto r = c.replies();
  EXPECT_EQ(code_of(r[0]), "malformed-request");
  EXPECT_EQ(code_of(r[1]), "unsupported-version");
  EXPECT_EQ(code_of(r[2]), "unknown-command");
  EXPECT_EQ(code_of(r[3]), "invalid-request");
  EXPECT_EQ(r[4]["ok"], true);
  EXPECT_FALSE(c.eof);
  // Each refusal is logged once, with who asked.
  EXPECT_NE(log_.str().find(fmt::format("(pid {}, uid {}): refused request: malformed-request",
                                        ::getpid(), ::getuid())),
            std::string::npos)
      << log_.str();
}

TEST_F(ControlServerTest, PipelinedRequestsAreAnsweredInOrder) {
  start();
  Client c = connect();
  std::string batch;
  for (int i = 0; i < 200; ++i)
    batch += i % 2 ? kStatus
                   : R"({"version":1,"command":"interfaces"})"
                     "\r\n";
  std::size_t sent = 0;
  ASSERT_TRUE(pump(
      [&] {
        sent += c.send_some(std::string_view{batch}.substr(sent));
        return c.replies().size() == 200;
      },
      {&c}));
  auto r = c.replies();
  for (int i = 0; i < 200; ++i) EXPECT_EQ(r[i]["command"], i % 2 ? "status" : "interfaces") << i;
}

TEST_F(ControlServerTest, ALastRequestMayEndAtEof) {
  start();
  Client c = connect();
  std::string request = kStatus.substr(0, kStatus.size() - 1);
  ASSERT_EQ(c.send_some(request), request.size());
  ASSERT_EQ(::shutdown(c.fd.get(), SHUT_WR), 0);
  ASSERT_TRUE(pump([&] { return c.eof; }, {&c}));
  ASSERT_EQ(c.replies().size(), 1u);
  EXPECT_EQ(c.replies()[0]["ok"], true);
  EXPECT_TRUE(pump([&] { return server_->clients() == 0; }));
}

TEST_F(ControlServerTest, OversizedRequestGetsAnErrorThenEofNotAReset) {
  start();
  for (bool with_newline : {false, true}) {
    Client c = connect();
    std::string big(200 * 1024, 'x');
    if (with_newline) big[control::kMaxRequestBytes + 10] = '\n';
    std::size_t sent = 0;
    ASSERT_TRUE(pump(
        [&] {
          sent += c.send_some(std::string_view{big}.substr(sent));
          return c.replies().size() == 1;
        },
        {&c}));
    EXPECT_EQ(code_of(c.replies()[0]), "request-too-large");
    EXPECT_NE(c.replies()[0]["error"]["message"].get<std::string>().find("65536"),
              std::string::npos);
    // The client stops sending: the server, which kept draining, closes
    // cleanly, so the client sees EOF after the reply.
    ::shutdown(c.fd.get(), SHUT_WR);
    ASSERT_TRUE(pump([&] { return c.eof || c.error != 0; }, {&c}));
    EXPECT_TRUE(c.eof);
    EXPECT_EQ(c.error, 0) << std::strerror(c.error);
    EXPECT_EQ(c.replies().size(), 1u);
  }
  EXPECT_TRUE(pump([&] { return server_->clients() == 0; }));
  EXPECT_EQ(ask(kStatus)["ok"], true);
}

TEST_F(ControlServerTest, ASilentClientTimesOut) {
  ControlServer::Limits limits;
  limits.request_timeout = 200ms;
  start(limits);
  Client silent = connect();
  Client partial = connect();
  ASSERT_GT(partial.send_some(R"({"version":1,"comm)"), 0u);
  const auto begin = std::chrono::steady_clock::now();
  ASSERT_TRUE(pump([&] { return silent.eof && partial.eof; }, {&silent, &partial}));
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 2s);
  for (Client* c : {&silent, &partial}) {
    ASSERT_EQ(c->replies().size(), 1u);
    EXPECT_EQ(code_of(c->replies()[0]), "timeout");
  }
  EXPECT_EQ(server_->clients(), 0u);
  EXPECT_NE(log_.str().find("dropped: no complete request within 0.2 s"), std::string::npos)
      << log_.str();
}

TEST_F(ControlServerTest, TricklingBytesDoesNotExtendTheDeadline) {
  ControlServer::Limits limits;
  limits.request_timeout = 300ms;
  start(limits);
  Client c = connect();
  const auto begin = std::chrono::steady_clock::now();
  auto last_byte = begin;
  ASSERT_TRUE(pump(
      [&] {
        if (std::chrono::steady_clock::now() - last_byte > 20ms) {
          c.send_some(" ");  // whitespace: never a complete request
          last_byte = std::chrono::steady_clock::now();
        }
        return c.eof;
      },
      {&c}));
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 1500ms);
  EXPECT_EQ(code_of(c.replies().at(0)), "timeout");
}

TEST_F(ControlServerTest, AClientThatDoesNotReadIsDroppedAndOthersAreServed) {
  ControlServer::Limits limits;
  limits.reply_timeout = 300ms;
  start(limits);
  interfaces_data_ = {{"blob", std::string(16u << 20, 'z')}};  // far more than a socket buffer
  Client stuck = connect();
  const std::string request = R"({"version":1,"command":"interfaces"})"
                              "\n";
  ASSERT_EQ(stuck.send_some(request), request.size());
  ASSERT_TRUE(pump([&] { return server_->clients() == 1; }));
  // While its reply waits, the loop answers someone else at once.
  EXPECT_EQ(ask(kStatus)["ok"], true);
  EXPECT_EQ(log_.str().find("did not read"), std::string::npos)
      << "the stuck client was still there: " << log_.str();
  ASSERT_TRUE(pump([&] { return server_->clients() == 0; }));
  EXPECT_NE(log_.str().find("did not read its reply within 0.3 s"), std::string::npos)
      << log_.str();
}

TEST_F(ControlServerTest, TooManyClientsAreToldSo) {
  ControlServer::Limits limits;
  limits.max_clients = 2;
  start(limits);
  Client a = connect();
  Client b = connect();
  ASSERT_TRUE(pump([&] { return server_->clients() == 2; }));
  Client c = connect();
  ASSERT_TRUE(pump([&] { return c.eof || c.error != 0; }, {&c}));
  ASSERT_EQ(c.replies().size(), 1u);
  EXPECT_EQ(code_of(c.replies()[0]), "busy");
  EXPECT_EQ(server_->clients(), 2u);
  // The two connected ones are served; once one leaves, a new one is too.
  ASSERT_EQ(a.send_some(kStatus), kStatus.size());
  ASSERT_TRUE(pump([&] { return a.replies().size() == 1; }, {&a}));
  b.fd.reset();
  ASSERT_TRUE(pump([&] { return server_->clients() == 1; }));
  EXPECT_EQ(ask(kStatus)["ok"], true);
}

TEST_F(ControlServerTest, ACommandWithoutHandlerIsUnknown) {
  auto server = ControlServer::open(event_.get(), path_, log_);
  ASSERT_TRUE(server);
  server_ = std::move(server.value());
  json reply = ask(kStatus);
  EXPECT_EQ(code_of(reply), "unknown-command");
  EXPECT_EQ(reply["error"]["message"], "this netpolicyd does not serve 'status'");
}

TEST_F(ControlServerTest, AHandlerThatThrowsGivesAnInternalError) {
  start();
  server_->handle(Command::interfaces,
                  [](const control::Request&, const PeerCredentials&,
                     const ControlServer::Responder&) { throw std::bad_alloc(); });
  json reply = ask(R"({"version":1,"command":"interfaces"})"
                   "\n");
  EXPECT_EQ(code_of(reply), "internal-error");
  EXPECT_EQ(ask(kStatus)["ok"], true);
}

TEST_F(ControlServerTest, ALaterReplyArrivesAndOneForAGoneClientIsDropped) {
  start();
  std::vector<ControlServer::Responder> held;
  server_->handle(Command::interfaces,
                  [&](const control::Request&, const PeerCredentials&,
                      const ControlServer::Responder& respond) { held.push_back(respond); });
  const std::string request = R"({"version":1,"command":"interfaces"})"
                              "\n";

  // Held, then answered: the request pipelined behind it waits its turn.
  Client c = connect();
  ASSERT_EQ(c.send_some(request + kStatus), request.size() + kStatus.size());
  ASSERT_TRUE(pump([&] { return held.size() == 1; }, {&c}));
  EXPECT_TRUE(pump([] { return false; }, {&c}, 100ms) == false);
  EXPECT_TRUE(c.in.empty()) << "nothing may overtake the held reply: " << c.in;
  held[0].reply({{"late", true}});
  held[0].reply({{"twice", true}});  // only the first counts
  ASSERT_TRUE(pump([&] { return c.replies().size() == 2; }, {&c}));
  EXPECT_EQ(c.replies()[0]["data"], json({{"late", true}}));
  EXPECT_EQ(c.replies()[1]["command"], "status");

  // Held while the client leaves: the server notices, the reply goes nowhere.
  Client gone = connect();
  ASSERT_EQ(gone.send_some(request), request.size());
  ASSERT_TRUE(pump([&] { return held.size() == 2; }));
  gone.fd.reset();
  ASSERT_TRUE(pump([&] { return server_->clients() == 1; }));  // `c` only
  held[1].reply({{"late", true}});
  held[1].fail({control::ErrorCode::internal_error, "x"});
  EXPECT_EQ(ask(kStatus)["ok"], true);
}

TEST_F(ControlServerTest, AStaleSocketIsReplacedALiveOneIsNot) {
  {
    // What a daemon killed with SIGKILL leaves: a socket file nobody serves.
    Fd dead{::socket(AF_UNIX, SOCK_STREAM, 0)};
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(::bind(dead.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  }
  start();
  EXPECT_EQ(ask(kStatus)["ok"], true);

  std::ostringstream log;
  auto second = ControlServer::open(event_.get(), path_, log);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().error_code, EADDRINUSE);
  EXPECT_NE(second.error().message.find("another process answers on it"), std::string::npos);
  EXPECT_EQ(ask(kStatus)["ok"], true) << "the first server still has its socket";
}

TEST_F(ControlServerTest, AFileInTheWayIsNotRemoved) {
  std::ofstream{path_} << "not a socket\n";
  std::ostringstream log;
  auto server = ControlServer::open(event_.get(), path_, log);
  ASSERT_FALSE(server);
  EXPECT_EQ(server.error().error_code, EEXIST);
  EXPECT_EQ(server.error().describe(), "Failed to create control socket '" + path_ +
                                           "' (a file that is not a socket is in the way): "
                                           "File exists");
  std::ifstream in{path_};
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "not a socket");
}

TEST_F(ControlServerTest, ClientCallsTheDaemon) {
  start();
  // call_daemon blocks: it runs in a thread while this one runs the loop.
  std::optional<Result<control::Reply>> result;
  std::thread client{[&] { result.emplace(call_daemon(path_, Command::status)); }};
  bool done = pump([&] { return server_->clients() == 0 && result.has_value(); });
  client.join();
  ASSERT_TRUE(done);
  ASSERT_TRUE(*result) << result->error().describe();
  EXPECT_TRUE((*result)->ok);
  EXPECT_EQ((*result)->data["uid"], ::getuid());
}

TEST_F(ControlServerTest, ClientErrorsSayWhatIsWrong) {
  auto missing = call_daemon(path_, Command::status);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().describe(), "netpolicyd is not running (no " + path_ + ")");

  Fd dead{::socket(AF_UNIX, SOCK_STREAM, 0)};
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(dead.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  auto stale = call_daemon(path_, Command::status);
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().describe(),
            "netpolicyd is not running (" + path_ + " exists, but nothing answers on it)");

  // Something that accepts but never answers.
  ::unlink(path_.c_str());
  Fd mute{::socket(AF_UNIX, SOCK_STREAM, 0)};
  ASSERT_EQ(::bind(mute.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(mute.get(), 1), 0);
  auto silent = call_daemon(path_, Command::status, json::object(), 200ms);
  ASSERT_FALSE(silent);
  EXPECT_EQ(silent.error().describe(), "netpolicyd did not answer within 200 ms");
}

}  // namespace
}  // namespace netpolicy::daemon
