#include "policy/policy_digest.h"

#include <openssl/evp.h>

#include <stdexcept>

namespace netpolicy::policy {

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  // One-shot EVP_Digest: no context to own. It fails only when libcrypto
  // itself is broken (out of memory, a FIPS provider refusing SHA-256).
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("Failed to compute SHA-256 with libcrypto");
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * size);
  for (unsigned int i = 0; i < size; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0xf];
  }
  return out;
}

}  // namespace netpolicy::policy
