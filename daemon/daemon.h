#pragma once
// netpolicyd's run mode: one single-threaded sd-event loop. Start applies the
// configured policy (or exits 1, leaving the kernel as it was); SIGHUP
// reloads it (keeping the previous policy on any failure); SIGTERM/SIGINT
// stop the daemon and leave the rules in the kernel.
#include <string>

namespace netpolicy::daemon {

struct DaemonOptions {
  std::string config = "/etc/netpolicy/policy.yaml";
  std::string runtime_dir = "/run/netpolicy";
  std::string state_dir = "/var/lib/netpolicy";
};

// Runs until SIGTERM/SIGINT; returns the process exit code (0 after a clean
// stop, 1 when start-up failed). Every outcome is audited.
int run_daemon(const DaemonOptions& options);

// `netpolicyd --check`: prints diagnostics to stderr or the summary to
// stdout; returns the exit code.
int run_check(const std::string& path);

}  // namespace netpolicy::daemon
