#pragma once
// Owners of libsystemd handles: the only place daemon/ releases them.
#include <systemd/sd-event.h>

#include <memory>

namespace netpolicy::daemon {

struct SdEventDeleter {
  void operator()(sd_event* event) const { sd_event_unref(event); }
};
using SdEventPtr = std::unique_ptr<sd_event, SdEventDeleter>;

struct SdEventSourceDeleter {
  // Disables as well as unrefs, so the loop never calls back into an owner
  // that is gone even if something else still holds a reference.
  void operator()(sd_event_source* source) const { sd_event_source_disable_unref(source); }
};
using SdEventSourcePtr = std::unique_ptr<sd_event_source, SdEventSourceDeleter>;

}  // namespace netpolicy::daemon
