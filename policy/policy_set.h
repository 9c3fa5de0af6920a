#pragma once
// A policy made of several files: the main file, its drop-ins
// (policy.d/*.yaml next to it) and a central policy.
//
// Load order and precedence: central first, then the main file, then the
// drop-ins in byte order of their names. Rules are appended in that order
// (first match wins, so central rules come before local ones). A drop-in's
// rules may refer to the zones, groups and profiles of the main file and of
// earlier drop-ins; a central policy is self-contained (it is delivered to
// many machines) and local rules may not refer to its names. Rule, zone,
// group and ipsec profile names (and ipsec reqids) are unique across all
// files: a second definition is an error at its own file:line:col naming the
// first. A central policy with `settings: {local_rules: false}` drops the
// local rules (the local files are still read and must be valid: they hold
// the settings).
//
// Policy::sha256 of a policy made of more than one file is the SHA-256 of
// the files' own digests, each as 64 hex digits and "\n", in load order.
#include <string>
#include <string_view>

#include "policy/loader.h"

namespace netpolicy::policy {

struct LocalLoadOptions {
  Limits limits;
  // Refuse (like sshd's StrictModes) a policy file, drop-in or one of their
  // directories that is not owned by root, or that group or others may
  // write, unless settings.trusted_group names the group that may.
  bool strict_modes = false;
};

// The main file PATH plus DIR(PATH)/policy.d/*.yaml (names starting with
// '.' skipped; a missing policy.d is no error).
LoadResult load_local_policy(const std::string& path, const LocalLoadOptions& options = {});

// Why PATH may not be trusted, or "" when it may: owned by a user other
// than root, or writable by group (other than `trusted_gid`, -1 for none)
// or others.
std::string unsafe_mode_reason(const std::string& path, long trusted_gid);

// Central rules first, then local (unless central.local_rules is false).
// Zones, groups and profiles of both, central first. Errors for names
// defined in both are located in the local file.
LoadResult merge_central(Policy central, Policy local);

// sha256_hex over the digests in `digests`, each followed by "\n"; the one
// digest itself when there is only one.
std::string combined_digest(const std::vector<std::string>& digests);

}  // namespace netpolicy::policy
