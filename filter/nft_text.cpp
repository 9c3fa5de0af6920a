#include "filter/nft_text.h"

#include <array>
#include <cstddef>
#include <string_view>
#include <type_traits>

namespace netpolicy::filter {
namespace {

// nft(8) keywords for the protocols the schema names. They are grammar
// tokens, so they parse even without /etc/protocols (checked with nft 1.0.6);
// every other protocol renders as its number.
std::string l4proto_name(std::uint8_t protocol) {
  switch (protocol) {
    case 1:
      return "icmp";
    case 6:
      return "tcp";
    case 17:
      return "udp";
    case 50:
      return "esp";
    case 51:
      return "ah";
    case 58:
      return "icmpv6";
    default:
      return std::to_string(protocol);
  }
}

// The names nft uses for the ICMPv6 types we are likely to emit; numbers
// otherwise (nft accepts both).
std::string icmpv6_type_name(std::uint8_t type) {
  switch (type) {
    case 128:
      return "echo-request";
    case 129:
      return "echo-reply";
    case 133:
      return "nd-router-solicit";
    case 134:
      return "nd-router-advert";
    case 135:
      return "nd-neighbor-solicit";
    case 136:
      return "nd-neighbor-advert";
    case 137:
      return "nd-redirect";
    default:
      return std::to_string(type);
  }
}

std::string hex32(std::uint32_t value) {
  static constexpr std::string_view digits = "0123456789abcdef";
  std::string text = "0x";
  bool started = false;
  for (int shift = 28; shift >= 0; shift -= 4) {
    auto nibble = (value >> shift) & 0xfu;
    if (nibble != 0 || started || shift == 0) {
      text += digits[nibble];
      started = true;
    }
  }
  return text;
}

// ct state bits in the order nft lists them; bits without a name render as
// one hexadecimal value, which nft also accepts.
std::string ct_state_list(std::uint32_t mask) {
  static constexpr std::array<std::pair<std::uint32_t, std::string_view>, 5> names{{
      {ct::invalid, "invalid"},
      {ct::established, "established"},
      {ct::related, "related"},
      {ct::new_, "new"},
      {64, "untracked"},
  }};
  std::string text;
  std::uint32_t rest = mask;
  for (const auto& [bit, name] : names) {
    if ((mask & bit) == 0) continue;
    if (!text.empty()) text += ',';
    text += name;
    rest &= ~bit;
  }
  if (rest != 0 || text.empty()) {
    if (!text.empty()) text += ',';
    text += hex32(rest);
  }
  return text;
}

std::string quoted(const std::string& text) {
  return "\"" + text + "\"";
}

// An interface name as an nft string. nft reads a trailing '*' as a
// wildcard (and rejects it as a map key), but Linux allows '*' in names:
// a trailing "\*" is nft's literal asterisk. Elsewhere nft keeps the
// backslash (nft 1.0.6 stored "a\*b" as those four bytes), so only the last
// character is escaped. A '"' (also legal in a name) cannot be written in
// nft 1.0.6 strings at all; the libnftnl encoder has no such limit.
std::string quoted_ifname(const std::string& name) {
  if (!name.empty() && name.back() == '*') return "\"" + name.substr(0, name.size() - 1) + "\\*\"";
  return quoted(name);
}

std::string ifname_key(IfDirection direction) {
  return direction == IfDirection::input ? "iifname" : "oifname";
}

// Transport header selector for a port match: the protocol of the last
// l4proto match before it, or `th` (any transport header) when unknown.
std::string port_selector(std::optional<std::uint8_t> l4proto) {
  if (l4proto == 6) return "tcp";
  if (l4proto == 17) return "udp";
  return "th";
}

std::string port_range(std::uint16_t first, std::uint16_t last) {
  if (first == last) return std::to_string(first);
  return std::to_string(first) + "-" + std::to_string(last);
}

std::string render_match(const Match& match, std::optional<std::uint8_t>& l4proto) {
  return std::visit(
      [&](const auto& m) -> std::string {
        using M = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<M, MatchIfname>) {
          return ifname_key(m.direction) + " " + quoted_ifname(m.name);
        } else if constexpr (std::is_same_v<M, MatchCtState>) {
          return "ct state " + ct_state_list(m.mask);
        } else if constexpr (std::is_same_v<M, MatchNfproto>) {
          return std::string{"meta nfproto "} + (m.family == Family::ipv4 ? "ipv4" : "ipv6");
        } else if constexpr (std::is_same_v<M, MatchL4proto>) {
          l4proto = m.protocol;
          return "meta l4proto " + l4proto_name(m.protocol);
        } else if constexpr (std::is_same_v<M, MatchAddressSet>) {
          return std::string{m.family == Family::ipv4 ? "ip " : "ip6 "} +
                 (m.source ? "saddr @" : "daddr @") + m.set;
        } else if constexpr (std::is_same_v<M, MatchPort>) {
          return port_selector(l4proto) + " dport " + port_range(m.first, m.last);
        } else if constexpr (std::is_same_v<M, MatchPortSet>) {
          return port_selector(l4proto) + " dport @" + m.set;
        } else if constexpr (std::is_same_v<M, MatchIcmpv6Type>) {
          return "icmpv6 type " + icmpv6_type_name(m.type);
        } else {
          static_assert(std::is_same_v<M, MatchIpsecInReqid>);
          return "ipsec in reqid " + std::to_string(m.reqid);
        }
      },
      match);
}

std::string render_verdict(const Verdict& verdict) {
  switch (verdict.kind) {
    case VerdictKind::none:
      return {};
    case VerdictKind::accept:
      return "accept";
    case VerdictKind::drop:
      return "drop";
    case VerdictKind::jump:
      return "jump " + verdict.target;
    case VerdictKind::vmap:
      return ifname_key(verdict.vmap_key) + " vmap @" + verdict.target;
  }
  return {};
}

std::string render_log(const Log& log) {
  return "limit rate " + std::to_string(log.rate_per_second) + "/second burst " +
         std::to_string(log.burst) + " packets log prefix " + quoted(log.prefix);
}

std::string render_rule(const Rule& rule) {
  std::string text;
  auto append = [&text](const std::string& part) {
    if (part.empty()) return;
    if (!text.empty()) text += ' ';
    text += part;
  };
  std::optional<std::uint8_t> l4proto;
  for (const auto& match : rule.matches) append(render_match(match, l4proto));
  if (rule.counter) append("counter");
  if (rule.log) append(render_log(*rule.log));
  append(render_verdict(rule.verdict));
  if (!rule.comment.empty()) append("comment " + quoted(rule.comment));
  return text;
}

// ---- set elements -------------------------------------------------------

std::string type_name(SetType type) {
  switch (type) {
    case SetType::ipv4_addr:
      return "ipv4_addr";
    case SetType::ipv6_addr:
      return "ipv6_addr";
    case SetType::inet_service:
      return "inet_service";
  }
  return {};
}

// Copies a key into a prefix of the set's family. Keys of the wrong size
// (a malformed model) are zero-padded or cut rather than read out of bounds.
IpPrefix to_address(Family family, const std::vector<std::uint8_t>& key) {
  IpPrefix p;
  p.family = family;
  for (std::size_t i = 0; i < p.size() && i < key.size(); ++i) p.bytes[i] = key[i];
  p.length = p.max_length();
  return p;
}

// The prefix length of [first, last] if it is exactly one CIDR block.
std::optional<std::uint8_t> cidr_length(const IpPrefix& first, const IpPrefix& last) {
  const std::size_t bits = first.size() * 8;
  std::size_t common = 0;
  auto bit = [](const IpPrefix& p, std::size_t i) { return (p.bytes[i / 8] >> (7 - i % 8)) & 1; };
  while (common < bits && bit(first, common) == bit(last, common)) ++common;
  for (std::size_t i = common; i < bits; ++i)
    if (bit(first, i) != 0 || bit(last, i) != 1) return std::nullopt;
  return static_cast<std::uint8_t>(common);
}

std::string render_element(SetType type, const Interval& interval) {
  if (type == SetType::inet_service) {
    auto port = [](const std::vector<std::uint8_t>& key) {
      std::uint16_t value = 0;
      for (std::size_t i = 0; i < 2 && i < key.size(); ++i)
        value = static_cast<std::uint16_t>((value << 8) | key[i]);
      return value;
    };
    return port_range(port(interval.first), port(interval.last));
  }
  const Family family = type == SetType::ipv4_addr ? Family::ipv4 : Family::ipv6;
  IpPrefix first = to_address(family, interval.first);
  IpPrefix last = to_address(family, interval.last);
  if (auto length = cidr_length(first, last)) {
    first.length = *length;
    return first.to_string();  // the bare address for /32 and /128
  }
  return first.to_string() + "-" + last.to_string();
}

void render_set(std::string& out, const Set& set) {
  out += "\tset " + set.name + " {\n";
  out += "\t\ttype " + type_name(set.type) + "\n";
  out += "\t\tflags interval\n";
  if (!set.elements.empty()) {
    out += "\t\telements = { ";
    for (std::size_t i = 0; i < set.elements.size(); ++i) {
      if (i != 0) out += ", ";
      out += render_element(set.type, set.elements[i]);
    }
    out += " }\n";
  }
  out += "\t}\n";
}

void render_map(std::string& out, const VerdictMap& map) {
  out += "\tmap " + map.name + " {\n";
  out += "\t\ttype ifname : verdict\n";
  if (!map.elements.empty()) {
    out += "\t\telements = { ";
    for (std::size_t i = 0; i < map.elements.size(); ++i) {
      if (i != 0) out += ", ";
      out += quoted_ifname(map.elements[i].ifname) + " : jump " + map.elements[i].chain;
    }
    out += " }\n";
  }
  out += "\t}\n";
}

std::string hook_name(Hook hook) {
  switch (hook) {
    case Hook::input:
      return "input";
    case Hook::output:
      return "output";
    case Hook::forward:
      return "forward";
  }
  return {};
}

std::string priority_text(std::int32_t priority) {
  if (priority == 0) return "filter";
  if (priority > 0) return "filter + " + std::to_string(priority);
  return "filter - " + std::to_string(-static_cast<std::int64_t>(priority));
}

void render_chain(std::string& out, const Chain& chain) {
  out += "\tchain " + chain.name + " {\n";
  if (chain.base) {
    out += "\t\ttype filter hook " + hook_name(chain.base->hook) + " priority " +
           priority_text(chain.base->priority) + "; policy " +
           (chain.base->policy_accept ? "accept" : "drop") + ";\n";
  }
  for (const auto& rule : chain.rules) out += "\t\t" + render_rule(rule) + "\n";
  out += "\t}\n";
}

}  // namespace

std::string render_nft(const DesiredState& state, bool replace) {
  const Table& table = state.table;
  std::string out;
  if (replace) {
    // `add` makes the `delete` succeed when the table does not exist yet;
    // nft -f runs the whole file as one transaction.
    out += "add table inet " + table.name + "\n";
    out += "delete table inet " + table.name + "\n";
  }
  out += "table inet " + table.name + " {\n";
  bool first = true;
  auto separate = [&] {
    if (!first) out += "\n";  // a blank line between objects, as `nft list` does
    first = false;
  };
  for (const auto& set : table.sets) {
    separate();
    render_set(out, set);
  }
  for (const auto& map : table.maps) {
    separate();
    render_map(out, map);
  }
  for (const auto& chain : table.chains) {
    separate();
    render_chain(out, chain);
  }
  out += "}\n";
  return out;
}

}  // namespace netpolicy::filter
