#include <charconv>
#include <unordered_map>

#include "base/ip_prefix.h"
#include "policy/yaml_sections.h"

namespace netpolicy::policy::yaml {

std::optional<std::string> host_bits_error(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto address = parse_ip_prefix(text.substr(0, slash));
  if (!address || address->length != address->max_length()) return std::nullopt;
  auto digits = text.substr(slash + 1);
  unsigned length = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
  if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() ||
      length > address->max_length())
    return std::nullopt;
  address->length = static_cast<std::uint8_t>(length);
  if (address->is_network()) return std::nullopt;
  return quote(text) + " has host bits set; did you mean " + quote(address->first().to_string()) +
         "?";
}

std::string address_error(std::string_view text) {
  if (auto host_bits = host_bits_error(text)) return *host_bits;
  return quote(text) + " is not an IPv4 or IPv6 address or prefix";
}

namespace {
void read_group(Reader& r, const Node& key, const Node& value, const KeyPath& path,
                std::unordered_map<std::string, Pos>& seen, std::vector<AddressGroup>& out) {
  const Pos key_at = r.diags.at(key);
  AddressGroup group;
  group.where = r.diags.location(key_at);
  if (auto name = read_name(r, key, key_at, path, "address group name")) {
    if (*name == "me")
      r.diags.error(key_at, path,
                    "'me' is reserved: in rules it means this host's own addresses; choose "
                    "another group name");
    auto [it, added] = seen.emplace(*name, key_at);
    if (!added)
      r.diags.error(key_at, path,
                    "duplicate address group " + quote(*name) + " (first defined at " +
                        it->second.str() + ")");
    group.name = std::move(*name);
  }
  // Messages name the group by its key, even an invalid one.
  const KeyPath group_path = path.child(key.is_scalar() ? std::string_view{key.text} : "?");
  const Pos at = r.diags.at_value(key, value);
  if (expect_list(r, value, at, group_path, "a list of addresses or prefixes",
                  r.limits.max_group_entries, "entries")) {
    if (value.size() == 0)
      r.diags.error(at, group_path, "an address group needs at least one address or prefix");
    for (std::size_t i = 0; i < value.size(); ++i) {
      const Node& item = value.element(i);
      if (!r.visit(item)) return;
      const KeyPath entry_path = group_path.element(i);
      const Pos entry_at = r.diags.at(item);
      auto text = read_string(r, item, entry_at, entry_path, "an address or prefix");
      if (!text) continue;
      if (auto prefix = parse_ip_prefix(*text))
        group.prefixes.push_back(*prefix);
      else
        r.diags.error(entry_at, entry_path, address_error(*text));
    }
  }
  out.push_back(std::move(group));
}
}  // namespace

void read_addresses(Reader& r, const Field& section, std::vector<AddressGroup>& out) {
  const KeyPath root;
  const KeyPath path = root.child("addresses");
  if (!expect_map(r, *section.value, section.value_at, path,
                  "a mapping of address group names to lists of addresses"))
    return;
  if (section.value->size() > r.limits.max_groups) {
    r.diags.error(section.value_at, path,
                  std::to_string(section.value->size()) + " address groups exceed the limit of " +
                      std::to_string(r.limits.max_groups));
    return;
  }
  // The tree keeps every duplicate key of a mapping; they are caught here.
  const Node& groups = *section.value;
  std::unordered_map<std::string, Pos> seen;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    if (!r.visit(groups.key(i))) return;
    read_group(r, groups.key(i), groups.value(i), path, seen, out);
  }
}

}  // namespace netpolicy::policy::yaml
