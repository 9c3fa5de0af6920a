#pragma once
// The XFRM (IPsec policy database) part of DesiredState: the policies
// netpolicyd wants in the kernel for `action: protect` rules, as plain
// structs. The compiler produces them; filter/xfrm_text.h renders them like
// `ip xfrm policy` and filter/xfrm_backend.h puts them in the kernel.
//
// netpolicyd's policies are recognised by their priority alone: everything
// in [band_first, band_last] is netpolicyd's, everything else (an IKE
// daemon's, an administrator's) is never read back, changed or deleted.
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/ip_prefix.h"
#include "filter/xfrm_sa.h"

namespace netpolicy::filter {

// The kernel's XFRM_POLICY_IN / OUT / FWD values.
enum class XfrmDir : std::uint8_t { in = 0, out = 1, fwd = 2 };

// What a policy applies to. A port of 0 means any; ports only with tcp/udp.
struct XfrmSelector {
  Family family = Family::ipv4;
  IpPrefix src;  // 0.0.0.0/0 (::/0) = any
  IpPrefix dst;
  std::uint8_t proto = 0;  // 0 = any
  std::uint16_t sport = 0;
  std::uint16_t dport = 0;
  friend bool operator==(const XfrmSelector&, const XfrmSelector&) = default;
  friend auto operator<=>(const XfrmSelector&, const XfrmSelector&) = default;
};

// The one template of a policy: which SA the traffic must go through.
struct XfrmTemplate {
  std::uint32_t reqid = 0;
  std::uint8_t proto = 50;  // esp 50 | ah 51
  bool tunnel = false;      // tunnel mode: tunnel_src -> tunnel_dst
  std::optional<IpPrefix> tunnel_src;
  std::optional<IpPrefix> tunnel_dst;
  bool required = true;  // false: `level use` (clear text when no SA exists)
  friend bool operator==(const XfrmTemplate&, const XfrmTemplate&) = default;
};

struct XfrmPolicy {
  XfrmSelector selector;
  XfrmDir dir = XfrmDir::out;
  std::uint32_t priority = 0;  // lower wins; inside netpolicyd's band
  XfrmTemplate tmpl;
  std::string rule;     // the policy rule it comes from (not in the kernel)
  std::string profile;  // its ipsec profile (not in the kernel)

  // The kernel keeps one policy per (direction, selector) — a second one
  // is EEXIST whatever its priority — so that pair identifies a policy.
  [[nodiscard]] bool same_key(const XfrmPolicy& other) const {
    return dir == other.dir && selector == other.selector;
  }
  // Equal as the kernel stores it: rule and profile names are ours only.
  [[nodiscard]] bool same_in_kernel(const XfrmPolicy& other) const {
    return same_key(other) && priority == other.priority && tmpl == other.tmpl;
  }
  friend bool operator==(const XfrmPolicy&, const XfrmPolicy&) = default;
};

// netpolicyd's priority band: [first, last].
struct XfrmBand {
  std::uint32_t first = 0;
  std::uint32_t last = 0;
  [[nodiscard]] bool contains(std::uint32_t priority) const {
    return priority >= first && priority <= last;
  }
  friend bool operator==(const XfrmBand&, const XfrmBand&) = default;
};

// The band's width: one priority per policy rule (rules are limited to
// 200,000 by the loader), first match = lowest number.
inline constexpr std::uint32_t kXfrmBandWidth = 1u << 18;

struct XfrmState {
  XfrmBand band;
  std::vector<XfrmPolicy> policies;  // no two with the same key
  // Manually keyed SAs (keying: manual), no two with the same id(). They
  // go in before the policies that need them (xfrm_sa.h: which are ours).
  std::vector<XfrmSa> sas;
  friend bool operator==(const XfrmState&, const XfrmState&) = default;
};

}  // namespace netpolicy::filter
