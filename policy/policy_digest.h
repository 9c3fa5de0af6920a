#pragma once
// The digest that identifies a policy in events (POLICY_SHA256).
#include <string>
#include <string_view>

namespace netpolicy::policy {

// SHA-256 of `bytes`, as 64 lowercase hex digits.
std::string sha256_hex(std::string_view bytes);

}  // namespace netpolicy::policy
