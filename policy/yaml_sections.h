#pragma once
// The readers of the top-level sections of a policy, schema version 1.
// Each reports what is wrong through the Reader and fills in what it can;
// the loader returns the Policy only when nothing was reported.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/policy.h"
#include "policy/yaml_reader.h"

namespace netpolicy::policy::yaml {

void read_settings(Reader& r, const Field& section, Settings& out);
// sources: {central: {path: FILE} | {url: URL, interval, timeout, max_bytes}}
void read_sources(Reader& r, const Field& section, std::optional<CentralSource>& out);
void read_zones(Reader& r, const Field& section, std::vector<Zone>& out);
void read_addresses(Reader& r, const Field& section, std::vector<AddressGroup>& out);
void read_ipsec(Reader& r, const Field& section, std::vector<IpsecProfile>& out);
// Last: rules refer to the zones, groups and profiles already in `policy`.
void read_rules(Reader& r, const Field& section, Policy& policy);

// Why `text` is not an address or prefix: "'10.0.0.1/8' has host bits set;
// did you mean '10.0.0.0/8'?" or "'x' is not an IPv4 or IPv6 address or
// prefix".
std::string address_error(std::string_view text);
// Like address_error, but nullopt unless the text is an address whose
// prefix has host bits set (the one mistake worth naming in a rule, where
// the text might also have been meant as a group name).
std::optional<std::string> host_bits_error(std::string_view text);

}  // namespace netpolicy::policy::yaml
