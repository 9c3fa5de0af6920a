#pragma once
// The daemon's only way to change nftables: a small interface so unit tests
// can inject a failure at any stage and show the old state survives.
#include "base/error.h"
#include "filter/model.h"

namespace netpolicy::filter {

class RulesetApplier {
 public:
  virtual ~RulesetApplier() = default;
  // Replaces the table `state.table.name` (family inet) with `state` in one
  // kernel transaction: afterwards the kernel holds exactly `state`, or —
  // on any error — exactly what it held before. On a rejected object the
  // Error names it (object: "rule 'ssh' in chain 'in_lan'", rule: "ssh")
  // and carries the kernel's errno.
  virtual Status replace_table(const DesiredState& state) = 0;
};

}  // namespace netpolicy::filter
