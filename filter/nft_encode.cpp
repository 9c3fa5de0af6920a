#include "filter/nft_encode.h"

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <algorithm>
#include <stdexcept>

#include "filter/nft_encode_detail.h"

// NFT_TABLE_F_PERSIST was added in Linux 6.9; Debian 12's UAPI header
// (6.1) lacks it. Older kernels refuse the flag with EOPNOTSUPP.
#ifndef NFT_TABLE_F_PERSIST
#define NFT_TABLE_F_PERSIST 0x4
#endif

namespace netpolicy::filter {
namespace {

using detail::align4;

// The batch as one growing buffer. libnftnl writes each message in place
// without bounds checks, so room for the message's upper bound is made
// before it is built; a message that exceeds its bound is a bug here.
class BatchWriter {
 public:
  char* reserve(std::size_t bound) {
    bound_ = bound;
    if (buffer_.size() - used_ < bound) {
      buffer_.resize(std::max(buffer_.size() * 2, used_ + bound));
    }
    return buffer_.data() + used_;
  }
  void commit(const nlmsghdr* nlh) {
    if (nlh->nlmsg_len > bound_) {
      throw std::logic_error("nftables message larger than its computed bound");
    }
    last_ = used_;
    used_ += NLMSG_ALIGN(nlh->nlmsg_len);
  }
  // Adds netlink flags to the message committed last.
  void flag_last(std::uint16_t flags) {
    reinterpret_cast<nlmsghdr*>(buffer_.data() + last_)->nlmsg_flags |= flags;
  }
  std::vector<char> take() {
    buffer_.resize(used_);
    return std::move(buffer_);
  }

 private:
  std::vector<char> buffer_;
  std::size_t used_ = 0;
  std::size_t last_ = 0;
  std::size_t bound_ = 0;
};

constexpr std::size_t kHeaderBound = 64;  // batch begin/end, nfgenmsg only

class Encoder {
 public:
  Encoder(const Table& table, std::uint32_t first_seq) : table_(table) {
    batch_.first_seq = first_seq;
  }

  // Appends one message: `build(buffer, seq)` writes it and returns it.
  template <typename Build>
  std::uint32_t add(std::size_t bound, BatchObject object, Build&& build) {
    const std::uint32_t seq = batch_.first_seq + batch_.message_count();
    writer_.commit(build(writer_.reserve(bound), seq));
    batch_.objects.push_back(std::move(object));
    return seq;
  }

  Result<EncodedBatch> encode(const BatchOptions& options) {
    const std::string table_object = "table 'inet " + table_.name + "'";
    // A commit that fails as a whole is reported against BATCH_BEGIN.
    add(kHeaderBound, {table_object, {}},
        [](char* buf, std::uint32_t seq) { return nftnl_batch_begin(buf, seq); });

    // Create if missing (no flags attribute: a no-op on an existing table,
    // whatever its flags), delete, create afresh.
    add(table_bound(), {table_object, {}}, [&](char* buf, std::uint32_t seq) {
      return table_message(buf, seq, NFT_MSG_NEWTABLE, NLM_F_CREATE, std::nullopt);
    });
    add(table_bound(), {table_object, {}}, [&](char* buf, std::uint32_t seq) {
      return table_message(buf, seq, NFT_MSG_DELTABLE, 0, std::nullopt);
    });
    const std::optional<std::uint32_t> flags =
        options.owner_persist ? std::optional<std::uint32_t>(NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST)
                              : std::nullopt;
    const std::uint32_t flagged = add(table_bound(), {table_object, {}}, [&](char* buf, std::uint32_t seq) {
      return table_message(buf, seq, NFT_MSG_NEWTABLE, NLM_F_CREATE, flags);
    });
    if (flags) batch_.owner_table_seq = flagged;

    for (const Chain& chain : table_.chains) add_chain(chain);

    detail::SetIds ids;
    std::uint32_t next_id = 1;
    for (const Set& set : table_.sets) ids.emplace(set.name, next_id++);
    for (const VerdictMap& map : table_.maps) ids.emplace(map.name, next_id++);

    for (const Set& set : table_.sets) {
      const std::uint32_t id = ids.find(set.name)->second;
      add_set(detail::encode_set(table_.name, set, id), "set '" + set.name + "'", set.name);
      auto chunks = detail::encode_set_elements(table_.name, set, id);
      if (!chunks) return chunks.error();
      add_elements(*chunks, "elements of set '" + set.name + "'", set.name);
    }
    for (const VerdictMap& map : table_.maps) {
      const std::uint32_t id = ids.find(map.name)->second;
      add_set(detail::encode_map(table_.name, map, id), "map '" + map.name + "'", map.name);
      auto chunks = detail::encode_map_elements(table_.name, map, id);
      if (!chunks) return chunks.error();
      add_elements(*chunks, "elements of map '" + map.name + "'", map.name);
    }

    for (const Chain& chain : table_.chains) {
      std::size_t position = 0;
      for (const Rule& rule : chain.rules) {
        ++position;
        auto encoded = detail::encode_rule(table_.name, chain.name, rule, ids);
        if (!encoded) return encoded.error();
        nftnl_rule* r = encoded->get();
        const std::string what = rule.comment.empty()
                                     ? "rule " + std::to_string(position)
                                     : "rule '" + rule.comment + "'";
        add(detail::rule_message_bound(table_.name, chain.name, rule),
            {what + " in chain '" + chain.name + "'", rule.comment},
            [&](char* buf, std::uint32_t seq) {
              nlmsghdr* nlh = nftnl_rule_nlmsg_build_hdr(buf, NFT_MSG_NEWRULE, NFPROTO_INET,
                                                         NLM_F_CREATE | NLM_F_APPEND, seq);
              nftnl_rule_nlmsg_build_payload(nlh, r);
              return nlh;
            });
      }
    }

    // Only the last message before BATCH_END asks for an ACK: an ACK per
    // message overflows the receive buffer on large batches, and errors
    // are reported without asking.
    writer_.flag_last(NLM_F_ACK);
    batch_.ack_seq = batch_.first_seq + batch_.message_count() - 1;
    add(kHeaderBound, {table_object, {}},
        [](char* buf, std::uint32_t seq) { return nftnl_batch_end(buf, seq); });
    batch_.bytes = writer_.take();
    return std::move(batch_);
  }

 private:
  std::size_t table_bound() const { return 256 + align4(table_.name.size() + 1); }

  nlmsghdr* table_message(char* buf, std::uint32_t seq, std::uint16_t type, std::uint16_t flags,
                          std::optional<std::uint32_t> table_flags) const {
    NftnlTablePtr t{nftnl_table_alloc()};
    if (!t) throw std::bad_alloc();
    nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, table_.name.c_str());
    if (table_flags) nftnl_table_set_u32(t.get(), NFTNL_TABLE_FLAGS, *table_flags);
    nlmsghdr* nlh = nftnl_table_nlmsg_build_hdr(buf, type, NFPROTO_INET, flags, seq);
    nftnl_table_nlmsg_build_payload(nlh, t.get());
    return nlh;
  }

  void add_chain(const Chain& chain) {
    NftnlChainPtr c{nftnl_chain_alloc()};
    if (!c) throw std::bad_alloc();
    nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, table_.name.c_str());
    nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, chain.name.c_str());
    if (chain.base) {
      nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TYPE, "filter");
      nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_HOOKNUM, hook_number(chain.base->hook));
      nftnl_chain_set_s32(c.get(), NFTNL_CHAIN_PRIO, chain.base->priority);
      nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_POLICY,
                          chain.base->policy_accept ? NF_ACCEPT : NF_DROP);
    }
    add(512 + align4(table_.name.size() + 1) + align4(chain.name.size() + 1),
        {"chain '" + chain.name + "'", {}}, [&](char* buf, std::uint32_t seq) {
          nlmsghdr* nlh =
              nftnl_chain_nlmsg_build_hdr(buf, NFT_MSG_NEWCHAIN, NFPROTO_INET, NLM_F_CREATE, seq);
          nftnl_chain_nlmsg_build_payload(nlh, c.get());
          return nlh;
        });
  }

  static std::uint32_t hook_number(Hook hook) {
    switch (hook) {
      case Hook::input: return NF_INET_LOCAL_IN;
      case Hook::output: return NF_INET_LOCAL_OUT;
      case Hook::forward: return NF_INET_FORWARD;
    }
    return NF_INET_LOCAL_IN;
  }

  void add_set(const NftnlSetPtr& set, std::string object, const std::string& name) {
    add(detail::set_message_bound(table_.name, name), {std::move(object), {}},
        [&](char* buf, std::uint32_t seq) {
          nlmsghdr* nlh =
              nftnl_set_nlmsg_build_hdr(buf, NFT_MSG_NEWSET, NFPROTO_INET, NLM_F_CREATE, seq);
          nftnl_set_nlmsg_build_payload(nlh, set.get());
          return nlh;
        });
  }

  void add_elements(const std::vector<NftnlSetPtr>& chunks, const std::string& object,
                    const std::string& name) {
    for (const NftnlSetPtr& chunk : chunks) {
      add(detail::elements_message_bound(table_.name, name), {object, {}},
          [&](char* buf, std::uint32_t seq) {
            nlmsghdr* nlh = nftnl_set_elem_nlmsg_build_hdr(buf, NFT_MSG_NEWSETELEM, NFPROTO_INET,
                                                           NLM_F_CREATE, seq);
            nftnl_set_elems_nlmsg_build_payload(nlh, chunk.get());
            return nlh;
          });
    }
  }

  const Table& table_;
  BatchWriter writer_;
  EncodedBatch batch_;
};

}  // namespace

Result<EncodedBatch> encode_replace_table(const DesiredState& state, const BatchOptions& options,
                                          std::uint32_t first_seq) {
  return Encoder(state.table, first_seq).encode(options);
}

}  // namespace netpolicy::filter
