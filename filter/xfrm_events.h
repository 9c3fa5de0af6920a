#pragma once
// The kernel's XFRM notifications netpolicyd listens to: ACQUIREs (a packet
// hit a policy for which no SA exists; XFRMNLGRP_ACQUIRE) and new or
// updated SAs (XFRMNLGRP_SA), on one NETLINK_XFRM socket the daemon's loop
// watches.
#include <memory>
#include <vector>

#include "base/error.h"
#include "filter/xfrm_model.h"

namespace netpolicy::filter {

struct XfrmEvent {
  enum class Kind : std::uint8_t { acquire, sa_added };
  Kind kind = Kind::acquire;
  std::uint32_t reqid = 0;
  // acquire: the selector of the flow and the priority of the policy it
  // hit; sa_added: unset.
  XfrmSelector flow;
  std::uint32_t priority = 0;
  IpPrefix peer;  // acquire: the SA's destination; sa_added: its destination
};

class XfrmEventSocket {
 public:
  static Result<std::unique_ptr<XfrmEventSocket>> open();
  ~XfrmEventSocket();
  XfrmEventSocket(const XfrmEventSocket&) = delete;
  XfrmEventSocket& operator=(const XfrmEventSocket&) = delete;
  [[nodiscard]] int fd() const;
  // The events queued now (non-blocking). ENOBUFS means some were lost.
  Result<std::vector<XfrmEvent>> read();

 private:
  struct Impl;
  explicit XfrmEventSocket(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace netpolicy::filter
