// filter/nft_readback.cpp against the real kernel, each test in a fresh
// network namespace of its own (unshare(CLONE_NEWNET)): comments, counters
// and verdicts as nft(8) set them; the table netpolicyd's backend owns,
// read from another socket; a missing table; dumps interrupted by commits.
#include "filter/nft_readback.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>

#include "filter/nft_backend.h"
#include "policy/compiler.h"
#include "policy/loader.h"
#include "tests/integration/root_test.h"

namespace netpolicy::filter {
namespace {

using netpolicy::testing::enter_fresh_netns;

// nft -f with SCRIPT, in this (already private) namespace.
void nft_load(const std::string& script) {
  char path[] = "/tmp/np-readback-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  ASSERT_EQ(write(fd, script.data(), script.size()), static_cast<ssize_t>(script.size()));
  close(fd);
  const int status = std::system(("nft -f " + std::string{path}).c_str());
  unlink(path);
  ASSERT_EQ(status, 0) << script;
}

class NftReadbackTest : public ::testing::Test {
 protected:
  void SetUp() override { enter_fresh_netns(); }
};

TEST_F(NftReadbackTest, MissingTableIsAClearError) {
  NftReadback reader;
  auto rules = reader.read_rules("netpolicy");
  ASSERT_FALSE(rules);
  EXPECT_EQ(rules.error().error_code, ENOENT);
  EXPECT_EQ(rules.error().describe(),
            "Failed to read the rules of table 'inet netpolicy': the table is not in the kernel: "
            "No such file or directory");

  // Another table of the same name in another family is not ours either.
  nft_load("table ip netpolicy {\n  chain c {\n    counter accept comment \"x\"\n  }\n}\n");
  rules = reader.read_rules("netpolicy");
  ASSERT_FALSE(rules);
  EXPECT_EQ(rules.error().error_code, ENOENT);
}

TEST_F(NftReadbackTest, CommentsCountersAndVerdictsAsTheKernelHoldsThem) {
  nft_load(R"(table inet netpolicy {
  chain in_lab {
    tcp dport 22 counter packets 5 bytes 300 accept comment "ssh"
    tcp dport 5432 log prefix "netpolicy: " comment "db"
    tcp dport 5432 counter packets 12345678901 bytes 98765432109 drop comment "db"
    counter packets 0 bytes 0 drop comment "default inbound"
  }
  chain input {
    type filter hook input priority 0; policy drop;
    ct state invalid counter packets 3 bytes 120 drop
    jump in_lab
  }
}
table inet other {
  chain c {
    counter packets 9 bytes 9 accept comment "ssh"
  }
}
)");
  NftReadback reader;
  auto read = reader.read_rules("netpolicy");
  ASSERT_TRUE(read) << read.error().describe();
  EXPECT_EQ(read->table, "netpolicy");
  EXPECT_EQ(read->attempts, 1u);
  const auto& r = read->rules;
  ASSERT_EQ(r.size(), 6u);  // nothing of table "other"
  EXPECT_EQ(r[0].chain, "in_lab");
  EXPECT_EQ(r[0].comment, "ssh");
  EXPECT_TRUE(r[0].counter);
  EXPECT_EQ(r[0].packets, 5u);
  EXPECT_EQ(r[0].bytes, 300u);
  EXPECT_EQ(r[0].verdict, "accept");
  EXPECT_GT(r[0].handle, 0u);

  EXPECT_EQ(r[1].comment, "db");
  EXPECT_TRUE(r[1].log);
  EXPECT_FALSE(r[1].counter);
  EXPECT_EQ(r[1].verdict, "");
  EXPECT_EQ(r[2].packets, 12345678901u);
  EXPECT_EQ(r[2].bytes, 98765432109u);
  EXPECT_EQ(r[2].verdict, "drop");
  EXPECT_EQ(r[3].comment, "default inbound");

  EXPECT_EQ(r[4].chain, "input");
  EXPECT_EQ(r[4].comment, "");
  EXPECT_EQ(r[4].packets, 3u);
  EXPECT_EQ(r[5].verdict, "jump in_lab");
  EXPECT_FALSE(r[5].counter);
}

// The backend's table is owned by its socket (owner|persist); reading it
// from another socket needs no ownership and disturbs nothing: the backend
// applies again afterwards on the same socket.
TEST_F(NftReadbackTest, ReadsTheOwnedTableTheBackendApplied) {
  auto loaded = policy::load_policy_text(R"(version: 1
zones:
  - {name: lab, interfaces: ["vh-lab*"]}
rules:
  - {name: ssh, direction: in, zones: [lab], protocol: tcp, ports: [22], action: allow}
  - {name: web, direction: in, protocol: tcp, ports: [80, 443], action: block}
)",
                                         "/test/policy.yaml");
  ASSERT_TRUE(std::holds_alternative<policy::Policy>(loaded));
  const DesiredState state = policy::compile(std::get<policy::Policy>(loaded), InterfaceView{});
  auto backend = NftBackend::open();
  ASSERT_TRUE(backend) << backend.error().describe();
  ASSERT_TRUE((*backend)->replace_table(state));
  ASSERT_TRUE((*backend)->owns_table()) << "this kernel should have NFT_TABLE_F_PERSIST";

  NftReadback reader;
  auto read = reader.read_rules(state.table.name);
  ASSERT_TRUE(read) << read.error().describe();
  std::map<std::string, std::vector<std::string>> kernel, desired;
  for (const auto& r : read->rules) kernel[r.chain].push_back(r.comment);
  for (const auto& c : state.table.chains)
    for (const auto& r : c.rules) desired[c.name].push_back(r.comment);
  EXPECT_EQ(kernel, desired);

  EXPECT_TRUE((*backend)->replace_table(state)) << "the backend's socket was disturbed";
}

// KERNEL-NOTES: rule dumps taken during commits are flagged NLM_F_DUMP_INTR.
// A child commits another table in a loop while we read a table big
// enough to need several recv calls: with one attempt some reads fail with
// EINTR and say why; with retries they succeed and say how many it took.
TEST_F(NftReadbackTest, InterruptedDumpsAreRetriedThenReported) {
  std::string script = "table inet netpolicy {\n  chain c {\n";
  for (int i = 0; i < 3000; ++i)
    script += "    tcp dport " + std::to_string(i + 1) + " counter accept comment \"r" +
              std::to_string(i) + "\"\n";
  script += "  }\n}\n";
  nft_load(script);
  {
    NftReadback quiet;
    const auto start = std::chrono::steady_clock::now();
    auto read = quiet.read_rules("netpolicy");
    ASSERT_TRUE(read) << read.error().describe();
    ASSERT_EQ(read->attempts, 1u);
    std::printf("one read of 3000 rules, nothing committing: %.1f ms\n",
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                    .count());
  }

  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    DesiredState busy;
    busy.table.name = "busy";
    busy.table.chains.push_back(Chain{"c", std::nullopt, {}});
    auto backend = NftBackend::open();
    if (!backend) _exit(1);
    // A commit every 40 ms, about the time one read of this table takes:
    // many dumps overlap one, not all. (One every 5 ms interrupted 50
    // reads in a row: a dump is interrupted by a commit between any two
    // of its recv chunks, kernel 6.18.)
    for (;;) {
      if (!(*backend)->replace_table(busy)) _exit(2);
      usleep(40000);
    }
  }

  int interrupted = 0, failed_other = 0, retried = 0, ok = 0;
  NftReadback once{NftReadback::Options{.max_attempts = 1}};
  NftReadback patient{NftReadback::Options{.max_attempts = 50}};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{20};
  for (int i = 0;
       i < 200 && std::chrono::steady_clock::now() < deadline && (interrupted < 3 || retried < 3);
       ++i) {
    auto a = once.read_rules("netpolicy");
    if (!a && a.error().error_code == EINTR) {
      ++interrupted;
      EXPECT_NE(a.error().describe().find("changed during each of 1 dumps"), std::string::npos)
          << a.error().describe();
    } else if (!a) {
      ++failed_other;
      ADD_FAILURE() << a.error().describe();
    }
    auto b = patient.read_rules("netpolicy");
    if (b) {
      ++ok;
      EXPECT_EQ(b->rules.size(), 3000u);
      if (b->attempts > 1) ++retried;
    } else {
      ADD_FAILURE() << b.error().describe();
    }
  }
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status)) << "the committing child stopped by itself: " << status;
  EXPECT_GE(interrupted, 1) << "no dump was interrupted: the test proves nothing";
  EXPECT_GE(retried, 1) << "no read needed a retry";
  EXPECT_EQ(failed_other, 0);
  std::printf("interrupted single reads: %d; reads that needed retries: %d of %d\n", interrupted,
              retried, ok);
}

}  // namespace
}  // namespace netpolicy::filter
