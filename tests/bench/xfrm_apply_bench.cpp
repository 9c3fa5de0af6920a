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

// The selectors differ either by port only (one peer, ports 1..N) or by
// peer address (N peers, one port). The kernel files policies by address:
// the ports shape puts all of them in one bucket, whose duplicate check on
// every insert makes the kernel's part quadratic whatever the sender does.
static std::string bench_policy(const std::string& shape, int count) {
  std::string yaml =
      "version: 1\nsettings: {max_protect_selectors: 1000000}\n"
      "zones: [{name: lan, interfaces: [\"veth*\"]}]\n"
      "ipsec: [{name: db, reqid: 100}]\n";
  if (shape == "ports")
    return yaml + "rules:\n  - {name: many, direction: out, to: [10.200.1.2], protocol: tcp,\n"
                  "     ports: [\"1-" + std::to_string(count) + "\"], action: protect, ipsec: db}\n";
  std::string peers;
  for (int i = 0; i < count; ++i)
    peers += (i ? ", " : "") + std::string{"10.200."} + std::to_string(1 + i / 250) + "." +
             std::to_string(1 + i % 250);
  return yaml + "rules:\n  - {name: many, direction: out, to: [" + peers +
         "], protocol: tcp,\n     ports: [5432], action: protect, ipsec: db}\n";
}

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::atoi(argv[1]) : 5000;  // x 2 directions
  const std::string shape = argc > 2 ? argv[2] : "hosts";    // hosts | ports
  if (shape != "hosts" && shape != "ports") return std::cerr << "shape: hosts | ports\n", 2;
  const std::string yaml = bench_policy(shape, count);
  std::printf("# shape %s\n", shape.c_str());
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
