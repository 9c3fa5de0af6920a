// Drop-ins and the central policy: order, names unique across files with
// both locations, what a drop-in may hold, strict modes, the digest.
#include "policy/policy_set.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "policy/policy_digest.h"

namespace netpolicy::policy {
namespace {

namespace fs = std::filesystem;

class PolicySet : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/np-policy-set-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fs::create_directory(dir_ + "/policy.d");
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream{path} << text;
    return path;
  }
  std::string main_path() const { return dir_ + "/policy.yaml"; }
  static std::vector<Diagnostic> errors(const LoadResult& r) {
    if (auto* e = std::get_if<std::vector<Diagnostic>>(&r)) return *e;
    return {};
  }
  std::string dir_;
};

constexpr const char* kMain =
    "version: 1\n"
    "zones:\n"
    "  - {name: lab, interfaces: [eth0]}\n"
    "rules:\n"
    "  - {name: main-rule, direction: in, zones: [lab], action: allow}\n";

TEST_F(PolicySet, DropInsAppendInNameOrderAndSeeEarlierNames) {
  write("policy.yaml", kMain);
  write("policy.d/20-b.yaml", "version: 1\nrules:\n  - {name: b, direction: in, zones: [lab], action: allow}\n");
  write("policy.d/10-a.yaml", "version: 1\nrules:\n  - {name: a, direction: out, action: block}\n");
  write("policy.d/.hidden.yaml", "garbage: [");
  write("policy.d/notes.txt", "garbage: [");
  LoadResult r = load_local_policy(main_path());
  ASSERT_TRUE(errors(r).empty()) << errors(r).front().to_string();
  const Policy& p = std::get<Policy>(r);
  ASSERT_EQ(p.rules.size(), 3u);
  EXPECT_EQ(p.rules[0].name, "main-rule");
  EXPECT_EQ(p.rules[1].name, "a");
  EXPECT_EQ(p.rules[2].name, "b");
  EXPECT_EQ(p.rules[2].where.file, dir_ + "/policy.d/20-b.yaml");
  ASSERT_EQ(p.files.size(), 3u);
  std::string all;
  for (const auto& d : p.file_digests) all += d + "\n";
  EXPECT_EQ(p.sha256, sha256_hex(all));
}

TEST_F(PolicySet, OneFileKeepsItsOwnDigest) {
  write("policy.yaml", kMain);
  LoadResult r = load_local_policy(main_path());
  ASSERT_TRUE(errors(r).empty());
  EXPECT_EQ(std::get<Policy>(r).sha256, sha256_hex(kMain));
}

TEST_F(PolicySet, DuplicateNamesAcrossFilesNameTheFirst) {
  write("policy.yaml", kMain);
  write("policy.d/10-a.yaml",
        "version: 1\nzones:\n  - {name: lab, interfaces: [eth1]}\nrules:\n"
        "  - {name: main-rule, direction: in, action: allow}\n");
  auto e = errors(load_local_policy(main_path()));
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].to_string(), dir_ + "/policy.d/10-a.yaml:3:5: error: zone 'lab' already defined at " +
                                  dir_ + "/policy.yaml:3:5");
  EXPECT_EQ(e[1].to_string(), dir_ + "/policy.d/10-a.yaml:5:5: error: rule 'main-rule' already "
                                     "defined at " + dir_ + "/policy.yaml:5:5");
}

// Two manual SAs with the same destination and SPI in different files
// would be one SA to the kernel: refused at load, naming the first.
TEST_F(PolicySet, ManualSpisAreUniqueAcrossFiles) {
  const std::string out_key = write("out.key", "4f7574476f696e674b65793132333435deadbeef\n");
  const std::string in_key = write("in.key", "496e436f6d696e674b65793132333435cafef00d\n");
  ASSERT_EQ(::chmod(out_key.c_str(), 0600), 0);
  ASSERT_EQ(::chmod(in_key.c_str(), 0600), 0);
  auto profile = [&](const std::string& name, int reqid) {
    return "ipsec:\n  - {name: " + name + ", local: 10.200.0.1, remote: 10.200.0.2, reqid: " +
           std::to_string(reqid) +
           ", keying: manual,\n     manual: {algorithm: rfc4106(gcm(aes)), out: {spi: 0x1001, "
           "key_file: " + out_key + "}, in: {spi: 0x2001, key_file: " + in_key + "}}}\n";
  };
  write("policy.yaml", std::string{kMain} + profile("db-link", 100));
  write("policy.d/10-a.yaml", "version: 1\n" + profile("db-again", 101));
  auto e = errors(load_local_policy(main_path()));
  ASSERT_EQ(e.size(), 2u) << (e.empty() ? "" : e[0].to_string());
  EXPECT_NE(e[0].to_string().find("10-a.yaml:4:14: error: manual SA spi '0x1001 to 10.200.0.2' "
                                  "already defined at " + dir_ + "/policy.yaml:8:14"),
            std::string::npos)
      << e[0].to_string();
  EXPECT_NE(e[1].to_string().find("manual SA spi '0x2001 to 10.200.0.1' already defined"),
            std::string::npos)
      << e[1].to_string();
}

TEST_F(PolicySet, DropInsHoldNoSettingsOrSources) {
  write("policy.yaml", kMain);
  write("policy.d/10-a.yaml", "version: 1\nsettings: {table: x}\nsources: {}\n");
  auto e = errors(load_local_policy(main_path()));
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].to_string(), dir_ + "/policy.d/10-a.yaml:2:1: error: settings: settings belong "
                                     "in the main policy file, not in a drop-in");
  EXPECT_EQ(e[1].where.line, 3);
}

TEST_F(PolicySet, ErrorsInEachFileKeepTheirLocation) {
  write("policy.yaml", "version: 1\nrules:\n  - {name: x, direction: up, action: allow}\n");
  write("policy.d/10-a.yaml", "version: 1\nrules:\n  - {name: y, direction: in, action: maybe}\n");
  auto e = errors(load_local_policy(main_path()));
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].where.file, main_path());
  EXPECT_EQ(e[0].where.line, 3);
  EXPECT_EQ(e[1].where.file, dir_ + "/policy.d/10-a.yaml");
  EXPECT_EQ(e[1].where.line, 3);
}

TEST_F(PolicySet, StrictModesRefuseWhatOthersMayWrite) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to own files as root";
  const std::string p = write("policy.yaml", kMain);
  ::chmod(dir_.c_str(), 0755);
  ::chmod(p.c_str(), 0644);
  ::chmod((dir_ + "/policy.d").c_str(), 0755);
  LocalLoadOptions strict;
  strict.strict_modes = true;
  EXPECT_TRUE(errors(load_local_policy(p, strict)).empty());
  ::chmod(p.c_str(), 0664);
  auto e = errors(load_local_policy(p, strict));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].where.to_string(), p + ":1:1");
  EXPECT_NE(e[0].message.find("writable by group 0 (mode 0664)"), std::string::npos) << e[0].message;
  // The group root may write when it is the trusted group.
  write("policy.yaml", std::string{kMain} + "settings: {trusted_group: root}\n");
  ::chmod(p.c_str(), 0664);
  EXPECT_TRUE(errors(load_local_policy(p, strict)).empty());
  ::chmod(p.c_str(), 0646);
  EXPECT_NE(errors(load_local_policy(p, strict)).at(0).message.find("writable by others"),
            std::string::npos);
  ::chmod(p.c_str(), 0644);
  ::chown(p.c_str(), 65534, 0);
  EXPECT_NE(errors(load_local_policy(p, strict)).at(0).message.find("owned by uid 65534"),
            std::string::npos);
}

TEST_F(PolicySet, CentralComesFirstAndMayDropLocalRules) {
  write("policy.yaml", kMain);
  auto central = load_policy_text(
      "version: 1\nrules:\n  - {name: c, direction: in, action: block}\n", "central", PolicyRole::central);
  ASSERT_TRUE(std::holds_alternative<Policy>(central));
  auto local = load_local_policy(main_path());
  LoadResult merged = merge_central(std::get<Policy>(central), std::get<Policy>(local));
  ASSERT_TRUE(errors(merged).empty());
  const Policy& m = std::get<Policy>(merged);
  ASSERT_EQ(m.rules.size(), 2u);
  EXPECT_EQ(m.rules[0].name, "c");
  EXPECT_EQ(m.rules[1].name, "main-rule");
  EXPECT_EQ(m.files.front(), "central");

  Policy lockdown = std::get<Policy>(central);
  lockdown.local_rules = false;
  LoadResult only = merge_central(lockdown, std::get<Policy>(local));
  ASSERT_TRUE(errors(only).empty());
  ASSERT_EQ(std::get<Policy>(only).rules.size(), 1u);
  EXPECT_EQ(std::get<Policy>(only).zones.size(), 1u);  // local zones stay

  auto dup = load_policy_text("version: 1\nzones:\n  - {name: lab, interfaces: [x]}\n", "central",
                              PolicyRole::central);
  auto e = errors(merge_central(std::get<Policy>(dup), std::get<Policy>(local)));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].to_string(), main_path() + ":3:5: error: zone 'lab' already defined at central:3:5");
}

}  // namespace
}  // namespace netpolicy::policy
