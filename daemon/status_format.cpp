#include "daemon/status_format.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <vector>

#include "daemon/json_text.h"

namespace netpolicy::daemon {

namespace {

using nlohmann::json;


// "Label:" padded so every value starts in the same column.
std::string line(std::string_view label, const std::string& value) {
  return fmt::format("{:<13}{}\n", fmt::format("{}:", label), value);
}

std::string view_text(const json& complete, const json& since) {
  if (!complete.is_boolean()) return "completeness unknown";
  return fmt::format("view {} since {}", complete.get<bool>() ? "complete" : "INCOMPLETE",
                     json_text(since));
}

}  // namespace

std::string format_status(const json& data) {
  std::string out;
  const json& policy = json_member(data, "policy");
  if (policy.is_null()) {
    out += line("Policy", "none applied");
  } else {
    out += line("Policy", fmt::format("{} ({})", json_text(policy, "path"), json_text(policy, "source")));
    out += line("SHA-256", json_text(policy, "sha256"));
    out += line("Applied at", json_text(policy, "applied_at"));
    out +=
        line("Rules", fmt::format("{} in {} zones", json_text(policy, "rules"), json_text(policy, "zones")));
  }
  const json& interfaces = json_member(data, "interfaces");
  out += line("Interfaces",
              fmt::format("{}; {}", json_text(interfaces, "count"),
                          view_text(json_member(interfaces, "complete"), json_member(interfaces, "since"))));

  const json& error = json_member(data, "last_error");
  if (error.is_null()) {
    out += line("Last error", "none");
  } else {
    out += line("Last error", fmt::format("{} (event {}) at {}", json_text(error, "event"),
                                          json_text(error, "event_id"), json_text(error, "time")));
    out += line("  message", json_text(error, "message"));
    if (!json_member(error, "errno").is_null())
      out += line("  errno", fmt::format("{} ({})", json_text(error, "errno"), json_text(error, "error")));
    if (!json_member(error, "location").is_null()) out += line("  location", json_text(error, "location"));
    if (!json_member(error, "interface").is_null()) out += line("  interface", json_text(error, "interface"));
  }
  const json& daemon = json_member(data, "daemon");
  out += line("Daemon",
              fmt::format("pid {}, version {}", json_text(daemon, "pid"), json_text(daemon, "version")));
  return out;
}

std::string format_interfaces(const json& data) {
  using Row = std::array<std::string, 5>;
  std::vector<Row> rows{{"NAME", "INDEX", "ZONE", "STATE", "ADDRESSES"}};
  const json& list = json_member(data, "interfaces");
  if (list.is_array()) {
    for (const auto& i : list) {
      std::string addresses;
      const json& a = json_member(i, "addresses");
      if (a.is_array())
        for (const auto& address : a) addresses += (addresses.empty() ? "" : ", ") + json_text(address);
      rows.push_back({json_text(i, "name"), json_text(i, "ifindex"), json_text(i, "zone"), json_text(i, "state"),
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
  const json& complete = json_member(data, "complete");
  if (complete.is_boolean() && !complete.get<bool>())
    out += fmt::format(
        "The interface view is incomplete since {}: interfaces not shown as protected keep the "
        "unknown_interfaces posture until it is complete again.\n",
        json_text(data, "since"));
  return out;
}

}  // namespace netpolicy::daemon
