#include <unordered_map>

#include "policy/yaml_sections.h"

namespace netpolicy::policy::yaml {

namespace {
// IFNAMSIZ - 1: the longest interface name the kernel accepts, so a longer
// pattern could only match through '*', which is surely not what was meant.
constexpr std::size_t kMaxInterfaceName = 15;

std::optional<std::string> read_interface_pattern(Reader& r, const Node& node, Pos at,
                                                  const KeyPath& path) {
  auto text = read_string(r, node, at, path, "an interface name or pattern");
  if (!text) return std::nullopt;
  if (text->empty()) {
    r.diags.error(at, path, "interface pattern is empty");
    return std::nullopt;
  }
  if (text->size() > kMaxInterfaceName) {
    r.diags.error(at, path,
                  "interface pattern " + quote(*text) + " is longer than " +
                      std::to_string(kMaxInterfaceName) + " bytes");
    return std::nullopt;
  }
  for (char c : *text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '/' || c == ':' || u <= 0x20 || u == 0x7f) {
      r.diags.error(at, path,
                    "interface pattern " + quote(*text) +
                        " contains '/', ':', whitespace or a control character, which no "
                        "interface name can");
      return std::nullopt;
    }
  }
  return text;
}

void read_zone(Reader& r, const Node& node, const KeyPath& path,
               std::unordered_map<std::string, Pos>& seen, std::vector<Zone>& out) {
  const Pos at = r.diags.at(node);
  if (!expect_map(r, node, at, path, "a zone (a mapping with name and interfaces)")) return;
  static constexpr std::string_view keys[] = {"name", "interfaces"};
  auto fields = read_fields(r, node, path, keys);
  Zone zone;
  zone.where = r.diags.location(at);
  if (require(r, fields[0], "name", at, path)) {
    const Field& f = fields[0];
    if (auto name = read_name(r, *f.value, f.value_at, path.child("name"), "zone name")) {
      auto [it, added] = seen.emplace(*name, f.value_at);
      if (!added)
        r.diags.error(
            f.value_at, path.child("name"),
            "duplicate zone name " + quote(*name) + " (first defined at " + it->second.str() + ")");
      zone.name = std::move(*name);
    }
  }
  if (require(r, fields[1], "interfaces", at, path)) {
    const Field& f = fields[1];
    const KeyPath list_path = path.child("interfaces");
    if (expect_list(r, *f.value, f.value_at, list_path, "a list of interface names or patterns",
                    r.limits.max_interface_globs, "interface patterns")) {
      if (f.value->size() == 0)
        r.diags.error(f.value_at, list_path, "a zone needs at least one interface name or pattern");
      for (std::size_t i = 0; i < f.value->size(); ++i) {
        const Node& item = f.value->element(i);
        if (!r.visit(item)) return;
        if (auto glob = read_interface_pattern(r, item, r.diags.at(item), list_path.element(i)))
          zone.interfaces.push_back(std::move(*glob));
      }
    }
  }
  out.push_back(std::move(zone));
}
}  // namespace

void read_zones(Reader& r, const Field& section, std::vector<Zone>& out) {
  const KeyPath root;
  const KeyPath path = root.child("zones");
  if (!expect_list(r, *section.value, section.value_at, path, "a list of zones", r.limits.max_zones,
                   "zones"))
    return;
  std::unordered_map<std::string, Pos> seen;
  for (std::size_t i = 0; i < section.value->size(); ++i) {
    const Node& item = section.value->element(i);
    if (!r.visit(item)) return;
    read_zone(r, item, path.element(i), seen, out);
  }
}

}  // namespace netpolicy::policy::yaml
