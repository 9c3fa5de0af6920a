#include "filter/xfrm_backend.h"

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/xfrm.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <string>

#include "filter/xfrm_address.h"
#include "filter/xfrm_sa_netlink.h"
#include "filter/xfrm_sa_text.h"
#include "filter/xfrm_socket.h"
#include "filter/xfrm_text.h"

namespace netpolicy::filter {

namespace {

enum class Op : std::uint8_t { add, update, remove };

struct Change {
  Op op;
  const XfrmPolicy* policy;
};

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

// Sends `changes` in batches; the first refused change, if any, as an Error.
Status send_changes(XfrmSocket& socket, const std::vector<Change>& changes) {
  auto refused = socket.send_batch(changes.size(), [&](std::size_t i, char* buf,
                                                      std::uint32_t seq, bool ack) {
    return put_policy(buf, changes[i].op, *changes[i].policy, seq, ack);
  });
  if (!refused) return refused.error();
  if (!*refused) return Ok{};
  const XfrmRefusal& r = **refused;
  const Change& c = changes[r.index];
  const std::string object = "xfrm policy " + describe_xfrm_policy(*c.policy);
  std::string message = std::string{"Failed to "} + op_verb(c.op) + " " + object;
  if (!r.detail.empty()) message += " (kernel: " + r.detail + ")";
  Error e = errno_error(std::move(message), r.error, object);
  e.rule = c.policy->rule;
  return e;
}

// ---- SAs -------------------------------------------------------------------

struct SaChange {
  Op op;  // add or remove (the kernel cannot change an SA's keys in place)
  const XfrmSa* sa;
};

// How to go from `have` to `want`, in two steps: `first` (replace what
// differs: delete then add; add what is missing) before the policies
// change, `last` (delete what is no longer wanted) after.
struct SaPlan {
  std::vector<SaChange> first;
  std::vector<SaChange> last;
};

SaPlan plan_sas(const std::vector<XfrmSa>& have, const std::vector<XfrmSa>& want) {
  std::map<XfrmSaId, const XfrmSa*> current;
  for (const auto& sa : have) current[sa.id()] = &sa;
  std::map<XfrmSaId, bool> wanted;
  SaPlan plan;
  std::vector<SaChange> adds;
  for (const auto& sa : want) {
    wanted[sa.id()] = true;
    auto it = current.find(sa.id());
    if (it == current.end()) {
      adds.push_back({Op::add, &sa});
    } else if (!it->second->same_in_kernel(sa)) {
      plan.first.push_back({Op::remove, it->second});
      adds.push_back({Op::add, &sa});
    }
  }
  plan.first.insert(plan.first.end(), adds.begin(), adds.end());
  for (const auto& sa : have)
    if (!wanted.count(sa.id())) plan.last.push_back({Op::remove, &sa});
  return plan;
}

std::string sa_object(const XfrmSa& sa) {
  return "xfrm state " + describe_xfrm_sa(sa);
}

Status send_sa_changes(XfrmSocket& socket, const std::vector<SaChange>& changes) {
  auto refused = socket.send_batch(changes.size(), [&](std::size_t i, char* buf,
                                                      std::uint32_t seq, bool ack) {
    const SaChange& c = changes[i];
    return c.op == Op::add ? put_sa_add(buf, *c.sa, seq, ack)
                           : put_sa_delete(buf, c.sa->id(), seq, ack);
  });
  if (!refused) return refused.error();
  if (!*refused) return Ok{};
  const XfrmRefusal& r = **refused;
  const SaChange& c = changes[r.index];
  const std::string object = sa_object(*c.sa);
  std::string message = std::string{"Failed to "} + op_verb(c.op) + " " + object;
  if (!c.sa->profile.empty())
    message += " (profile " + c.sa->profile + ", " + (c.sa->outbound ? "out" : "in") + ")";
  if (!r.detail.empty()) message += " (kernel: " + r.detail + ")";
  return errno_error(std::move(message), r.error, object);
}

}  // namespace

XfrmBackend::XfrmBackend(std::unique_ptr<XfrmSocket> socket) : socket_(std::move(socket)) {}
XfrmBackend::~XfrmBackend() = default;

Result<std::unique_ptr<XfrmBackend>> XfrmBackend::open() {
  auto socket = XfrmSocket::open();
  if (!socket) return socket.error();
  return std::unique_ptr<XfrmBackend>(new XfrmBackend(std::move(socket.value())));
}

Result<std::vector<XfrmPolicy>> XfrmBackend::read_band(const XfrmBand& band) {
  std::vector<XfrmPolicy> out;
  Status s = socket_->dump(
      XFRM_MSG_GETPOLICY,
      [&](const nlmsghdr* m) {
        if (auto p = parse_policy(m); p && band.contains(p->priority)) out.push_back(*p);
      },
      "dump XFRM policies");
  if (!s) return s.error();
  return out;
}

Result<XfrmBackend::OurSas> XfrmBackend::read_sas(const std::vector<XfrmSa>& wanted,
                                                  const std::vector<XfrmSa>& also) {
  std::map<XfrmSaId, std::vector<const XfrmSa*>> candidates;
  for (const auto& sa : wanted) candidates[sa.id()].push_back(&sa);
  // The reqids an SA with a known (daddr, spi, proto) may carry to be ours:
  // the last successful replace's and, after a failed one, what it tried
  // (a profile whose reqid changed has put an SA with the new one).
  std::map<XfrmSaId, std::vector<std::uint32_t>> owned;
  for (const auto& [id, reqid] : owned_) owned[id].push_back(reqid);
  for (const auto& sa : also) owned[sa.id()].push_back(sa.reqid);
  OurSas out;
  Status s = socket_->dump(
      XFRM_MSG_GETSA,
      [&](const nlmsghdr* m) {
        auto sa = parse_sa(m);
        if (!sa) return;
        const XfrmSaId id = sa->id();
        auto known = owned.find(id);
        const bool ours_before =
            known != owned.end() &&
            std::find(known->second.begin(), known->second.end(), sa->reqid) != known->second.end();
        auto want = candidates.find(id);
        const bool ours_now = want != candidates.end() && want->second.front()->reqid == sa->reqid;
        if (ours_before || ours_now) {
          out.sas.push_back(std::move(*sa));
        } else if (want != candidates.end() && !out.clash) {
          out.clash = std::move(*sa);
          out.clash_with = want->second.front();
        }
      },
      "dump XFRM SAs");
  if (!s) return s.error();
  return out;
}

Result<XfrmState> XfrmBackend::snapshot(const XfrmState& desired) {
  auto policies = read_band(desired.band);
  if (!policies) return policies.error();
  auto sas = read_sas(desired.sas, {});
  if (!sas) return sas.error();
  XfrmState state;
  state.band = desired.band;
  state.policies = std::move(*policies);
  state.sas = std::move(sas->sas);
  return state;
}

Status XfrmBackend::undo(const XfrmState& before, const std::vector<XfrmSa>& tried) {
  // Every step is tried; the first failure is returned. Policies back first
  // (they may need the old SAs, which stay until then), then the SAs.
  Status first_failure = Ok{};
  auto keep = [&](Status s) {
    if (!s && first_failure) first_failure = std::move(s);
  };
  auto band = read_band(before.band);
  if (band)
    keep(send_changes(*socket_, difference(*band, before.policies)));
  else
    keep(band.error());
  auto now = read_sas(before.sas, tried);
  if (!now) {
    keep(now.error());
    return first_failure;
  }
  SaPlan plan = plan_sas(now->sas, before.sas);
  keep(send_sa_changes(*socket_, plan.first));
  keep(send_sa_changes(*socket_, plan.last));
  return first_failure;
}

Status XfrmBackend::replace(const XfrmState& desired) {
  auto policies = read_band(desired.band);
  if (!policies) return policies.error();
  auto sas = read_sas(desired.sas, {});
  if (!sas) return sas.error();
  if (sas->clash) {
    const XfrmSa& other = *sas->clash;
    const XfrmSa& mine = *sas->clash_with;
    const std::string object = sa_object(other);
    return errno_error("Refusing to replace " + object + " (reqid " +
                           std::to_string(other.reqid) +
                           "): it is not netpolicyd's, and ipsec profile " + mine.profile +
                           " wants its SPI for its " + (mine.outbound ? "outbound" : "inbound") +
                           " SA (reqid " + std::to_string(mine.reqid) +
                           "); delete that SA or choose another SPI",
                       EEXIST, object);
  }
  XfrmState before;
  before.band = desired.band;
  before.policies = std::move(*policies);
  before.sas = std::move(sas->sas);

  const SaPlan plan = plan_sas(before.sas, desired.sas);
  Status done = send_sa_changes(*socket_, plan.first);
  if (done) done = send_changes(*socket_, difference(before.policies, desired.policies));
  if (done) done = send_sa_changes(*socket_, plan.last);
  if (!done) {
    if (Status undone = undo(before, desired.sas); !undone) {
      // Say so: the kernel is not as it was, whatever the event's default.
      Error e = done.error();
      e.message += "; putting the previous XFRM state back failed too: " + undone.error().describe();
      return e;
    }
    return done;
  }
  owned_.clear();
  for (const auto& sa : desired.sas) owned_.emplace(sa.id(), sa.reqid);
  return done;
}

}  // namespace netpolicy::filter
