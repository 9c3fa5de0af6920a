// The control protocol's parser meets bad input of every kind and must
// answer each with the right error code, never throw; replies have one shape.
#include "daemon/control_protocol.h"

#include <gtest/gtest.h>

#include <string>
#include <variant>

namespace netpolicy::daemon::control {
namespace {

using nlohmann::json;

ProtocolError error_of(std::string_view text) {
  auto parsed = parse_request(text);
  EXPECT_TRUE(std::holds_alternative<ProtocolError>(parsed)) << "accepted: " << text;
  if (auto* e = std::get_if<ProtocolError>(&parsed)) return *e;
  return {};
}

Request request_of(std::string_view text) {
  auto parsed = parse_request(text);
  if (auto* e = std::get_if<ProtocolError>(&parsed)) {
    ADD_FAILURE() << "refused: " << text << ": " << error_code_name(e->code) << ": " << e->message;
    return {};
  }
  return std::get<Request>(parsed);
}

TEST(ControlProtocol, ValidRequests) {
  Request r = request_of(R"({"version":1,"command":"status"})");
  EXPECT_EQ(r.version, 1);
  EXPECT_EQ(r.command, Command::status);
  EXPECT_TRUE(r.arguments.is_object());
  EXPECT_TRUE(r.arguments.empty());

  EXPECT_EQ(request_of(R"({"command":"interfaces","version":1})").command, Command::interfaces);
  // Whitespace around and inside is JSON's business; empty arguments are fine.
  EXPECT_EQ(
      request_of(" { \"version\" : 1 , \"command\" : \"status\", \"arguments\": {} } ").command,
      Command::status);
}

TEST(ControlProtocol, MalformedJson) {
  for (const char* text : {"", "garbage", "{", R"({"version":1,"command":"status")",
                           R"({"version":1,,"command":"status"})", "{'version':1}", "\x01\x02"}) {
    ProtocolError e = error_of(text);
    EXPECT_EQ(e.code, ErrorCode::malformed_request) << text;
    EXPECT_NE(e.message.find("not JSON"), std::string::npos) << e.message;
    // The user sees where, not nlohmann's exception tag.
    EXPECT_EQ(e.message.find("json.exception"), std::string::npos) << e.message;
  }
  // Two documents on one line are not one request.
  EXPECT_EQ(error_of(R"({"version":1,"command":"status"} {})").code, ErrorCode::malformed_request);
}

TEST(ControlProtocol, NotAnObject) {
  for (const char* text : {"[]", "1", "\"status\"", "null", "true", R"([{"version":1}])"}) {
    ProtocolError e = error_of(text);
    EXPECT_EQ(e.code, ErrorCode::invalid_request) << text;
    EXPECT_NE(e.message.find("must be a JSON object"), std::string::npos) << e.message;
  }
}

TEST(ControlProtocol, WrongTypes) {
  struct Case {
    const char* text;
    const char* says;
  };
  for (const Case& c : {
           Case{R"({"command":"status"})", "no 'version'"},
           Case{R"({"version":"1","command":"status"})",
                "'version' must be an integer, not string"},
           Case{R"({"version":1.0,"command":"status"})",
                "'version' must be an integer, not number"},
           Case{R"({"version":true,"command":"status"})",
                "'version' must be an integer, not boolean"},
           Case{R"({"version":null,"command":"status"})", "'version' must be an integer, not null"},
           Case{R"({"version":1})", "no 'command'"},
           Case{R"({"version":1,"command":7})", "'command' must be a string, not number"},
           Case{R"({"version":1,"command":["status"]})", "'command' must be a string, not array"},
           Case{R"({"version":1,"command":"status","arguments":[]})",
                "'arguments' must be an object, not array"},
           Case{R"({"version":1,"command":"status","arguments":"x"})",
                "'arguments' must be an object, not string"},
           Case{R"({"version":1,"command":"status","arguments":{"x":1}})",
                "command 'status' takes no arguments"},
           Case{R"({"version":1,"command":"status","verbose":true})",
                "unknown key 'verbose' in request"},
       }) {
    ProtocolError e = error_of(c.text);
    EXPECT_EQ(e.code, ErrorCode::invalid_request) << c.text;
    EXPECT_NE(e.message.find(c.says), std::string::npos) << c.text << " -> " << e.message;
  }
}

TEST(ControlProtocol, UnknownVersion) {
  for (const char* text : {R"({"version":2,"command":"status"})", R"({"version":0,"command":"x"})",
                           R"({"version":-1})",
                           // A newer client's new keys: the version is what matters.
                           R"({"version":2,"command":"status","future":{}})"}) {
    ProtocolError e = error_of(text);
    EXPECT_EQ(e.code, ErrorCode::unsupported_version) << text;
    EXPECT_NE(e.message.find("speaks version 1"), std::string::npos) << e.message;
  }
}

TEST(ControlProtocol, UnknownCommand) {
  for (const char* name : {"reboot", "", "STATUS", "status ", "interface"}) {
    ProtocolError e = error_of(json{{"version", 1}, {"command", name}}.dump());
    EXPECT_EQ(e.code, ErrorCode::unknown_command) << name;
    EXPECT_NE(e.message.find("known: status, interfaces"), std::string::npos) << e.message;
  }
}

TEST(ControlProtocol, Oversized) {
  std::string big = R"({"version":1,"command":"status","arguments":{"pad":")";
  big += std::string(kMaxRequestBytes, 'a') + "\"}}";
  ProtocolError e = error_of(big);
  EXPECT_EQ(e.code, ErrorCode::request_too_large);
  EXPECT_NE(e.message.find("65536"), std::string::npos) << e.message;

  // Exactly at the limit it is parsed (and refused for what it says).
  std::string at_limit = R"({"version":1,"command":"status","x":")";
  at_limit += std::string(kMaxRequestBytes - at_limit.size() - 2, 'a') + "\"}";
  ASSERT_EQ(at_limit.size(), kMaxRequestBytes);
  EXPECT_EQ(error_of(at_limit).code, ErrorCode::invalid_request);
}

TEST(ControlProtocol, DeepNestingIsAnErrorNotACrash) {
  // Within the size limit, as deep as a request can get.
  std::string open(kMaxRequestBytes / 2, '[');
  EXPECT_EQ(error_of(open).code, ErrorCode::malformed_request);
  EXPECT_EQ(error_of(open + std::string(kMaxRequestBytes / 2, ']')).code,
            ErrorCode::invalid_request);
  std::string objects;
  for (int i = 0; i < 10000; ++i) objects += R"({"a":)";
  objects += "1" + std::string(10000, '}');
  EXPECT_EQ(error_of(objects).code, ErrorCode::invalid_request);
}

TEST(ControlProtocol, InvalidUtf8IsMalformedAndRepliesStayJson) {
  ProtocolError e = error_of("{\"version\":1,\"command\":\"st\xff\xfe\"}");
  EXPECT_EQ(e.code, ErrorCode::malformed_request);
  // The message quotes the bad bytes; the encoded reply is valid JSON.
  std::string line = encode(error_reply(e));
  ASSERT_EQ(line.back(), '\n');
  EXPECT_TRUE(json::accept(line));
}

TEST(ControlProtocol, ErrorCodeNamesAreStable) {
  EXPECT_EQ(error_code_name(ErrorCode::malformed_request), "malformed-request");
  EXPECT_EQ(error_code_name(ErrorCode::invalid_request), "invalid-request");
  EXPECT_EQ(error_code_name(ErrorCode::unsupported_version), "unsupported-version");
  EXPECT_EQ(error_code_name(ErrorCode::unknown_command), "unknown-command");
  EXPECT_EQ(error_code_name(ErrorCode::request_too_large), "request-too-large");
  EXPECT_EQ(error_code_name(ErrorCode::busy), "busy");
  EXPECT_EQ(error_code_name(ErrorCode::timeout), "timeout");
  EXPECT_EQ(error_code_name(ErrorCode::permission_denied), "permission-denied");
  EXPECT_EQ(error_code_name(ErrorCode::internal_error), "internal-error");
}

TEST(ControlProtocol, CommandNamesRoundTrip) {
  for (Command c : {Command::status, Command::interfaces, Command::reload, Command::ruleset,
                    Command::rules})
    EXPECT_EQ(command_from_name(command_name(c)), c);
  EXPECT_EQ(command_name(Command::rules), "rules");
  EXPECT_NE(command_list().find("rules"), std::string::npos) << command_list();
  EXPECT_EQ(command_from_name("nope"), std::nullopt);
}

TEST(ControlProtocol, RequestEncodingParsesBack) {
  std::string line = encode_request(Command::interfaces);
  EXPECT_EQ(line, "{\"command\":\"interfaces\",\"version\":1}\n");
  line.pop_back();
  EXPECT_EQ(request_of(line).command, Command::interfaces);
}

// `rules` takes no arguments, like status; its reply carries the data
// through parse_reply unchanged.
TEST(ControlProtocol, RulesRoundTrip) {
  std::string line = encode_request(Command::rules);
  EXPECT_EQ(line, "{\"command\":\"rules\",\"version\":1}\n");
  line.pop_back();
  EXPECT_EQ(request_of(line).command, Command::rules);
  EXPECT_EQ(error_of(R"({"version":1,"command":"rules","arguments":{"all":true}})").code,
            ErrorCode::invalid_request);

  const json data = {{"table", "netpolicy"},
                     {"rules", json::array({{{"name", "ssh"}, {"packets", 7}}})}};
  std::string reply = encode(ok_reply(Command::rules, data));
  reply.pop_back();
  auto parsed = parse_reply(reply);
  ASSERT_TRUE(std::holds_alternative<Reply>(parsed));
  EXPECT_TRUE(std::get<Reply>(parsed).ok);
  EXPECT_EQ(std::get<Reply>(parsed).data, data);
}

TEST(ControlProtocol, ReplyShapes) {
  json ok = ok_reply(Command::status, json{{"x", 1}});
  EXPECT_EQ(ok, json::parse(R"({"version":1,"ok":true,"command":"status","data":{"x":1}})"));
  json err = error_reply({ErrorCode::unknown_command, "no such thing"});
  EXPECT_EQ(err, json::parse(R"({"version":1,"ok":false,
                                 "error":{"code":"unknown-command","message":"no such thing"}})"));
  EXPECT_EQ(encode(ok).find('\n'), encode(ok).size() - 1) << "one line per message";
}

TEST(ControlProtocol, ParseReply) {
  auto ok = parse_reply(R"({"version":1,"ok":true,"command":"status","data":{"a":2}})");
  ASSERT_TRUE(std::holds_alternative<Reply>(ok));
  EXPECT_TRUE(std::get<Reply>(ok).ok);
  EXPECT_EQ(std::get<Reply>(ok).data, json({{"a", 2}}));

  auto err = parse_reply(R"({"version":1,"ok":false,"error":{"code":"busy","message":"later"}})");
  ASSERT_TRUE(std::holds_alternative<Reply>(err));
  EXPECT_FALSE(std::get<Reply>(err).ok);
  EXPECT_EQ(std::get<Reply>(err).error_code, "busy");
  EXPECT_EQ(std::get<Reply>(err).error_message, "later");

  for (const char* bad : {"", "x", "[]", R"({"ok":true,"data":1})",
                          R"({"version":2,"ok":true,"data":1})", R"({"version":1,"data":1})",
                          R"({"version":1,"ok":"yes","data":1})", R"({"version":1,"ok":true})",
                          R"({"version":1,"ok":false})", R"({"version":1,"ok":false,"error":{}})",
                          R"({"version":1,"ok":false,"error":{"code":1,"message":"m"}})"}) {
    EXPECT_TRUE(std::holds_alternative<std::string>(parse_reply(bad))) << bad;
  }
}

TEST(ControlProtocol, SocketPath) {
  EXPECT_EQ(control_socket_path("/run/netpolicy"), "/run/netpolicy/control.sock");
  EXPECT_EQ(control_socket_path("/run/netpolicy/"), "/run/netpolicy/control.sock");
}

DaemonStatus sample_status() {
  DaemonStatus s;
  s.pid = 42;
  s.version = "0.1.0";
  s.policy = PolicyStatus{"/etc/netpolicy/policy.yaml",
                          std::string(64, 'a'),
                          "local",
                          WallTime{std::chrono::seconds{1714566896}},
                          7,
                          2};
  s.interface_count = 2;
  s.view_complete = false;
  s.view_since = WallTime{std::chrono::seconds{1714566900}};
  ErrorRecord e;
  e.event = "policy-failed";
  e.event_id = 5461;
  e.message = "Policy x is invalid";
  e.error_code = 2;
  e.error = "No such file or directory";
  e.location = "/etc/netpolicy/policy.yaml:6:18";
  e.time = WallTime{std::chrono::seconds{1714566910}};
  s.last_error = e;
  s.interfaces = {
      {"eth0", 2, "lan", InterfaceState::protected_, {*parse_ip_prefix("10.0.0.1")}},
      {"wg0", 3, std::nullopt, InterfaceState::uncertain, {}},
  };
  return s;
}

TEST(ControlProtocol, StatusData) {
  json data = status_data(sample_status());
  EXPECT_EQ(data, json::parse(R"({
    "daemon": {"pid": 42, "version": "0.1.0"},
    "policy": {"path": "/etc/netpolicy/policy.yaml",
               "sha256": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
               "source": "local", "applied_at": "2024-05-01T12:34:56Z", "rules": 7, "zones": 2},
    "interfaces": {"count": 2, "complete": false, "since": "2024-05-01T12:35:00Z"},
    "last_error": {"event": "policy-failed", "event_id": 5461, "message": "Policy x is invalid",
                   "errno": 2, "error": "No such file or directory",
                   "location": "/etc/netpolicy/policy.yaml:6:18", "interface": null,
                   "time": "2024-05-01T12:35:10Z"}
  })"));

  DaemonStatus empty;
  empty.pid = 1;
  json none = status_data(empty);
  EXPECT_TRUE(none["policy"].is_null());
  EXPECT_TRUE(none["last_error"].is_null());
}

TEST(ControlProtocol, InterfacesData) {
  json data = interfaces_data(sample_status());
  EXPECT_EQ(data, json::parse(R"({
    "complete": false, "since": "2024-05-01T12:35:00Z",
    "interfaces": [
      {"name": "eth0", "ifindex": 2, "zone": "lan", "state": "protected",
       "addresses": ["10.0.0.1"]},
      {"name": "wg0", "ifindex": 3, "zone": null, "state": "uncertain", "addresses": []}
    ]})"));
}

}  // namespace
}  // namespace netpolicy::daemon::control
