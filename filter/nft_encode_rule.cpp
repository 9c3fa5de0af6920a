// One model Rule -> one libnftnl rule, expression for expression what
// nft 1.0.6 sends for the rule's text form (checked with
// `nft --debug=netlink`), so `nft list` prints both the same way.
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/xfrm.h>

#include <algorithm>
#include <cerrno>
#include <optional>

#include "filter/nft_encode_detail.h"

namespace netpolicy::filter::detail {
namespace {

// nft 1.0.6 loads every value into the first (16-byte) register.
constexpr std::uint32_t kReg = NFT_REG_1;

// Offsets of the fields we match, in their headers.
constexpr std::uint32_t kIpv4SaddrOffset = 12, kIpv4DaddrOffset = 16, kIpv4AddrLen = 4;
constexpr std::uint32_t kIpv6SaddrOffset = 8, kIpv6DaddrOffset = 24, kIpv6AddrLen = 16;
constexpr std::uint32_t kDportOffset = 2, kPortLen = 2;   // tcp/udp/sctp/dccp
constexpr std::uint32_t kIcmpv6TypeOffset = 0;

Error rule_error(const std::string& chain, const Rule& rule, const std::string& why) {
  const std::string name = rule.comment.empty() ? "a rule" : "rule '" + rule.comment + "'";
  return Error{"Failed to encode " + name + " in chain '" + chain + "'", EINVAL,
               name + " in chain '" + chain + "': " + why, rule.comment};
}

class RuleBuilder {
 public:
  RuleBuilder(const std::string& table, const std::string& chain, const SetIds& set_ids)
      : rule_(nftnl_rule_alloc()), set_ids_(set_ids) {
    if (!rule_) throw std::bad_alloc();
    nftnl_rule_set_u32(rule_.get(), NFTNL_RULE_FAMILY, NFPROTO_INET);
    nftnl_rule_set_str(rule_.get(), NFTNL_RULE_TABLE, table.c_str());
    nftnl_rule_set_str(rule_.get(), NFTNL_RULE_CHAIN, chain.c_str());
  }

  // ---- expressions -----------------------------------------------------
  void meta_load(std::uint32_t key) {
    NftnlExprPtr e = expr("meta");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_META_KEY, key);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_META_DREG, kReg);
    add(std::move(e));
  }
  void cmp(std::uint32_t op, const void* data, std::size_t len) {
    NftnlExprPtr e = expr("cmp");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CMP_SREG, kReg);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CMP_OP, op);
    nftnl_expr_set(e.get(), NFTNL_EXPR_CMP_DATA, data, static_cast<std::uint32_t>(len));
    add(std::move(e));
  }
  void cmp_u8(std::uint8_t value) { cmp(NFT_CMP_EQ, &value, 1); }
  void payload_load(std::uint32_t base, std::uint32_t offset, std::uint32_t len) {
    NftnlExprPtr e = expr("payload");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_DREG, kReg);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_BASE, base);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_OFFSET, offset);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_LEN, len);
    add(std::move(e));
  }
  // Names the set by name and, when it is created in this batch, by id.
  void lookup(const std::string& set, std::optional<std::uint32_t> dreg) {
    NftnlExprPtr e = expr("lookup");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LOOKUP_SREG, kReg);
    nftnl_expr_set_str(e.get(), NFTNL_EXPR_LOOKUP_SET, set.c_str());
    if (auto it = set_ids_.find(set); it != set_ids_.end()) {
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LOOKUP_SET_ID, it->second);
    }
    if (dreg) nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LOOKUP_DREG, *dreg);
    add(std::move(e));
  }
  void verdict(std::int32_t code, const std::string* chain) {
    NftnlExprPtr e = expr("immediate");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_IMM_VERDICT, static_cast<std::uint32_t>(code));
    if (chain) nftnl_expr_set_str(e.get(), NFTNL_EXPR_IMM_CHAIN, chain->c_str());
    add(std::move(e));
  }
  void ct_state_load() {
    NftnlExprPtr e = expr("ct");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CT_DREG, kReg);
    add(std::move(e));
  }
  // reg = (reg & mask) ^ 0 over 4 bytes, in host byte order.
  void bitwise_and(std::uint32_t mask) {
    const std::uint32_t zero = 0;
    NftnlExprPtr e = expr("bitwise");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BITWISE_SREG, kReg);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BITWISE_DREG, kReg);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BITWISE_LEN, sizeof mask);
    nftnl_expr_set(e.get(), NFTNL_EXPR_BITWISE_MASK, &mask, sizeof mask);
    nftnl_expr_set(e.get(), NFTNL_EXPR_BITWISE_XOR, &zero, sizeof zero);
    add(std::move(e));
  }
  // The reqid of the inbound SA at position 0 of the packet's secpath.
  void xfrm_reqid_load() {
    NftnlExprPtr e = expr("xfrm");
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_XFRM_KEY, NFT_XFRM_KEY_REQID);
    nftnl_expr_set_u8(e.get(), NFTNL_EXPR_XFRM_DIR, XFRM_POLICY_IN);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_XFRM_SPNUM, 0);
    nftnl_expr_set_u32(e.get(), NFTNL_EXPR_XFRM_DREG, kReg);
    add(std::move(e));
  }
  void counter() { add(expr("counter")); }
  void limit_and_log(const Log& log) {
    NftnlExprPtr l = expr("limit");
    nftnl_expr_set_u64(l.get(), NFTNL_EXPR_LIMIT_RATE, log.rate_per_second);
    nftnl_expr_set_u64(l.get(), NFTNL_EXPR_LIMIT_UNIT, 1);  // seconds
    nftnl_expr_set_u32(l.get(), NFTNL_EXPR_LIMIT_BURST, log.burst);
    nftnl_expr_set_u32(l.get(), NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
    nftnl_expr_set_u32(l.get(), NFTNL_EXPR_LIMIT_FLAGS, 0);
    add(std::move(l));
    NftnlExprPtr g = expr("log");
    if (!log.prefix.empty()) nftnl_expr_set_str(g.get(), NFTNL_EXPR_LOG_PREFIX, log.prefix.c_str());
    add(std::move(g));
  }

  // nft adds `meta nfproto` in front of an ip/ip6 header match in an inet
  // table (without it, `ip saddr` would read offset 12 of IPv6 packets
  // too); once the family is known in a rule it does not repeat it.
  void require_family(Family family) {
    if (family_known_ && family_ == family) return;
    meta_load(NFT_META_NFPROTO);
    cmp_u8(family == Family::ipv4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
    known_family(family);
  }
  void known_family(Family family) {
    family_ = family;
    family_known_ = true;
  }

  void set_comment(const std::string& comment) {
    NftnlUdataBufPtr buf{nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN)};
    if (!buf) throw std::bad_alloc();
    nftnl_udata_put_strz(buf.get(), NFTNL_UDATA_RULE_COMMENT, comment.c_str());
    nftnl_rule_set_data(rule_.get(), NFTNL_RULE_USERDATA, nftnl_udata_buf_data(buf.get()),
                        nftnl_udata_buf_len(buf.get()));
  }

  NftnlRulePtr take() { return std::move(rule_); }

 private:
  static NftnlExprPtr expr(const char* name) {
    NftnlExprPtr e{nftnl_expr_alloc(name)};
    if (!e) throw std::bad_alloc();
    return e;
  }
  void add(NftnlExprPtr e) { nftnl_rule_add_expr(rule_.get(), e.release()); }  // rule owns it

  NftnlRulePtr rule_;
  const SetIds& set_ids_;
  // Not std::optional<Family>: g++ 12 -O2 warns it may be used
  // uninitialized (a false positive that -Werror turns into a build failure).
  Family family_ = Family::ipv4;
  bool family_known_ = false;
};

std::uint32_t ifname_key(IfDirection d) {
  return d == IfDirection::input ? NFT_META_IIFNAME : NFT_META_OIFNAME;
}

bool valid_ifname(const std::string& name) {
  return !name.empty() && name.size() < kIfnameKeyLen;
}

// Each match as expressions; returns an explanation if it cannot be encoded.
struct MatchEncoder {
  RuleBuilder& b;

  std::optional<std::string> operator()(const MatchIfname& m) {
    if (!valid_ifname(m.name)) return "interface name '" + m.name + "' is not 1 to 15 bytes";
    std::uint8_t key[kIfnameKeyLen] = {};  // compared as IFNAMSIZ zero-padded bytes
    std::copy(m.name.begin(), m.name.end(), key);
    b.meta_load(ifname_key(m.direction));
    b.cmp(NFT_CMP_EQ, key, sizeof key);
    return std::nullopt;
  }
  std::optional<std::string> operator()(const MatchCtState& m) {
    // ct state is a host-order u32 bit mask: (state & mask) != 0.
    b.ct_state_load();
    b.bitwise_and(m.mask);
    const std::uint32_t zero = 0;
    b.cmp(NFT_CMP_NEQ, &zero, sizeof zero);
    return std::nullopt;
  }
  std::optional<std::string> operator()(const MatchNfproto& m) {
    b.meta_load(NFT_META_NFPROTO);
    b.cmp_u8(m.family == Family::ipv4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
    b.known_family(m.family);
    return std::nullopt;
  }
  std::optional<std::string> operator()(const MatchL4proto& m) {
    b.meta_load(NFT_META_L4PROTO);
    b.cmp_u8(m.protocol);
    return std::nullopt;
  }
  std::optional<std::string> operator()(const MatchAddressSet& m) {
    b.require_family(m.family);
    if (m.family == Family::ipv4) {
      b.payload_load(NFT_PAYLOAD_NETWORK_HEADER, m.source ? kIpv4SaddrOffset : kIpv4DaddrOffset,
                     kIpv4AddrLen);
    } else {
      b.payload_load(NFT_PAYLOAD_NETWORK_HEADER, m.source ? kIpv6SaddrOffset : kIpv6DaddrOffset,
                     kIpv6AddrLen);
    }
    b.lookup(m.set, std::nullopt);
    return std::nullopt;
  }
  std::optional<std::string> operator()(const MatchPort& m) {
    if (m.last < m.first) return "port range " + std::to_string(m.first) + "-" +
                                 std::to_string(m.last) + " is reversed";
    b.payload_load(NFT_PAYLOAD_TRANSPORT_HEADER, kDportOffset, kPortLen);
    const std::uint8_t first[2] = {static_cast<std::uint8_t>(m.first >> 8),
                                   static_cast<std::uint8_t>(m.first & 0xff)};
    if (m.first == m.last) {
      b.cmp(NFT_CMP_EQ, first, sizeof first);
      return std::nullopt;
    }
    // nft 1.0.6 encodes `th dport a-b` as two comparisons, not `range`.
    const std::uint8_t last[2] = {static_cast<std::uint8_t>(m.last >> 8),
                                  static_cast<std::uint8_t>(m.last & 0xff)};
    b.cmp(NFT_CMP_GTE, first, sizeof first);
    b.cmp(NFT_CMP_LTE, last, sizeof last);
    return std::nullopt;
  }
  std::optional<std::string> operator()(const MatchPortSet& m) {
    b.payload_load(NFT_PAYLOAD_TRANSPORT_HEADER, kDportOffset, kPortLen);
    b.lookup(m.set, std::nullopt);
    return std::nullopt;
  }
  std::optional<std::string> operator()(const MatchIcmpv6Type& m) {
    b.payload_load(NFT_PAYLOAD_TRANSPORT_HEADER, kIcmpv6TypeOffset, 1);
    b.cmp_u8(m.type);
    return std::nullopt;
  }
  std::optional<std::string> operator()(const MatchIpsecInReqid& m) {
    // nft 1.0.6: `[ xfrm load in 0 reqid => reg 1 ] [ cmp eq reg 1 N ]`,
    // the reqid in host byte order.
    b.xfrm_reqid_load();
    b.cmp(NFT_CMP_EQ, &m.reqid, sizeof m.reqid);
    return std::nullopt;
  }
};


// Upper bound on one expression: its nest, name and attributes, plus the
// longest string it may carry (a set, chain or log prefix).
std::size_t expression_bound(const Rule& rule) {
  std::size_t longest = rule.verdict.target.size();
  if (rule.log) longest = std::max(longest, rule.log->prefix.size());
  for (const Match& match : rule.matches) {
    if (const auto* a = std::get_if<MatchAddressSet>(&match)) longest = std::max(longest, a->set.size());
    if (const auto* p = std::get_if<MatchPortSet>(&match)) longest = std::max(longest, p->set.size());
  }
  return 160 + align4(longest + 1);
}

}  // namespace

std::size_t rule_message_bound(const std::string& table, const std::string& chain,
                               const Rule& rule) {
  // At most 4 expressions per match (address set: meta, cmp, payload,
  // lookup), then counter, limit, log and 2 for the verdict.
  const std::size_t expressions = 4 * rule.matches.size() + 8;
  return 512 + align4(table.size() + 1) + align4(chain.size() + 1) + NFT_USERDATA_MAXLEN +
         expressions * expression_bound(rule);
}

Result<NftnlRulePtr> encode_rule(const std::string& table, const std::string& chain,
                                 const Rule& rule, const SetIds& set_ids) {
  if (rule.comment.size() >= NFTNL_UDATA_COMMENT_MAXLEN) {
    return rule_error(chain, rule, "comment longer than " +
                                       std::to_string(NFTNL_UDATA_COMMENT_MAXLEN - 1) + " bytes");
  }
  RuleBuilder b(table, chain, set_ids);
  MatchEncoder encoder{b};
  for (const Match& match : rule.matches) {
    if (auto why = std::visit(encoder, match)) return rule_error(chain, rule, *why);
  }
  if (rule.counter) b.counter();
  if (rule.log) b.limit_and_log(*rule.log);
  switch (rule.verdict.kind) {
    case VerdictKind::none: break;
    case VerdictKind::accept: b.verdict(NF_ACCEPT, nullptr); break;
    case VerdictKind::drop: b.verdict(NF_DROP, nullptr); break;
    case VerdictKind::jump: b.verdict(NFT_JUMP, &rule.verdict.target); break;
    case VerdictKind::vmap:
      b.meta_load(ifname_key(rule.verdict.vmap_key));
      b.lookup(rule.verdict.target, NFT_REG_VERDICT);
      break;
  }
  if (!rule.comment.empty()) b.set_comment(rule.comment);
  return b.take();
}

}  // namespace netpolicy::filter::detail
