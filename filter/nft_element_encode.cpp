// ElementDiff -> one nftables batch of element messages only.
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <algorithm>
#include <stdexcept>

#include "filter/nft_encode_detail.h"
#include "filter/nft_elements.h"

namespace netpolicy::filter {
namespace {

constexpr std::size_t kHeaderBound = 64;  // batch begin/end, nfgenmsg only

// The batch as one growing buffer; room for a message's upper bound is
// made before libnftnl writes it (its builders do not check).
class Writer {
 public:
  explicit Writer(std::uint32_t first_seq) { batch_.first_seq = first_seq; }

  template <typename Build>
  void add(std::size_t bound, BatchObject object, Build&& build) {
    if (buffer_.size() - used_ < bound) buffer_.resize(std::max(buffer_.size() * 2, used_ + bound));
    const std::uint32_t seq = batch_.first_seq + batch_.message_count();
    const nlmsghdr* nlh = build(buffer_.data() + used_, seq);
    if (nlh->nlmsg_len > bound) throw std::logic_error("nftables message larger than its bound");
    last_ = used_;
    used_ += NLMSG_ALIGN(nlh->nlmsg_len);
    batch_.objects.push_back(std::move(object));
  }
  void flag_last(std::uint16_t flags) {
    reinterpret_cast<nlmsghdr*>(buffer_.data() + last_)->nlmsg_flags |= flags;
  }
  EncodedBatch take() {
    buffer_.resize(used_);
    batch_.bytes = std::move(buffer_);
    return std::move(batch_);
  }
  [[nodiscard]] std::uint32_t count() const { return batch_.message_count(); }

 private:
  std::vector<char> buffer_;
  std::size_t used_ = 0;
  std::size_t last_ = 0;
  EncodedBatch batch_;
};

// One message per chunk. The chunks name their set by name only: the set
// exists already, and an id would refer to a set of this batch.
void add_chunks(Writer& writer, const std::string& table, const std::string& name,
                std::vector<NftnlSetPtr>& chunks, std::uint16_t type, const std::string& object) {
  for (NftnlSetPtr& chunk : chunks) {
    nftnl_set_unset(chunk.get(), NFTNL_SET_ID);
    writer.add(detail::elements_message_bound(table, name), {object, {}},
               [&](char* buf, std::uint32_t seq) {
                 // NLM_F_CREATE on additions, as nft sends; no NLM_F_EXCL,
                 // so re-adding an element that is there is not an error.
                 nlmsghdr* nlh = nftnl_set_elem_nlmsg_build_hdr(
                     buf, type, NFPROTO_INET,
                     type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : std::uint16_t{0}, seq);
                 nftnl_set_elems_nlmsg_build_payload(nlh, chunk.get());
                 return nlh;
               });
  }
}

Status add_sets(Writer& writer, const std::string& table, const std::vector<SetElements>& sets,
                std::uint16_t type) {
  for (const SetElements& s : sets) {
    auto chunks = detail::encode_set_elements(table, Set{s.set, s.type, s.elements}, 0);
    if (!chunks) return chunks.error();
    add_chunks(writer, table, s.set, *chunks, type, "elements of set '" + s.set + "'");
  }
  return Ok{};
}

Status add_maps(Writer& writer, const std::string& table, const std::vector<MapElements>& maps,
                std::uint16_t type) {
  for (const MapElements& m : maps) {
    // A deletion carries the verdict too; the kernel matches on the key.
    auto chunks = detail::encode_map_elements(table, VerdictMap{m.map, m.elements}, 0);
    if (!chunks) return chunks.error();
    add_chunks(writer, table, m.map, *chunks, type, "elements of map '" + m.map + "'");
  }
  return Ok{};
}

}  // namespace

Result<EncodedBatch> encode_element_update(const ElementDiff& diff, std::uint32_t first_seq) {
  const std::string table_object = "table 'inet " + diff.table + "'";
  if (diff.empty())
    return Error{"Failed to encode an element update of " + table_object, EINVAL,
                 "an empty element update", {}};
  Writer writer(first_seq);
  writer.add(kHeaderBound, {table_object, {}},
             [](char* buf, std::uint32_t seq) { return nftnl_batch_begin(buf, seq); });
  if (Status s = add_sets(writer, diff.table, diff.set_deletions, NFT_MSG_DELSETELEM); !s)
    return s.error();
  if (Status s = add_maps(writer, diff.table, diff.map_deletions, NFT_MSG_DELSETELEM); !s)
    return s.error();
  if (Status s = add_sets(writer, diff.table, diff.set_additions, NFT_MSG_NEWSETELEM); !s)
    return s.error();
  if (Status s = add_maps(writer, diff.table, diff.map_additions, NFT_MSG_NEWSETELEM); !s)
    return s.error();
  if (writer.count() == 1)  // every listed set or map was empty
    return Error{"Failed to encode an element update of " + table_object, EINVAL,
                 "an element update without elements", {}};
  writer.flag_last(NLM_F_ACK);
  const std::uint32_t ack_seq = first_seq + writer.count() - 1;
  writer.add(kHeaderBound, {table_object, {}},
             [](char* buf, std::uint32_t seq) { return nftnl_batch_end(buf, seq); });
  EncodedBatch batch = writer.take();
  batch.ack_seq = ack_seq;
  return batch;
}

}  // namespace netpolicy::filter
