#pragma once
// netpolicyctl's side of the control socket: one request, one reply.
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "base/error.h"
#include "daemon/control_protocol.h"

namespace netpolicy::daemon {

// Connects to `socket_path`, sends `command` and waits up to `timeout` for
// each step (connect, send, each read). A reply the daemon sent — ok or an
// error reply — is a Reply; not reaching the daemon or not understanding it
// is an Error for the user: describe() gives e.g. "netpolicyd is not
// running (no /run/netpolicy/control.sock)" or "Failed to connect to
// 'PATH': Connection reset by peer".
Result<control::Reply> call_daemon(const std::string& socket_path, control::Command command,
                                   const nlohmann::json& arguments = nlohmann::json::object(),
                                   std::chrono::milliseconds timeout = std::chrono::seconds{10});

}  // namespace netpolicy::daemon
