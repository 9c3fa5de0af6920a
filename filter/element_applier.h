#pragma once
// The daemon's way to change only set and map elements of its table (an
// interface event), beside RulesetApplier's full replace: a small
// interface so unit tests can make the kernel refuse and check the retry.
#include "base/error.h"
#include "filter/nft_elements.h"

namespace netpolicy::filter {

class ElementApplier {
 public:
  virtual ~ElementApplier() = default;
  // Applies `diff` to table `diff.table` in one kernel transaction:
  // afterwards the kernel holds all of its changes or — on any error —
  // none. On a refusal the Error names the set or map (object) and carries
  // the kernel's errno. An empty diff succeeds without touching the kernel.
  virtual Status update_elements(const ElementDiff& diff) = 0;
};

}  // namespace netpolicy::filter
