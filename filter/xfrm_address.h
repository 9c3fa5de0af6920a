#pragma once
// Addresses between IpPrefix and the kernel's xfrm_address_t (16 bytes; an
// IPv4 address in the first 4), shared by the XFRM policy, SA and event
// code.
#include <linux/xfrm.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>

#include "base/ip_prefix.h"

namespace netpolicy::filter {

inline std::uint16_t family_number(Family family) {
  return family == Family::ipv4 ? AF_INET : AF_INET6;
}

inline xfrm_address_t to_xfrm_address(const IpPrefix& prefix) {
  xfrm_address_t a{};
  std::memcpy(&a, prefix.bytes.data(), prefix.size());
  return a;
}

// `length` bits of `a`, of the kernel's address family `family`.
inline IpPrefix from_xfrm_address(const xfrm_address_t& a, std::uint16_t family,
                                  std::uint8_t length) {
  IpPrefix p;
  p.family = family == AF_INET6 ? Family::ipv6 : Family::ipv4;
  std::memcpy(p.bytes.data(), &a, p.size());
  p.length = length;
  return p;
}

// The whole address (/32 or /128).
inline IpPrefix host_from_xfrm_address(const xfrm_address_t& a, std::uint16_t family) {
  IpPrefix p = from_xfrm_address(a, family, 0);
  p.length = p.max_length();
  return p;
}

}  // namespace netpolicy::filter
