#pragma once
// The live interface watcher: an rtnetlink socket subscribed to link and
// IPv4/IPv6 address changes, and a second one for full dumps. The caller
// polls fd() (an sd-event io source in the daemon) and calls
// read_events(); after an overrun it calls resync(), with backoff, until a
// consistent dump succeeds.
//
// Order of work, so no change can fall between the cracks: subscribe
// first (open()), then dump (resync()). Every event queued from the
// subscription on is applied on top of the dump; an event older than the
// dump only repeats what the dump says, because each link or address
// message carries the object's whole state.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/interface_view.h"
#include "netlink/interface_events.h"

namespace netpolicy::netlink {

class InterfaceWatcher {
 public:
  // Opens the event socket (non-blocking, subscribed to RTNLGRP_LINK,
  // RTNLGRP_IPV4_IFADDR and RTNLGRP_IPV6_IFADDR) with a receive buffer of
  // `receive_buffer` bytes — SO_RCVBUFFORCE, or SO_RCVBUF (capped by
  // net.core.rmem_max) where that is refused — and the dump socket. The
  // view is empty and incomplete until the first resync().
  static Result<std::unique_ptr<InterfaceWatcher>> open(std::uint64_t receive_buffer);

  InterfaceWatcher(const InterfaceWatcher&) = delete;
  InterfaceWatcher& operator=(const InterfaceWatcher&) = delete;
  ~InterfaceWatcher();

  // The event socket, readable when events are queued.
  [[nodiscard]] int fd() const;
  // The receive buffer the kernel granted (getsockopt SO_RCVBUF; the
  // kernel doubles what was asked for its bookkeeping), and whether it
  // took SO_RCVBUFFORCE.
  [[nodiscard]] int receive_buffer() const;
  [[nodiscard]] bool buffer_forced() const;
  // Changes the receive buffer (settings.netlink_receive_buffer), as open() does.
  Status set_receive_buffer(std::uint64_t bytes);

  struct Changed {
    int ifindex = 0;
    std::string name;  // at the time of the event (a deleted link's last name)
  };
  struct Batch {
    std::size_t messages = 0;     // netlink messages read
    std::vector<Changed> changed; // interfaces whose entry in the view changed
    bool overrun = false;         // events were lost (ENOBUFS, truncation)
    bool more = false;            // stopped at max_messages with events left
  };

  // Reads the queued events without blocking and applies them to the view.
  // After an overrun the view stays incomplete until resync() succeeds.
  // An Error (ENOMEM included) also leaves it incomplete.
  Result<Batch> read_events(std::size_t max_messages = 16384);

  // Dumps links, then addresses, on the dump socket and makes that the
  // view, then applies the events queued meanwhile. An interrupted dump
  // (NLM_F_DUMP_INTR) is retried at once, `attempts` times in all. Fails
  // with EINTR when none was consistent, ENOBUFS when events were lost
  // during the dump, ENOMEM, or the socket's errno; the view then stays
  // incomplete (its entries as the events left them).
  Status resync(int attempts = 3);

  // The interfaces as known now; complete is false from an overrun or a
  // failure until the next successful resync().
  [[nodiscard]] InterfaceView view() const;
  [[nodiscard]] bool complete() const;
  [[nodiscard]] std::size_t size() const;

 private:
  // The libnl sockets and the parsing state stay out of this header, so
  // the daemon does not need libnl's headers.
  struct Impl;
  explicit InterfaceWatcher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace netpolicy::netlink
