#include "daemon/status_format.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <vector>

namespace netpolicy::daemon {

namespace {

using nlohmann::json;

const json& member(const json& object, const char* key) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

// A scalar as text; "-" when absent or null.
std::string text(const json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return value.get<std::string>();
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string text(const json& object, const char* key) {
  return text(member(object, key));
}

// "Label:" padded so every value starts in the same column.
std::string line(std::string_view label, const std::string& value) {
  return fmt::format("{:<13}{}\n", fmt::format("{}:", label), value);
}

std::string view_text(const json& complete, const json& since) {
  if (!complete.is_boolean()) return "completeness unknown";
  return fmt::format("view {} since {}", complete.get<bool>() ? "complete" : "INCOMPLETE",
                     text(since));
}

}  // namespace

std::string format_status(const json& data) {
  std::string out;
  const json& policy = member(data, "policy");
  if (policy.is_null()) {
    out += line("Policy", "none applied");
  } else {
    out += line("Policy", fmt::format("{} ({})", text(policy, "path"), text(policy, "source")));
    out += line("SHA-256", text(policy, "sha256"));
    out += line("Applied at", text(policy, "applied_at"));
    out +=
        line("Rules", fmt::format("{} in {} zones", text(policy, "rules"), text(policy, "zones")));
  }
  const json& interfaces = member(data, "interfaces");
  out += line("Interfaces",
              fmt::format("{}; {}", text(interfaces, "count"),
                          view_text(member(interfaces, "complete"), member(interfaces, "since"))));

  const json& error = member(data, "last_error");
  if (error.is_null()) {
    out += line("Last error", "none");
  } else {
    out += line("Last error", fmt::format("{} (event {}) at {}", text(error, "event"),
                                          text(error, "event_id"), text(error, "time")));
    out += line("  message", text(error, "message"));
    if (!member(error, "errno").is_null())
      out += line("  errno", fmt::format("{} ({})", text(error, "errno"), text(error, "error")));
    if (!member(error, "location").is_null()) out += line("  location", text(error, "location"));
    if (!member(error, "interface").is_null()) out += line("  interface", text(error, "interface"));
  }
  const json& daemon = member(data, "daemon");
  out += line("Daemon",
              fmt::format("pid {}, version {}", text(daemon, "pid"), text(daemon, "version")));
  return out;
}

std::string format_interfaces(const json& data) {
  using Row = std::array<std::string, 5>;
  std::vector<Row> rows{{"NAME", "INDEX", "ZONE", "STATE", "ADDRESSES"}};
  const json& list = member(data, "interfaces");
  if (list.is_array()) {
    for (const auto& i : list) {
      std::string addresses;
      const json& a = member(i, "addresses");
      if (a.is_array())
        for (const auto& address : a) addresses += (addresses.empty() ? "" : ", ") + text(address);
      rows.push_back({text(i, "name"), text(i, "ifindex"), text(i, "zone"), text(i, "state"),
                      addresses.empty() ? "-" : addresses});
    }
  }
  std::array<std::size_t, 5> width{};
  for (const auto& row : rows)
    for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());

  std::string out;
  for (const auto& row : rows) {
    std::string l;
    for (std::size_t c = 0; c < row.size(); ++c) {
      l += row[c];
      if (c + 1 < row.size()) l += std::string(width[c] - row[c].size() + 2, ' ');
    }
    out += l + "\n";
  }
  const json& complete = member(data, "complete");
  if (complete.is_boolean() && !complete.get<bool>())
    out += fmt::format(
        "The interface view is incomplete since {}: interfaces not shown as protected keep the "
        "unknown_interfaces posture until it is complete again.\n",
        text(data, "since"));
  return out;
}

}  // namespace netpolicy::daemon
