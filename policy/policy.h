#pragma once
// The policy model: what a validated policy file says, as plain structs.
// The loader (loader.h) builds it; the compiler (compiler.h) reads it.
// Every element keeps where it was written so later errors can point there.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/ip_prefix.h"
#include "filter/xfrm_sa.h"

namespace netpolicy::policy {

// 1-based line and column in a policy file.
struct Location {
  std::string file;
  int line = 0;
  int column = 0;
  [[nodiscard]] std::string to_string() const {
    return file + ":" + std::to_string(line) + ":" + std::to_string(column);
  }
};

enum class Verdict : std::uint8_t { allow, block };
enum class Action : std::uint8_t { allow, block, protect };
enum class Direction : std::uint8_t { in, out, forward };

struct Defaults {
  Verdict inbound = Verdict::block;
  Verdict outbound = Verdict::allow;
  Verdict forward = Verdict::block;
};

struct Settings {
  // First priority of netpolicyd's XFRM policy band [base, base + 2^18):
  // its policies are the ones with a priority in the band; everything
  // outside (an IKE daemon's or administrator's) is never touched.
  // 0x7a000 = 499712, well above strongSwan's default priorities (< 200000).
  std::uint32_t xfrm_priority_base = 0x7a000;
  // Cap on the XFRM policies `protect` rules expand to (addresses x ports x
  // directions); beyond it the policy is refused with the rule's location.
  std::uint64_t max_protect_selectors = 65536;
  // A protected flow whose ACQUIREs go unanswered this long raises
  // ipsec-sa-missing (5492).
  std::uint64_t sa_missing_after_seconds = 10;
  std::string table = "netpolicy";          // nftables table, family inet
  Defaults defaults;
  Verdict unknown_interfaces = Verdict::block;  // interfaces in no zone
  bool log_blocked = false;                 // rate-limited nft log before drops
  // Receive buffer of the rtnetlink socket that watches interfaces, in
  // bytes (SO_RCVBUFFORCE). Big enough for a storm of several thousand
  // link events; an overrun is still detected and recovered from.
  std::uint64_t netlink_receive_buffer = 32u << 20;
  // Group (name) that may write the policy files and their directories
  // besides root; empty: only root may (see loader.h, strict modes).
  std::string trusted_group;
};

// `sources.central` of the main policy file: where the central policy comes
// from. Exactly one of path and url is set.
struct CentralSource {
  std::string path;                   // a file configuration management delivers
  std::string url;                    // http:// or https://
  std::uint64_t interval_seconds = 300;  // polling period
  std::uint64_t timeout_seconds = 10;    // per fetch
  std::uint64_t max_bytes = 16u << 20;   // fetched body cap
  Location where;
};

struct Zone {
  std::string name;
  std::vector<std::string> interfaces;  // fnmatch(3) globs on interface names
  Location where;
};

struct AddressGroup {
  std::string name;
  std::vector<IpPrefix> prefixes;
  Location where;
};

// One entry of a rule's from/to list: a group name, a literal prefix, the
// keyword `me` (every address of this host) or `zone:NAME` (the addresses on
// the interfaces of zone NAME). `me` and `zone:` follow the interfaces: the
// compiler takes their addresses from the InterfaceView.
struct AddressRef {
  std::optional<std::string> group;  // set: a name from `addresses`
  IpPrefix prefix;                   // used when group, me and zone are all unset
  Location where;
  bool me = false;                   // `me`
  std::optional<std::string> zone;   // `zone:NAME`: a name from `zones`

  [[nodiscard]] bool is_literal() const { return !group && !me && !zone; }
};

struct PortRange {
  std::uint16_t first = 0;
  std::uint16_t last = 0;  // == first for a single port
  friend bool operator==(const PortRange&, const PortRange&) = default;
};

// IANA protocol numbers for the names the schema accepts.
namespace proto {
inline constexpr std::uint8_t icmp = 1;
inline constexpr std::uint8_t tcp = 6;
inline constexpr std::uint8_t udp = 17;
inline constexpr std::uint8_t esp = 50;
inline constexpr std::uint8_t ah = 51;
inline constexpr std::uint8_t icmpv6 = 58;
}  // namespace proto

struct Rule {
  std::string name;
  Direction direction = Direction::in;
  std::vector<std::string> zones;  // empty: every zone
  std::vector<AddressRef> from;    // empty: any source
  std::vector<AddressRef> to;      // empty: any destination
  std::optional<std::uint8_t> protocol;  // nullopt: any
  std::vector<PortRange> ports;    // destination ports; only with tcp/udp
  Action action = Action::block;
  std::string ipsec;               // profile name, only with action protect
  Location where;
};

enum class IpsecMode : std::uint8_t { transport, tunnel };
enum class IpsecLevel : std::uint8_t { require, request };
enum class Keying : std::uint8_t { ike, manual };

// One direction's SA of a `keying: manual` profile.
struct ManualSa {
  std::uint32_t spi = 0;          // 0x100-0xffffffff
  std::string key_file;           // absolute path; hex key
  Location key_file_where;        // where key_file is named (its value)
  std::string auth_key_file;      // cbc(aes)+hmac(sha256) only: the HMAC key
  Location auth_key_file_where;
  // Read from the files by the loader; wiped when the policy is destroyed.
  filter::XfrmKey key;
  filter::XfrmKey auth_key;
};

// `manual:` of a profile: static SAs between its local and remote
// addresses, one each way.
struct ManualKeying {
  filter::XfrmSaAlgorithm algorithm = filter::XfrmSaAlgorithm::aes_gcm;
  ManualSa out;  // local -> remote
  ManualSa in;   // remote -> local
  Location where;
};

struct IpsecProfile {
  std::string name;
  IpsecMode mode = IpsecMode::transport;
  // Tunnel endpoints (tunnel mode), or with keying manual in transport
  // mode the two hosts the SAs join.
  std::optional<IpPrefix> local;
  std::optional<IpPrefix> remote;
  std::uint8_t protocol = proto::esp;  // esp | ah
  IpsecLevel level = IpsecLevel::require;
  std::uint32_t reqid = 0;
  Keying keying = Keying::ike;
  std::optional<ManualKeying> manual;  // set exactly when keying is manual
  Location where;
};

struct Policy {
  int version = 1;
  Settings settings;
  std::vector<Zone> zones;
  std::vector<AddressGroup> addresses;
  std::vector<Rule> rules;
  std::vector<IpsecProfile> ipsec;
  std::string path;    // the file it was loaded from (the main file)
  // Hex SHA-256 of that file's bytes when the policy is one file; of a
  // policy made of several (central, main, drop-ins), the SHA-256 of their
  // digests, each as 64 hex digits and a newline, in load order.
  std::string sha256;
  std::optional<CentralSource> central;  // main file's sources.central
  // A central policy's settings.local_rules; false: the local rules were
  // dropped when the policies were merged.
  bool local_rules = true;
  // Every file the policy was read from, in load order (a central policy
  // appears under its label, e.g. its URL or "cache").
  std::vector<std::string> files;
  std::vector<std::string> file_digests;  // hex SHA-256 of each of `files`

  [[nodiscard]] const AddressGroup* find_group(const std::string& name) const {
    for (const auto& g : addresses)
      if (g.name == name) return &g;
    return nullptr;
  }
};

}  // namespace netpolicy::policy
