#pragma once
// The XFRM SAs (security associations, `ip xfrm state`) netpolicyd keys by
// hand for `keying: manual` profiles, as plain structs. The compiler makes
// them from the profiles, filter/xfrm_sa_text.h renders them (keys
// redacted) and filter/xfrm_backend.h puts them in the kernel.
//
// Which SAs are netpolicyd's: an SA is identified in the kernel by
// (daddr, spi, proto). netpolicyd treats an SA as its own when that triple
// belongs to a manual profile of the policy in force or of the policy being
// applied AND the SA carries that profile's reqid. Anything else — another
// reqid on one of our triples, any other triple — belongs to an IKE daemon
// or an administrator: never changed or deleted; a clash with a wanted SA
// is an error naming it.
#include <string.h>  // explicit_bzero

#include <compare>
#include <cstdint>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "base/ip_prefix.h"

namespace netpolicy::filter {

// Secret key bytes. Wiped when destroyed or overwritten; never printed
// (renderers write "<redacted>"). Copies are wiped too.
class XfrmKey {
 public:
  XfrmKey() = default;
  explicit XfrmKey(std::span<const std::uint8_t> bytes) : bytes_(bytes.begin(), bytes.end()) {}
  XfrmKey(const XfrmKey& other) = default;
  XfrmKey(XfrmKey&& other) noexcept : bytes_(std::move(other.bytes_)) { other.wipe(); }
  XfrmKey& operator=(const XfrmKey& other) {
    if (this != &other) {
      wipe();
      bytes_ = other.bytes_;
    }
    return *this;
  }
  XfrmKey& operator=(XfrmKey&& other) noexcept {
    if (this != &other) {
      wipe();
      bytes_ = std::move(other.bytes_);
      other.wipe();
    }
    return *this;
  }
  ~XfrmKey() { wipe(); }

  [[nodiscard]] std::size_t size() const { return bytes_.size(); }
  [[nodiscard]] bool empty() const { return bytes_.empty(); }
  [[nodiscard]] const std::uint8_t* data() const { return bytes_.data(); }
  // Zeroes the bytes and empties the key.
  void wipe() {
    if (!bytes_.empty()) explicit_bzero(bytes_.data(), bytes_.size());
    bytes_.clear();
  }
  friend bool operator==(const XfrmKey&, const XfrmKey&) = default;

 private:
  std::vector<std::uint8_t> bytes_;
};

// The two algorithm suites manual profiles offer (ESP only).
enum class XfrmSaAlgorithm : std::uint8_t {
  // AEAD rfc4106(gcm(aes)): key = 16, 24 or 32 bytes of AES key followed by
  // 4 bytes of salt; ICV 128 bits.
  aes_gcm,
  // cbc(aes) (key 16, 24 or 32 bytes) + hmac(sha256) (key 32 bytes),
  // truncated to 128 bits as RFC 4868 says.
  aes_cbc_hmac_sha256,
};

inline constexpr std::uint32_t kAesGcmIcvBits = 128;
inline constexpr std::uint32_t kHmacSha256TruncBits = 128;
inline constexpr std::size_t kAesGcmSaltBytes = 4;
inline constexpr std::size_t kHmacSha256KeyBytes = 32;

// The SA's identity in the kernel.
struct XfrmSaId {
  IpPrefix daddr;  // a host address (/32, /128)
  std::uint32_t spi = 0;
  std::uint8_t proto = 50;
  friend bool operator==(const XfrmSaId&, const XfrmSaId&) = default;
  friend auto operator<=>(const XfrmSaId&, const XfrmSaId&) = default;
};

struct XfrmSa {
  IpPrefix src;  // host addresses of the SA's two ends
  IpPrefix dst;
  std::uint32_t spi = 0;   // >= 0x100
  std::uint8_t proto = 50; // esp
  bool tunnel = false;     // mode tunnel | transport
  std::uint32_t reqid = 0; // the profile's: how our policies find it
  XfrmSaAlgorithm algorithm = XfrmSaAlgorithm::aes_gcm;
  XfrmKey key;       // aes_gcm: AES key + salt; aes_cbc_hmac_sha256: AES key
  XfrmKey auth_key;  // aes_cbc_hmac_sha256 only: the HMAC key
  // Not in the kernel: where it comes from, for texts and errors.
  std::string profile;
  bool outbound = true;  // this host -> peer (false: peer -> this host)

  [[nodiscard]] XfrmSaId id() const { return {dst, spi, proto}; }
  // Equal as the kernel stores it (profile and direction are ours only).
  [[nodiscard]] bool same_in_kernel(const XfrmSa& o) const {
    return std::tie(src, dst, spi, proto, tunnel, reqid, algorithm) ==
               std::tie(o.src, o.dst, o.spi, o.proto, o.tunnel, o.reqid, o.algorithm) &&
           key == o.key && auth_key == o.auth_key;
  }
  friend bool operator==(const XfrmSa&, const XfrmSa&) = default;
};

}  // namespace netpolicy::filter
