#include "filter/xfrm_backend.h"

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/xfrm.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <string>

#include "filter/nft_handles.h"  // MnlSocketPtr
#include "filter/xfrm_text.h"

namespace netpolicy::filter {

namespace {

// Messages per sendmsg: at ~300 bytes each, 200 stay well inside the
// default socket send buffer.
constexpr std::size_t kBatchBytes = 64 * 1024;
constexpr int kReceiveBuffer = 8 << 20;  // room for many error messages
constexpr std::size_t kMessageMax = 1024;
constexpr std::size_t kReceiveChunk = 64 * 1024;

enum class Op : std::uint8_t { add, update, remove };

struct Change {
  Op op;
  const XfrmPolicy* policy;
};

xfrm_address_t to_xfrm_address(const IpPrefix& p) {
  xfrm_address_t a{};
  std::memcpy(&a, p.bytes.data(), p.size());
  return a;
}

std::uint16_t family_number(Family f) {
  return f == Family::ipv4 ? AF_INET : AF_INET6;
}

xfrm_selector to_selector(const XfrmSelector& s) {
  xfrm_selector sel{};
  sel.family = family_number(s.family);
  sel.saddr = to_xfrm_address(s.src);
  sel.daddr = to_xfrm_address(s.dst);
  sel.prefixlen_s = s.src.length;
  sel.prefixlen_d = s.dst.length;
  sel.proto = s.proto;
  sel.sport = htons(s.sport);
  sel.sport_mask = s.sport != 0 ? 0xffff : 0;
  sel.dport = htons(s.dport);
  sel.dport_mask = s.dport != 0 ? 0xffff : 0;
  return sel;
}

IpPrefix from_xfrm_address(const xfrm_address_t& a, std::uint16_t family, std::uint8_t length) {
  IpPrefix p;
  p.family = family == AF_INET6 ? Family::ipv6 : Family::ipv4;
  std::memcpy(p.bytes.data(), &a, p.size());
  p.length = length;
  return p;
}

// Appends one message to `buf`. Returns the message's size.
std::size_t put_policy(char* buf, Op op, const XfrmPolicy& p, std::uint32_t seq, bool ack) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_flags = NLM_F_REQUEST | (ack ? NLM_F_ACK : 0);
  nlh->nlmsg_seq = seq;
  if (op == Op::remove) {
    nlh->nlmsg_type = XFRM_MSG_DELPOLICY;
    auto* id = static_cast<xfrm_userpolicy_id*>(
        mnl_nlmsg_put_extra_header(nlh, sizeof(xfrm_userpolicy_id)));
    id->sel = to_selector(p.selector);
    id->dir = static_cast<std::uint8_t>(p.dir);
    return nlh->nlmsg_len;
  }
  // NEWPOLICY refuses (EEXIST) to replace a policy with the same selector:
  // never someone else's. UPDPOLICY changes ours in place.
  nlh->nlmsg_type = op == Op::add ? XFRM_MSG_NEWPOLICY : XFRM_MSG_UPDPOLICY;
  if (op == Op::add) nlh->nlmsg_flags |= NLM_F_CREATE | NLM_F_EXCL;
  auto* info = static_cast<xfrm_userpolicy_info*>(
      mnl_nlmsg_put_extra_header(nlh, sizeof(xfrm_userpolicy_info)));
  info->sel = to_selector(p.selector);
  info->lft.soft_byte_limit = XFRM_INF;
  info->lft.hard_byte_limit = XFRM_INF;
  info->lft.soft_packet_limit = XFRM_INF;
  info->lft.hard_packet_limit = XFRM_INF;
  info->priority = p.priority;
  info->dir = static_cast<std::uint8_t>(p.dir);
  info->action = XFRM_POLICY_ALLOW;
  info->share = XFRM_SHARE_ANY;

  xfrm_user_tmpl t{};
  const Family tmpl_family = p.tmpl.tunnel_src ? p.tmpl.tunnel_src->family : p.selector.family;
  t.family = family_number(tmpl_family);
  if (p.tmpl.tunnel_src) t.saddr = to_xfrm_address(*p.tmpl.tunnel_src);
  if (p.tmpl.tunnel_dst) t.id.daddr = to_xfrm_address(*p.tmpl.tunnel_dst);
  t.id.proto = p.tmpl.proto;
  t.reqid = p.tmpl.reqid;
  t.mode = p.tmpl.tunnel ? XFRM_MODE_TUNNEL : XFRM_MODE_TRANSPORT;
  t.share = XFRM_SHARE_ANY;
  t.optional = p.tmpl.required ? 0 : 1;  // `level use`
  t.aalgos = t.ealgos = t.calgos = ~0u;   // any algorithm, as ip xfrm does
  mnl_attr_put(nlh, XFRMA_TMPL, sizeof t, &t);
  return nlh->nlmsg_len;
}

std::optional<XfrmPolicy> parse_policy(const nlmsghdr* nlh) {
  if (nlh->nlmsg_type != XFRM_MSG_NEWPOLICY) return std::nullopt;
  if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(xfrm_userpolicy_info))) return std::nullopt;
  const auto* info = static_cast<const xfrm_userpolicy_info*>(mnl_nlmsg_get_payload(nlh));
  XfrmPolicy p;
  const xfrm_selector& s = info->sel;
  p.selector.family = s.family == AF_INET6 ? Family::ipv6 : Family::ipv4;
  p.selector.src = from_xfrm_address(s.saddr, s.family, s.prefixlen_s);
  p.selector.dst = from_xfrm_address(s.daddr, s.family, s.prefixlen_d);
  p.selector.proto = s.proto;
  p.selector.sport = s.sport_mask != 0 ? ntohs(s.sport) : 0;
  p.selector.dport = s.dport_mask != 0 ? ntohs(s.dport) : 0;
  p.dir = static_cast<XfrmDir>(info->dir);
  p.priority = info->priority;
  bool sub_policy = false;
  int templates = 0;
  const std::size_t header = NLMSG_ALIGN(sizeof(xfrm_userpolicy_info));
  auto* start = static_cast<const char*>(mnl_nlmsg_get_payload(nlh)) + header;
  int remaining = static_cast<int>(mnl_nlmsg_get_payload_len(nlh)) - static_cast<int>(header);
  for (auto* attr = reinterpret_cast<const nlattr*>(start);
       remaining > 0 && mnl_attr_ok(attr, remaining);
       remaining -= static_cast<int>(MNL_ALIGN(attr->nla_len)),
       attr = reinterpret_cast<const nlattr*>(reinterpret_cast<const char*>(attr) +
                                              MNL_ALIGN(attr->nla_len))) {
    const auto type = mnl_attr_get_type(attr);
    if (type == XFRMA_POLICY_TYPE &&
        mnl_attr_get_payload_len(attr) >= sizeof(xfrm_userpolicy_type)) {
      const auto* pt = static_cast<const xfrm_userpolicy_type*>(mnl_attr_get_payload(attr));
      sub_policy = pt->type != XFRM_POLICY_TYPE_MAIN;
    }
    if (type == XFRMA_TMPL && mnl_attr_get_payload_len(attr) >= sizeof(xfrm_user_tmpl)) {
      const auto* t = static_cast<const xfrm_user_tmpl*>(mnl_attr_get_payload(attr));
      templates = static_cast<int>(mnl_attr_get_payload_len(attr) / sizeof(xfrm_user_tmpl));
      p.tmpl.reqid = t->reqid;
      p.tmpl.proto = t->id.proto;
      p.tmpl.required = t->optional == 0;
      p.tmpl.tunnel = t->mode == XFRM_MODE_TUNNEL;
      if (p.tmpl.tunnel) {
        p.tmpl.tunnel_src = from_xfrm_address(t->saddr, t->family, t->family == AF_INET6 ? 128 : 32);
        p.tmpl.tunnel_dst =
            from_xfrm_address(t->id.daddr, t->family, t->family == AF_INET6 ? 128 : 32);
      }
    }
  }
  if (sub_policy || info->action != XFRM_POLICY_ALLOW) return std::nullopt;
  // Something we would never write (no template, several) must differ
  // from anything we want, so it is updated or deleted.
  if (templates != 1) p.tmpl.reqid = 0, p.tmpl.proto = 0;
  return p;
}

const char* op_verb(Op op) {
  switch (op) {
    case Op::add: return "add";
    case Op::update: return "update";
    case Op::remove: return "delete";
  }
  return "change";
}

}  // namespace

class XfrmSocket {
 public:
  explicit XfrmSocket(MnlSocketPtr socket) : socket_(std::move(socket)) {}

  Status send_all(const char* data, std::size_t len) {
    if (mnl_socket_sendto(socket_.get(), data, len) < 0) {
      const int error = errno;
      return errno_error("Failed to send XFRM messages", error);
    }
    return Ok{};
  }
  // Receives until the ACK of `last_seq`; collects the errors of earlier
  // messages by sequence number.
  Status receive_until(std::uint32_t last_seq, std::map<std::uint32_t, int>& errors) {
    std::vector<char> buf(kReceiveChunk);
    for (;;) {
      const ssize_t n = mnl_socket_recvfrom(socket_.get(), buf.data(), buf.size());
      if (n < 0) {
        const int error = errno;
        if (error == EINTR) continue;
        return errno_error("Failed to read XFRM replies", error);
      }
      int len = static_cast<int>(n);
      for (auto* nlh = reinterpret_cast<nlmsghdr*>(buf.data()); mnl_nlmsg_ok(nlh, len);
           nlh = mnl_nlmsg_next(nlh, &len)) {
        if (nlh->nlmsg_type != NLMSG_ERROR) continue;
        const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
        if (err->error != 0) errors[nlh->nlmsg_seq] = -err->error;
        if (nlh->nlmsg_seq == last_seq) return Ok{};
      }
    }
  }
  // Dumps every policy; `keep` decides.
  Status dump(std::vector<XfrmPolicy>& out, const XfrmBand& band) {
    char req[kMessageMax];
    nlmsghdr* nlh = mnl_nlmsg_put_header(req);
    nlh->nlmsg_type = XFRM_MSG_GETPOLICY;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = ++seq_;
    const std::uint32_t seq = seq_;
    if (mnl_socket_sendto(socket_.get(), nlh, nlh->nlmsg_len) < 0) {
      const int error = errno;
      return errno_error("Failed to dump XFRM policies", error);
    }
    std::vector<char> buf(kReceiveChunk);
    for (;;) {
      const ssize_t n = mnl_socket_recvfrom(socket_.get(), buf.data(), buf.size());
      if (n < 0) {
        const int error = errno;
        if (error == EINTR) continue;
        return errno_error("Failed to dump XFRM policies", error);
      }
      int len = static_cast<int>(n);
      for (auto* m = reinterpret_cast<nlmsghdr*>(buf.data()); mnl_nlmsg_ok(m, len);
           m = mnl_nlmsg_next(m, &len)) {
        if (m->nlmsg_seq != seq) continue;  // a stale reply
        if (m->nlmsg_flags & NLM_F_DUMP_INTR)
          return errno_error("Failed to dump XFRM policies (changed while dumping)", EINTR);
        if (m->nlmsg_type == NLMSG_DONE) return Ok{};
        if (m->nlmsg_type == NLMSG_ERROR) {
          const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(m));
          return errno_error("Failed to dump XFRM policies", -err->error);
        }
        if (auto p = parse_policy(m); p && band.contains(p->priority)) out.push_back(*p);
      }
    }
  }
  std::uint32_t next_seq() { return ++seq_; }

 private:
  MnlSocketPtr socket_;
  std::uint32_t seq_ = 0;
};

XfrmBackend::XfrmBackend(std::unique_ptr<XfrmSocket> socket) : socket_(std::move(socket)) {}
XfrmBackend::~XfrmBackend() = default;

Result<std::unique_ptr<XfrmBackend>> XfrmBackend::open() {
  MnlSocketPtr socket{mnl_socket_open(NETLINK_XFRM)};
  if (!socket) {
    const int error = errno;
    return errno_error("Failed to open XFRM netlink socket", error);
  }
  if (mnl_socket_bind(socket.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    const int error = errno;
    return errno_error("Failed to bind XFRM netlink socket", error);
  }
  int one = 1;
  // Errors quote only the request's header, not all of it.
  mnl_socket_setsockopt(socket.get(), NETLINK_CAP_ACK, &one, sizeof one);
  const int fd = mnl_socket_get_fd(socket.get());
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &kReceiveBuffer, sizeof kReceiveBuffer) != 0)
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kReceiveBuffer, sizeof kReceiveBuffer);
  return std::unique_ptr<XfrmBackend>(
      new XfrmBackend(std::make_unique<XfrmSocket>(std::move(socket))));
}

Result<std::vector<XfrmPolicy>> XfrmBackend::read_band(const XfrmBand& band) {
  std::vector<XfrmPolicy> out;
  if (auto s = socket_->dump(out, band); !s) return s.error();
  return out;
}

namespace {

std::vector<Change> difference(const std::vector<XfrmPolicy>& have,
                               const std::vector<XfrmPolicy>& want) {
  std::map<std::pair<XfrmDir, XfrmSelector>, const XfrmPolicy*> current;
  for (const auto& p : have) current[{p.dir, p.selector}] = &p;
  std::vector<Change> changes;
  std::map<std::pair<XfrmDir, XfrmSelector>, bool> wanted;
  for (const auto& p : want) {
    wanted[{p.dir, p.selector}] = true;
    auto it = current.find({p.dir, p.selector});
    if (it == current.end())
      changes.push_back({Op::add, &p});
    else if (!it->second->same_in_kernel(p))
      changes.push_back({Op::update, &p});
  }
  // Deletions first would open a gap; they go last.
  for (const auto& p : have)
    if (!wanted.count({p.dir, p.selector})) changes.push_back({Op::remove, &p});
  return changes;
}

}  // namespace

// Sends `changes` in batches; the first refused change, if any, as an Error.
static Status send_changes(XfrmSocket& socket, const std::vector<Change>& changes) {
  if (changes.empty()) return Ok{};
  std::vector<char> buf(kBatchBytes + kMessageMax);
  std::map<std::uint32_t, std::size_t> index_of;  // seq -> change
  std::map<std::uint32_t, int> errors;
  std::size_t used = 0;
  std::uint32_t last_seq = 0;
  for (std::size_t i = 0; i < changes.size(); ++i) {
    const std::uint32_t seq = socket.next_seq();
    const bool last = i + 1 == changes.size();
    used += put_policy(buf.data() + used, changes[i].op, *changes[i].policy, seq, last);
    index_of[seq] = i;
    last_seq = seq;
    if (used >= kBatchBytes || last) {
      if (auto s = socket.send_all(buf.data(), used); !s) return s;
      used = 0;
    }
  }
  if (auto s = socket.receive_until(last_seq, errors); !s) return s;
  if (errors.empty()) return Ok{};
  const auto& [seq, error] = *errors.begin();
  const Change& c = changes[index_of[seq]];
  const std::string object = "xfrm policy " + describe_xfrm_policy(*c.policy);
  Error e = errno_error(std::string{"Failed to "} + op_verb(c.op) + " " + object, error, object);
  e.rule = c.policy->rule;
  return e;
}

Status XfrmBackend::replace(const XfrmState& desired) {
  auto before = read_band(desired.band);
  if (!before) return before.error();
  const Status applied = send_changes(*socket_, difference(*before, desired.policies));
  if (applied) return applied;
  // Undo: whatever went in, take the band back to what it held before.
  // Best effort: the first error is the one reported.
  if (auto now = read_band(desired.band))
    (void)send_changes(*socket_, difference(*now, *before));
  return applied;
}

}  // namespace netpolicy::filter
