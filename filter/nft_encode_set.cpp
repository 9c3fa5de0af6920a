// Sets and verdict maps as libnftnl objects, matching what nft 1.0.6 sends
// for the same declarations (checked with `nft --debug=mnl`), so that
// `nft list` prints the table the same way whichever tool built it.
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <cerrno>

#include "filter/nft_encode_detail.h"

namespace netpolicy::filter::detail {
namespace {

// nft's datatype numbers (nftables include/datatype.h), stored by the
// kernel as opaque key types and read back by nft to print the set.
constexpr std::uint32_t kTypeIpv4Addr = 7;
constexpr std::uint32_t kTypeIpv6Addr = 8;
constexpr std::uint32_t kTypeInetService = 13;
constexpr std::uint32_t kTypeIfname = 41;

// nft's enum byteorder, stored in the set's userdata.
constexpr std::uint32_t kByteorderInvalid = 0;
constexpr std::uint32_t kByteorderHost = 1;
constexpr std::uint32_t kByteorderBig = 2;

struct KeyType {
  std::uint32_t datatype;
  std::size_t len;
};

KeyType key_type(SetType type) {
  switch (type) {
    case SetType::ipv4_addr: return {kTypeIpv4Addr, 4};
    case SetType::ipv6_addr: return {kTypeIpv6Addr, 16};
    case SetType::inet_service: return {kTypeInetService, 2};
  }
  return {kTypeIpv4Addr, 4};
}

NftnlSetPtr new_set(const std::string& table, const std::string& name, std::uint32_t id) {
  NftnlSetPtr s{nftnl_set_alloc()};
  if (!s) throw std::bad_alloc();
  nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(s.get(), NFTNL_SET_NAME, name.c_str());
  nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, NFPROTO_INET);
  nftnl_set_set_u32(s.get(), NFTNL_SET_ID, id);
  return s;
}

NftnlUdataBufPtr new_udata() {
  NftnlUdataBufPtr buf{nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN)};
  if (!buf) throw std::bad_alloc();
  return buf;
}

void set_userdata(nftnl_set* s, const nftnl_udata_buf* buf) {
  nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(buf), nftnl_udata_buf_len(buf));
}

NftnlSetElemPtr new_element(const std::uint8_t* key, std::size_t len) {
  NftnlSetElemPtr e{nftnl_set_elem_alloc()};
  if (!e) throw std::bad_alloc();
  nftnl_set_elem_set(e.get(), NFTNL_SET_ELEM_KEY, key, static_cast<std::uint32_t>(len));
  return e;
}

bool all_ones(const std::vector<std::uint8_t>& key) {
  return std::all_of(key.begin(), key.end(), [](std::uint8_t b) { return b == 0xff; });
}

// key + 1 in network byte order; the caller has checked it is not all ones.
std::vector<std::uint8_t> successor(std::vector<std::uint8_t> key) {
  for (auto it = key.rbegin(); it != key.rend(); ++it) {
    if (++*it != 0) break;
  }
  return key;
}

// Upper bound on one element inside NFTA_SET_ELEM_LIST_ELEMENTS, given
// what it carries.
struct ElementShape {
  std::size_t key_len = 0;
  bool end_flag = false;     // NFTA_SET_ELEM_FLAGS
  bool userdata = false;     // NFTA_SET_ELEM_USERDATA (interval-open flag, 6 bytes)
  std::size_t chain_len = 0; // verdict jump target, 0 if none
};
std::size_t element_bound(const ElementShape& e) {
  std::size_t n = 4 + 8 + align4(e.key_len);  // NFTA_LIST_ELEM, KEY { DATA_VALUE }
  if (e.end_flag) n += 8;
  if (e.userdata) n += 4 + align4(6);
  if (e.chain_len > 0) n += 4 + 4 + 8 + 4 + align4(e.chain_len + 1);  // DATA { VERDICT { CODE, CHAIN } }
  return n;
}

// Collects elements into set objects of at most kElementPayloadBudget.
class ElementChunks {
 public:
  ElementChunks(const std::string& table, const std::string& name, std::uint32_t id)
      : table_(table), name_(name), id_(id) {}

  void add(NftnlSetElemPtr element, std::size_t bound) {
    if (chunks_.empty() || used_ + bound > kElementPayloadBudget) {
      chunks_.push_back(new_set(table_, name_, id_));
      used_ = 0;
    }
    nftnl_set_elem_add(chunks_.back().get(), element.release());  // the set owns it now
    used_ += bound;
  }
  std::vector<NftnlSetPtr> take() { return std::move(chunks_); }

 private:
  const std::string& table_;
  const std::string& name_;
  std::uint32_t id_;
  std::vector<NftnlSetPtr> chunks_;
  std::size_t used_ = 0;
};

}  // namespace

NftnlSetPtr encode_set(const std::string& table, const Set& set, std::uint32_t id) {
  const KeyType key = key_type(set.type);
  NftnlSetPtr s = new_set(table, set.name, id);
  nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, NFT_SET_INTERVAL);
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, key.datatype);
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, static_cast<std::uint32_t>(key.len));
  auto udata = new_udata();
  nftnl_udata_put_u32(udata.get(), NFTNL_UDATA_SET_KEYBYTEORDER, kByteorderBig);
  set_userdata(s.get(), udata.get());
  return s;
}

NftnlSetPtr encode_map(const std::string& table, const VerdictMap& map, std::uint32_t id) {
  NftnlSetPtr s = new_set(table, map.name, id);
  nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, NFT_SET_MAP);
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, kTypeIfname);
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, static_cast<std::uint32_t>(kIfnameKeyLen));
  // The kernel sizes verdict data itself; no NFTA_SET_DATA_LEN needed.
  nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_TYPE, static_cast<std::uint32_t>(NFT_DATA_VERDICT));
  // The same userdata nft 1.0.6 writes for `type ifname : verdict`.
  auto udata = new_udata();
  nftnl_udata_put_u32(udata.get(), NFTNL_UDATA_SET_KEYBYTEORDER, kByteorderHost);
  nftnl_udata_put_u32(udata.get(), NFTNL_UDATA_SET_DATABYTEORDER, kByteorderInvalid);
  nftnl_udata_put_u32(udata.get(), NFTNL_UDATA_SET_DATA_INTERVAL, 0);
  set_userdata(s.get(), udata.get());
  return s;
}

// Interval encoding: [first, last] becomes a start element `first` and an
// end element `last + 1` flagged NFT_SET_ELEM_INTERVAL_END. When `last` is
// the largest key there is no `last + 1`: the range stays open. nft marks
// such a start element with NFTNL_SET_ELEM_F_INTERVAL_OPEN in its userdata;
// we do the same, although nft 1.0.6 lists 240.0.0.0/4 identically without
// it (checked), so the element reads back as nft itself would write it.
//
// nft 1.0.6 also sends an end element with key 0 in front of a set whose
// first interval does not start at 0. The kernel does not need it: the
// rbtree lookup (6.18) matches only when the greatest element <= key is a
// start element, so keys below the first interval miss without it
// (tests/integration/nft_backend_test.cpp sends packets to check this),
// and `nft list` prints the same set either way. We leave it out.
Result<std::vector<NftnlSetPtr>> encode_set_elements(const std::string& table, const Set& set,
                                                     std::uint32_t id) {
  const std::size_t len = key_type(set.type).len;
  ElementChunks chunks(table, set.name, id);
  for (const Interval& interval : set.elements) {
    if (interval.first.size() != len || interval.last.size() != len) {
      return Error{"Failed to encode set '" + set.name + "'", EINVAL,
                   "set '" + set.name + "': element of " + std::to_string(interval.first.size()) +
                       " bytes, expected " + std::to_string(len),
                   {}};
    }
    if (interval.last < interval.first) {  // lexicographic == numeric in network order
      return Error{"Failed to encode set '" + set.name + "'", EINVAL,
                   "set '" + set.name + "': interval whose last key precedes its first", {}};
    }
    NftnlSetElemPtr start = new_element(interval.first.data(), len);
    if (all_ones(interval.last)) {
      auto udata = new_udata();
      nftnl_udata_put_u32(udata.get(), NFTNL_UDATA_SET_ELEM_FLAGS, NFTNL_SET_ELEM_F_INTERVAL_OPEN);
      nftnl_set_elem_set(start.get(), NFTNL_SET_ELEM_USERDATA, nftnl_udata_buf_data(udata.get()),
                         nftnl_udata_buf_len(udata.get()));
      chunks.add(std::move(start), element_bound({len, false, true, 0}));
      continue;
    }
    chunks.add(std::move(start), element_bound({len, false, false, 0}));
    const std::vector<std::uint8_t> end_key = successor(interval.last);
    NftnlSetElemPtr end = new_element(end_key.data(), len);
    nftnl_set_elem_set_u32(end.get(), NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
    chunks.add(std::move(end), element_bound({len, true, false, 0}));
  }
  return chunks.take();
}

Result<std::vector<NftnlSetPtr>> encode_map_elements(const std::string& table,
                                                     const VerdictMap& map, std::uint32_t id) {
  ElementChunks chunks(table, map.name, id);
  for (const MapElement& element : map.elements) {
    if (element.ifname.empty() || element.ifname.size() >= kIfnameKeyLen) {
      return Error{"Failed to encode map '" + map.name + "'", EINVAL,
                   "map '" + map.name + "': interface name '" + element.ifname +
                       "' is not 1 to 15 bytes",
                   {}};
    }
    std::uint8_t key[kIfnameKeyLen] = {};
    std::copy(element.ifname.begin(), element.ifname.end(), key);
    NftnlSetElemPtr e = new_element(key, kIfnameKeyLen);
    nftnl_set_elem_set_u32(e.get(), NFTNL_SET_ELEM_VERDICT, static_cast<std::uint32_t>(NFT_JUMP));
    nftnl_set_elem_set_str(e.get(), NFTNL_SET_ELEM_CHAIN, element.chain.c_str());
    chunks.add(std::move(e), element_bound({kIfnameKeyLen, false, false, element.chain.size()}));
  }
  return chunks.take();
}

std::size_t set_message_bound(const std::string& table, const std::string& name) {
  // header, table, name, flags, key type/len, data type, id, family,
  // userdata (at most NFT_USERDATA_MAXLEN).
  return 512 + align4(table.size() + 1) + align4(name.size() + 1) + NFT_USERDATA_MAXLEN;
}

std::size_t elements_message_bound(const std::string& table, const std::string& name) {
  // ElementChunks keeps each chunk's elements within the budget.
  return 512 + align4(table.size() + 1) + align4(name.size() + 1) + kElementPayloadBudget;
}

}  // namespace netpolicy::filter::detail
