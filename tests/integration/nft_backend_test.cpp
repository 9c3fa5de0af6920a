// The nftables backend against the real kernel. Every test first moves the
// whole process into a fresh network namespace (unshare(CLONE_NEWNET)), so
// it never sees or touches the host's ruleset; children (nft, bash) inherit
// the namespace. ctest runs each test as its own process.
#include <fcntl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "base/ip_prefix.h"
#include "filter/model.h"
#include "filter/nft_backend.h"
#include "filter/nft_encode.h"
#include "filter/nft_text.h"
#include "policy/compiler.h"
#include "policy/loader.h"
#include "tests/integration/root_test.h"

namespace netpolicy::filter {
namespace {

using netpolicy::testing::enter_fresh_netns;

// ---- processes ---------------------------------------------------------------

struct Output {
  int status = -1;  // exit code, or -1 if it did not exit normally
  std::string out;
  std::string err;
};

// Runs argv (searched in PATH) and collects its output, reading both pipes
// as they fill so large listings cannot block the child.
Output run(const std::vector<std::string>& argv) {
  int out_pipe[2];
  int err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    return {};
  }
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  Output result;
  std::array<pollfd, 2> fds{{{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}}};
  std::array<std::string*, 2> sinks{&result.out, &result.err};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(n));
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string write_temp(const std::string& text) {
  char path[] = "/tmp/np-nftbackend-XXXXXX";
  const int fd = mkstemp(path);
  EXPECT_GE(fd, 0) << std::strerror(errno);
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  close(fd);
  return path;
}

// `nft -f` of a script; returns the time it took.
std::chrono::duration<double, std::milli> nft_load(const std::string& script) {
  const std::string path = write_temp(script);
  const auto start = std::chrono::steady_clock::now();
  const Output r = run({"nft", "-f", path});
  const auto elapsed = std::chrono::steady_clock::now() - start;
  unlink(path.c_str());
  EXPECT_EQ(r.status, 0) << r.err;
  return elapsed;
}

std::string list_table(const std::string& name = "netpolicy") {
  const Output r = run({"nft", "-s", "list", "table", "inet", name});
  EXPECT_EQ(r.status, 0) << r.err;
  return r.out;
}

// The table header is the only part that may differ between a table loaded
// with nft -f and the backend's: for an owned table nft 1.0.6 prints
// `table inet NAME { # progname COMM` and a `flags owner` line (persist it
// cannot name); once the owner is gone, only persist is left and it prints
// an empty `flags ` line. Both are followed by a blank line.
std::string without_table_flags(const std::string& listing) {
  static const std::regex header(R"(^(table [^{\n]*\{)[^\n]*\n(\tflags [^\n]*\n\n)?)");
  return std::regex_replace(listing, header, "$1\n", std::regex_constants::format_first_only);
}

// Moves this process into a new, empty network namespace.
// ---- model helpers -------------------------------------------------------------

std::vector<std::uint8_t> key_of(const IpPrefix& p) {
  return {p.bytes.begin(), p.bytes.begin() + static_cast<std::ptrdiff_t>(p.size())};
}

// "10.0.0.0/24", "192.0.2.1", "192.0.2.10-192.0.2.20" (IPv4 or IPv6).
Interval addr(const std::string& text) {
  const auto dash = text.find('-');
  if (dash == std::string::npos) {
    const auto p = parse_ip_prefix(text);
    EXPECT_TRUE(p) << text;
    return {key_of(p->first()), key_of(p->last())};
  }
  const auto a = parse_ip_prefix(text.substr(0, dash));
  const auto b = parse_ip_prefix(text.substr(dash + 1));
  EXPECT_TRUE(a && b) << text;
  return {key_of(*a), key_of(*b)};
}

Interval ports(std::uint16_t first, std::uint16_t last) {
  auto key = [](std::uint16_t p) {
    return std::vector<std::uint8_t>{static_cast<std::uint8_t>(p >> 8),
                                     static_cast<std::uint8_t>(p & 0xff)};
  };
  return {key(first), key(last)};
}

Rule rule(std::vector<Match> matches, Verdict verdict, std::string comment = {},
          bool counter = false, std::optional<Log> log = std::nullopt) {
  Rule r;
  r.matches = std::move(matches);
  r.verdict = std::move(verdict);
  r.comment = std::move(comment);
  r.counter = counter;
  r.log = std::move(log);
  return r;
}
Verdict accept() { return {VerdictKind::accept, {}, IfDirection::input}; }
Verdict drop() { return {VerdictKind::drop, {}, IfDirection::input}; }
Verdict no_verdict() { return {}; }
Verdict jump(std::string chain) { return {VerdictKind::jump, std::move(chain), IfDirection::input}; }
Verdict vmap(std::string map, IfDirection key) { return {VerdictKind::vmap, std::move(map), key}; }

MatchL4proto l4(std::uint8_t p) { return MatchL4proto{p}; }
MatchAddressSet saddr(Family f, std::string set) { return {f, true, std::move(set)}; }
MatchAddressSet daddr(Family f, std::string set) { return {f, false, std::move(set)}; }

Chain base_chain(std::string name, Hook hook, bool accept_policy, std::int32_t priority = 0) {
  Chain c;
  c.name = std::move(name);
  c.base = BaseChain{hook, priority, accept_policy};
  return c;
}
Chain chain(std::string name) {
  Chain c;
  c.name = std::move(name);
  return c;
}

// Every match, verdict, log, set type (singles, prefixes, ranges, a range
// starting at 0 and one ending at the largest key), maps with and without
// elements, the three base chains.
DesiredState full_state() {
  DesiredState s;
  Table& t = s.table;
  t.sets.push_back({"g4_admins", SetType::ipv4_addr,
                    {addr("0.0.0.0/8"), addr("10.10.0.0/24"), addr("192.0.2.1"),
                     addr("192.0.2.10-192.0.2.20"), addr("240.0.0.0/4")}});
  t.sets.push_back({"g6_admins", SetType::ipv6_addr,
                    {addr("fd00:10::/64"), addr("fd00:20::1"), addr("fd00:30::5-fd00:30::9"),
                     addr("ffff::/16")}});
  t.sets.push_back({"g4_empty", SetType::ipv4_addr, {}});
  t.sets.push_back({"r_web_ports", SetType::inet_service,
                    {ports(0, 10), ports(80, 80), ports(443, 443), ports(8000, 8100),
                     ports(65535, 65535)}});
  t.maps.push_back({"zone_in",
                    {{"eth0", "in_public"}, {"eth1", "in_internal"}, {"veth-int0", "in_internal"},
                     {"veth-int1", "in_internal"}, {"wlan0", "in_public"}, {"wlan1", "in_public"}}});
  t.maps.push_back({"zone_out", {{"eth0", "out_public"}, {"veth-int0", "out_internal"}}});
  t.maps.push_back({"zone_fwd", {}});

  const Log log_unknown{"netpolicy: unknown-interface: ", 10, 5};
  Chain input = base_chain("input", Hook::input, false);
  input.rules = {
      rule({MatchIfname{IfDirection::input, "lo"}}, accept()),
      rule({MatchCtState{ct::established | ct::related}}, accept()),
      rule({MatchCtState{ct::invalid}}, drop(), {}, true),
      rule({l4(58), MatchIcmpv6Type{135}}, accept()),
      rule({l4(58), MatchIcmpv6Type{136}}, accept()),
      rule({}, vmap("zone_in", IfDirection::input)),
      rule({}, no_verdict(), {}, false, log_unknown),
  };
  Chain output = base_chain("output", Hook::output, true);
  output.rules = {
      rule({MatchIfname{IfDirection::output, "lo"}}, accept()),
      rule({MatchCtState{ct::established | ct::related}}, accept()),
      rule({}, vmap("zone_out", IfDirection::output)),
  };
  Chain forward = base_chain("forward", Hook::forward, false, 10);
  forward.rules = {
      rule({MatchCtState{ct::established | ct::related}}, accept()),
      rule({MatchCtState{ct::invalid}}, drop(), {}, true),
      rule({}, vmap("zone_fwd", IfDirection::input)),
      rule({}, no_verdict(), {}, false, Log{"netpolicy: unknown-interface: ", 10, 5}),
  };
  Chain in_internal = chain("in_internal");
  in_internal.rules = {
      rule({saddr(Family::ipv4, "g4_admins"), l4(6), MatchPort{22, 22}}, accept(),
           "ssh-from-admins", true),
      rule({saddr(Family::ipv6, "g6_admins"), l4(6), MatchPort{22, 22}}, accept(),
           "ssh-from-admins", true),
      rule({saddr(Family::ipv4, "g4_admins"), daddr(Family::ipv4, "g4_empty"), l4(17),
            MatchPortSet{"r_web_ports"}},
           accept(), "web", true),
      rule({daddr(Family::ipv6, "g6_admins"), l4(6), MatchPort{8000, 8100}}, drop(), "range", true),
      rule({MatchNfproto{Family::ipv6}, saddr(Family::ipv6, "g6_admins")}, jump("in_extra"),
           "extra"),
      rule({MatchNfproto{Family::ipv4}, MatchCtState{ct::new_}}, no_verdict(), "count-new", true),
      rule({l4(1)}, accept(), "icmp"),
      rule({l4(50)}, accept(), "esp"),
      rule({}, drop(), "default inbound", true, Log{"netpolicy: default-inbound: ", 10, 5}),
  };
  Chain in_extra = chain("in_extra");
  in_extra.rules = {rule({l4(17), MatchPort{53, 53}}, accept(), "dns", true)};
  Chain in_public = chain("in_public");
  in_public.rules = {rule({}, drop(), "default inbound", true)};
  Chain out_internal = chain("out_internal");
  out_internal.rules = {rule({}, accept(), "default outbound", true)};
  Chain out_public = chain("out_public");
  out_public.rules = {rule({daddr(Family::ipv4, "g4_admins")}, drop(), "no-admins", true),
                      rule({}, accept(), "default outbound", true)};
  Chain fwd_internal = chain("fwd_internal");
  t.chains = {input, output, forward, in_internal, in_extra, in_public, out_internal, out_public,
              fwd_internal};
  return s;
}

// A different table under the same name: other sets, chains and rules.
DesiredState second_state() {
  DesiredState s;
  Table& t = s.table;
  t.sets.push_back({"g4_ops", SetType::ipv4_addr, {addr("10.20.0.0/16")}});
  t.maps.push_back({"zone_in", {{"eth9", "in_ops"}}});
  Chain input = base_chain("input", Hook::input, true);
  input.rules = {rule({MatchIfname{IfDirection::input, "lo"}}, accept()),
                 rule({}, vmap("zone_in", IfDirection::input))};
  Chain in_ops = chain("in_ops");
  in_ops.rules = {rule({saddr(Family::ipv4, "g4_ops"), l4(6), MatchPort{443, 443}}, accept(),
                       "https-from-ops", true),
                  rule({}, drop(), "default inbound", true)};
  t.chains = {input, in_ops};
  return s;
}

class NftBackendTest : public ::testing::Test {
 protected:
  void SetUp() override { enter_fresh_netns(); }

  static std::unique_ptr<NftBackend> open_backend() {
    auto backend = NftBackend::open();
    EXPECT_TRUE(backend) << backend.error().describe();
    return backend ? std::move(backend).value() : nullptr;
  }
};

// ---- (1) nft -f and the backend build the same table -------------------------

// What `nft -f` makes of `script`, listed, in a namespace of its own;
// leaves the process in a new namespace.
std::string listing_via_nft(const std::string& script) {
  enter_fresh_netns();
  nft_load(script);
  std::string listing = list_table();
  enter_fresh_netns();
  return listing;
}

TEST_F(NftBackendTest, BackendBuildsWhatNftBuildsFromRenderedText) {
  const DesiredState state = full_state();
  const std::string expected = listing_via_nft(render_nft(state));
  ASSERT_NE(expected.find("chain in_internal"), std::string::npos) << expected;

  auto backend = open_backend();
  ASSERT_TRUE(backend);
  const Status applied = backend->replace_table(state);
  ASSERT_TRUE(applied) << applied.error().describe() << " [" << applied.error().object << "]";
  const std::string actual = list_table();
  EXPECT_EQ(without_table_flags(actual), without_table_flags(expected));
  // The header is the only difference, and it shows the owner flag.
  EXPECT_EQ(actual.rfind("table inet netpolicy { # progname ", 0), 0u) << actual;
  EXPECT_NE(actual.find("\n\tflags owner\n"), std::string::npos) << actual;
}

// The same comparison against text written by hand, so the encoder is
// checked against nft even if the renderer and encoder shared a mistake.
TEST_F(NftBackendTest, BackendBuildsWhatNftBuildsFromHandWrittenText) {
  const std::string script = R"(table inet netpolicy {
	set g4_admins {
		type ipv4_addr
		flags interval
		elements = { 0.0.0.0/8, 10.10.0.0/24, 192.0.2.1, 192.0.2.10-192.0.2.20, 240.0.0.0/4 }
	}
	set g6_admins {
		type ipv6_addr
		flags interval
		elements = { fd00:10::/64, fd00:20::1, fd00:30::5-fd00:30::9, ffff::/16 }
	}
	set g4_empty {
		type ipv4_addr
		flags interval
	}
	set r_web_ports {
		type inet_service
		flags interval
		elements = { 0-10, 80, 443, 8000-8100, 65535 }
	}
	map zone_in {
		type ifname : verdict
		elements = { "eth0" : jump in_public, "eth1" : jump in_internal, "veth-int0" : jump in_internal, "veth-int1" : jump in_internal, "wlan0" : jump in_public, "wlan1" : jump in_public }
	}
	map zone_out {
		type ifname : verdict
		elements = { "eth0" : jump out_public, "veth-int0" : jump out_internal }
	}
	map zone_fwd {
		type ifname : verdict
	}
	chain input {
		type filter hook input priority filter; policy drop;
		iifname "lo" accept
		ct state established,related accept
		ct state invalid counter drop
		meta l4proto ipv6-icmp icmpv6 type nd-neighbor-solicit accept
		meta l4proto ipv6-icmp icmpv6 type nd-neighbor-advert accept
		iifname vmap @zone_in
		limit rate 10/second burst 5 packets log prefix "netpolicy: unknown-interface: "
	}
	chain output {
		type filter hook output priority filter; policy accept;
		oifname "lo" accept
		ct state established,related accept
		oifname vmap @zone_out
	}
	chain forward {
		type filter hook forward priority filter + 10; policy drop;
		ct state established,related accept
		ct state invalid counter drop
		iifname vmap @zone_fwd
		limit rate 10/second burst 5 packets log prefix "netpolicy: unknown-interface: "
	}
	chain in_internal {
		ip saddr @g4_admins meta l4proto tcp tcp dport 22 counter accept comment "ssh-from-admins"
		ip6 saddr @g6_admins meta l4proto tcp tcp dport 22 counter accept comment "ssh-from-admins"
		ip saddr @g4_admins ip daddr @g4_empty meta l4proto udp udp dport @r_web_ports counter accept comment "web"
		ip6 daddr @g6_admins meta l4proto tcp tcp dport 8000-8100 counter drop comment "range"
		meta nfproto ipv6 ip6 saddr @g6_admins jump in_extra comment "extra"
		meta nfproto ipv4 ct state new counter comment "count-new"
		meta l4proto icmp accept comment "icmp"
		meta l4proto esp accept comment "esp"
		counter limit rate 10/second burst 5 packets log prefix "netpolicy: default-inbound: " drop comment "default inbound"
	}
	chain in_extra {
		meta l4proto udp udp dport 53 counter accept comment "dns"
	}
	chain in_public {
		counter drop comment "default inbound"
	}
	chain out_internal {
		counter accept comment "default outbound"
	}
	chain out_public {
		ip daddr @g4_admins counter drop comment "no-admins"
		counter accept comment "default outbound"
	}
	chain fwd_internal {
	}
}
)";
  const std::string expected = listing_via_nft(script);
  auto backend = open_backend();
  ASSERT_TRUE(backend);
  const Status applied = backend->replace_table(full_state());
  ASSERT_TRUE(applied) << applied.error().describe() << " [" << applied.error().object << "]";
  EXPECT_EQ(without_table_flags(list_table()), without_table_flags(expected));
}

// The compiler's real output for the example policy, with and without
// logging, through both paths.
DesiredState compiled_example(bool log_blocked) {
  // CMake passes this file's absolute path; the example sits at the top.
  const std::string source = __FILE__;
  const std::string root = source.substr(0, source.rfind("/tests/integration/"));
  std::ifstream in(root + "/examples/policy.yaml");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_FALSE(text.empty()) << root;
  if (log_blocked) {
    const auto at = text.find("log_blocked: false");
    EXPECT_NE(at, std::string::npos);
    if (at != std::string::npos) text.replace(at, 18, "log_blocked: true");
  }
  auto loaded = policy::load_policy_text(text, "examples/policy.yaml");
  if (auto* errors = std::get_if<std::vector<policy::Diagnostic>>(&loaded)) {
    ADD_FAILURE() << errors->front().to_string();
    return {};
  }
  InterfaceView view;
  int index = 1;
  for (const char* name : {"lo", "eth1", "veth-int0", "veth-pub0", "veth-new0"}) {
    view.interfaces.push_back({name, index++, {}});
  }
  return policy::compile(std::get<policy::Policy>(loaded), view);
}

TEST_F(NftBackendTest, BackendBuildsWhatNftBuildsForTheCompiledExamplePolicy) {
  for (const bool log_blocked : {false, true}) {
    SCOPED_TRACE(log_blocked ? "log_blocked: true" : "log_blocked: false");
    const DesiredState state = compiled_example(log_blocked);
    ASSERT_FALSE(state.table.chains.empty());
    const std::string expected = listing_via_nft(render_nft(state, true));
    auto backend = open_backend();
    ASSERT_TRUE(backend);
    const Status applied = backend->replace_table(state);
    ASSERT_TRUE(applied) << applied.error().describe() << " [" << applied.error().object << "]";
    EXPECT_EQ(without_table_flags(list_table()), without_table_flags(expected));
    EXPECT_EQ(log_blocked, expected.find("log prefix") != std::string::npos) << expected;
    enter_fresh_netns();
  }
}

// ---- (2) a second replace fully replaces the first ---------------------------

TEST_F(NftBackendTest, SecondReplaceFullyReplacesTheFirst) {
  const std::string expected = listing_via_nft(render_nft(second_state()));
  auto backend = open_backend();
  ASSERT_TRUE(backend);
  ASSERT_TRUE(backend->replace_table(full_state()));
  ASSERT_NE(list_table().find("g4_admins"), std::string::npos);
  const Status second = backend->replace_table(second_state());
  ASSERT_TRUE(second) << second.error().describe();
  const std::string listing = list_table();
  EXPECT_EQ(without_table_flags(listing), without_table_flags(expected));
  EXPECT_EQ(listing.find("g4_admins"), std::string::npos) << listing;
  // And back again, on the same socket.
  ASSERT_TRUE(backend->replace_table(full_state()));
  EXPECT_NE(list_table().find("g4_admins"), std::string::npos);
}

// ---- (3) a state the kernel rejects changes nothing ------------------------------

TEST_F(NftBackendTest, RejectedJumpNamesTheRuleAndKeepsThePreviousTable) {
  auto backend = open_backend();
  ASSERT_TRUE(backend);
  ASSERT_TRUE(backend->replace_table(full_state()));
  const std::string before = list_table();

  DesiredState bad = second_state();
  bad.table.chains[1].rules.insert(bad.table.chains[1].rules.begin(),
                                   rule({l4(6)}, jump("no_such_chain"), "x", true));
  bad.table.chains[1].name = "y";
  bad.table.maps[0].elements[0].chain = "y";
  const Status result = backend->replace_table(bad);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().error_code, ENOENT) << result.error().describe();
  EXPECT_EQ(result.error().message, "Failed to apply table 'inet netpolicy'");
  EXPECT_EQ(result.error().object.rfind("rule 'x' in chain 'y'", 0), 0u) << result.error().object;
  EXPECT_EQ(result.error().rule, "x");
  EXPECT_EQ(list_table(), before);

  // The socket stays usable after a failed batch.
  const Status good = backend->replace_table(second_state());
  EXPECT_TRUE(good) << good.error().describe();
}

TEST_F(NftBackendTest, LookupOfMissingSetNamesTheRuleAndKeepsThePreviousTable) {
  auto backend = open_backend();
  ASSERT_TRUE(backend);
  ASSERT_TRUE(backend->replace_table(second_state()));
  const std::string before = list_table();

  DesiredState bad = full_state();
  bad.table.chains[3].rules.push_back(
      rule({saddr(Family::ipv4, "g4_missing")}, accept(), "uses-missing-set"));
  const Status result = backend->replace_table(bad);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().error_code, 0);
  EXPECT_EQ(result.error().object.rfind("rule 'uses-missing-set' in chain 'in_internal'", 0), 0u)
      << result.error().object << " " << result.error().describe();
  EXPECT_EQ(result.error().rule, "uses-missing-set");
  EXPECT_EQ(list_table(), before);
}

TEST_F(NftBackendTest, OverlappingSetElementsNameTheSetAndKeepThePreviousTable) {
  auto backend = open_backend();
  ASSERT_TRUE(backend);
  ASSERT_TRUE(backend->replace_table(second_state()));
  const std::string before = list_table();

  DesiredState bad = full_state();
  bad.table.sets[0].elements.push_back(addr("10.10.0.128/25"));  // inside 10.10.0.0/24
  const Status result = backend->replace_table(bad);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().error_code, 0);
  EXPECT_EQ(result.error().object.rfind("elements of set 'g4_admins'", 0), 0u)
      << result.error().object << " " << result.error().describe();
  EXPECT_EQ(list_table(), before);
}

TEST_F(NftBackendTest, UnencodableStateFailsBeforeTheKernel) {
  auto backend = open_backend();
  ASSERT_TRUE(backend);
  ASSERT_TRUE(backend->replace_table(second_state()));
  const std::string before = list_table();

  DesiredState bad = second_state();
  bad.table.maps[0].elements.push_back({"an-interface-name-too-long", "in_ops"});
  const Status result = backend->replace_table(bad);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().error_code, EINVAL);
  EXPECT_NE(result.error().object.find("an-interface-name-too-long"), std::string::npos)
      << result.error().object;
  EXPECT_EQ(list_table(), before);
}

// ---- (4) large batches ------------------------------------------------------------

// `count` disjoint IPv4 singles (every other address from 10.0.0.0).
Set big_set(const std::string& name, std::size_t count) {
  Set set{name, SetType::ipv4_addr, {}};
  set.elements.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::uint32_t a = (10u << 24) + 2 * i;
    std::vector<std::uint8_t> key{static_cast<std::uint8_t>(a >> 24),
                                  static_cast<std::uint8_t>(a >> 16),
                                  static_cast<std::uint8_t>(a >> 8), static_cast<std::uint8_t>(a)};
    set.elements.push_back({key, key});
  }
  return set;
}

// A regular chain of `count` rules, each `meta l4proto tcp tcp dport P
// counter accept comment "rN"`, referenced from the input chain.
DesiredState big_state(std::size_t rules, std::size_t elements) {
  DesiredState s;
  if (elements > 0) s.table.sets.push_back(big_set("big", elements));
  Chain input = base_chain("input", Hook::input, true);
  if (elements > 0) input.rules.push_back(rule({saddr(Family::ipv4, "big")}, drop(), "blocklist", true));
  input.rules.push_back(rule({}, jump("many")));
  Chain many = chain("many");
  many.rules.reserve(rules);
  for (std::size_t i = 0; i < rules; ++i) {
    many.rules.push_back(rule({l4(6), MatchPort{static_cast<std::uint16_t>(1 + i % 65535),
                                                static_cast<std::uint16_t>(1 + i % 65535)}},
                              accept(), "r" + std::to_string(i), true));
  }
  s.table.chains = {input, many};
  return s;
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST_F(NftBackendTest, TenThousandRulesAndHundredThousandElementsApplyInOneCall) {
  auto backend = open_backend();
  ASSERT_TRUE(backend);
  const DesiredState state = big_state(10000, 100000);
  const auto start = std::chrono::steady_clock::now();
  const Status applied = backend->replace_table(state);
  const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - start;
  std::printf("replace_table of 10k rules + 100k elements: %.0f ms\n", took.count());
  ASSERT_TRUE(applied) << applied.error().describe() << " [" << applied.error().object << "]";

  const Output rules = run({"nft", "list", "chain", "inet", "netpolicy", "many"});
  ASSERT_EQ(rules.status, 0) << rules.err;
  EXPECT_EQ(count_of(rules.out, "accept comment \"r"), 10000u);
  EXPECT_NE(rules.out.find("tcp dport 10000 counter packets 0 bytes 0 accept comment \"r9999\""),
            std::string::npos);

  const Output set = run({"nft", "list", "set", "inet", "netpolicy", "big"});
  ASSERT_EQ(set.status, 0) << set.err;
  // Disjoint singles print as a comma-separated list of bare addresses.
  EXPECT_EQ(count_of(set.out, ",") + 1, 100000u);
  EXPECT_NE(set.out.find("10.3.13.62"), std::string::npos);  // element 99,999: 10.0.0.0 + 199,998
}

// The batch's shape, without the kernel: consecutive sequence numbers,
// every message within 64 KiB (elements split over several messages),
// exactly one ACK request, on the message before BATCH_END.
TEST(NftEncode, BatchIsOneTransactionOfSmallMessagesWithOneAck) {
  const DesiredState state = big_state(1000, 100000);
  auto batch = encode_replace_table(state, {}, 4000000000u);  // wraps past 2^32
  ASSERT_TRUE(batch) << batch.error().describe();
  std::uint32_t expected_seq = batch->first_seq;
  std::size_t offset = 0;
  std::size_t acks = 0;
  std::size_t element_messages = 0;
  std::vector<std::uint16_t> types;
  while (offset < batch->bytes.size()) {
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(batch->bytes.data() + offset);
    ASSERT_GE(nlh->nlmsg_len, sizeof(nlmsghdr));
    EXPECT_LE(nlh->nlmsg_len, 65536u);
    EXPECT_EQ(nlh->nlmsg_seq, expected_seq++);
    if (nlh->nlmsg_flags & NLM_F_ACK) {
      ++acks;
      EXPECT_EQ(nlh->nlmsg_seq, batch->ack_seq);
    }
    const std::uint16_t type = nlh->nlmsg_type;
    types.push_back(type);
    if (type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSETELEM)) ++element_messages;
    offset += NLMSG_ALIGN(nlh->nlmsg_len);
  }
  EXPECT_EQ(offset, batch->bytes.size());
  EXPECT_EQ(acks, 1u);
  ASSERT_EQ(types.size(), batch->message_count());
  EXPECT_EQ(types.front(), NFNL_MSG_BATCH_BEGIN);
  EXPECT_EQ(types.back(), NFNL_MSG_BATCH_END);
  EXPECT_EQ(batch->ack_seq, batch->first_seq + batch->message_count() - 2);
  // 200,000 elements (start + end) of at most 32 bytes: more than 64 KiB
  // in one message would be, fewer than 100 messages.
  EXPECT_GT(element_messages, 60u);
  EXPECT_LT(element_messages, 100u);
  // The owner|persist NEWTABLE is the fourth message; the last rule is named.
  EXPECT_EQ(batch->owner_table_seq, batch->first_seq + 3);
  const BatchObject* last_rule = batch->object_for(batch->ack_seq);
  ASSERT_NE(last_rule, nullptr);
  EXPECT_EQ(last_rule->object, "rule 'r999' in chain 'many'");
  EXPECT_EQ(last_rule->rule, "r999");
  EXPECT_EQ(batch->object_for(batch->first_seq - 1), nullptr);

  auto without_flags = encode_replace_table(state, {.owner_persist = false}, 1);
  ASSERT_TRUE(without_flags);
  EXPECT_EQ(without_flags->owner_table_seq, 0u);
}

// ---- (5) owner|persist ---------------------------------------------------------------

TEST_F(NftBackendTest, OwnedTableResistsOthersAndOutlivesTheBackend) {
  auto backend = open_backend();
  ASSERT_TRUE(backend);
  ASSERT_TRUE(backend->replace_table(full_state()));
  EXPECT_TRUE(backend->owns_table());

  // Another process may not delete or change it while we live.
  const Output del = run({"nft", "delete", "table", "inet", "netpolicy"});
  EXPECT_NE(del.status, 0);
  EXPECT_NE(del.err.find("Operation not permitted"), std::string::npos) << del.err;
  const Output add = run({"nft", "add", "chain", "inet", "netpolicy", "intruder"});
  EXPECT_NE(add.status, 0);
  EXPECT_NE(add.err.find("Operation not permitted"), std::string::npos) << add.err;
  const std::string owned = list_table();
  EXPECT_EQ(owned.find("intruder"), std::string::npos);

  // The table stays, unchanged, when the backend (its socket) goes away.
  backend.reset();
  const std::string orphaned = list_table();
  EXPECT_EQ(without_table_flags(orphaned), without_table_flags(owned));
  // The kernel dropped the owner flag and kept persist (nft 1.0.6 prints
  // the flags it cannot name as an empty list).
  EXPECT_EQ(orphaned.rfind("table inet netpolicy {\n\tflags \n", 0), 0u) << orphaned;

  // A new backend (a restarted daemon) takes it over and replaces it.
  auto restarted = open_backend();
  ASSERT_TRUE(restarted);
  const Status adopted = restarted->replace_table(second_state());
  ASSERT_TRUE(adopted) << adopted.error().describe() << " [" << adopted.error().object << "]";
  EXPECT_TRUE(restarted->owns_table());
  EXPECT_NE(list_table().find("https-from-ops"), std::string::npos);
  const Output del_again = run({"nft", "delete", "table", "inet", "netpolicy"});
  EXPECT_NE(del_again.status, 0);
  EXPECT_NE(del_again.err.find("Operation not permitted"), std::string::npos) << del_again.err;

  // Once no owner is left, the table is an ordinary one again.
  restarted.reset();
  const Output del_orphan = run({"nft", "delete", "table", "inet", "netpolicy"});
  EXPECT_EQ(del_orphan.status, 0) << del_orphan.err;
}

// ---- interval sets match what they should, and nothing below them ---------------

// Packet counter of the rule with `comment` in `chain`.
long counter_of(const std::string& chain_name, const std::string& comment) {
  const Output r = run({"nft", "list", "chain", "inet", "netpolicy", chain_name});
  std::smatch m;
  const std::regex pattern("counter packets ([0-9]+) bytes [0-9]+ drop comment \"" + comment + "\"");
  if (!std::regex_search(r.out, m, pattern)) {
    ADD_FAILURE() << "no counter for " << comment << " in\n" << r.out;
    return -1;
  }
  return std::stol(m[1]);
}

// One UDP datagram from bash; our output chain drops it (sendto fails with
// EPERM), which is fine: it has been counted by then.
void send_udp(const std::string& address, int port) {
  run({"bash", "-c", "echo x > /dev/udp/" + address + "/" + std::to_string(port)});
}

// The encoder leaves out the end element at key 0 that nft 1.0.6 puts in
// front of an interval set: this shows the kernel does not need it (a key
// below the first interval does not match), and that an interval ending at
// the largest key (no end element) matches up to that key.
TEST_F(NftBackendTest, IntervalSetsMatchExactlyTheirIntervals) {
  ASSERT_EQ(run({"ip", "link", "set", "lo", "up"}).status, 0);
  ASSERT_EQ(run({"ip", "addr", "add", "10.200.0.254/16", "dev", "lo"}).status, 0);

  DesiredState s;
  s.table.sets.push_back(
      {"probe4", SetType::ipv4_addr, {addr("10.200.1.0/24"), addr("10.200.3.0-10.200.3.9")}});
  s.table.sets.push_back(
      {"probe_ports", SetType::inet_service, {ports(1000, 1009), ports(65000, 65535)}});
  Chain output = base_chain("output", Hook::output, true);
  output.rules = {
      rule({daddr(Family::ipv4, "probe4")}, drop(), "probe4", true),
      rule({l4(17), MatchPortSet{"probe_ports"}}, drop(), "probe_ports", true),
      rule({daddr(Family::ipv4, "probe4")}, drop(), "never", true),  // shadowed above
  };
  s.table.chains = {output};
  auto backend = open_backend();
  ASSERT_TRUE(backend);
  const Status applied = backend->replace_table(s);
  ASSERT_TRUE(applied) << applied.error().describe();

  for (const char* a : {"10.200.0.1", "10.200.1.5", "10.200.2.1", "10.200.3.5", "10.200.3.10",
                        "10.200.4.1"}) {
    send_udp(a, 9);
  }
  EXPECT_EQ(counter_of("output", "probe4"), 2);  // 10.200.1.5 and 10.200.3.5 only
  for (int port : {999, 1000, 1010, 64999, 65000, 65535}) send_udp("10.200.9.9", port);
  EXPECT_EQ(counter_of("output", "probe_ports"), 3);  // 1000, 65000, 65535
  EXPECT_EQ(counter_of("output", "never"), 0);
}

// ---- measurements (not a test: run with --gtest_also_run_disabled_tests) ---------

TEST_F(NftBackendTest, DISABLED_MeasureBackendAgainstNftF) {
  using ms = std::chrono::duration<double, std::milli>;
  struct Case {
    const char* name;
    std::size_t rules;
    std::size_t elements;
  };
  for (const Case c : {Case{"1k rules", 1000, 0}, Case{"10k rules", 10000, 0},
                       Case{"100k rules", 100000, 0}, Case{"100k-element set", 1, 100000}}) {
    const DesiredState state = big_state(c.rules, c.elements);
    const std::string text = render_nft(state, true);
    enter_fresh_netns();
    const ms nft_time = nft_load(text);
    const ms nft_again = nft_load(text);

    enter_fresh_netns();
    auto backend = open_backend();
    ASSERT_TRUE(backend);
    auto start = std::chrono::steady_clock::now();
    const Status first = backend->replace_table(state);
    const ms backend_time = std::chrono::steady_clock::now() - start;
    ASSERT_TRUE(first) << first.error().describe();
    start = std::chrono::steady_clock::now();
    const Status again = backend->replace_table(state);
    const ms backend_again = std::chrono::steady_clock::now() - start;
    ASSERT_TRUE(again) << again.error().describe();
    std::printf("%-18s nft -f %8.1f ms (replace %8.1f ms)   replace_table %8.1f ms (replace %8.1f ms)\n",
                c.name, nft_time.count(), nft_again.count(), backend_time.count(),
                backend_again.count());
  }
}

}  // namespace
}  // namespace netpolicy::filter
