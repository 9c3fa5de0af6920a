#pragma once
// YAML (schema version 1) -> Policy, with every error located.
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "policy/policy.h"

namespace netpolicy::policy {

struct Diagnostic {
  Location where;
  std::string message;
  // "PATH:LINE:COL: error: MESSAGE" — the form --check prints.
  [[nodiscard]] std::string to_string() const {
    return where.to_string() + ": error: " + message;
  }
};

// Hard caps on everything a policy author controls. Exceeding one is an
// error with a location, never a truncation.
struct Limits {
  std::size_t max_file_bytes = 64u << 20;
  std::size_t max_rules = 200'000;
  std::size_t max_zones = 1'024;
  std::size_t max_interface_globs = 4'096;     // per zone
  std::size_t max_groups = 100'000;
  std::size_t max_group_entries = 1'000'000;   // per group
  std::size_t max_rule_entries = 65'536;       // per from/to/ports list
  std::size_t max_ipsec_profiles = 4'096;
  // YAML nodes the loader visits, an alias counting each time it is used:
  // a few lines of anchors and aliases can otherwise stand for billions of
  // entries. 32 Mi is about what a 64 MiB file can hold without aliases.
  std::size_t max_nodes = 32u << 20;
};

// Either a validated Policy or every error found (never an empty list).
using LoadResult = std::variant<Policy, std::vector<Diagnostic>>;

// Reads and validates PATH. Unreadable, empty, oversized or non-YAML files
// are errors located at PATH:1:1 (or where the YAML parser stopped).
LoadResult load_policy_file(const std::string& path, const Limits& limits = {});

// Same, from text already in memory; `path` is used in locations only.
LoadResult load_policy_text(std::string_view text, const std::string& path,
                            const Limits& limits = {});

// What a file is to the policy it is part of; it decides which top-level
// sections the file may hold:
//   main     everything (version, settings, sources, zones, addresses,
//            ipsec, rules); settings.local_rules excepted
//   dropin   version, zones, addresses, ipsec, rules (policy.d/*.yaml)
//   central  version, zones, addresses, ipsec, rules, and settings with
//            local_rules only
// `version: 1` is required in every file.
enum class PolicyRole : unsigned char { main, dropin, central };

LoadResult load_policy_text(std::string_view text, const std::string& path, PolicyRole role,
                            const Limits& limits = {});

// Reads TEXT (role ROLE) into POLICY, which may already hold earlier files:
// their zones, groups and profiles can be referred to; their names are not
// checked against here (policy_set.h does that). Appends PATH and its digest
// to policy.files / policy.file_digests and sets policy.sha256 to that
// digest. Returns the errors (empty: read).
std::vector<Diagnostic> load_policy_into(std::string_view text, const std::string& path,
                                         PolicyRole role, const Limits& limits, Policy& policy);

// The bytes of PATH, at most LIMIT; errors located at PATH:1:1.
std::variant<std::string, std::vector<Diagnostic>> read_policy_bytes(const std::string& path,
                                                                     std::size_t limit);

}  // namespace netpolicy::policy
