#pragma once
// The daemon's only way to change XFRM policies and SAs: a small interface
// so unit tests can make it fail and check what the engine does about it.
#include <vector>

#include "base/error.h"
#include "filter/xfrm_model.h"

namespace netpolicy::filter {

class XfrmApplier {
 public:
  virtual ~XfrmApplier() = default;
  // Makes the kernel's XFRM policies in `desired.band` equal to
  // `desired.policies`, and netpolicyd's SAs (xfrm_sa.h says which are
  // ours) equal to `desired.sas`: reads back only those, then adds what is
  // missing, updates what differs and deletes what is extra — SAs before
  // the policies that need them, SAs no longer wanted after. Policies
  // outside the band and SAs that are not ours are never touched; an SA of
  // someone else's with the (daddr, spi, proto) of a wanted one is an
  // error naming it (EEXIST), before anything changes. On an error midway
  // it undoes what it had done, so the kernel holds what it held before,
  // and the Error names the policy or SA the kernel refused (object) with
  // its errno.
  virtual Status replace(const XfrmState& desired) = 0;
  // The policies the kernel has in `band` (what replace would change), so
  // a caller can go back to them.
  virtual Result<std::vector<XfrmPolicy>> read_band(const XfrmBand& band) = 0;
  // Everything replace(desired) would change, as the kernel has it now:
  // the band's policies and our SAs (keys included), so a caller can go
  // back to them with replace(). The default has no SAs.
  virtual Result<XfrmState> snapshot(const XfrmState& desired) {
    auto policies = read_band(desired.band);
    if (!policies) return policies.error();
    XfrmState state;
    state.band = desired.band;
    state.policies = std::move(*policies);
    return state;
  }
};

}  // namespace netpolicy::filter
