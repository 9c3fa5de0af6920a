#include "policy/yaml_ipsec_manual.h"

#include <unistd.h>

#include <charconv>
#include <variant>

#include "policy/ipsec_key_file.h"
#include "policy/yaml_sections.h"

namespace netpolicy::policy::yaml {

namespace {

constexpr std::string_view kManualKeys[] = {"algorithm", "out", "in"};
enum : std::size_t { kAlgorithm, kOut, kIn };
constexpr std::string_view kSaKeys[] = {"spi", "key_file", "auth_key_file"};
enum : std::size_t { kSpi, kKeyFile, kAuthKeyFile };

using filter::XfrmSaAlgorithm;
constexpr Choice<XfrmSaAlgorithm> kAlgorithms[] = {
    {"rfc4106(gcm(aes))", XfrmSaAlgorithm::aes_gcm},
    {"cbc(aes)+hmac(sha256)", XfrmSaAlgorithm::aes_cbc_hmac_sha256}};

// SPIs 1-255 are reserved by IANA for future use, 0 means none.
constexpr std::uint64_t kMinSpi = 0x100;
constexpr std::uint64_t kMaxSpi = 0xffffffff;

std::optional<std::uint32_t> read_spi(Reader& r, const Field& f, const KeyPath& path) {
  const Node& node = *f.value;
  if (node.is_scalar()) {
    std::string_view text = node.text;
    int base = 10;
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
      text.remove_prefix(2);
      base = 16;
    }
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
    if (!text.empty() && end == text.data() + text.size()) {
      if (ec == std::errc{} && value >= kMinSpi && value <= kMaxSpi)
        return static_cast<std::uint32_t>(value);
      std::string why = value >= 1 && value < kMinSpi && ec == std::errc{}
                            ? " (SPIs 1-255 are reserved)"
                            : "";
      r.diags.error(f.value_at, path,
                    "spi " + quote(node.text) + " is out of range 0x100-0xffffffff" + why);
      return std::nullopt;
    }
  }
  r.diags.error(f.value_at, path,
                "expected spi as an integer 0x100-0xffffffff (hex with 0x, or decimal), got " +
                    describe(node));
  return std::nullopt;
}

// The key lengths (bytes) each algorithm takes, and how to say it.
bool key_length_ok(XfrmSaAlgorithm a, std::size_t n) {
  if (a == XfrmSaAlgorithm::aes_gcm)
    return n == 16 + filter::kAesGcmSaltBytes || n == 24 + filter::kAesGcmSaltBytes ||
           n == 32 + filter::kAesGcmSaltBytes;
  return n == 16 || n == 24 || n == 32;
}
std::string key_length_rule(XfrmSaAlgorithm a) {
  return a == XfrmSaAlgorithm::aes_gcm
             ? "rfc4106(gcm(aes)) takes 20, 28 or 36 bytes (an AES key of 16, 24 or 32 bytes "
               "followed by a 4-byte salt)"
             : "cbc(aes) takes 16, 24 or 32 bytes";
}

// Reads key file `f` into `key`; reports at its value. False when refused.
bool read_key(Reader& r, const Field& f, const KeyPath& path, std::string& file, Location& where,
              filter::XfrmKey& key) {
  auto name = read_string(r, *f.value, f.value_at, path, "the path of a key file");
  if (!name) return false;
  file = *name;
  where = r.diags.location(f.value_at);
  if (file.empty() || file.front() != '/') {
    r.diags.error(f.value_at, path, "key file " + quote(file) + " must be an absolute path");
    return false;
  }
  auto read = read_key_file(file, ::geteuid());
  if (auto* why = std::get_if<std::string>(&read)) {
    r.diags.error(f.value_at, path, "refusing key file " + quote(file) + ": " + *why);
    return false;
  }
  key = std::move(std::get<filter::XfrmKey>(read));
  return true;
}

void read_sa(Reader& r, const Field& f, const KeyPath& path,
             std::optional<XfrmSaAlgorithm> algorithm, ManualSa& out) {
  const Pos at = f.value_at;
  if (!expect_map(r, *f.value, at, path, "an SA (a mapping with spi and key_file)")) return;
  auto fields = read_fields(r, *f.value, path, kSaKeys);
  if (require(r, fields[kSpi], "spi", at, path))
    if (auto spi = read_spi(r, fields[kSpi], path.child("spi"))) out.spi = *spi;
  if (require(r, fields[kKeyFile], "key_file", at, path)) {
    const KeyPath p = path.child("key_file");
    if (read_key(r, fields[kKeyFile], p, out.key_file, out.key_file_where, out.key) &&
        algorithm && !key_length_ok(*algorithm, out.key.size())) {
      r.diags.error(fields[kKeyFile].value_at, p,
                    "key file " + quote(out.key_file) + " holds a " +
                        std::to_string(out.key.size()) + "-byte key, but " +
                        key_length_rule(*algorithm));
      out.key.wipe();
    }
  }
  const Field& auth = fields[kAuthKeyFile];
  if (algorithm == XfrmSaAlgorithm::aes_cbc_hmac_sha256) {
    if (require(r, auth, "auth_key_file", at, path)) {
      const KeyPath p = path.child("auth_key_file");
      if (read_key(r, auth, p, out.auth_key_file, out.auth_key_file_where, out.auth_key) &&
          out.auth_key.size() != filter::kHmacSha256KeyBytes) {
        r.diags.error(auth.value_at, p,
                      "key file " + quote(out.auth_key_file) + " holds a " +
                          std::to_string(out.auth_key.size()) +
                          "-byte key, but hmac(sha256) takes 32 bytes (RFC 4868)");
        out.auth_key.wipe();
      }
    }
  } else if (algorithm && auth.present) {
    r.diags.error(auth.key_at, path.child("auth_key_file"),
                  "only cbc(aes)+hmac(sha256) takes an auth_key_file; rfc4106(gcm(aes)) "
                  "authenticates with its one key");
  }
}

}  // namespace

void read_manual(Reader& r, const Field& f, const KeyPath& path, IpsecProfile& profile) {
  const Pos at = f.value_at;
  if (!expect_map(r, *f.value, at, path, "the manual SAs (a mapping with algorithm, out, in)"))
    return;
  auto fields = read_fields(r, *f.value, path, kManualKeys);
  ManualKeying manual;
  manual.where = r.diags.location(at);
  std::optional<XfrmSaAlgorithm> algorithm;
  if (require(r, fields[kAlgorithm], "algorithm", at, path)) {
    const Field& a = fields[kAlgorithm];
    algorithm = read_choice(r, *a.value, a.value_at, path.child("algorithm"), kAlgorithms);
    if (algorithm) manual.algorithm = *algorithm;
  }
  if (require(r, fields[kOut], "out", at, path))
    read_sa(r, fields[kOut], path.child("out"), algorithm, manual.out);
  if (require(r, fields[kIn], "in", at, path))
    read_sa(r, fields[kIn], path.child("in"), algorithm, manual.in);
  // One key per direction: two SAs under one key would reuse its nonces
  // (GCM) and let one direction's packets be replayed into the other.
  if (!manual.in.key.empty() && manual.in.key == manual.out.key)
    r.diags.error(Pos{manual.in.key_file_where.line, manual.in.key_file_where.column},
                  path.child("in").child("key_file"),
                  "key file " + quote(manual.in.key_file) + " holds the same key as out's " +
                      quote(manual.out.key_file) + "; each direction needs its own key");
  profile.manual = std::move(manual);
}

void check_manual_rules(Reader& r, const Policy& policy) {
  const std::string file = r.diags.location(Pos{}).file;
  for (std::size_t i = 0; i < policy.rules.size(); ++i) {
    const Rule& rule = policy.rules[i];
    if (rule.action != Action::protect || rule.where.file != file) continue;
    const IpsecProfile* profile = nullptr;
    for (const auto& p : policy.ipsec)
      if (p.name == rule.ipsec) profile = &p;
    if (profile == nullptr || !profile->manual || profile->mode != IpsecMode::transport ||
        !profile->remote)
      continue;
    // Each KeyPath points at its parent: every level must outlive `path`.
    const KeyPath root;
    const KeyPath rules = root.child("rules");
    const KeyPath path = rules.element(i);
    const Pos at{rule.where.line, rule.where.column};
    const std::string remote = profile->remote->to_string();
    if (rule.direction == Direction::forward) {
      r.diags.error(at, path,
                    "forward rule '" + rule.name + "' uses transport-mode manual profile '" +
                        profile->name +
                        "': transport mode protects this host's own traffic; use a tunnel-mode "
                        "profile for forwarded traffic");
      continue;
    }
    // The peer is the far end of the flow: `to` of out rules, `from` of in rules.
    const bool out = rule.direction == Direction::out;
    const std::vector<AddressRef>& peer = out ? rule.to : rule.from;
    const char* side = out ? "to" : "from";
    bool single = peer.size() == 1 && !peer[0].me && !peer[0].zone;
    IpPrefix address;
    if (single && peer[0].group) {
      const AddressGroup* g = policy.find_group(*peer[0].group);
      single = g != nullptr && g->prefixes.size() == 1;
      if (single) address = g->prefixes[0];
    } else if (single) {
      address = peer[0].prefix;
    }
    if (!single || address != *profile->remote)
      r.diags.error(at, path,
                    "rule '" + rule.name + "' uses manual profile '" + profile->name +
                        "', whose SAs join this host with " + remote + " only: its '" + side +
                        "' must be that one address (" + remote + ")" +
                        (single ? ", not " + address.to_string() : ""));
  }
}

}  // namespace netpolicy::policy::yaml
