#pragma once
// Reading the daemon's JSON replies for display: a missing member or null
// shows as "-", so a reply from an older or newer daemon still prints.
#include <nlohmann/json.hpp>

#include <string>

namespace netpolicy::daemon {

// object[key], or null when `object` is not an object or lacks `key`.
inline const nlohmann::json& json_member(const nlohmann::json& object, const char* key) {
  static const nlohmann::json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

// A scalar as text; "-" when absent or null.
inline std::string json_text(const nlohmann::json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return value.get<std::string>();
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

inline std::string json_text(const nlohmann::json& object, const char* key) {
  return json_text(json_member(object, key));
}

}  // namespace netpolicy::daemon
