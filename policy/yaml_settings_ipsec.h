#pragma once
// The IPsec keys of `settings` (xfrm_priority_base, max_protect_selectors,
// sa_missing_after), read from the fields read_settings has split out.
#include <span>
#include <string_view>
#include <vector>

#include "policy/policy.h"
#include "policy/yaml_reader.h"

namespace netpolicy::policy::yaml {

inline constexpr std::string_view kIpsecSettingKeys[] = {
    "xfrm_priority_base", "max_protect_selectors", "sa_missing_after"};

// `keys` and `fields` are read_fields' input and output for the whole
// settings mapping; the IPsec keys are found in them by name.
void read_ipsec_settings(Reader& r, std::span<const std::string_view> keys,
                         const std::vector<Field>& fields, const KeyPath& path, Settings& out);

}  // namespace netpolicy::policy::yaml

namespace netpolicy::policy::yaml {

// Refuses, at the first protect rule that crosses it, a policy whose
// protect rules expand to more XFRM policies than
// settings.max_protect_selectors (see xfrm_compiler.h for the expansion);
// and protect rules whose peer does not fit their manual profile
// (yaml_ipsec_manual.h).
void check_protect_expansion(Reader& r, const Policy& policy);

}  // namespace netpolicy::policy::yaml
