#include "policy/yaml_sections.h"

#include "policy/yaml_settings_ipsec.h"

namespace netpolicy::policy::yaml {

namespace {
constexpr std::uint64_t kMinNetlinkReceiveBuffer = 4096;
constexpr std::uint64_t kMaxNetlinkReceiveBuffer = 1u << 30;
constexpr Choice<Verdict> kVerdicts[] = {{"allow", Verdict::allow}, {"block", Verdict::block}};

void read_defaults(Reader& r, const Field& section, const KeyPath& path, Defaults& out) {
  if (!expect_map(r, *section.value, section.value_at, path,
                  "a mapping of inbound, outbound and forward verdicts"))
    return;
  static constexpr std::string_view keys[] = {"inbound", "outbound", "forward"};
  auto fields = read_fields(r, *section.value, path, keys);
  Verdict* targets[] = {&out.inbound, &out.outbound, &out.forward};
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (!fields[i].present) continue;
    if (auto v =
            read_choice(r, *fields[i].value, fields[i].value_at, path.child(keys[i]), kVerdicts))
      *targets[i] = *v;
  }
}
}  // namespace

void read_settings(Reader& r, const Field& section, Settings& out) {
  const KeyPath root;
  const KeyPath path = root.child("settings");
  if (!expect_map(r, *section.value, section.value_at, path, "a mapping of settings")) return;
  static constexpr std::string_view keys[] = {"table", "default", "unknown_interfaces",
                                              "log_blocked", "netlink_receive_buffer",
                                              "trusted_group", kIpsecSettingKeys[0],
                                              kIpsecSettingKeys[1], kIpsecSettingKeys[2],
                                              // a central policy's; the loader says so in a main file
                                              "local_rules"};
  auto fields = read_fields(r, *section.value, path, keys);
  if (const Field& f = fields[0]; f.present) {
    if (auto name = read_name(r, *f.value, f.value_at, path.child("table"), "table name"))
      out.table = std::move(*name);
  }
  if (const Field& f = fields[1]; f.present)
    read_defaults(r, f, path.child("default"), out.defaults);
  if (const Field& f = fields[2]; f.present) {
    if (auto v = read_choice(r, *f.value, f.value_at, path.child("unknown_interfaces"), kVerdicts))
      out.unknown_interfaces = *v;
  }
  if (const Field& f = fields[3]; f.present) {
    if (auto v = read_bool(r, *f.value, f.value_at, path.child("log_blocked")))
      out.log_blocked = *v;
  }
  if (const Field& f = fields[4]; f.present) {
    // Below 4 KiB the kernel's own minimum applies anyway; above 1 GiB the
    // value (which the kernel doubles) no longer fits its int.
    if (auto v = read_integer(r, *f.value, f.value_at, path.child("netlink_receive_buffer"),
                              kMinNetlinkReceiveBuffer, kMaxNetlinkReceiveBuffer,
                              "netlink_receive_buffer"))
      out.netlink_receive_buffer = *v;
  }
  if (const Field& f = fields[5]; f.present) {
    // A group name as groupadd(8) takes it; whether it exists is checked
    // where the files' modes are (policy_set.cpp).
    if (auto name = read_string(r, *f.value, f.value_at, path.child("trusted_group"),
                                "a group name")) {
      const bool valid = !name->empty() && name->size() <= 32 && (*name)[0] != '-' &&
                         name->find_first_of(":/ \t\n,") == std::string::npos;
      if (valid)
        out.trusted_group = std::move(*name);
      else
        r.diags.error(f.value_at, path.child("trusted_group"),
                      "trusted_group " + quote(*name) + " is not a valid group name");
    }
  }
  read_ipsec_settings(r, keys, fields, path, out);
}

}  // namespace netpolicy::policy::yaml
