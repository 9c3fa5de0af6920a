#include "daemon/control_protocol.h"

#include <fmt/format.h>

#include <array>

namespace netpolicy::daemon::control {

namespace {

using nlohmann::json;

struct CommandInfo {
  Command command;
  std::string_view name;
  bool takes_arguments;
};

// In the order of enum Command.
constexpr std::array<CommandInfo, 5> kCommands{{
    {Command::status, "status", false},
    {Command::interfaces, "interfaces", false},
    {Command::reload, "reload", false},
    {Command::ruleset, "ruleset", false},
    {Command::rules, "rules", false},
}};

const CommandInfo& info(Command command) {
  return kCommands.at(static_cast<std::size_t>(command));
}

constexpr std::array<std::string_view, 3> kRequestKeys{"version", "command", "arguments"};

// nlohmann's what() starts with "[json.exception.parse_error.101] ": the
// user needs only what follows.
std::string without_exception_tag(const char* what) {
  std::string_view text{what};
  if (!text.empty() && text.front() == '[') {
    auto end = text.find("] ");
    if (end != std::string_view::npos) text.remove_prefix(end + 2);
  }
  return std::string{text};
}

ProtocolError invalid(std::string message) {
  return {ErrorCode::invalid_request, std::move(message)};
}

json or_null(const std::string& text) {
  return text.empty() ? json(nullptr) : json(text);
}

}  // namespace

std::string control_socket_path(const std::string& runtime_dir) {
  if (!runtime_dir.empty() && runtime_dir.back() == '/') return runtime_dir + "control.sock";
  return runtime_dir + "/control.sock";
}

std::string_view command_name(Command command) {
  return info(command).name;
}

std::optional<Command> command_from_name(std::string_view name) {
  for (const auto& c : kCommands)
    if (c.name == name) return c.command;
  return std::nullopt;
}

std::string command_list() {
  std::string out;
  for (const auto& c : kCommands) {
    if (!out.empty()) out += ", ";
    out += c.name;
  }
  return out;
}

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::malformed_request:
      return "malformed-request";
    case ErrorCode::invalid_request:
      return "invalid-request";
    case ErrorCode::unsupported_version:
      return "unsupported-version";
    case ErrorCode::unknown_command:
      return "unknown-command";
    case ErrorCode::request_too_large:
      return "request-too-large";
    case ErrorCode::busy:
      return "busy";
    case ErrorCode::timeout:
      return "timeout";
    case ErrorCode::permission_denied:
      return "permission-denied";
    case ErrorCode::internal_error:
      return "internal-error";
  }
  return "internal-error";
}

std::variant<Request, ProtocolError> parse_request(std::string_view text) {
  if (text.size() > kMaxRequestBytes)
    return ProtocolError{ErrorCode::request_too_large,
                         fmt::format("request of {} bytes is larger than the limit of {} bytes",
                                     text.size(), kMaxRequestBytes)};
  json doc;
  try {
    doc = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    return ProtocolError{ErrorCode::malformed_request,
                         "request is not JSON: " + without_exception_tag(e.what())};
  }
  if (!doc.is_object())
    return invalid(fmt::format("request must be a JSON object, not {}", doc.type_name()));

  // The version first: a newer client's request may have keys this
  // version does not know, and "unsupported version" is what it needs to hear.
  auto version = doc.find("version");
  if (version == doc.end()) return invalid("request has no 'version'");
  if (!version->is_number_integer())
    return invalid(fmt::format("'version' must be an integer, not {}", version->type_name()));
  if (*version != kVersion)
    return ProtocolError{ErrorCode::unsupported_version,
                         fmt::format("protocol version {} is not supported (this netpolicyd "
                                     "speaks version {})",
                                     version->dump(), kVersion)};

  for (const auto& [key, value] : doc.items()) {
    bool known = false;
    for (auto k : kRequestKeys) known = known || key == k;
    if (!known) return invalid(fmt::format("unknown key '{}' in request", key));
  }

  auto command = doc.find("command");
  if (command == doc.end()) return invalid("request has no 'command'");
  if (!command->is_string())
    return invalid(fmt::format("'command' must be a string, not {}", command->type_name()));
  const auto& name = command->get_ref<const std::string&>();
  std::optional<Command> which = command_from_name(name);
  if (!which)
    return ProtocolError{ErrorCode::unknown_command,
                         fmt::format("unknown command '{}' (known: {})", name, command_list())};

  Request request;
  request.command = *which;
  if (auto arguments = doc.find("arguments"); arguments != doc.end()) {
    if (!arguments->is_object())
      return invalid(fmt::format("'arguments' must be an object, not {}", arguments->type_name()));
    if (!arguments->empty() && !info(*which).takes_arguments)
      return invalid(fmt::format("command '{}' takes no arguments", name));
    request.arguments = std::move(*arguments);
  }
  return request;
}

std::string encode_request(Command command, const json& arguments) {
  json request = {{"version", kVersion}, {"command", command_name(command)}};
  if (!arguments.empty()) request["arguments"] = arguments;
  return encode(request);
}

json ok_reply(Command command, json data) {
  return {{"version", kVersion},
          {"ok", true},
          {"command", command_name(command)},
          {"data", std::move(data)}};
}

json error_reply(const ProtocolError& error) {
  return {{"version", kVersion},
          {"ok", false},
          {"error", {{"code", error_code_name(error.code)}, {"message", error.message}}}};
}

std::string encode(const json& message) {
  return message.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::variant<Reply, std::string> parse_reply(std::string_view text) {
  json doc;
  try {
    doc = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    return "reply is not JSON: " + without_exception_tag(e.what());
  }
  if (!doc.is_object()) return std::string{"reply is not a JSON object"};
  auto version = doc.find("version");
  if (version == doc.end() || !version->is_number_integer())
    return std::string{"reply has no integer 'version'"};
  if (*version != kVersion)
    return fmt::format("reply has protocol version {}, this netpolicyctl speaks version {}",
                       version->dump(), kVersion);
  auto ok = doc.find("ok");
  if (ok == doc.end() || !ok->is_boolean()) return std::string{"reply has no boolean 'ok'"};

  Reply reply;
  reply.ok = ok->get<bool>();
  if (reply.ok) {
    auto data = doc.find("data");
    if (data == doc.end()) return std::string{"reply has 'ok' but no 'data'"};
    reply.data = std::move(*data);
    return reply;
  }
  auto error = doc.find("error");
  if (error == doc.end() || !error->is_object()) return std::string{"error reply has no 'error'"};
  auto code = error->find("code");
  auto message = error->find("message");
  if (code == error->end() || !code->is_string() || message == error->end() ||
      !message->is_string())
    return std::string{"error reply lacks a string 'code' or 'message'"};
  reply.error_code = code->get<std::string>();
  reply.error_message = message->get<std::string>();
  return reply;
}

json status_data(const DaemonStatus& status) {
  json policy = nullptr;
  if (status.policy) {
    const PolicyStatus& p = *status.policy;
    policy = {{"path", p.path},     {"sha256", p.sha256},
              {"source", p.source}, {"applied_at", iso8601_utc(p.applied_at)},
              {"rules", p.rules},   {"zones", p.zones}};
  }
  json last_error = nullptr;
  if (status.last_error) {
    const ErrorRecord& e = *status.last_error;
    last_error = {{"event", e.event},
                  {"event_id", e.event_id},
                  {"message", e.message},
                  {"errno", e.error_code == 0 ? json(nullptr) : json(e.error_code)},
                  {"error", or_null(e.error)},
                  {"location", or_null(e.location)},
                  {"interface", or_null(e.interface)},
                  {"time", iso8601_utc(e.time)}};
  }
  return {{"daemon", {{"pid", status.pid}, {"version", status.version}}},
          {"policy", std::move(policy)},
          {"interfaces",
           {{"count", status.interface_count},
            {"complete", status.view_complete},
            {"since", iso8601_utc(status.view_since)}}},
          {"last_error", std::move(last_error)}};
}

json interfaces_data(const DaemonStatus& status) {
  json list = json::array();
  for (const auto& i : status.interfaces) {
    json addresses = json::array();
    for (const auto& a : i.addresses) addresses.push_back(a.to_string());
    list.push_back({{"name", i.name},
                    {"ifindex", i.ifindex},
                    {"zone", i.zone ? json(*i.zone) : json(nullptr)},
                    {"state", state_name(i.state)},
                    {"addresses", std::move(addresses)}});
  }
  return {{"complete", status.view_complete},
          {"since", iso8601_utc(status.view_since)},
          {"interfaces", std::move(list)}};
}

}  // namespace netpolicy::daemon::control
