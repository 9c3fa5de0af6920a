// The XFRM backend against the real kernel (6.18 here: XFRM policies, no
// ESP). Each test moves the process into a fresh network namespace first,
// so the host's XFRM state is never seen or touched.
#include <sched.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "filter/nft_backend.h"
#include "filter/xfrm_backend.h"
#include "policy/compiler.h"
#include "policy/loader.h"
#include "tests/integration/root_test.h"

namespace netpolicy::filter {
namespace {

using netpolicy::testing::enter_fresh_netns;

std::string run(const std::string& command) {
  return netpolicy::testing::shell_output(command);
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

policy::Policy load(const std::string& yaml) {
  auto result = policy::load_policy_text(yaml, "test.yaml");
  if (auto* errors = std::get_if<std::vector<policy::Diagnostic>>(&result)) {
    ADD_FAILURE() << (*errors)[0].to_string();
    return {};
  }
  return std::get<policy::Policy>(result);
}

const char* const kPolicy =
    "version: 1\n"
    "zones: [{name: lan, interfaces: [\"veth*\"]}]\n"
    "ipsec:\n"
    "  - {name: db, reqid: 100}\n"
    "  - {name: web, reqid: 101, level: request, protocol: ah}\n"
    "rules:\n"
    "  - {name: db-out, direction: out, to: [10.200.1.0/24, \"fd00:200:1::/64\"],\n"
    "     protocol: tcp, ports: [5432, 6000], action: protect, ipsec: db}\n"
    "  - {name: web-in, direction: in, from: [10.200.2.7], protocol: tcp, ports: [443],\n"
    "     action: protect, ipsec: web}\n";

void expect_kernel_has(XfrmBackend& backend, const XfrmState& want) {
  auto have = backend.read_band(want.band);
  ASSERT_TRUE(have) << have.error().describe();
  ASSERT_EQ(have->size(), want.policies.size());
  for (const auto& w : want.policies) {
    bool found = false;
    for (const auto& h : *have) found = found || h.same_in_kernel(w);
    EXPECT_TRUE(found) << "missing in kernel: " << w.rule;
  }
}

TEST(XfrmBackend, InstallsUpdatesAndRemovesOnlyItsBand) {
  enter_fresh_netns();
  // An administrator's policy, outside the band.
  ASSERT_EQ(std::system("ip xfrm policy add src 10.200.9.1/32 dst 10.200.9.2/32 dir out "
                        "priority 100 tmpl proto esp reqid 9 mode transport"),
            0);
  auto backend = XfrmBackend::open();
  ASSERT_TRUE(backend) << backend.error().describe();
  auto state = policy::compile(load(kPolicy), {});
  ASSERT_EQ(state.xfrm.policies.size(), 2u * 2u * 2u + 2u);
  ASSERT_TRUE((*backend)->replace(state.xfrm));
  expect_kernel_has(**backend, state.xfrm);
  std::string text = run("ip xfrm policy");
  EXPECT_EQ(count(text, "priority 499712"), 8u) << text;  // rule 0
  EXPECT_EQ(count(text, "priority 499713"), 2u) << text;  // rule 1
  EXPECT_EQ(count(text, "level use"), 2u) << text;
  EXPECT_EQ(count(text, "reqid 9 "), 1u) << text;

  // Applying the same again changes nothing; a changed reqid is updated.
  ASSERT_TRUE((*backend)->replace(state.xfrm));
  for (auto& p : state.xfrm.policies)
    if (p.rule == "db-out") p.tmpl.reqid = 200;
  ASSERT_TRUE((*backend)->replace(state.xfrm));
  expect_kernel_has(**backend, state.xfrm);
  text = run("ip xfrm policy");
  EXPECT_EQ(count(text, "reqid 200 "), 8u) << text;

  // An empty state removes all of ours and only ours.
  XfrmState empty;
  empty.band = state.xfrm.band;
  ASSERT_TRUE((*backend)->replace(empty));
  text = run("ip xfrm policy");
  EXPECT_EQ(count(text, "\tdir "), 1u) << text;
  EXPECT_EQ(count(text, "reqid 9 "), 1u) << text;
}

TEST(XfrmBackend, ARefusedPolicyIsNamedAndTheBandIsLeftAsItWas) {
  enter_fresh_netns();
  auto backend = XfrmBackend::open();
  ASSERT_TRUE(backend) << backend.error().describe();
  auto state = policy::compile(load(kPolicy), {});
  // The band holds a first version; then someone else takes a selector the
  // next version needs (outside the band, so it is not ours to replace).
  XfrmState first = state.xfrm;
  first.policies.resize(4);
  ASSERT_TRUE((*backend)->replace(first));
  ASSERT_EQ(std::system("ip xfrm policy add src 10.200.2.7/32 dst 0.0.0.0/0 proto tcp dport 443 "
                        "dir in priority 7 tmpl proto esp reqid 9 mode transport"),
            0);
  auto failed = (*backend)->replace(state.xfrm);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().error_code, EEXIST);
  EXPECT_EQ(failed.error().rule, "web-in");
  EXPECT_NE(failed.error().object.find("dir in src 10.200.2.7/32 dst 0.0.0.0/0 proto tcp dport 443"),
            std::string::npos)
      << failed.error().describe();
  expect_kernel_has(**backend, first);  // the additions were undone
  EXPECT_EQ(count(run("ip xfrm policy"), "priority 7 "), 1u);
}

TEST(XfrmBackend, NftEncodesIpsecInReqidAsNftWould) {
  enter_fresh_netns();
  auto nft = NftBackend::open();
  ASSERT_TRUE(nft) << nft.error().describe();
  auto state = policy::compile(load(kPolicy), {});
  auto applied = (*nft)->replace_table(state);
  ASSERT_TRUE(applied) << applied.error().describe();
  const std::string text = run("nft list chain inet netpolicy in_lan");
  EXPECT_NE(text.find("ip saddr @r_web-in_src4 tcp dport 443 ipsec in reqid 101 counter packets 0 "
                      "bytes 0 accept comment \"web-in\""),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("ip saddr @r_web-in_src4 tcp dport 443 counter packets 0 bytes 0 drop"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace netpolicy::filter
