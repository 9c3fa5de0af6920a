#pragma once
// `action: protect` rules -> the XFRM policies that make the kernel carry
// their traffic only inside IPsec. Pure, like the rest of the compiler.
//
// Each protect rule describes a flow: from its `from` to its `to`, protocol
// and destination ports. Its policies cover both directions of that flow:
//   direction in:      in  (from -> to, dport)   out (to -> from, sport)
//   direction out:     out (from -> to, dport)   in  (to -> from, sport)
//   direction forward: out and fwd for both directions (forwarded traffic
//                      is encrypted on the way out, checked on the way in)
// Selectors: every source prefix x every destination prefix of the same
// family x every port (a range is expanded to one policy per port; the
// loader caps the total at settings.max_protect_selectors). `me` and
// `zone:NAME` stand for any address of their family: an XFRM selector
// cannot follow the interfaces, and a wider selector only protects more.
// Priority: settings.xfrm_priority_base + the rule's index in the policy,
// so the first matching rule wins as in nft. Two rules with the same
// selector and direction yield one policy, the first rule's (the kernel
// keeps one per selector and direction).
//
// Each `keying: manual` profile adds two SAs (XfrmState::sas), keys
// included: out from its local to its remote address with manual.out's
// SPI and key, in from remote to local with manual.in's; mode, reqid and
// protocol are the profile's, so its policies' templates find them.
#include <cstdint>

#include "filter/xfrm_model.h"
#include "policy/policy.h"

namespace netpolicy::policy {

// How many XFRM policies `rule` expands to before duplicates are merged
// (0 for rules that are not protect rules). Cheap: nothing is built.
std::uint64_t protect_policy_count(const Policy& policy, const Rule& rule);

filter::XfrmState compile_xfrm(const Policy& policy);

// The band of a policy's settings: [base, base + kXfrmBandWidth - 1].
filter::XfrmBand xfrm_band(const Settings& settings);

}  // namespace netpolicy::policy
