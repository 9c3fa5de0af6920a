#include "filter/xfrm_sa_netlink.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/xfrm.h>
#include <sys/socket.h>

#include <cstring>
#include <string_view>

#include "filter/xfrm_address.h"

namespace netpolicy::filter {

namespace {

constexpr std::string_view kGcm = "rfc4106(gcm(aes))";
constexpr std::string_view kCbc = "cbc(aes)";
constexpr std::string_view kHmac = "hmac(sha256)";


// Reserves attribute `type` with `len` zeroed payload bytes at the end of
// `nlh` and returns the payload, so keys are written once, in place.
void* reserve_attr(nlmsghdr* nlh, std::uint16_t type, std::size_t len) {
  auto* attr = static_cast<nlattr*>(mnl_nlmsg_get_payload_tail(nlh));
  attr->nla_type = type;
  attr->nla_len = static_cast<std::uint16_t>(MNL_ATTR_HDRLEN + len);
  void* payload = mnl_attr_get_payload(attr);
  std::memset(payload, 0, MNL_ALIGN(len));
  nlh->nlmsg_len += MNL_ALIGN(attr->nla_len);
  return payload;
}

void set_name(char (&name)[64], std::string_view text) {
  std::memcpy(name, text.data(), text.size());
}

std::string_view name_of(const char (&name)[64]) {
  return {name, strnlen(name, sizeof name)};
}

std::uint32_t bits(std::size_t bytes) {
  return static_cast<std::uint32_t>(bytes * 8);
}

}  // namespace

std::size_t put_sa_add(char* buf, const XfrmSa& sa, std::uint32_t seq, bool ack) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = XFRM_MSG_NEWSA;
  // NEWSA refuses (EEXIST) an SA whose (daddr, spi, proto) exists: never
  // someone else's.
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | (ack ? NLM_F_ACK : 0);
  nlh->nlmsg_seq = seq;
  auto* info =
      static_cast<xfrm_usersa_info*>(mnl_nlmsg_put_extra_header(nlh, sizeof(xfrm_usersa_info)));
  // sel stays all zero (family AF_UNSPEC): the policies decide what goes
  // through the SA, as with `ip xfrm state add` without `sel`.
  info->id.daddr = to_xfrm_address(sa.dst);
  info->id.spi = htonl(sa.spi);
  info->id.proto = sa.proto;
  info->saddr = to_xfrm_address(sa.src);
  info->family = family_number(sa.dst.family);
  info->mode = sa.tunnel ? XFRM_MODE_TUNNEL : XFRM_MODE_TRANSPORT;
  info->reqid = sa.reqid;
  // Anti-replay off, as `ip xfrm state add` does by default: a manually
  // keyed SA restarts its sequence numbers whenever one side re-creates
  // it, and a replay window on the other side would then drop everything.
  info->replay_window = 0;
  info->lft.soft_byte_limit = XFRM_INF;
  info->lft.hard_byte_limit = XFRM_INF;
  info->lft.soft_packet_limit = XFRM_INF;
  info->lft.hard_packet_limit = XFRM_INF;
  if (sa.algorithm == XfrmSaAlgorithm::aes_gcm) {
    auto* aead = static_cast<xfrm_algo_aead*>(
        reserve_attr(nlh, XFRMA_ALG_AEAD, sizeof(xfrm_algo_aead) + sa.key.size()));
    set_name(aead->alg_name, kGcm);
    aead->alg_key_len = bits(sa.key.size());
    aead->alg_icv_len = kAesGcmIcvBits;
    if (!sa.key.empty()) std::memcpy(aead->alg_key, sa.key.data(), sa.key.size());
  } else {
    auto* auth = static_cast<xfrm_algo_auth*>(
        reserve_attr(nlh, XFRMA_ALG_AUTH_TRUNC, sizeof(xfrm_algo_auth) + sa.auth_key.size()));
    set_name(auth->alg_name, kHmac);
    auth->alg_key_len = bits(sa.auth_key.size());
    auth->alg_trunc_len = kHmacSha256TruncBits;
    if (!sa.auth_key.empty()) std::memcpy(auth->alg_key, sa.auth_key.data(), sa.auth_key.size());
    auto* crypt = static_cast<xfrm_algo*>(
        reserve_attr(nlh, XFRMA_ALG_CRYPT, sizeof(xfrm_algo) + sa.key.size()));
    set_name(crypt->alg_name, kCbc);
    crypt->alg_key_len = bits(sa.key.size());
    if (!sa.key.empty()) std::memcpy(crypt->alg_key, sa.key.data(), sa.key.size());
  }
  return nlh->nlmsg_len;
}

std::size_t put_sa_delete(char* buf, const XfrmSaId& id, std::uint32_t seq, bool ack) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = XFRM_MSG_DELSA;
  nlh->nlmsg_flags = NLM_F_REQUEST | (ack ? NLM_F_ACK : 0);
  nlh->nlmsg_seq = seq;
  auto* sid =
      static_cast<xfrm_usersa_id*>(mnl_nlmsg_put_extra_header(nlh, sizeof(xfrm_usersa_id)));
  sid->daddr = to_xfrm_address(id.daddr);
  sid->spi = htonl(id.spi);
  sid->family = family_number(id.daddr.family);
  sid->proto = id.proto;
  return nlh->nlmsg_len;
}

std::optional<XfrmSa> parse_sa(const nlmsghdr* nlh) {
  if (nlh->nlmsg_type != XFRM_MSG_NEWSA) return std::nullopt;
  if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(xfrm_usersa_info))) return std::nullopt;
  const auto* info = static_cast<const xfrm_usersa_info*>(mnl_nlmsg_get_payload(nlh));
  if (info->family != AF_INET && info->family != AF_INET6) return std::nullopt;
  XfrmSa sa;
  sa.dst = host_from_xfrm_address(info->id.daddr, info->family);
  sa.src = host_from_xfrm_address(info->saddr, info->family);
  sa.spi = ntohl(info->id.spi);
  sa.proto = info->id.proto;
  sa.tunnel = info->mode == XFRM_MODE_TUNNEL;
  sa.reqid = info->reqid;
  // Anything but our two suites (or a mode we never use) must compare
  // unequal to every SA we want: flag it and drop the keys.
  bool foreign = info->mode != XFRM_MODE_TUNNEL && info->mode != XFRM_MODE_TRANSPORT;
  bool aead = false, crypt = false, auth = false;
  XfrmKey key, auth_key;
  const std::size_t header = NLMSG_ALIGN(sizeof(xfrm_usersa_info));
  const char* at = static_cast<const char*>(mnl_nlmsg_get_payload(nlh)) + header;
  int remaining = static_cast<int>(mnl_nlmsg_get_payload_len(nlh)) - static_cast<int>(header);
  while (remaining > 0) {
    const auto* attr = reinterpret_cast<const nlattr*>(at);
    if (!mnl_attr_ok(attr, remaining)) break;
    const std::size_t len = mnl_attr_get_payload_len(attr);
    const void* payload = mnl_attr_get_payload(attr);
    switch (mnl_attr_get_type(attr)) {
      case XFRMA_ALG_AEAD: {
        if (len < sizeof(xfrm_algo_aead)) break;
        const auto* a = static_cast<const xfrm_algo_aead*>(payload);
        const std::size_t n = a->alg_key_len / 8;
        aead = true;
        if (name_of(a->alg_name) != kGcm || a->alg_icv_len != kAesGcmIcvBits ||
            len < sizeof(xfrm_algo_aead) + n)
          foreign = true;
        else
          key = XfrmKey{{reinterpret_cast<const std::uint8_t*>(a->alg_key), n}};
        break;
      }
      case XFRMA_ALG_CRYPT: {
        if (len < sizeof(xfrm_algo)) break;
        const auto* a = static_cast<const xfrm_algo*>(payload);
        const std::size_t n = a->alg_key_len / 8;
        crypt = true;
        if (name_of(a->alg_name) != kCbc || len < sizeof(xfrm_algo) + n)
          foreign = true;
        else
          key = XfrmKey{{reinterpret_cast<const std::uint8_t*>(a->alg_key), n}};
        break;
      }
      case XFRMA_ALG_AUTH_TRUNC: {
        if (len < sizeof(xfrm_algo_auth)) break;
        const auto* a = static_cast<const xfrm_algo_auth*>(payload);
        const std::size_t n = a->alg_key_len / 8;
        auth = true;
        if (name_of(a->alg_name) != kHmac || a->alg_trunc_len != kHmacSha256TruncBits ||
            len < sizeof(xfrm_algo_auth) + n)
          foreign = true;
        else
          auth_key = XfrmKey{{reinterpret_cast<const std::uint8_t*>(a->alg_key), n}};
        break;
      }
      case XFRMA_ALG_COMP:
      case XFRMA_ENCAP:
      case XFRMA_MARK:
      case XFRMA_IF_ID:
      case XFRMA_SEC_CTX:
      case XFRMA_OFFLOAD_DEV:
        foreign = true;  // we never set these: such an SA is not one of ours as we want it
        break;
      default: break;
    }
    const auto step = static_cast<int>(MNL_ALIGN(attr->nla_len));
    at += step;
    remaining -= step;
  }
  if (aead && !crypt && !auth) {
    sa.algorithm = XfrmSaAlgorithm::aes_gcm;
  } else if (!aead && crypt && auth) {
    sa.algorithm = XfrmSaAlgorithm::aes_cbc_hmac_sha256;
  } else {
    foreign = true;
  }
  if (!foreign) {
    sa.key = std::move(key);
    sa.auth_key = std::move(auth_key);
  }
  return sa;
}

}  // namespace netpolicy::filter
