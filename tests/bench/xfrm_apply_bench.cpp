// Apply time of a policy with 10k protect selectors, in a fresh network
// namespace: the XFRM part alone (XfrmBackend::replace into an empty band),
// the whole apply (compile + XFRM + nft table, into a fresh namespace), and
// the same XFRM policies through `ip -batch`. Built and run by
// tests/bench/xfrm_apply_bench.sh; prints one line per measurement.
#include <sched.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

#include "filter/nft_backend.h"
#include "filter/xfrm_backend.h"
#include "filter/xfrm_text.h"
#include "policy/compiler.h"
#include "policy/loader.h"

using namespace netpolicy;
using Clock = std::chrono::steady_clock;

static double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

static void fresh_netns() {
  if (unshare(CLONE_NEWNET) != 0) {
    std::perror("unshare");
    std::exit(1);
  }
}

int main(int argc, char** argv) {
  const int ports = argc > 1 ? std::atoi(argv[1]) : 5000;  // x 2 directions
  const std::string yaml =
      "version: 1\nsettings: {max_protect_selectors: 1000000}\n"
      "zones: [{name: lan, interfaces: [\"veth*\"]}]\n"
      "ipsec: [{name: db, reqid: 100}]\n"
      "rules:\n  - {name: many, direction: out, to: [10.200.1.2], protocol: tcp,\n"
      "     ports: [\"1-" + std::to_string(ports) + "\"], action: protect, ipsec: db}\n";
  auto loaded = policy::load_policy_text(yaml, "bench.yaml");
  if (!std::holds_alternative<policy::Policy>(loaded)) {
    std::cerr << std::get<std::vector<policy::Diagnostic>>(loaded)[0].to_string() << "\n";
    return 1;
  }
  const policy::Policy& pol = std::get<policy::Policy>(loaded);

  // 1. XFRM part alone.
  fresh_netns();
  auto state = policy::compile(pol, {});
  const std::size_t n = state.xfrm.policies.size();
  auto xfrm = filter::XfrmBackend::open();
  if (!xfrm) return std::cerr << xfrm.error().describe() << "\n", 1;
  auto t = Clock::now();
  if (auto s = (*xfrm)->replace(state.xfrm); !s) return std::cerr << s.error().describe() << "\n", 1;
  std::printf("xfrm_replace policies=%zu ms=%.1f\n", n, ms_since(t));
  t = Clock::now();
  if (auto s = (*xfrm)->replace(state.xfrm); !s) return 1;
  std::printf("xfrm_replace_unchanged policies=%zu ms=%.1f\n", n, ms_since(t));

  // 2. Whole apply: compile + XFRM + nft, in a fresh namespace.
  fresh_netns();
  auto xfrm2 = filter::XfrmBackend::open();
  auto nft = filter::NftBackend::open();
  if (!xfrm2 || !nft) return 1;
  t = Clock::now();
  auto state2 = policy::compile(pol, {});
  if (auto s = (*xfrm2)->replace(state2.xfrm); !s) return 1;
  if (auto s = (*nft)->replace_table(state2); !s) return std::cerr << s.error().describe() << "\n", 1;
  std::printf("whole_apply policies=%zu ms=%.1f\n", n, ms_since(t));

  // 3. ip -batch of the same policies, in a fresh namespace.
  fresh_netns();
  const char* batch = "/run/np-xfrm-bench.batch";
  {
    std::ofstream out(batch);
    for (const auto& p : state.xfrm.policies) {
      const std::string text = filter::describe_xfrm_policy(p);  // "dir D src .. dst .. proto .."
      const auto sp = text.find(' ', 4);
      out << "xfrm policy add " << text.substr(sp + 1) << " " << text.substr(0, sp)
          << " priority " << p.priority << " tmpl proto esp reqid " << p.tmpl.reqid
          << " mode transport\n";
    }
  }
  t = Clock::now();
  const int rc = std::system((std::string{"ip -batch "} + batch).c_str());
  std::printf("ip_batch policies=%zu ms=%.1f rc=%d\n", n, ms_since(t), rc);
  std::remove(batch);
  return rc == 0 ? 0 : 1;
}
