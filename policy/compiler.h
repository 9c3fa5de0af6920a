#pragma once
// The compiler: (Policy, InterfaceView) -> DesiredState. Pure: no I/O, no
// globals, no clock; the same inputs give the same output byte for byte.
#include <string>
#include <vector>

#include "base/interface_view.h"
#include "filter/model.h"
#include "policy/policy.h"

namespace netpolicy::policy {

// Which zone an interface belongs to: the first zone with a matching glob,
// or nullptr (the interface then gets settings.unknown_interfaces).
const Zone* classify(const Policy& policy, const std::string& ifname);

filter::DesiredState compile(const Policy& policy, const InterfaceView& view);

}  // namespace netpolicy::policy
