#include "base/ip_prefix.h"

#include <arpa/inet.h>

#include <charconv>

namespace netpolicy {

std::string format_address(Family family, const std::uint8_t* bytes) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == Family::ipv4 ? AF_INET : AF_INET6, bytes, buf, sizeof buf);
  return buf;
}

std::string IpPrefix::to_string() const {
  std::string text = format_address(family, bytes.data());
  if (length != max_length()) text += "/" + std::to_string(length);
  return text;
}

namespace {
// Sets (all_ones) or clears every bit at or after `length`.
IpPrefix fill_host_bits(IpPrefix p, bool all_ones) {
  for (std::size_t bit = p.length; bit < p.size() * 8; ++bit) {
    auto mask = static_cast<std::uint8_t>(0x80u >> (bit % 8));
    if (all_ones)
      p.bytes[bit / 8] |= mask;
    else
      p.bytes[bit / 8] &= static_cast<std::uint8_t>(~mask);
  }
  return p;
}
}  // namespace

bool IpPrefix::is_network() const { return fill_host_bits(*this, false) == *this; }
IpPrefix IpPrefix::first() const { return fill_host_bits(*this, false); }
IpPrefix IpPrefix::last() const { return fill_host_bits(*this, true); }

std::optional<IpPrefix> parse_ip_prefix(std::string_view text) {
  IpPrefix p;
  std::string_view address = text;
  std::optional<unsigned> length;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    address = text.substr(0, slash);
    auto digits = text.substr(slash + 1);
    unsigned n = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size()) return std::nullopt;
    length = n;
  }
  std::string addr{address};
  if (inet_pton(AF_INET, addr.c_str(), p.bytes.data()) == 1) {
    p.family = Family::ipv4;
  } else if (inet_pton(AF_INET6, addr.c_str(), p.bytes.data()) == 1) {
    p.family = Family::ipv6;
  } else {
    return std::nullopt;
  }
  unsigned max = p.max_length();
  if (length && *length > max) return std::nullopt;
  p.length = static_cast<std::uint8_t>(length.value_or(max));
  if (!p.is_network()) return std::nullopt;
  return p;
}

}  // namespace netpolicy
