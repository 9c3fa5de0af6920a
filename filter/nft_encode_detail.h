#pragma once
// Internals shared by nft_encode*.cpp: libnftnl objects for sets, elements
// and rules, and upper bounds on the size of their netlink messages (the
// batch buffer reserves that much before libnftnl writes a message, since
// libnftnl's builders do not check the room they write into).
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/error.h"
#include "filter/model.h"
#include "filter/nft_handles.h"

namespace netpolicy::filter::detail {

// nf_tables set ids, unique within one batch; a lookup names its set by
// name and id so it resolves to the set created in the same batch.
using SetIds = std::map<std::string, std::uint32_t, std::less<>>;

constexpr std::size_t align4(std::size_t n) { return (n + 3) & ~std::size_t{3}; }

// Interface names are compared as IFNAMSIZ (16) zero-padded bytes.
constexpr std::size_t kIfnameKeyLen = 16;

// The element list of one NEWSETELEM is a nested attribute whose length is
// a u16, so one message carries at most 64 KiB of elements; larger sets
// are split over several messages of the same transaction.
constexpr std::size_t kElementPayloadBudget = 65000;

// ---- sets and maps (nft_encode_set.cpp) -------------------------------------
NftnlSetPtr encode_set(const std::string& table, const Set& set, std::uint32_t id);
NftnlSetPtr encode_map(const std::string& table, const VerdictMap& map, std::uint32_t id);

// The elements as several set objects, each small enough for one message.
// Fails with EINVAL on a key of the wrong size or a reversed interval.
Result<std::vector<NftnlSetPtr>> encode_set_elements(const std::string& table, const Set& set,
                                                     std::uint32_t id);
Result<std::vector<NftnlSetPtr>> encode_map_elements(const std::string& table,
                                                     const VerdictMap& map, std::uint32_t id);

// Upper bounds on the message that carries a set / one element chunk.
std::size_t set_message_bound(const std::string& table, const std::string& name);
std::size_t elements_message_bound(const std::string& table, const std::string& name);

// ---- rules (nft_encode_rule.cpp) --------------------------------------------
Result<NftnlRulePtr> encode_rule(const std::string& table, const std::string& chain,
                                 const Rule& rule, const SetIds& set_ids);
std::size_t rule_message_bound(const std::string& table, const std::string& chain,
                               const Rule& rule);

}  // namespace netpolicy::filter::detail
