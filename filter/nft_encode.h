#pragma once
// DesiredState -> one nftables batch: the exact bytes of BATCH_BEGIN ...
// BATCH_END, built with libnftnl, that replace table `inet NAME` in one
// kernel transaction. Pure: no socket, no kernel; the backend sends it.
//
// Message order (the kernel resolves names in batch order):
//   NEWTABLE (no flags: creates it if missing, no-op if present, so the
//   following delete cannot fail with ENOENT), DELTABLE, NEWTABLE (with
//   owner|persist when asked), every chain (declarations only, so map
//   elements and rules may jump to any of them), every set with its
//   elements, every verdict map with its elements, every rule in chain and
//   rule order. Only the last message before BATCH_END asks for an ACK.
#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "filter/model.h"

namespace netpolicy::filter {

struct BatchOptions {
  // Create the table with NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST. Never
  // owner alone: such a table vanishes with its owner, opening the host.
  bool owner_persist = true;
};

// What one message of a batch is about, to name the cause of an error.
struct BatchObject {
  std::string object;  // "rule 'ssh' in chain 'in_lan'", "set 'g4_admins'"...
  std::string rule;    // for rules: the rule's comment (policy rule name)
};

struct EncodedBatch {
  std::vector<char> bytes;           // the whole batch, for one sendmsg
  std::uint32_t first_seq = 0;       // sequence number of BATCH_BEGIN
  std::vector<BatchObject> objects;  // [i] describes sequence first_seq + i
  std::uint32_t ack_seq = 0;         // the one message carrying NLM_F_ACK
  std::uint32_t owner_table_seq = 0; // the NEWTABLE with owner|persist, else 0

  [[nodiscard]] std::uint32_t message_count() const {
    return static_cast<std::uint32_t>(objects.size());
  }
  // The object behind sequence number `seq`, or nullptr if not in the batch.
  [[nodiscard]] const BatchObject* object_for(std::uint32_t seq) const {
    const std::uint32_t index = seq - first_seq;  // wraps for seq < first_seq
    return index < objects.size() ? &objects[index] : nullptr;
  }
};

// Fails (EINVAL, naming the object) on what cannot be encoded faithfully:
// interval keys of the wrong size, interface names longer than 15 bytes,
// comments longer than 127 bytes, reversed ranges. Everything else (unknown
// jump targets, missing sets, names the kernel refuses) is left to the
// kernel, whose error the backend maps back through `objects`.
Result<EncodedBatch> encode_replace_table(const DesiredState& state, const BatchOptions& options,
                                          std::uint32_t first_seq);

}  // namespace netpolicy::filter
