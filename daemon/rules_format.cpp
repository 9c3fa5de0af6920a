#include "daemon/rules_format.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "daemon/json_text.h"

namespace netpolicy::daemon {

namespace {

using nlohmann::json;


// Columns separated by two spaces; those in `right` aligned right (numbers).
std::string table(const std::vector<std::vector<std::string>>& rows,
                  const std::vector<bool>& right) {
  std::vector<std::size_t> width(right.size(), 0);
  for (const auto& row : rows)
    for (std::size_t c = 0; c < row.size() && c < width.size(); ++c)
      width[c] = std::max(width[c], row[c].size());
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t c = 0; c < row.size() && c < width.size(); ++c) {
      const std::string pad(width[c] - row[c].size(), ' ');
      const bool last = c + 1 == row.size();
      line += right[c] ? pad + row[c] : row[c] + (last ? "" : pad);
      if (!last) line += "  ";
    }
    out += line + "\n";
  }
  return out;
}

// FILE relative to the main policy file's directory when it is inside it
// (policy.d/10-web.yaml); a central policy's URL or path as it is.
std::string shown_file(const std::string& file, const std::string& main_path) {
  const auto slash = main_path.rfind('/');
  if (slash == std::string::npos) return file;
  const std::string dir = main_path.substr(0, slash + 1);
  if (file.size() > dir.size() && file.compare(0, dir.size(), dir) == 0)
    return file.substr(dir.size());
  return file;
}

std::string zones_text(const json& rule) {
  if (json_member(rule, "every_zone") == json(true)) return "all";
  const json& zones = json_member(rule, "zones");
  if (!zones.is_array() || zones.empty()) return "-";
  std::string out;
  for (const auto& z : zones) out += (out.empty() ? "" : ",") + json_text(z);
  return out;
}

std::string action_text(const json& rule) {
  std::string action = json_text(rule, "action");
  const json& ipsec = json_member(rule, "ipsec");
  if (ipsec.is_string()) action += " (" + ipsec.get<std::string>() + ")";
  return action;
}

}  // namespace

std::string format_rules(const json& data) {
  const json& policy = json_member(data, "policy");
  const std::string main_path = json_member(policy, "path").is_string()
                                    ? json_member(policy, "path").get<std::string>()
                                    : std::string{};
  std::string out =
      fmt::format("Table inet {}, policy {} ({}); counters read at {}\n\n", json_text(data, "table"),
                  json_text(policy, "path"), json_text(policy, "source"), json_text(data, "read_at"));

  std::vector<std::vector<std::string>> rows{
      {"RULE", "SOURCE", "DIR", "ZONES", "ACTION", "PACKETS", "BYTES"}};
  std::vector<std::string> notes;
  const json& rules = json_member(data, "rules");
  if (rules.is_array()) {
    for (const auto& r : rules) {
      const json& file = json_member(r, "file");
      std::string where =
          json_text(r, "source") + " " +
          (file.is_string() ? shown_file(file.get<std::string>(), main_path) : std::string{"-"});
      if (json_member(r, "line").is_number_integer() && json_member(r, "line").get<int>() > 0)
        where += ":" + json_text(r, "line");
      rows.push_back({json_text(r, "name"), where, json_text(r, "direction"), zones_text(r), action_text(r),
                      json_text(r, "packets"), json_text(r, "bytes")});
      if (json_member(r, "note").is_string()) notes.push_back(json_text(r, "name") + ": " + json_text(r, "note"));
    }
  }
  if (rows.size() == 1) out += "The policy in force has no rules.\n";
  out += table(rows, {false, false, false, false, false, true, true});

  std::vector<std::vector<std::string>> builtin_rows{
      {"BUILT-IN", "ACTION", "PACKETS", "BYTES", "WHAT"}};
  const json& builtin = json_member(data, "builtin");
  if (builtin.is_array()) {
    for (const auto& b : builtin) {
      builtin_rows.push_back({json_text(b, "name"), json_text(b, "action"), json_text(b, "packets"),
                              json_text(b, "bytes"), json_text(b, "description")});
      if (json_member(b, "note").is_string()) notes.push_back(json_text(b, "name") + ": " + json_text(b, "note"));
    }
  }
  out += "\n" + table(builtin_rows, {false, false, true, true, false});

  const json& general = json_member(data, "notes");
  if (general.is_array())
    for (const auto& n : general) notes.push_back(json_text(n));
  if (!notes.empty()) {
    out += "\n";
    for (const auto& n : notes) out += "Note: " + n + "\n";
  }
  return out;
}

}  // namespace netpolicy::daemon
