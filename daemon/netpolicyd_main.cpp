// netpolicyd [--config PATH] [--check] [--runtime-dir DIR] [--state-dir DIR]
#include <sys/prctl.h>

#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>

#include "daemon/daemon.h"

int main(int argc, char** argv) {
  netpolicy::daemon::DaemonOptions options;
  bool check = false;

  CLI::App app{"netpolicyd: keeps nftables equal to the declared network policy"};
  app.set_version_flag("--version", NETPOLICY_VERSION);
  app.add_option("--config", options.config, "policy file")->capture_default_str();
  app.add_flag("--check", check,
               "load, validate and compile the policy only; no kernel access; exit 0 when valid");
  app.add_option("--runtime-dir", options.runtime_dir, "runtime directory (control.sock)")
      ->capture_default_str();
  app.add_option("--state-dir", options.state_dir, "state directory (cached central policy)")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; a usage error exits 2, apart from the
    // 1 that means "policy invalid" or "failed".
    return app.exit(e) == 0 ? 0 : 2;
  }

  // The policy may hold IPsec keys (keying: manual): no core dump of this
  // process may carry them into a crash store, and no other process of the
  // same user may ptrace it or read its memory.
  (void)::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

  try {
    if (check) return netpolicy::daemon::run_check(options.config);
    return netpolicy::daemon::run_daemon(options);
  } catch (const std::exception& e) {
    // Programming errors only; the kernel keeps whatever table it has.
    std::cerr << "netpolicyd: fatal: " << e.what() << std::endl;
    return 1;
  }
}
