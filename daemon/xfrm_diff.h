#pragma once
// `netpolicyctl diff`, XFRM half: what replacing netpolicyd's XFRM
// policies and manual SAs by another set would add, remove and change.
// Both sides are render_xfrm() text (filter/xfrm_text.h): objects that each
// start with a "# ..." line naming their rule or profile. A policy is known
// by its direction and selector, an SA by its endpoints and SPI — what the
// kernel itself keys them by. Keys are redacted in that text, so a changed
// key file shows no difference here.
#include <string>
#include <vector>

namespace netpolicy::daemon {

// One line per difference, sorted by object:
//   "+ xfrm policy dir out src A dst B proto tcp dport 5432"   added
//   "- xfrm state src A dst B proto esp spi 0x00001001"        removed
//   "~ xfrm policy dir in src A dst B: OLD -> NEW"             changed, each
//     side its kernel lines joined with "; "
// Empty when both are the same.
std::vector<std::string> diff_xfrm(const std::string& before, const std::string& after);

}  // namespace netpolicy::daemon
