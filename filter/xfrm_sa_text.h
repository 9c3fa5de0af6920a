#pragma once
// Manually keyed SAs as text in the layout of `ip xfrm state` (iproute2
// 6.1), each preceded by a `# profile P, out|in` line. Keys are never
// written: "<redacted>" stands where `ip xfrm state` prints them. Pure:
// used by the golden tests and anywhere SAs are shown.
#include <string>
#include <vector>

#include "filter/xfrm_sa.h"

namespace netpolicy::filter {

std::string render_xfrm_sas(const std::vector<XfrmSa>& sas);
std::string render_xfrm_sa(const XfrmSa& sa);  // without the comment line
// "src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x00001001": one line naming an
// SA in errors and events.
std::string describe_xfrm_sa(const XfrmSa& sa);
std::string describe_xfrm_sa_id(const XfrmSaId& id);
// "0x00001001", as iproute2 prints SPIs.
std::string spi_text(std::uint32_t spi);
// "0x1001 to 10.0.0.2": a manual SA as policies write it, in loader errors.
std::string spi_to_text(std::uint32_t spi, const IpPrefix& dst);
// The kernel's algorithm names: "rfc4106(gcm(aes))", "cbc(aes)", "hmac(sha256)".
const char* xfrm_sa_algorithm_name(XfrmSaAlgorithm algorithm);

}  // namespace netpolicy::filter
