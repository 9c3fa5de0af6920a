#pragma once
// netpolicyctl's human-readable output for `status` and `interfaces`: the
// `data` of the daemon's reply (control_protocol.h) as aligned text. A
// field the reply lacks shows as "-" (an older or newer daemon), never as
// an error.
#include <nlohmann/json.hpp>
#include <string>

namespace netpolicy::daemon {

// "Policy:      /etc/netpolicy/policy.yaml (local)" and so on, one line each.
std::string format_status(const nlohmann::json& data);

// A table NAME INDEX ZONE STATE ADDRESSES, columns aligned, one row per
// interface, and a closing line when the view is incomplete.
std::string format_interfaces(const nlohmann::json& data);

}  // namespace netpolicy::daemon
