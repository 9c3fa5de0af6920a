#pragma once
// An IPv4 or IPv6 address with a prefix length, in network byte order.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace netpolicy {

enum class Family : std::uint8_t { ipv4, ipv6 };

struct IpPrefix {
  Family family = Family::ipv4;
  std::array<std::uint8_t, 16> bytes{};  // only the first 4 are used for ipv4
  std::uint8_t length = 0;               // prefix length in bits

  [[nodiscard]] std::size_t size() const { return family == Family::ipv4 ? 4 : 16; }
  [[nodiscard]] std::uint8_t max_length() const { return family == Family::ipv4 ? 32 : 128; }
  // "10.0.0.0/8", or the bare address when it is a host (/32, /128).
  [[nodiscard]] std::string to_string() const;
  // True when no host bit below the prefix length is set.
  [[nodiscard]] bool is_network() const;
  // First and last address covered by the prefix.
  [[nodiscard]] IpPrefix first() const;
  [[nodiscard]] IpPrefix last() const;

  friend bool operator==(const IpPrefix&, const IpPrefix&) = default;
  friend auto operator<=>(const IpPrefix&, const IpPrefix&) = default;
};

// Parses "192.0.2.1", "10.0.0.0/8", "fd00::1", "fd00:10::/64". Returns
// nullopt on anything else, including host bits set below the prefix length
// (as "10.0.0.1/8"), which is almost always a typo in a policy.
std::optional<IpPrefix> parse_ip_prefix(std::string_view text);

// Formats the first `family` bytes as an address without a length.
std::string format_address(Family family, const std::uint8_t* bytes);

}  // namespace netpolicy
