#include "filter/xfrm_text.h"

#include "filter/xfrm_sa_text.h"

namespace netpolicy::filter {
namespace {

std::string prefix_text(const IpPrefix& p) {
  return format_address(p.family, p.bytes.data()) + "/" + std::to_string(p.length);
}

std::string address_text(const std::optional<IpPrefix>& p, Family family) {
  if (p) return format_address(p->family, p->bytes.data());
  return family == Family::ipv4 ? "0.0.0.0" : "::";
}

// The names iproute2 prints (from /etc/protocols).
std::string proto_name(std::uint8_t proto) {
  switch (proto) {
    case 1: return "icmp";
    case 6: return "tcp";
    case 17: return "udp";
    case 50: return "esp";
    case 51: return "ah";
    case 58: return "ipv6-icmp";
    default: return std::to_string(proto);
  }
}

const char* dir_name(XfrmDir dir) {
  switch (dir) {
    case XfrmDir::in: return "in";
    case XfrmDir::out: return "out";
    case XfrmDir::fwd: return "fwd";
  }
  return "?";
}

std::string selector_text(const XfrmSelector& s) {
  std::string out = "src " + prefix_text(s.src) + " dst " + prefix_text(s.dst);
  if (s.proto != 0) out += " proto " + proto_name(s.proto);
  if (s.sport != 0) out += " sport " + std::to_string(s.sport);
  if (s.dport != 0) out += " dport " + std::to_string(s.dport);
  return out;
}

}  // namespace

std::string render_xfrm_policy(const XfrmPolicy& p) {
  // The template's addresses are in the family of the tunnel endpoints,
  // or of the selector in transport mode.
  const Family tmpl_family = p.tmpl.tunnel_src ? p.tmpl.tunnel_src->family : p.selector.family;
  std::string out = selector_text(p.selector) + " \n";
  out += std::string{"\tdir "} + dir_name(p.dir) + " priority " + std::to_string(p.priority) +
         " ptype main \n";
  out += "\ttmpl src " + address_text(p.tmpl.tunnel_src, tmpl_family) + " dst " +
         address_text(p.tmpl.tunnel_dst, tmpl_family) + "\n";
  out += "\t\tproto " + proto_name(p.tmpl.proto) + " reqid " + std::to_string(p.tmpl.reqid) +
         " mode " + (p.tmpl.tunnel ? "tunnel" : "transport") + "\n";
  if (!p.tmpl.required) out += "\t\tlevel use \n";
  return out;
}

std::string describe_xfrm_policy(const XfrmPolicy& p) {
  return std::string{"dir "} + dir_name(p.dir) + " " + selector_text(p.selector);
}

std::string render_xfrm(const XfrmState& state) {
  // SAs first, as they go into the kernel; their keys are redacted.
  std::string out = render_xfrm_sas(state.sas);
  for (const auto& p : state.policies) {
    out += "# rule " + p.rule + ", profile " + p.profile + "\n";
    out += render_xfrm_policy(p);
  }
  return out;
}

}  // namespace netpolicy::filter
