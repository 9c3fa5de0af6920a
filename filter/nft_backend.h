#pragma once
// The nftables backend: DesiredState -> libnftnl objects -> one libmnl batch
// over one nfnetlink socket kept for the daemon's whole life. That socket
// owns the table (NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST where the kernel
// has them), so other processes cannot change it while the daemon runs and
// the table outlives the daemon.
#include <memory>
#include <string>

#include "base/error.h"
#include "filter/element_applier.h"
#include "filter/ruleset_applier.h"

namespace netpolicy::filter {

class NftSocket;  // nft_socket.h

class NftBackend final : public RulesetApplier, public ElementApplier {
 public:
  // Opens the nfnetlink socket. Fails with the errno of socket/bind.
  static Result<std::unique_ptr<NftBackend>> open();
  ~NftBackend() override;

  Status replace_table(const DesiredState& state) override;

  // Sends only DELSETELEM/NEWSETELEM messages, on the same socket (which
  // owns the table, so no other process could).
  Status update_elements(const ElementDiff& diff) override;

  // Whether the last successful replace_table could take ownership of the
  // table (owner|persist); false on kernels without NFT_TABLE_F_PERSIST,
  // where the daemon must rely on watching and restoring instead.
  [[nodiscard]] bool owns_table() const { return owns_table_; }

 private:
  explicit NftBackend(std::unique_ptr<NftSocket> socket);
  std::unique_ptr<NftSocket> socket_;
  bool owns_table_ = false;
  bool kernel_has_persist_ = true;  // cleared once the kernel refuses the flag
};

}  // namespace netpolicy::filter
