#include "policy/xfrm_compiler.h"
#include "policy/yaml_ipsec_manual.h"
#include "policy/yaml_settings_ipsec.h"

namespace netpolicy::policy::yaml {

void check_protect_expansion(Reader& r, const Policy& policy) {
  check_manual_rules(r, policy);
  const std::uint64_t cap = policy.settings.max_protect_selectors;
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < policy.rules.size(); ++i) {
    const Rule& rule = policy.rules[i];
    const std::uint64_t n = protect_policy_count(policy, rule);
    total += n;
    if (total <= cap) continue;
    const KeyPath root;
    r.diags.error(Pos{rule.where.line, rule.where.column}, root.child("rules").element(i),
                  "protect rule '" + rule.name + "' expands to " + std::to_string(n) +
                      " XFRM policies (addresses x ports x directions), " +
                      std::to_string(total) + " with the protect rules before it: more than " +
                      "settings.max_protect_selectors (" + std::to_string(cap) +
                      "); list fewer ports or addresses, or raise the cap");
    return;
  }
}

}  // namespace netpolicy::policy::yaml
