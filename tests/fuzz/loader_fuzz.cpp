// libFuzzer target: arbitrary bytes through load_policy_text. Beyond "no
// crash, no sanitizer report", it checks what the loader promises: a
// failure carries at least one located, sorted diagnostic; a success is a
// policy whose references all resolve and whose values are in range.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <unordered_set>

#include "policy/loader.h"

namespace {

using namespace netpolicy::policy;

[[noreturn]] void fail(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "loader_fuzz invariant broken: %s %s\n", what, detail.c_str());
  std::abort();
}

void check_errors(const std::vector<Diagnostic>& errors) {
  if (errors.empty()) fail("failure without a diagnostic");
  for (std::size_t i = 0; i < errors.size(); ++i) {
    const Diagnostic& d = errors[i];
    if (d.where.file != "fuzz.yaml") fail("wrong file", d.to_string());
    if (d.where.line < 1 || d.where.column < 1) fail("location not 1-based", d.to_string());
    if (d.message.empty()) fail("empty message", d.to_string());
    if (i > 0) {
      const Location& a = errors[i - 1].where;
      if (a.line > d.where.line || (a.line == d.where.line && a.column > d.where.column))
        fail("diagnostics not sorted", d.to_string());
    }
  }
}

bool valid_name(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool other = (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!(letter || (i > 0 && other))) return false;
  }
  return true;
}

void check_policy(const Policy& p) {
  if (p.sha256.size() != 64) fail("sha256 not 64 hex digits");
  if (p.path != "fuzz.yaml") fail("path not kept");
  if (!valid_name(p.settings.table)) fail("table name", p.settings.table);
  std::unordered_set<std::string> zones, groups, profiles, rules;
  for (const Zone& z : p.zones) {
    if (!valid_name(z.name) || !zones.insert(z.name).second) fail("zone name", z.name);
    if (z.interfaces.empty()) fail("zone without interfaces", z.name);
    for (const auto& i : z.interfaces)
      if (i.empty() || i.size() > 15) fail("interface pattern", i);
  }
  for (const AddressGroup& g : p.addresses) {
    if (!valid_name(g.name) || !groups.insert(g.name).second) fail("group name", g.name);
    if (g.prefixes.empty()) fail("empty group", g.name);
    for (const auto& prefix : g.prefixes)
      if (!prefix.is_network()) fail("prefix with host bits", prefix.to_string());
  }
  for (const IpsecProfile& s : p.ipsec) {
    if (!valid_name(s.name) || !profiles.insert(s.name).second) fail("profile name", s.name);
    if (s.reqid == 0) fail("reqid 0", s.name);
    if ((s.mode == IpsecMode::tunnel) != (s.local && s.remote)) fail("tunnel endpoints", s.name);
    if (s.local && s.local->family != s.remote->family) fail("endpoint families", s.name);
    if (s.keying != Keying::ike) fail("manual keying accepted", s.name);
  }
  for (const Rule& r : p.rules) {
    if (!valid_name(r.name) || !rules.insert(r.name).second) fail("rule name", r.name);
    for (const auto& z : r.zones)
      if (!zones.count(z)) fail("undefined zone accepted", z);
    for (const auto* list : {&r.from, &r.to})
      for (const AddressRef& a : *list)
        if (a.group ? !groups.count(*a.group) : !a.prefix.is_network()) fail("address ref", r.name);
    if (!r.ports.empty() && r.protocol != 6 && r.protocol != 17) fail("ports without tcp/udp");
    for (const PortRange& pr : r.ports)
      if (pr.first < 1 || pr.first > pr.last) fail("port range", r.name);
    if ((r.action == Action::protect) != !r.ipsec.empty()) fail("protect/ipsec", r.name);
    if (!r.ipsec.empty() && !profiles.count(r.ipsec)) fail("undefined profile accepted", r.ipsec);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text{reinterpret_cast<const char*>(data), size};
  // Small caps so the fuzzer reaches every "exceeds the limit" path.
  Limits limits;
  limits.max_rules = 64;
  limits.max_zones = 16;
  limits.max_interface_globs = 16;
  limits.max_groups = 64;
  limits.max_group_entries = 64;
  limits.max_rule_entries = 64;
  limits.max_ipsec_profiles = 16;
  limits.max_nodes = 1u << 16;
  auto result = load_policy_text(text, "fuzz.yaml", limits);
  if (auto* errors = std::get_if<std::vector<Diagnostic>>(&result))
    check_errors(*errors);
  else
    check_policy(std::get<Policy>(result));
  return 0;
}
