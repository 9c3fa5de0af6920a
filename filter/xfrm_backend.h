#pragma once
// XfrmApplier over one NETLINK_XFRM socket (libmnl), kept for the daemon's
// life. Changes are raw XFRM_MSG_{NEW,UPD,DEL}POLICY and {NEW,DEL}SA
// messages, hundreds per sendmsg: 10k policies take tens of milliseconds
// where `ip -batch` takes about a second (KERNEL-NOTES.md).
//
// Which SAs are ours (xfrm_sa.h): those whose (daddr, spi, proto) is one of
// the SAs last applied through this backend or one of the SAs wanted now,
// carrying that SA's reqid. After a restart the first set is empty, so SAs
// of the previous run are recognised by the wanted triple and reqid alone.
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "base/error.h"
#include "filter/xfrm_applier.h"

namespace netpolicy::filter {

class XfrmSocket;  // xfrm_socket.h

class XfrmBackend final : public XfrmApplier {
 public:
  // Opens the socket. Fails with the errno of socket/bind.
  static Result<std::unique_ptr<XfrmBackend>> open();
  ~XfrmBackend() override;

  Status replace(const XfrmState& desired) override;

  // The main-type policies whose priority is in `band`, as the kernel has them.
  Result<std::vector<XfrmPolicy>> read_band(const XfrmBand& band) override;
  Result<XfrmState> snapshot(const XfrmState& desired) override;

 private:
  explicit XfrmBackend(std::unique_ptr<XfrmSocket> socket);
  struct OurSas {
    std::vector<XfrmSa> sas;           // ours, as the kernel has them (keys too)
    std::optional<XfrmSa> clash;       // someone else's SA on a wanted triple
    const XfrmSa* clash_with = nullptr;  // the wanted SA it clashes with
  };
  // Dumps the SAs and keeps ours among `wanted`, `also` and owned_.
  Result<OurSas> read_sas(const std::vector<XfrmSa>& wanted, const std::vector<XfrmSa>& also);
  // Takes the band and our SAs back to `before` after a failed replace
  // that wanted `tried`; the first step that failed, if any.
  Status undo(const XfrmState& before, const std::vector<XfrmSa>& tried);

  std::unique_ptr<XfrmSocket> socket_;
  // (daddr, spi, proto) -> reqid of the SAs the last successful replace
  // put (or found) in the kernel.
  std::map<XfrmSaId, std::uint32_t> owned_;
};

}  // namespace netpolicy::filter
