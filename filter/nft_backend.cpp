#include "filter/nft_backend.h"

#include <algorithm>
#include <cerrno>

#include "filter/nft_elements.h"
#include "filter/nft_encode.h"
#include "filter/nft_socket.h"

namespace netpolicy::filter {
namespace {

// The Error for a batch the kernel refused: the first error by position in
// the batch is the cause (later ones are usually its consequences, e.g.
// ENOENT for objects of a table that could not be created).
Error batch_error(const EncodedBatch& batch, const std::string& table,
                  const std::vector<NftErrorReply>& replies) {
  const auto first = std::min_element(
      replies.begin(), replies.end(), [&](const NftErrorReply& a, const NftErrorReply& b) {
        return a.seq - batch.first_seq < b.seq - batch.first_seq;
      });
  Error error{"Failed to apply table 'inet " + table + "'", first->error, {}, {}};
  if (const BatchObject* object = batch.object_for(first->seq)) {
    error.object = object->object;
    error.rule = object->rule;
  } else {
    error.object = "table 'inet " + table + "'";
  }
  if (!first->detail.empty()) error.object += " (" + first->detail + ")";
  return error;
}

// Whether the kernel refused only the owner|persist flags: the first error
// is on that NEWTABLE, with the errno of an unknown flag (EOPNOTSUPP on
// kernels before 6.9; EINVAL is accepted too, to be safe).
bool refused_persist(const EncodedBatch& batch, const std::vector<NftErrorReply>& replies) {
  if (batch.owner_table_seq == 0) return false;
  const auto first = std::min_element(
      replies.begin(), replies.end(), [&](const NftErrorReply& a, const NftErrorReply& b) {
        return a.seq - batch.first_seq < b.seq - batch.first_seq;
      });
  return first->seq == batch.owner_table_seq &&
         (first->error == EOPNOTSUPP || first->error == EINVAL);
}

}  // namespace

Result<std::unique_ptr<NftBackend>> NftBackend::open() {
  auto socket = NftSocket::open();
  if (!socket) return socket.error();
  return std::unique_ptr<NftBackend>(new NftBackend(std::move(socket).value()));
}

NftBackend::NftBackend(std::unique_ptr<NftSocket> socket) : socket_(std::move(socket)) {}

NftBackend::~NftBackend() = default;

Status NftBackend::replace_table(const DesiredState& state) {
  const std::string& table = state.table.name;
  // At most two attempts: the second only when the kernel lacks persist.
  for (;;) {
    const BatchOptions options{.owner_persist = kernel_has_persist_};
    auto batch = encode_replace_table(state, options, socket_->next_sequence());
    if (!batch) return batch.error();

    auto replies = socket_->transact(batch->bytes, batch->first_seq, batch->message_count(),
                                     batch->ack_seq);
    if (!replies) {
      Error error = replies.error();
      error.object = "table 'inet " + table + "'";
      return error;
    }
    if (replies->empty()) {
      owns_table_ = options.owner_persist;
      return Ok{};
    }
    if (options.owner_persist && refused_persist(*batch, *replies)) {
      // Never fall back to owner alone: such a table disappears with the
      // daemon and leaves the host unfiltered. Without persist the daemon
      // owns nothing and relies on watching and restoring instead.
      kernel_has_persist_ = false;
      continue;
    }
    return batch_error(*batch, table, *replies);
  }
}

Status NftBackend::update_elements(const ElementDiff& diff) {
  if (diff.empty()) return Ok{};
  auto batch = encode_element_update(diff, socket_->next_sequence());
  if (!batch) return batch.error();
  auto replies =
      socket_->transact(batch->bytes, batch->first_seq, batch->message_count(), batch->ack_seq);
  if (!replies) {
    Error error = replies.error();
    error.object = "table 'inet " + diff.table + "'";
    return error;
  }
  if (replies->empty()) return Ok{};
  Error error = batch_error(*batch, diff.table, *replies);
  error.message = "Failed to update elements of table 'inet " + diff.table + "'";
  return error;
}

}  // namespace netpolicy::filter
