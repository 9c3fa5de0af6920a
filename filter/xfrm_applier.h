#pragma once
// The daemon's only way to change XFRM policies: a small interface so unit
// tests can make it fail and check what the engine does about it.
#include <vector>

#include "base/error.h"
#include "filter/xfrm_model.h"

namespace netpolicy::filter {

class XfrmApplier {
 public:
  virtual ~XfrmApplier() = default;
  // Makes the kernel's XFRM policies in `desired.band` equal to
  // `desired.policies`: reads back only that band, then adds what is
  // missing, updates what differs and deletes what is extra. Policies
  // outside the band (an IKE daemon's, an administrator's) and SAs are
  // never touched. On an error midway it undoes what it had done, so the
  // band holds what it held before, and the Error names the policy the
  // kernel refused (object) with its errno.
  virtual Status replace(const XfrmState& desired) = 0;
  // The policies the kernel has in `band` (what replace would change), so
  // a caller can go back to them.
  virtual Result<std::vector<XfrmPolicy>> read_band(const XfrmBand& band) = 0;
};

}  // namespace netpolicy::filter
