#include "policy/yaml_settings_ipsec.h"

#include <limits>

#include "filter/xfrm_model.h"

namespace netpolicy::policy::yaml {

namespace {
// XFRM policies cost a few hundred bytes of kernel memory each: 4M of them
// is over a gigabyte, certainly a mistake.
constexpr std::uint64_t kMaxProtectSelectors = 4u << 20;
// An IKE exchange takes well under a second; more than a day is a typo.
constexpr std::uint64_t kMaxSaMissingAfter = 86400;

const Field* find(std::span<const std::string_view> keys, const std::vector<Field>& fields,
                  std::string_view key) {
  for (std::size_t i = 0; i < keys.size() && i < fields.size(); ++i)
    if (keys[i] == key && fields[i].present) return &fields[i];
  return nullptr;
}
}  // namespace

void read_ipsec_settings(Reader& r, std::span<const std::string_view> keys,
                         const std::vector<Field>& fields, const KeyPath& path, Settings& out) {
  if (const Field* f = find(keys, fields, "xfrm_priority_base")) {
    // The band [base, base + 2^18) must fit the kernel's u32 priority; 0 is
    // where `ip xfrm policy add` puts policies that name no priority.
    if (auto v = read_integer(r, *f->value, f->value_at, path.child("xfrm_priority_base"), 1,
                              std::numeric_limits<std::uint32_t>::max() - filter::kXfrmBandWidth,
                              "xfrm_priority_base"))
      out.xfrm_priority_base = static_cast<std::uint32_t>(*v);
  }
  if (const Field* f = find(keys, fields, "max_protect_selectors")) {
    if (auto v = read_integer(r, *f->value, f->value_at, path.child("max_protect_selectors"), 1,
                              kMaxProtectSelectors, "max_protect_selectors"))
      out.max_protect_selectors = *v;
  }
  if (const Field* f = find(keys, fields, "sa_missing_after")) {
    if (auto v = read_integer(r, *f->value, f->value_at, path.child("sa_missing_after"), 1,
                              kMaxSaMissingAfter, "sa_missing_after"))
      out.sa_missing_after_seconds = *v;
  }
}

}  // namespace netpolicy::policy::yaml
