#pragma once
// `keying: manual` of ipsec profiles: the `manual:` map (algorithm, and an
// `out` and `in` SA with spi and key files), the key files themselves, and
// the rules that use such a profile. Internal to the loader.
#include "policy/policy.h"
#include "policy/yaml_reader.h"

namespace netpolicy::policy::yaml {

// Reads `manual:` (field `f` of the profile at `path`) into
// profile.manual, reading and checking its key files.
void read_manual(Reader& r, const Field& f, const KeyPath& path, IpsecProfile& profile);

// A rule using a transport-mode manual profile must protect traffic with
// the profile's remote host itself: its peer side (to for out rules, from
// for in rules) must be exactly that one address. Checks the rules read
// from the file being loaded.
void check_manual_rules(Reader& r, const Policy& policy);

}  // namespace netpolicy::policy::yaml
