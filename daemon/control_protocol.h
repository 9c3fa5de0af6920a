#pragma once
// The control protocol between netpolicyctl and netpolicyd: small,
// versioned JSON over RUNTIME_DIR/control.sock, one JSON object per line.
// Pure: no sockets here (control_server.h and control_client.h carry it).
//
//   request:  {"version":1,"command":"status"}
//             {"version":1,"command":"NAME","arguments":{...}}   (later commands)
//   reply:    {"version":1,"ok":true,"command":"status","data":{...}}
//   error:    {"version":1,"ok":false,"error":{"code":"unknown-command","message":"..."}}
//
// Adding a command: one enumerator in Command, one row in the command
// table (control_protocol.cpp: name and whether it takes arguments), one
// handler registered with the server.
#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "daemon/daemon_status.h"

namespace netpolicy::daemon::control {

inline constexpr int kVersion = 1;
// RUNTIME_DIR/control.sock.
std::string control_socket_path(const std::string& runtime_dir);

// A request line longer than this (without its '\n') is refused unread.
inline constexpr std::size_t kMaxRequestBytes = 64 * 1024;

enum class Command {
  status,      // the policy in force, the interface view, the last error
  interfaces,  // each interface with its zone and state
  reload,      // root only: reload the policy now; replies with the outcome
               // {"applied":bool,"reason":"...","status":"..."}
  ruleset,     // the nft text of the table the policy in force compiled to
               // {"ruleset":"...","sha256":"...","source":"..."} (for diff)
  rules,       // each policy rule in force with its source, zones, action and
               // the kernel's packet/byte counters (rules_report.h: rules_data)
};

// "status", "interfaces".
std::string_view command_name(Command command);
std::optional<Command> command_from_name(std::string_view name);
// "status, interfaces": for messages and usage text.
std::string command_list();

// Stable error codes: clients may test them. Never rename one.
enum class ErrorCode {
  malformed_request,    // "malformed-request": not JSON
  invalid_request,      // "invalid-request": JSON, but not a request (types, keys)
  unsupported_version,  // "unsupported-version"
  unknown_command,      // "unknown-command"
  request_too_large,    // "request-too-large": more than kMaxRequestBytes
  busy,                 // "busy": too many clients at once
  timeout,              // "timeout": no complete request in time
  permission_denied,    // "permission-denied": the command needs root
  internal_error,       // "internal-error": the daemon failed to answer
};

std::string_view error_code_name(ErrorCode code);

struct ProtocolError {
  ErrorCode code = ErrorCode::invalid_request;
  std::string message;
};

struct Request {
  int version = kVersion;
  Command command = Command::status;
  nlohmann::json arguments = nlohmann::json::object();  // always an object
};

// Parses one request line (without its '\n'). Every way the text can fail
// to be a request of this version gives a ProtocolError, never an
// exception: the daemon answers it and carries on.
std::variant<Request, ProtocolError> parse_request(std::string_view text);

// One request line (with '\n') for the client.
std::string encode_request(Command command,
                           const nlohmann::json& arguments = nlohmann::json::object());

nlohmann::json ok_reply(Command command, nlohmann::json data);
nlohmann::json error_reply(const ProtocolError& error);

// One message line: compact JSON and '\n'. Invalid UTF-8 (interface names
// and file paths may hold any bytes) is replaced, never thrown about.
std::string encode(const nlohmann::json& message);

// A reply as the client sees it. Error codes stay strings: a newer daemon
// may send codes this client does not know.
struct Reply {
  bool ok = false;
  nlohmann::json data;     // ok: the command's data
  std::string error_code;  // !ok
  std::string error_message;
};

// Parses and checks one reply line; a string says what is wrong with it.
std::variant<Reply, std::string> parse_reply(std::string_view text);

// The `data` of each command's reply.
nlohmann::json status_data(const DaemonStatus& status);
nlohmann::json interfaces_data(const DaemonStatus& status);

}  // namespace netpolicy::daemon::control
