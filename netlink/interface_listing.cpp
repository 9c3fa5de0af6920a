#include "netlink/interface_listing.h"

#include <linux/rtnetlink.h>
#include <netlink/addr.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/rtnl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>

#include "netlink/nl_error.h"
#include "netlink/nl_handles.h"

namespace netpolicy::netlink {

namespace {

// Why not rtnl_link_alloc_cache()/rtnl_addr_alloc_cache(): nl_cache_refill()
// in libnl 3.7 restarts an interrupted dump itself, without limit and without
// clearing what the interrupted pass already put in the cache, so a link
// deleted during the dump can survive in the result. We send the dump
// request ourselves and pick the reply up into a fresh cache per attempt,
// so -NLE_DUMP_INTR reaches us and a retry starts from nothing.
enum class DumpOutcome { ok, interrupted };

Result<DumpOutcome> dump_into(nl_sock* sock, const char* cache_name, int rtm_type,
                              NlCachePtr& out) {
  nl_cache* raw = nullptr;
  if (int err = nl_cache_alloc_name(cache_name, &raw); err < 0)
    return errno_error(std::string{"Failed to allocate libnl cache '"} + cache_name + "'",
                       errno_from_nl(err));
  NlCachePtr cache{raw};
  const char* what = rtm_type == RTM_GETLINK ? "links" : "addresses";
  if (int err = nl_rtgen_request(sock, rtm_type, AF_UNSPEC, NLM_F_DUMP); err < 0)
    return errno_error(std::string{"Failed to request a dump of the "} + what, errno_from_nl(err));
  int err = nl_cache_pickup(sock, cache.get());
  if (err == -NLE_DUMP_INTR) return DumpOutcome::interrupted;
  if (err < 0)
    return errno_error(std::string{"Failed to read the dump of the "} + what, errno_from_nl(err));
  out = std::move(cache);
  return DumpOutcome::ok;
}

// The address the host itself has (IFA_LOCAL, or IFA_ADDRESS where the
// kernel sends only that, as for IPv6) as a /32 or /128 host prefix.
std::optional<IpPrefix> local_address(rtnl_addr* addr) {
  nl_addr* local = rtnl_addr_get_local(addr);
  if (local == nullptr) return std::nullopt;
  IpPrefix p;
  switch (nl_addr_get_family(local)) {
    case AF_INET:
      p.family = Family::ipv4;
      break;
    case AF_INET6:
      p.family = Family::ipv6;
      break;
    default:
      return std::nullopt;
  }
  if (nl_addr_get_len(local) != p.size()) return std::nullopt;
  std::memcpy(p.bytes.data(), nl_addr_get_binary_addr(local), p.size());
  p.length = p.max_length();
  return p;
}

// One attempt: links, then addresses. nullopt when the kernel flagged a
// dump as interrupted or an address names a link the link dump did not
// have (it appeared between the two dumps): the caller dumps again.
Result<std::optional<InterfaceView>> list_once(nl_sock* sock) {
  NlCachePtr links;
  auto link_dump = dump_into(sock, "route/link", RTM_GETLINK, links);
  if (!link_dump) return link_dump.error();
  if (*link_dump == DumpOutcome::interrupted) return std::optional<InterfaceView>{};

  NlCachePtr addrs;
  auto addr_dump = dump_into(sock, "route/addr", RTM_GETADDR, addrs);
  if (!addr_dump) return addr_dump.error();
  if (*addr_dump == DumpOutcome::interrupted) return std::optional<InterfaceView>{};

  std::map<int, Interface> by_index;
  for (nl_object* obj = nl_cache_get_first(links.get()); obj != nullptr;
       obj = nl_cache_get_next(obj)) {
    auto* link = reinterpret_cast<rtnl_link*>(obj);  // libnl's object "subclass"
    Interface iface;
    iface.ifindex = rtnl_link_get_ifindex(link);
    if (const char* name = rtnl_link_get_name(link)) iface.name = name;
    by_index[iface.ifindex] = std::move(iface);
  }
  for (nl_object* obj = nl_cache_get_first(addrs.get()); obj != nullptr;
       obj = nl_cache_get_next(obj)) {
    auto* addr = reinterpret_cast<rtnl_addr*>(obj);
    auto prefix = local_address(addr);
    if (!prefix) continue;
    auto it = by_index.find(rtnl_addr_get_ifindex(addr));
    if (it == by_index.end()) return std::optional<InterfaceView>{};
    it->second.addresses.push_back(*prefix);
  }

  InterfaceView view;
  for (auto& [index, iface] : by_index) {
    std::sort(iface.addresses.begin(), iface.addresses.end());
    iface.addresses.erase(std::unique(iface.addresses.begin(), iface.addresses.end()),
                          iface.addresses.end());
    view.interfaces.push_back(std::move(iface));
  }
  return std::optional<InterfaceView>{std::move(view)};
}

}  // namespace

Result<InterfaceView> list_interfaces(int attempts) {
  NlSocketPtr sock{nl_socket_alloc()};
  if (!sock) return errno_error("Failed to allocate a netlink socket", ENOMEM);
  if (int err = nl_connect(sock.get(), NETLINK_ROUTE); err < 0)
    return errno_error("Failed to open a netlink socket 'NETLINK_ROUTE'", errno_from_nl(err));
  // Peek at each message's size so big link messages are not truncated.
  nl_socket_enable_msg_peek(sock.get());

  for (int attempt = 0; attempt < std::max(attempts, 1); ++attempt) {
    auto once = list_once(sock.get());
    if (!once) return once.error();
    if (once->has_value()) return std::move(**once);
  }
  return errno_error("Failed to get a consistent dump of links and addresses after " +
                         std::to_string(std::max(attempts, 1)) + " attempts",
                     EINTR);
}

}  // namespace netpolicy::netlink
