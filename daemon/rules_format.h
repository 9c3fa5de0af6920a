#pragma once
// netpolicyctl's human-readable output for `rules`: the `data` of the
// daemon's reply (rules_report.h) as two aligned tables — the policy's
// rules, then the built-in ones — and the notes. A field the reply lacks
// shows as "-", never as an error.
#include <nlohmann/json.hpp>
#include <string>

namespace netpolicy::daemon {

std::string format_rules(const nlohmann::json& data);

}  // namespace netpolicy::daemon
