#pragma once
// The key files of `keying: manual` profiles: hex text (as `ip xfrm state`
// takes keys, an optional 0x, whitespace and newlines anywhere), read only
// when the file can be trusted to be secret, like sshd's StrictModes: a
// regular file (no symlink), owned by root, no permission bits for group or
// others, in directories that only root may change (sticky ones like /tmp
// aside).
#include <sys/types.h>

#include <string>
#include <variant>

#include "filter/xfrm_sa.h"

namespace netpolicy::policy {

// A key file is at most this long (a 32-byte key in hex is 64 characters).
inline constexpr std::size_t kMaxKeyFileBytes = 4096;

// The key in PATH, or why it was refused: a sentence without the path,
// never quoting the file's contents. Besides root, `also_owner` may own
// the file: the loader passes its effective uid, so a `--check` by an
// ordinary user works on that user's own files (for root it is root
// again).
std::variant<filter::XfrmKey, std::string> read_key_file(const std::string& path,
                                                         uid_t also_owner);

// Hex text -> bytes; the reason it is not a key otherwise.
std::variant<filter::XfrmKey, std::string> parse_hex_key(std::string_view text);

}  // namespace netpolicy::policy
