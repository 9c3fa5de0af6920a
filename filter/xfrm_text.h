#pragma once
// XfrmState as text in the layout of `ip xfrm policy` (iproute2 6.1), each
// policy preceded by a `# rule R, profile P` line naming where it comes
// from; the manual SAs before them like `ip xfrm state`, keys redacted
// (xfrm_sa_text.h). Pure: used by the golden tests and by `netpolicyctl
// export`.
#include <string>

#include "filter/xfrm_model.h"

namespace netpolicy::filter {

std::string render_xfrm(const XfrmState& state);
std::string render_xfrm_policy(const XfrmPolicy& policy);  // without the comment line
// "dir out src 10.0.0.1/32 dst 10.0.0.2/32 proto tcp dport 22": one line
// naming a policy in errors and events.
std::string describe_xfrm_policy(const XfrmPolicy& policy);

}  // namespace netpolicy::filter
