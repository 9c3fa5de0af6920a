#include <limits>
#include <map>
#include <unordered_map>

#include "base/ip_prefix.h"
#include "filter/xfrm_sa_text.h"
#include "policy/yaml_ipsec_manual.h"
#include "policy/yaml_sections.h"

namespace netpolicy::policy::yaml {

namespace {
constexpr std::string_view kKeys[] = {"name",  "mode",  "local",  "remote", "protocol",
                                      "level", "reqid", "keying", "manual"};
enum : std::size_t { kName, kMode, kLocal, kRemote, kProtocol, kLevel, kReqid, kKeying, kManual };

constexpr Choice<IpsecMode> kModes[] = {{"transport", IpsecMode::transport},
                                        {"tunnel", IpsecMode::tunnel}};
constexpr Choice<std::uint8_t> kProtocols[] = {{"esp", proto::esp}, {"ah", proto::ah}};
constexpr Choice<IpsecLevel> kLevels[] = {{"require", IpsecLevel::require},
                                          {"request", IpsecLevel::request}};
constexpr Choice<Keying> kKeyings[] = {{"ike", Keying::ike}, {"manual", Keying::manual}};

const char* family_name(Family f) {
  return f == Family::ipv4 ? "IPv4" : "IPv6";
}

// An SA or tunnel endpoint (local, remote): one address, not a prefix.
std::optional<IpPrefix> read_endpoint(Reader& r, const Field& f, const KeyPath& path) {
  auto text = read_string(r, *f.value, f.value_at, path, "an IP address");
  if (!text) return std::nullopt;
  auto prefix = parse_ip_prefix(*text);
  if (!prefix) {
    r.diags.error(f.value_at, path, address_error(*text));
    return std::nullopt;
  }
  if (prefix->length != prefix->max_length()) {
    r.diags.error(f.value_at, path,
                  "endpoint " + quote(*text) + " must be a single address, not a prefix");
    return std::nullopt;
  }
  return prefix;
}

struct Seen {
  std::unordered_map<std::string, Pos> names;
  std::unordered_map<std::uint32_t, std::pair<std::string, Pos>> reqids;
  // (destination, spi) of manual SAs: the kernel keeps one SA per pair.
  std::map<std::pair<IpPrefix, std::uint32_t>, std::string> spis;
};

void read_endpoints(Reader& r, const std::vector<Field>& fields, const KeyPath& path,
                    IpsecMode mode, bool manual, IpsecProfile& profile) {
  const Field& local = fields[kLocal];
  const Field& remote = fields[kRemote];
  if (mode == IpsecMode::transport && !manual) {
    // Transport mode protects traffic between the two hosts themselves:
    // the endpoints are the packet's own addresses.
    for (std::size_t i : {kLocal, kRemote})
      if (fields[i].present)
        r.diags.error(fields[i].key_at, path.child(kKeys[i]),
                      "only tunnel mode takes endpoints; transport mode uses the packet's own "
                      "addresses");
    return;
  }
  if (!local.present || !remote.present) {
    const std::string missing = !local.present && !remote.present
                                    ? "'local' and 'remote' endpoint addresses"
                                : !local.present ? "a 'local' endpoint address"
                                                 : "a 'remote' endpoint address";
    if (mode == IpsecMode::tunnel)
      r.diags.error(fields[kMode].value_at, path.child("mode"), "tunnel mode needs " + missing);
    else
      r.diags.error(fields[kKeying].value_at, path.child("keying"),
                    "manual keying needs " + missing +
                        " (in transport mode: this host's address and the peer's, the two ends "
                        "of the SAs)");
  }
  if (local.present) profile.local = read_endpoint(r, local, path.child("local"));
  if (remote.present) profile.remote = read_endpoint(r, remote, path.child("remote"));
  if (profile.local && profile.remote && profile.local->family != profile.remote->family)
    r.diags.error(remote.value_at, path.child("remote"),
                  "remote " + quote(profile.remote->to_string()) + " is " +
                      family_name(profile.remote->family) + " but local " +
                      quote(profile.local->to_string()) + " is " +
                      family_name(profile.local->family));
}

// Two manual SAs with the same destination and SPI would be one SA to the
// kernel.
void check_spis(Reader& r, const Field& m, const KeyPath& path, const IpsecProfile& profile,
                Seen& seen) {
  if (!profile.manual || !profile.local || !profile.remote) return;
  const std::pair<const char*, std::pair<IpPrefix, std::uint32_t>> sas[] = {
      {"out", {*profile.remote, profile.manual->out.spi}},
      {"in", {*profile.local, profile.manual->in.spi}}};
  for (const auto& [dir, key] : sas) {
    if (key.second == 0) continue;
    auto [it, added] = seen.spis.emplace(key, profile.name);
    if (!added)
      r.diags.error(m.value_at, path.child(dir),
                    "spi " + filter::spi_to_text(key.second, key.first) +
                        " is already used by profile " + quote(it->second));
  }
}

void read_profile(Reader& r, const Node& node, const KeyPath& path, Seen& seen,
                  std::vector<IpsecProfile>& out) {
  const Pos at = r.diags.at(node);
  if (!expect_map(r, node, at, path, "an ipsec profile (a mapping)")) return;
  auto fields = read_fields(r, node, path, kKeys);
  IpsecProfile profile;
  profile.where = r.diags.location(at);
  if (require(r, fields[kName], "name", at, path)) {
    const Field& f = fields[kName];
    if (auto name = read_name(r, *f.value, f.value_at, path.child("name"), "ipsec profile name")) {
      auto [it, added] = seen.names.emplace(*name, f.value_at);
      if (!added)
        r.diags.error(f.value_at, path.child("name"),
                      "duplicate ipsec profile name " + quote(*name) + " (first defined at " +
                          it->second.str() + ")");
      profile.name = std::move(*name);
    }
  }
  // Keying first: a manual profile takes endpoints in transport mode too.
  std::optional<Keying> keying = Keying::ike;
  if (const Field& f = fields[kKeying]; f.present) {
    keying = read_choice(r, *f.value, f.value_at, path.child("keying"), kKeyings);
    if (keying) profile.keying = *keying;
  }
  const bool manual = keying == Keying::manual;
  std::optional<IpsecMode> mode = IpsecMode::transport;
  if (const Field& f = fields[kMode]; f.present)
    mode = read_choice(r, *f.value, f.value_at, path.child("mode"), kModes);
  if (mode) {
    profile.mode = *mode;
    if (keying) read_endpoints(r, fields, path, *mode, manual, profile);
  }
  if (const Field& f = fields[kProtocol]; f.present) {
    if (auto p = read_choice(r, *f.value, f.value_at, path.child("protocol"), kProtocols)) {
      profile.protocol = *p;
      if (manual && *p != proto::esp)
        r.diags.error(f.value_at, path.child("protocol"),
                      "manual keying supports protocol esp only");
    }
  }
  if (const Field& f = fields[kLevel]; f.present) {
    if (auto l = read_choice(r, *f.value, f.value_at, path.child("level"), kLevels))
      profile.level = *l;
  }
  if (require(r, fields[kReqid], "reqid", at, path)) {
    const Field& f = fields[kReqid];
    if (auto id = read_integer(r, *f.value, f.value_at, path.child("reqid"), 1,
                               std::numeric_limits<std::uint32_t>::max(), "reqid")) {
      profile.reqid = static_cast<std::uint32_t>(*id);
      auto [it, added] =
          seen.reqids.emplace(profile.reqid, std::make_pair(profile.name, f.value_at));
      if (!added)
        r.diags.error(f.value_at, path.child("reqid"),
                      "reqid " + std::to_string(profile.reqid) + " is already used by profile " +
                          quote(it->second.first) + " at " + it->second.second.str());
    }
  }
  const Field& m = fields[kManual];
  if (manual && !m.present) {
    r.diags.error(fields[kKeying].value_at, path.child("keying"),
                  "keying manual needs a 'manual' mapping with the SAs (algorithm, out: {spi, "
                  "key_file}, in: {spi, key_file})");
  } else if (m.present && keying && !manual) {
    r.diags.error(m.key_at, path.child("manual"),
                  "'manual' SAs are only for profiles with 'keying: manual'");
  } else if (m.present && manual) {
    read_manual(r, m, path.child("manual"), profile);
    check_spis(r, m, path.child("manual"), profile, seen);
  }
  out.push_back(std::move(profile));
}
}  // namespace

void read_ipsec(Reader& r, const Field& section, std::vector<IpsecProfile>& out) {
  const KeyPath root;
  const KeyPath path = root.child("ipsec");
  if (!expect_list(r, *section.value, section.value_at, path, "a list of ipsec profiles",
                   r.limits.max_ipsec_profiles, "ipsec profiles"))
    return;
  Seen seen;
  for (std::size_t i = 0; i < section.value->size(); ++i) {
    const Node& item = section.value->element(i);
    if (!r.visit(item)) return;
    read_profile(r, item, path.element(i), seen, out);
  }
}

}  // namespace netpolicy::policy::yaml
