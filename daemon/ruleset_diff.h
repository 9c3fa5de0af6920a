#pragma once
// `netpolicyctl diff`: what replacing one nft table by another would add,
// remove and change, object by object. Both sides are render_nft() text of
// a DesiredState (the policy in force and the one FILE compiles to), so they
// are compared in the renderer's own terms: sets and maps by their
// properties and elements, chains by their rules, a rule known by its
// comment (the policy rule name) when it has one.
#include <string>
#include <vector>

namespace netpolicy::daemon {

// One line per difference, in table order:
//   "+ set NAME" / "- chain NAME"                  object added / removed
//   "~ set NAME: + element X" / "- element X"       element added / removed
//   "~ set NAME: type ipv4_addr -> ipv6_addr"        a property changed
//   "~ chain NAME: + rule LINE" / "- rule LINE"      rule added / removed
//   "~ chain NAME: rule 'C': OLD -> NEW"             rule with comment C changed
//   "~ chain NAME: rule order changed"
// Empty when the tables are the same.
std::vector<std::string> diff_rulesets(const std::string& before, const std::string& after);

}  // namespace netpolicy::daemon
