#pragma once
// The kernel object model: the nftables table netpolicyd wants in the kernel,
// as plain structs. The compiler (policy/compiler.h) produces it; the nft
// text renderer (nft_text.h) and the libnftnl encoder (nft_encode.h) consume
// it, so `netpolicyctl export` and the kernel see the same thing.
//
// Only the handful of matches the compiler needs exist here, each with one
// meaning and one rendering; adding a match means adding it to both
// consumers.
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/ip_prefix.h"
#include "filter/xfrm_model.h"

namespace netpolicy::filter {

enum class SetType : std::uint8_t {
  ipv4_addr,     // key 4 bytes, network order
  ipv6_addr,     // key 16 bytes, network order
  inet_service,  // key 2 bytes, network order (ports)
};

// An inclusive range of keys, in network byte order, of the set's key size.
// A single key has first == last.
struct Interval {
  std::vector<std::uint8_t> first;
  std::vector<std::uint8_t> last;
  friend bool operator==(const Interval&, const Interval&) = default;
};

// A named interval set. Elements are sorted and never overlap or touch
// (the compiler merges them), which is what the kernel requires.
struct Set {
  std::string name;
  SetType type = SetType::ipv4_addr;
  std::vector<Interval> elements;
  friend bool operator==(const Set&, const Set&) = default;
};

// An interface-name -> verdict map (type ifname : verdict) whose every
// value jumps to a chain. Interface events change only these elements.
struct MapElement {
  std::string ifname;
  std::string chain;  // jump target
  friend bool operator==(const MapElement&, const MapElement&) = default;
};
struct VerdictMap {
  std::string name;
  std::vector<MapElement> elements;
  friend bool operator==(const VerdictMap&, const VerdictMap&) = default;
};

// ---- matches ---------------------------------------------------------------
enum class IfDirection : std::uint8_t { input, output };  // iifname / oifname

struct MatchIfname {  // iifname "lo" / oifname "lo"
  IfDirection direction = IfDirection::input;
  std::string name;
  friend bool operator==(const MatchIfname&, const MatchIfname&) = default;
};
namespace ct {
inline constexpr std::uint32_t invalid = 1, established = 2, related = 4, new_ = 8;
}
struct MatchCtState {  // ct state established,related  (any bit of mask set)
  std::uint32_t mask = 0;
  friend bool operator==(const MatchCtState&, const MatchCtState&) = default;
};
struct MatchNfproto {  // meta nfproto ipv4|ipv6
  Family family = Family::ipv4;
  friend bool operator==(const MatchNfproto&, const MatchNfproto&) = default;
};
struct MatchL4proto {  // meta l4proto N
  std::uint8_t protocol = 0;
  friend bool operator==(const MatchL4proto&, const MatchL4proto&) = default;
};
struct MatchAddressSet {  // ip saddr @set / ip6 daddr @set
  Family family = Family::ipv4;
  bool source = true;
  std::string set;
  friend bool operator==(const MatchAddressSet&, const MatchAddressSet&) = default;
};
struct MatchPort {  // th dport 22 / th dport 8000-8100 (after a MatchL4proto)
  std::uint16_t first = 0;
  std::uint16_t last = 0;
  friend bool operator==(const MatchPort&, const MatchPort&) = default;
};
struct MatchPortSet {  // th dport @set (after a MatchL4proto)
  std::string set;
  friend bool operator==(const MatchPortSet&, const MatchPortSet&) = default;
};
struct MatchIcmpv6Type {  // icmpv6 type N (after MatchL4proto 58)
  std::uint8_t type = 0;
  friend bool operator==(const MatchIcmpv6Type&, const MatchIcmpv6Type&) = default;
};
// ipsec in reqid N: the packet was decapsulated by an SA with reqid N
// (which implies it arrived through IPsec at all).
struct MatchIpsecInReqid {
  std::uint32_t reqid = 0;
  friend bool operator==(const MatchIpsecInReqid&, const MatchIpsecInReqid&) = default;
};
using Match = std::variant<MatchIfname, MatchCtState, MatchNfproto, MatchL4proto,
                           MatchAddressSet, MatchPort, MatchPortSet, MatchIcmpv6Type,
                           MatchIpsecInReqid>;

// ---- verdicts --------------------------------------------------------------
enum class VerdictKind : std::uint8_t {
  none,    // no verdict: evaluation continues with the next rule
  accept,
  drop,
  jump,    // jump `target`
  vmap,    // iifname/oifname vmap @target
};
struct Verdict {
  VerdictKind kind = VerdictKind::none;
  std::string target;                            // chain (jump) or map (vmap)
  IfDirection vmap_key = IfDirection::input;     // vmap only: iifname or oifname
  friend bool operator==(const Verdict&, const Verdict&) = default;
};

// limit rate 10/second burst 5 packets log prefix "netpolicy: "
struct Log {
  std::string prefix;
  std::uint32_t rate_per_second = 10;
  std::uint32_t burst = 5;
  friend bool operator==(const Log&, const Log&) = default;
};

struct Rule {
  std::vector<Match> matches;
  bool counter = false;
  std::optional<Log> log;  // if set, the rule logs (rate limited) before its verdict
  Verdict verdict;
  std::string comment;     // the policy rule name; stored as rule userdata
  friend bool operator==(const Rule&, const Rule&) = default;
};

enum class Hook : std::uint8_t { input, output, forward };
struct BaseChain {
  Hook hook = Hook::input;
  std::int32_t priority = 0;       // 0 = "filter"
  bool policy_accept = false;      // chain policy: accept or drop
  friend bool operator==(const BaseChain&, const BaseChain&) = default;
};

struct Chain {
  std::string name;
  std::optional<BaseChain> base;  // set for chains attached to a hook
  std::vector<Rule> rules;
  friend bool operator==(const Chain&, const Chain&) = default;
};

// The whole inet table. Order matters for rendering and encoding: sets and
// maps first (rules refer to them), then chains in the order given;
// a chain may jump only to chains that exist in the table.
struct Table {
  std::string name = "netpolicy";
  std::vector<Set> sets;
  std::vector<VerdictMap> maps;
  std::vector<Chain> chains;
  friend bool operator==(const Table&, const Table&) = default;
};

struct DesiredState {
  Table table;
  // The XFRM policies of `protect` rules (filter/xfrm_model.h); applied
  // before the table and rolled back if the table is refused.
  XfrmState xfrm;
  friend bool operator==(const DesiredState&, const DesiredState&) = default;
};

}  // namespace netpolicy::filter
