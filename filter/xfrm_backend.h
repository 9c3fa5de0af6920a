#pragma once
// XfrmApplier over one NETLINK_XFRM socket (libmnl), kept for the daemon's
// life. Changes are raw XFRM_MSG_{NEW,UPD,DEL}POLICY messages, hundreds per
// sendmsg: 10k policies take tens of milliseconds where `ip -batch` takes
// about a second (KERNEL-NOTES.md).
#include <memory>
#include <vector>

#include "base/error.h"
#include "filter/xfrm_applier.h"

namespace netpolicy::filter {

class XfrmSocket;  // xfrm_backend.cpp

class XfrmBackend final : public XfrmApplier {
 public:
  // Opens the socket. Fails with the errno of socket/bind.
  static Result<std::unique_ptr<XfrmBackend>> open();
  ~XfrmBackend() override;

  Status replace(const XfrmState& desired) override;

  // The main-type policies whose priority is in `band`, as the kernel has them.
  Result<std::vector<XfrmPolicy>> read_band(const XfrmBand& band) override;

 private:
  explicit XfrmBackend(std::unique_ptr<XfrmSocket> socket);
  std::unique_ptr<XfrmSocket> socket_;
};

}  // namespace netpolicy::filter
