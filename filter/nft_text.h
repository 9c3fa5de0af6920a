#pragma once
// DesiredState -> nft(8) script text: what `netpolicyctl export` prints and
// what golden tests compare. `nft -f` of this text must build the same table
// as the libnftnl encoder does.
#include <string>

#include "filter/model.h"

namespace netpolicy::filter {

// A complete script: "table inet NAME { ... }" with sets, maps and chains,
// preceded by "add table" + "delete table" lines when `replace` is true so
// that `nft -f` swaps the table atomically as the daemon does.
std::string render_nft(const DesiredState& state, bool replace = false);

}  // namespace netpolicy::filter
