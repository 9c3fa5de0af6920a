#pragma once
// Owners of libnl handles: the only place netlink/ frees them.
#include <netlink/cache.h>
#include <netlink/socket.h>

#include <memory>

namespace netpolicy::netlink {

struct NlSocketDeleter {
  void operator()(nl_sock* sock) const { nl_socket_free(sock); }
};
using NlSocketPtr = std::unique_ptr<nl_sock, NlSocketDeleter>;

struct NlCacheDeleter {
  void operator()(nl_cache* cache) const { nl_cache_free(cache); }
};
using NlCachePtr = std::unique_ptr<nl_cache, NlCacheDeleter>;

}  // namespace netpolicy::netlink
