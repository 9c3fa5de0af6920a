#include <charconv>
#include <unordered_map>

#include "base/ip_prefix.h"
#include "policy/yaml_sections.h"

namespace netpolicy::policy::yaml {

namespace {
constexpr std::string_view kKeys[] = {"name",     "direction", "zones",  "from", "to",
                                      "protocol", "ports",     "action", "ipsec"};
enum : std::size_t { kName, kDirection, kZones, kFrom, kTo, kProtocol, kPorts, kAction, kIpsec };

constexpr Choice<Direction> kDirections[] = {
    {"in", Direction::in}, {"out", Direction::out}, {"forward", Direction::forward}};
constexpr Choice<Action> kActions[] = {
    {"allow", Action::allow}, {"block", Action::block}, {"protect", Action::protect}};

struct ProtocolName {
  std::string_view word;
  std::optional<std::uint8_t> number;  // nullopt: any
};
constexpr ProtocolName kProtocols[] = {
    {"tcp", proto::tcp}, {"udp", proto::udp}, {"icmp", proto::icmp}, {"icmpv6", proto::icmpv6},
    {"esp", proto::esp}, {"ah", proto::ah},   {"any", std::nullopt}};
constexpr std::string_view kProtocolWords[] = {"tcp", "udp", "icmp", "icmpv6", "esp", "ah", "any"};

// Address keywords that follow the interfaces: `me` (every address of this
// host) and `zone:NAME` (the addresses on zone NAME's interfaces). Group
// names cannot contain ':', and the group name "me" is refused.
constexpr std::string_view kMe = "me";
constexpr std::string_view kZonePrefix = "zone:";

// Address families as bits, to intersect a rule's from and to.
using Families = std::uint8_t;
constexpr Families kIpv4 = 1;
constexpr Families kIpv6 = 2;
constexpr Families kAnyFamily = kIpv4 | kIpv6;
Families family_bit(Family f) {
  return f == Family::ipv4 ? kIpv4 : kIpv6;
}
const char* families_text(Families f) {
  return f == kIpv4 ? "IPv4 only" : "IPv6 only";
}

// Names defined in one section, indexed once so every reference is O(1).
// Views point into the Policy's vectors, which do not change while rules
// are read.
template <typename Value>
struct NameIndex {
  std::vector<std::string_view> names;  // file order, for hints
  std::unordered_map<std::string_view, Value> values;
  void add(std::string_view name, Value value) {
    if (name.empty()) return;  // an invalid name, already reported
    if (values.emplace(name, value).second) names.push_back(name);
  }
  const Value* find(std::string_view name) const {
    auto it = values.find(name);
    return it == values.end() ? nullptr : &it->second;
  }
};

struct Context {
  NameIndex<bool> zones;
  NameIndex<Families> groups;  // 0: the group has no valid entry (reported)
  NameIndex<bool> profiles;
  std::unordered_map<std::string, Pos> rule_names;
};

Context index_names(const Policy& policy) {
  Context c;
  for (const Zone& z : policy.zones) c.zones.add(z.name, true);
  for (const AddressGroup& g : policy.addresses) {
    Families f = 0;
    for (const IpPrefix& p : g.prefixes) f |= family_bit(p.family);
    c.groups.add(g.name, f);
  }
  for (const IpsecProfile& p : policy.ipsec) c.profiles.add(p.name, true);
  return c;
}

// Rule lists are lists even with one entry; a bare scalar is a common slip
// worth a precise hint.
bool expect_rule_list(Reader& r, const Field& f, const KeyPath& path, std::string_view what,
                      std::string_view things, std::string_view empty_hint) {
  if (f.value->is_scalar()) {
    const std::string& value = f.value->text;
    const std::string shown = quote(value);
    std::string text = "expected " + std::string{what} + ", got a single value " + shown;
    if (shown.size() == value.size() + 2) text += "; write [" + value + "]";  // shown as is
    r.diags.error(f.value_at, path, text);
    return false;
  }
  if (!expect_list(r, *f.value, f.value_at, path, what, r.limits.max_rule_entries, things))
    return false;
  if (f.value->size() == 0) {
    r.diags.error(f.value_at, path, "empty list; " + std::string{empty_hint});
    return false;
  }
  return true;
}

struct ProtocolRead {
  bool ok = true;                      // false: reported, skip checks that need it
  std::optional<std::uint8_t> number;  // nullopt: any
};

ProtocolRead read_protocol(Reader& r, const Field& f, const KeyPath& path) {
  if (f.value->is_scalar()) {
    const std::string& s = f.value->text;
    for (const ProtocolName& p : kProtocols)
      if (s == p.word) return {true, p.number};
    unsigned long long n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (!s.empty() && end == s.data() + s.size()) {
      if (ec == std::errc{} && n <= 255) return {true, static_cast<std::uint8_t>(n)};
      r.diags.error(
          f.value_at, path,
          "protocol " + (s.size() > 24 ? s.substr(0, 24) + "..." : s) + " is out of range 0-255");
      return {false, std::nullopt};
    }
  }
  std::string text =
      "expected one of tcp, udp, icmp, icmpv6, esp, ah, any or a protocol number "
      "0-255, got " +
      describe(*f.value);
  if (f.value->is_scalar()) text += r.hint(f.value->text, kProtocolWords);
  r.diags.error(f.value_at, path, text);
  return {false, std::nullopt};
}

std::string protocol_text(std::uint8_t number) {
  for (const ProtocolName& p : kProtocols)
    if (p.number == number) return std::string{p.word};
  return "protocol " + std::to_string(number);
}

// "N" or "A-B", from a YAML integer or string.
std::optional<PortRange> read_port(Reader& r, const Node& node, Pos at, const KeyPath& path) {
  const char* expected = "expected a port number or a range \"A-B\", got ";
  if (!node.is_scalar()) {
    r.diags.error(at, path, expected + describe(node));
    return std::nullopt;
  }
  const std::string& s = node.text;
  // A number, or nullopt when `digits` is not all digits; too many digits
  // for the type read as "too big", which is simply out of range.
  auto parse = [](std::string_view digits) -> std::optional<unsigned long long> {
    unsigned long long n = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (digits.empty() || end != digits.data() + digits.size()) return std::nullopt;
    return ec == std::errc{} ? n : ~0ull;
  };
  const auto dash = s.find('-', 1);
  const std::string_view first_text =
      dash == std::string::npos ? std::string_view{s} : std::string_view{s}.substr(0, dash);
  const std::string_view last_text =
      dash == std::string::npos ? std::string_view{s} : std::string_view{s}.substr(dash + 1);
  const auto first = parse(first_text);
  const auto last = parse(last_text);
  if (!first || !last) {
    r.diags.error(at, path, expected + describe(node));
    return std::nullopt;
  }
  for (auto [n, text] : {std::pair{*first, first_text}, std::pair{*last, last_text}}) {
    if (n < 1 || n > 65535) {
      const std::string shown =
          text.size() > 24 ? std::string{text.substr(0, 24)} + "..." : std::string{text};
      r.diags.error(at, path, "port " + shown + " is out of range 1-65535");
      return std::nullopt;
    }
  }
  if (*first > *last) {
    r.diags.error(at, path,
                  "port range " + quote(s) + " is reversed; did you mean " +
                      quote(std::to_string(*last) + "-" + std::to_string(*first)) + "?");
    return std::nullopt;
  }
  return PortRange{static_cast<std::uint16_t>(*first), static_cast<std::uint16_t>(*last)};
}

void read_ports(Reader& r, const Field& f, const KeyPath& path, std::vector<PortRange>& out) {
  if (!expect_rule_list(r, f, path, "a list of ports", "ports",
                        "leave 'ports' out to match any port"))
    return;
  for (std::size_t i = 0; i < f.value->size(); ++i) {
    const Node& item = f.value->element(i);
    if (!r.visit(item)) return;
    if (auto port = read_port(r, item, r.diags.at(item), path.element(i))) out.push_back(*port);
  }
}

void read_zone_refs(Reader& r, const Field& f, const KeyPath& path, const Context& c,
                    std::vector<std::string>& out) {
  if (!expect_rule_list(r, f, path, "a list of zone names", "zones",
                        "leave 'zones' out to match every zone"))
    return;
  for (std::size_t i = 0; i < f.value->size(); ++i) {
    const Node& item = f.value->element(i);
    if (!r.visit(item)) return;
    const KeyPath entry_path = path.element(i);
    const Pos at = r.diags.at(item);
    auto name = read_string(r, item, at, entry_path, "a zone name");
    if (!name) continue;
    if (c.zones.find(*name) == nullptr) {
      r.diags.error(at, entry_path,
                    "undefined zone " + quote(*name) + r.hint(*name, c.zones.names, "zones"));
      continue;
    }
    out.push_back(std::move(*name));
  }
}

// Reads a from/to list; returns the address families it covers, or 0 when
// an entry was wrong (already reported) so family checks are skipped.
Families read_address_refs(Reader& r, const Field& f, const KeyPath& path, const Context& c,
                           std::string_view key, std::vector<AddressRef>& out) {
  if (!expect_rule_list(r, f, path, "a list of address group names or addresses", "entries",
                        "leave '" + std::string{key} + "' out to match any address"))
    return 0;
  Families families = 0;
  bool complete = true;
  for (std::size_t i = 0; i < f.value->size(); ++i) {
    const Node& item = f.value->element(i);
    if (!r.visit(item)) return 0;
    const KeyPath entry_path = path.element(i);
    const Pos at = r.diags.at(item);
    auto text = read_string(r, item, at, entry_path, "an address group name or an address");
    if (!text) {
      complete = false;
      continue;
    }
    AddressRef ref;
    ref.where = r.diags.location(at);
    if (*text == kMe) {
      families |= kAnyFamily;  // whatever the host has, v4 and v6
      ref.me = true;
    } else if (text->starts_with(kZonePrefix)) {
      const std::string zone = text->substr(kZonePrefix.size());
      if (c.zones.find(zone) == nullptr) {
        complete = false;
        r.diags.error(at, entry_path,
                      "undefined zone " + quote(zone) + " in " + quote(*text) +
                          r.hint(zone, c.zones.names, "zones"));
        continue;
      }
      families |= kAnyFamily;
      ref.zone = zone;
    } else if (const Families* group = c.groups.find(*text)) {
      if (*group == 0) complete = false;
      families |= *group;
      ref.group = std::move(*text);
    } else if (auto prefix = parse_ip_prefix(*text)) {
      families |= family_bit(prefix->family);
      ref.prefix = *prefix;
    } else {
      complete = false;
      if (auto host_bits = host_bits_error(*text))
        r.diags.error(at, entry_path, *host_bits);
      else
        r.diags.error(at, entry_path,
                      "unknown address group or invalid address " + quote(*text) +
                          r.hint(*text, c.groups.names, "groups"));
      continue;
    }
    out.push_back(std::move(ref));
  }
  return complete ? families : 0;
}

void read_rule(Reader& r, const Node& node, const KeyPath& path, Context& c,
               std::vector<Rule>& out) {
  const Pos at = r.diags.at(node);
  if (!expect_map(r, node, at, path, "a rule (a mapping)")) return;
  auto fields = read_fields(r, node, path, kKeys);
  Rule rule;
  rule.where = r.diags.location(at);

  if (require(r, fields[kName], "name", at, path)) {
    const Field& f = fields[kName];
    if (auto name = read_name(r, *f.value, f.value_at, path.child("name"), "rule name")) {
      auto [it, added] = c.rule_names.emplace(*name, f.value_at);
      if (!added)
        r.diags.error(
            f.value_at, path.child("name"),
            "duplicate rule name " + quote(*name) + " (first defined at " + it->second.str() + ")");
      rule.name = std::move(*name);
    }
  }
  if (require(r, fields[kDirection], "direction", at, path)) {
    const Field& f = fields[kDirection];
    if (auto d = read_choice(r, *f.value, f.value_at, path.child("direction"), kDirections))
      rule.direction = *d;
  }
  std::optional<Action> action;
  if (require(r, fields[kAction], "action", at, path)) {
    const Field& f = fields[kAction];
    action = read_choice(r, *f.value, f.value_at, path.child("action"), kActions);
    if (action) rule.action = *action;
  }

  ProtocolRead protocol;
  if (const Field& f = fields[kProtocol]; f.present) {
    protocol = read_protocol(r, f, path.child("protocol"));
    rule.protocol = protocol.number;
  }
  if (const Field& f = fields[kPorts]; f.present) {
    const KeyPath ports_path = path.child("ports");
    const bool tcp_or_udp = rule.protocol == proto::tcp || rule.protocol == proto::udp;
    if (protocol.ok && !tcp_or_udp)
      r.diags.error(f.key_at, ports_path,
                    rule.protocol
                        ? "ports need protocol tcp or udp, not " + protocol_text(*rule.protocol)
                        : std::string{"ports need protocol tcp or udp; add "
                                      "'protocol: tcp' or 'protocol: udp'"});
    read_ports(r, f, ports_path, rule.ports);
  }

  if (const Field& f = fields[kZones]; f.present)
    read_zone_refs(r, f, path.child("zones"), c, rule.zones);
  Families from = kAnyFamily;
  Families to = kAnyFamily;
  if (const Field& f = fields[kFrom]; f.present)
    from = read_address_refs(r, f, path.child("from"), c, "from", rule.from);
  if (const Field& f = fields[kTo]; f.present)
    to = read_address_refs(r, f, path.child("to"), c, "to", rule.to);
  if (from != 0 && to != 0) {
    const Families common = from & to;
    if (common == 0) {
      r.diags.error(fields[kTo].value_at, path.child("to"),
                    std::string{"no address family in common with 'from': 'from' is "} +
                        families_text(from) + ", 'to' is " + families_text(to) +
                        ", so no packet can match");
    } else if (rule.protocol == proto::icmp && common == kIpv6) {
      r.diags.error(fields[kProtocol].value_at, path.child("protocol"),
                    "icmp is IPv4 only but the rule's addresses are IPv6 only; use icmpv6");
    } else if (rule.protocol == proto::icmpv6 && common == kIpv4) {
      r.diags.error(fields[kProtocol].value_at, path.child("protocol"),
                    "icmpv6 is IPv6 only but the rule's addresses are IPv4 only; use icmp");
    }
  }

  const Field& ipsec = fields[kIpsec];
  if (action == Action::protect && !ipsec.present)
    r.diags.error(fields[kAction].value_at, path.child("action"),
                  "protect needs 'ipsec: <profile name>' naming the ipsec profile to use");
  if (ipsec.present) {
    const KeyPath ipsec_path = path.child("ipsec");
    if (action && *action != Action::protect) {
      r.diags.error(ipsec.key_at, ipsec_path,
                    "only rules with action protect take an ipsec profile");
    } else if (auto name = read_string(r, *ipsec.value, ipsec.value_at, ipsec_path,
                                       "an ipsec profile name")) {
      if (c.profiles.find(*name) == nullptr)
        r.diags.error(ipsec.value_at, ipsec_path,
                      "undefined ipsec profile " + quote(*name) +
                          r.hint(*name, c.profiles.names, "profiles"));
      else
        rule.ipsec = std::move(*name);
    }
  }
  out.push_back(std::move(rule));
}
}  // namespace

void read_rules(Reader& r, const Field& section, Policy& policy) {
  const KeyPath root;
  const KeyPath path = root.child("rules");
  if (!expect_list(r, *section.value, section.value_at, path, "a list of rules", r.limits.max_rules,
                   "rules"))
    return;
  Context c = index_names(policy);
  policy.rules.reserve(section.value->size());
  for (std::size_t i = 0; i < section.value->size(); ++i) {
    const Node& item = section.value->element(i);
    if (!r.visit(item)) return;
    read_rule(r, item, path.element(i), c, policy.rules);
  }
}

}  // namespace netpolicy::policy::yaml
