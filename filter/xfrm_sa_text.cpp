#include "filter/xfrm_sa_text.h"

#include <cstdio>

namespace netpolicy::filter {
namespace {

constexpr const char* kRedacted = "<redacted>";

std::string host(const IpPrefix& p) {
  return format_address(p.family, p.bytes.data());
}

std::string proto_name(std::uint8_t proto) {
  return proto == 50 ? "esp" : proto == 51 ? "ah" : std::to_string(proto);
}

}  // namespace

std::string spi_text(std::uint32_t spi) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", spi);
  return buf;
}

std::string spi_to_text(std::uint32_t spi, const IpPrefix& dst) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", spi);
  return std::string{buf} + " to " + dst.to_string();
}

const char* xfrm_sa_algorithm_name(XfrmSaAlgorithm algorithm) {
  return algorithm == XfrmSaAlgorithm::aes_gcm ? "rfc4106(gcm(aes))" : "cbc(aes)+hmac(sha256)";
}

std::string describe_xfrm_sa_id(const XfrmSaId& id) {
  return "dst " + host(id.daddr) + " proto " + proto_name(id.proto) + " spi " + spi_text(id.spi);
}

std::string describe_xfrm_sa(const XfrmSa& sa) {
  return "src " + host(sa.src) + " dst " + host(sa.dst) + " proto " + proto_name(sa.proto) +
         " spi " + spi_text(sa.spi);
}

std::string render_xfrm_sa(const XfrmSa& sa) {
  const std::string any = sa.src.family == Family::ipv4 ? "0.0.0.0/0" : "::/0";
  std::string out = "src " + host(sa.src) + " dst " + host(sa.dst) + "\n";
  out += "\tproto " + proto_name(sa.proto) + " spi " + spi_text(sa.spi) + " reqid " +
         std::to_string(sa.reqid) + " mode " + (sa.tunnel ? "tunnel" : "transport") + "\n";
  out += "\treplay-window 0 \n";
  if (sa.algorithm == XfrmSaAlgorithm::aes_gcm) {
    out += std::string{"\taead rfc4106(gcm(aes)) "} + kRedacted + " " +
           std::to_string(kAesGcmIcvBits) + "\n";
  } else {
    out += std::string{"\tauth-trunc hmac(sha256) "} + kRedacted + " " +
           std::to_string(kHmacSha256TruncBits) + "\n";
    out += std::string{"\tenc cbc(aes) "} + kRedacted + "\n";
  }
  out += "\tsel src " + any + " dst " + any + " \n";
  return out;
}

std::string render_xfrm_sas(const std::vector<XfrmSa>& sas) {
  std::string out;
  for (const auto& sa : sas) {
    out += "# profile " + sa.profile + ", " + (sa.outbound ? "out" : "in") + "\n";
    out += render_xfrm_sa(sa);
  }
  return out;
}

}  // namespace netpolicy::filter
