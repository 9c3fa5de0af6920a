// `keying: manual`: the loader's `manual:` map and key files
// (yaml_ipsec_manual.cpp, ipsec_key_file.cpp), the rules that may use such
// a profile, and the SAs the compiler makes of it (xfrm_compiler.cpp),
// rendered like `ip xfrm state` with the keys redacted.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <variant>

#include "base/interface_view.h"
#include "daemon/check.h"
#include "filter/nft_text.h"
#include "filter/xfrm_text.h"
#include "policy/compiler.h"
#include "policy/ipsec_key_file.h"
#include "policy/loader.h"
#include "policy/xfrm_compiler.h"
#include "tests/unit/golden.h"

namespace netpolicy::policy {
namespace {

namespace fs = std::filesystem;
using netpolicy::testing::expect_golden;

// 16-byte AES key + 4-byte salt; and others, all distinct and recognisable.
constexpr const char* kGcmOut = "4f7574476f696e674b65793132333435deadbeef";
constexpr const char* kGcmIn = "496e436f6d696e674b65793132333435cafef00d";
constexpr const char* kCbcOut = "00112233445566778899aabbccddeeff";
constexpr const char* kCbcIn = "ffeeddccbbaa99887766554433221100";
constexpr const char* kAuthOut = "a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0";
constexpr const char* kAuthIn = "c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0";

class ManualProfile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("np-manual-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A key file NAME holding TEXT with MODE; returns its path.
  std::string key(const std::string& name, const std::string& text, mode_t mode = 0600) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
    return path;
  }

  // A main policy file with a transport-mode manual profile db-link
  // (local 10.200.0.1, remote 10.200.0.2) and a protect rule using it.
  // `manual` is the text of the profile's manual map (at line 11).
  static std::string policy(const std::string& manual,
                            const std::string& rule_to = "[10.200.0.2]") {
    return "version: 1\n"                                          // 1
           "zones: [{name: lan, interfaces: [\"veth*\"]}]\n"       // 2
           "ipsec:\n"                                              // 3
           "  - name: db-link\n"                                   // 4
           "    mode: transport\n"                                 // 5
           "    local: 10.200.0.1\n"                               // 6
           "    remote: 10.200.0.2\n"                              // 7
           "    protocol: esp\n"                                   // 8
           "    reqid: 100\n"                                      // 9
           "    keying: manual\n"                                  // 10
           "    manual: " + manual + "\n"                          // 11
           "rules:\n"                                              // 12
           "  - {name: db, direction: out, to: " + rule_to +       // 13
           ", protocol: tcp, ports: [5432], action: protect, ipsec: db-link}\n";
  }
  std::string gcm_manual() {
    return "{algorithm: rfc4106(gcm(aes)), out: {spi: 0x1001, key_file: " +
           key("out.key", std::string{kGcmOut} + "\n") + "}, in: {spi: 4098, key_file: " +
           key("in.key", std::string{"0x"} + kGcmIn + "\n") + "}}";
  }

  static std::vector<Diagnostic> errors(const std::string& text) {
    auto result = load_policy_text(text, "p.yaml");
    if (auto* e = std::get_if<std::vector<Diagnostic>>(&result)) return *e;
    ADD_FAILURE() << "loaded without errors:\n" << text;
    return {};
  }
  static Policy loaded(const std::string& text) {
    auto result = load_policy_text(text, "p.yaml");
    if (auto* e = std::get_if<std::vector<Diagnostic>>(&result)) {
      std::string all;
      for (const auto& d : *e) all += d.to_string() + "\n";
      ADD_FAILURE() << all;
      return {};
    }
    return std::get<Policy>(std::move(result));
  }
  // Exactly one error, at LINE:COL, containing TEXT.
  static ::testing::AssertionResult only(const std::vector<Diagnostic>& e, int line, int col,
                                         const std::string& text) {
    std::string all;
    for (const auto& d : e) all += "  " + d.to_string() + "\n";
    if (e.size() != 1) return ::testing::AssertionFailure() << "not one error:\n" << all;
    if (e[0].where.line != line || e[0].where.column != col ||
        e[0].message.find(text) == std::string::npos)
      return ::testing::AssertionFailure() << "want " << line << ":" << col << " " << text
                                           << "\ngot:\n" << all;
    return ::testing::AssertionSuccess();
  }

  // The 1-based column of NEEDLE in line LINE of TEXT.
  static int col_of(const std::string& text, int line, const std::string& needle) {
    std::size_t start = 0;
    for (int i = 1; i < line; ++i) start = text.find('\n', start) + 1;
    return static_cast<int>(text.find(needle, start) - start) + 1;
  }

  fs::path dir_;
};

TEST_F(ManualProfile, GcmProfileLoadsItsKeysAndCompilesToTwoSas) {
  const Policy p = loaded(policy(gcm_manual()));
  ASSERT_EQ(p.ipsec.size(), 1u);
  const IpsecProfile& prof = p.ipsec[0];
  ASSERT_TRUE(prof.manual);
  EXPECT_EQ(prof.keying, Keying::manual);
  EXPECT_EQ(prof.manual->out.spi, 0x1001u);
  EXPECT_EQ(prof.manual->in.spi, 4098u);
  EXPECT_EQ(prof.manual->out.key.size(), 20u);
  EXPECT_EQ(prof.manual->in.key.size(), 20u);
  EXPECT_EQ(prof.manual->out.key.data()[0], 0x4f);
  EXPECT_EQ(prof.manual->in.key.data()[19], 0x0d);
  EXPECT_EQ(prof.manual->out.key_file_where.line, 11);

  const auto state = compile_xfrm(p);
  ASSERT_EQ(state.sas.size(), 2u);
  const filter::XfrmSa& out = state.sas[0];
  EXPECT_TRUE(out.outbound);
  EXPECT_EQ(out.src.to_string(), "10.200.0.1");
  EXPECT_EQ(out.dst.to_string(), "10.200.0.2");
  EXPECT_EQ(out.spi, 0x1001u);
  EXPECT_EQ(out.reqid, 100u);
  EXPECT_EQ(out.key, prof.manual->out.key);
  const filter::XfrmSa& in = state.sas[1];
  EXPECT_EQ(in.src.to_string(), "10.200.0.2");
  EXPECT_EQ(in.dst.to_string(), "10.200.0.1");
  EXPECT_EQ(in.spi, 0x1002u);
  expect_golden("compiler_manual_gcm.xfrm", filter::render_xfrm(state));
}

TEST_F(ManualProfile, CbcHmacTunnelProfileTakesAuthKeys) {
  std::string text =
      "version: 1\n"
      "ipsec:\n"
      "  - name: site\n"
      "    mode: tunnel\n"
      "    local: fd00:200::1\n"
      "    remote: fd00:200::2\n"
      "    reqid: 7\n"
      "    keying: manual\n"
      "    manual:\n"
      "      algorithm: cbc(aes)+hmac(sha256)\n"
      "      out: {spi: 0x2001, key_file: " + key("o", kCbcOut) +
      ", auth_key_file: " + key("oa", std::string{kAuthOut}.insert(32, "\n  ")) + "}\n"
      "      in: {spi: 0x2002, key_file: " + key("i", kCbcIn) +
      ", auth_key_file: " + key("ia", kAuthIn) + "}\n"
      "rules:\n"
      "  - {name: s, direction: forward, from: [fd00:201::/64], to: [fd00:202::/64], "
      "action: protect, ipsec: site}\n";
  const Policy p = loaded(text);
  const auto state = compile_xfrm(p);
  ASSERT_EQ(state.sas.size(), 2u);
  EXPECT_TRUE(state.sas[0].tunnel);
  EXPECT_EQ(state.sas[0].algorithm, filter::XfrmSaAlgorithm::aes_cbc_hmac_sha256);
  EXPECT_EQ(state.sas[0].key.size(), 16u);
  EXPECT_EQ(state.sas[0].auth_key.size(), 32u);
  EXPECT_EQ(state.sas[1].auth_key.data()[0], 0xc1);
  expect_golden("compiler_manual_cbc.xfrm", filter::render_xfrm(state));
}

// The key bytes appear nowhere a policy is shown: the XFRM and nft
// renderings (export, diff, the control socket's ruleset) and --check.
TEST_F(ManualProfile, KeysAppearInNoRendering) {
  const std::string text = policy(gcm_manual());
  const Policy p = loaded(text);
  const auto state = compile(p, InterfaceView{});
  std::string shown = filter::render_xfrm(state.xfrm) + filter::render_nft(state);
  const std::string file = (dir_ / "policy.yaml").string();
  std::ofstream(file) << text;
  const daemon::CheckReport report = daemon::check_policy_file(file);
  EXPECT_TRUE(report.ok()) << report.to_json();
  shown += report.summary() + report.to_json();
  EXPECT_NE(shown.find("<redacted>"), std::string::npos);
  for (std::string hex : {std::string{kGcmOut}, std::string{kGcmIn}}) {
    // Any 8 consecutive hex digits of the key, either case.
    for (std::size_t i = 0; i + 8 <= hex.size(); i += 4) {
      std::string piece = hex.substr(i, 8);
      EXPECT_EQ(shown.find(piece), std::string::npos) << piece;
      for (auto& c : piece) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      EXPECT_EQ(shown.find(piece), std::string::npos) << piece;
    }
  }
}

TEST_F(ManualProfile, KeyingManualNeedsTheManualMap) {
  std::string text = policy("{}");
  text.erase(text.find("    manual: {}\n"), 15);
  EXPECT_TRUE(only(errors(text), 10, 13, "ipsec[0].keying: keying manual needs a 'manual' mapping"));
}

TEST_F(ManualProfile, ManualMapNeedsKeyingManual) {
  std::string text = policy(gcm_manual());
  text.replace(text.find("keying: manual"), 14, "keying: ike");
  const auto e = errors(text);
  // ike in transport mode takes no endpoints either.
  bool saw = false;
  for (const auto& d : e)
    if (d.where.line == 11 && d.where.column == 5 &&
        d.message.find("'manual' SAs are only for profiles with 'keying: manual'") !=
            std::string::npos)
      saw = true;
  EXPECT_TRUE(saw);
}

TEST_F(ManualProfile, TransportModeNeedsLocalAndRemote) {
  std::string text = policy(gcm_manual());
  text.erase(text.find("    local: 10.200.0.1\n"), 22);
  EXPECT_TRUE(only(errors(text), 9, 13, "ipsec[0].keying: manual keying needs a 'local' endpoint"));
}

TEST_F(ManualProfile, BadSpis) {
  const std::string k1 = key("a", kGcmOut), k2 = key("b", kGcmIn);
  auto with_spis = [&](const std::string& out, const std::string& in) {
    return policy("{algorithm: rfc4106(gcm(aes)), out: {spi: " + out + ", key_file: " + k1 +
                  "}, in: {spi: " + in + ", key_file: " + k2 + "}}");
  };
  // Column of out's spi value: "    manual: {algorithm: rfc4106(gcm(aes)), out: {spi: " = 54.
  EXPECT_TRUE(only(errors(with_spis("0xff", "0x1002")), 11, 55,
                   "ipsec[0].manual.out.spi: spi '0xff' is out of range 0x100-0xffffffff (SPIs "
                   "1-255 are reserved)"));
  EXPECT_TRUE(only(errors(with_spis("0x100000000", "0x1002")), 11, 55,
                   "spi '0x100000000' is out of range"));
  EXPECT_TRUE(only(errors(with_spis("0", "0x1002")), 11, 55, "out of range"));
  const std::string bad_in = with_spis("0x1001", "spi1");
  EXPECT_TRUE(only(errors(bad_in), 11, col_of(bad_in, 11, "spi1"),
                   "ipsec[0].manual.in.spi: expected spi as an integer 0x100-0xffffffff"));
}

TEST_F(ManualProfile, BadAlgorithmHasAHint) {
  const std::string text = policy("{algorithm: rfc4106(gcm(aes)), out: {spi: 0x1001, key_file: " +
                                  key("a", kGcmOut) + "}, in: {spi: 0x1002, key_file: " +
                                  key("b", kGcmIn) + "}}");
  std::string bad = text;
  bad.replace(bad.find("rfc4106(gcm(aes))"), 17, "rfc4106(gcm(aes)");
  EXPECT_TRUE(only(errors(bad), 11, col_of(bad, 11, "rfc4106"),
                   "ipsec[0].manual.algorithm: expected rfc4106(gcm(aes)) or "
                   "cbc(aes)+hmac(sha256), got 'rfc4106(gcm(aes)'; did you mean "
                   "'rfc4106(gcm(aes))'?"));
}

TEST_F(ManualProfile, KeyFileProblemsAreLocatedAtTheKeyFileValue) {
  const std::string good_in = key("in.key", kGcmIn);
  auto with_out = [&](const std::string& out_file) {
    return policy("{algorithm: rfc4106(gcm(aes)), out: {spi: 0x1001, key_file: " + out_file +
                  "}, in: {spi: 0x1002, key_file: " + good_in + "}}");
  };
  const std::string sample = with_out("/K");
  const int kCol = col_of(sample, 11, "/K");  // the value of out's key_file
  const std::string missing = (dir_ / "none.key").string();
  EXPECT_TRUE(only(errors(with_out(missing)), 11, kCol,
                   "ipsec[0].manual.out.key_file: refusing key file '" + missing +
                       "': cannot open it: No such file or directory"));
  const std::string open_mode = key("0644.key", kGcmOut, 0644);
  EXPECT_TRUE(only(errors(with_out(open_mode)), 11, kCol,
                   "refusing key file '" + open_mode +
                       "': it is accessible by group or others (mode 0644); a key file must be "
                       "private to its owner (chmod 600)"));
  const std::string group_write = key("0620.key", kGcmOut, 0620);
  EXPECT_TRUE(only(errors(with_out(group_write)), 11, kCol, "(mode 0620)"));
  const std::string short_key = key("short.key", kCbcOut);
  EXPECT_TRUE(only(errors(with_out(short_key)), 11, kCol,
                   "holds a 16-byte key, but rfc4106(gcm(aes)) takes 20, 28 or 36 bytes"));
  const std::string link = (dir_ / "link.key").string();
  fs::create_symlink(key("target.key", kGcmOut), link);
  EXPECT_TRUE(only(errors(with_out(link)), 11, kCol, "it is a symbolic link"));
  EXPECT_TRUE(only(errors(with_out(dir_.string())), 11, kCol, "it is not a regular file"));
  EXPECT_TRUE(only(errors(with_out("keys/out.key")), 11, kCol, "must be an absolute path"));
  const std::string not_hex = key("nothex.key", "00112233zz-secret");
  const auto e = errors(with_out(not_hex));
  EXPECT_TRUE(only(e, 11, kCol, "not a hex digit at byte 9"));
  ASSERT_FALSE(e.empty());
  EXPECT_EQ(e[0].message.find("secret"), std::string::npos) << "contents quoted";
}

TEST_F(ManualProfile, CbcNeedsA32ByteAuthKeyAndGcmTakesNone) {
  const std::string o = key("o", kCbcOut), i = key("i", kCbcIn);
  const std::string short_auth = key("sa", kCbcIn + std::string{"00"});
  std::string text = policy("{algorithm: cbc(aes)+hmac(sha256), out: {spi: 0x1001, key_file: " +
                            o + ", auth_key_file: " + short_auth +
                            "}, in: {spi: 0x1002, key_file: " + i + "}}");
  auto e = errors(text);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_NE(e[0].message.find("holds a 17-byte key, but hmac(sha256) takes 32 bytes"),
            std::string::npos)
      << e[0].to_string();
  EXPECT_NE(e[1].message.find("ipsec[0].manual.in: missing required key 'auth_key_file'"),
            std::string::npos)
      << e[1].to_string();
  text = policy("{algorithm: rfc4106(gcm(aes)), out: {spi: 0x1001, key_file: " +
                key("g", kGcmOut) + ", auth_key_file: " + key("a", kAuthOut) +
                "}, in: {spi: 0x1002, key_file: " + key("h", kGcmIn) + "}}");
  e = errors(text);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].message.find("only cbc(aes)+hmac(sha256) takes an auth_key_file"),
            std::string::npos);
}

TEST_F(ManualProfile, EachDirectionNeedsItsOwnKey) {
  const std::string k = key("same", kGcmOut);
  const std::string text = policy("{algorithm: rfc4106(gcm(aes)), out: {spi: 0x1001, key_file: " +
                                  k + "}, in: {spi: 0x1002, key_file: " + k + "}}");
  const auto e = errors(text);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].message.find("holds the same key as out's"), std::string::npos);
}

TEST_F(ManualProfile, OnlyEsp) {
  std::string text = policy(gcm_manual());
  text.replace(text.find("protocol: esp"), 13, "protocol: ah ");
  EXPECT_TRUE(only(errors(text), 8, 15, "manual keying supports protocol esp only"));
}

TEST_F(ManualProfile, TheRulesPeerMustBeTheProfilesRemoteHost) {
  EXPECT_TRUE(only(errors(policy(gcm_manual(), "[10.200.0.0/24]")), 13, 5,
                   "rules[0]: rule 'db' uses manual profile 'db-link', whose SAs join this host "
                   "with 10.200.0.2 only: its 'to' must be that one address (10.200.0.2), not "
                   "10.200.0.0/24"));
  EXPECT_TRUE(only(errors(policy(gcm_manual(), "[10.200.0.2, 10.200.0.3]")), 13, 5,
                   "its 'to' must be that one address"));
  // A group of that one address is fine.
  std::string text = policy(gcm_manual(), "[peer]");
  text.insert(text.find("ipsec:"), "addresses: {peer: [10.200.0.2]}\n");
  EXPECT_EQ(compile_xfrm(loaded(text)).sas.size(), 2u);
}

TEST_F(ManualProfile, DuplicateSpisToOneHost) {
  std::string text = policy(gcm_manual());
  const std::string second =
      "  - {name: other, local: 10.200.0.1, remote: 10.200.0.2, reqid: 101, keying: manual,\n"
      "     manual: {algorithm: rfc4106(gcm(aes)), out: {spi: 0x1001, key_file: " +
      key("o2", "11" + std::string{kGcmOut}.substr(2)) + "}, in: {spi: 0x3001, key_file: " +
      key("i2", "22" + std::string{kGcmIn}.substr(2)) + "}}}\n";
  text.insert(text.find("rules:"), second);
  const auto e = errors(text);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].message.find("ipsec[1].manual.out: spi 0x1001 to 10.200.0.2 is already used by "
                              "profile 'db-link'"),
            std::string::npos)
      << e[0].to_string();
}

// ---- the key file reader itself ----------------------------------------

TEST_F(ManualProfile, KeyFileOwnedByAnotherUserIsRefused) {
  const std::string path = key("owned.key", kGcmOut);
  uid_t allowed = ::geteuid();
  if (::geteuid() == 0) {
    ASSERT_EQ(::chown(path.c_str(), 65534, 65534), 0);
  } else {
    allowed = 0;  // only root: our own file is then someone else's
  }
  auto read = read_key_file(path, allowed);
  ASSERT_TRUE(std::holds_alternative<std::string>(read));
  EXPECT_NE(std::get<std::string>(read).find(", not root; only root may own key files (chown "
                                             "root)"),
            std::string::npos)
      << std::get<std::string>(read);
}

// A directory others may write lets them swap the key file for another
// file of root's: refused, naming the directory. A sticky one (like /tmp)
// does not: nobody may rename or delete another's entry there.
TEST_F(ManualProfile, KeyFileInADirectoryOthersMayWriteIsRefused) {
  fs::create_directories(dir_ / "open");
  fs::create_directories(dir_ / "sticky");
  ASSERT_EQ(::chmod((dir_ / "open").c_str(), 0777), 0);
  ASSERT_EQ(::chmod((dir_ / "sticky").c_str(), 01777), 0);
  const std::string open_key = key("open/k.key", kGcmOut);
  const std::string sticky_key = key("sticky/k.key", kGcmOut);
  auto refused = read_key_file(open_key, ::geteuid());
  ASSERT_TRUE(std::holds_alternative<std::string>(refused));
  EXPECT_EQ(std::get<std::string>(refused),
            "its directory " + (dir_ / "open").string() +
                " may be written by group or others (mode 0777)");
  EXPECT_TRUE(std::holds_alternative<filter::XfrmKey>(read_key_file(sticky_key, ::geteuid())));
  // A symlinked directory is checked where it points too.
  fs::create_directory_symlink(dir_ / "open", dir_ / "link");
  auto via_link = read_key_file((dir_ / "link" / "k.key").string(), ::geteuid());
  ASSERT_TRUE(std::holds_alternative<std::string>(via_link));
  EXPECT_NE(std::get<std::string>(via_link).find("may be written by group or others"),
            std::string::npos);
}

TEST(KeyFileText, HexWithPrefixAndWhitespace) {
  auto key = parse_hex_key("  0x0a0B\n 0c\t0d \r\n");
  ASSERT_TRUE(std::holds_alternative<filter::XfrmKey>(key));
  const auto& k = std::get<filter::XfrmKey>(key);
  ASSERT_EQ(k.size(), 4u);
  EXPECT_EQ(k.data()[0], 0x0a);
  EXPECT_EQ(k.data()[1], 0x0b);
  EXPECT_EQ(k.data()[3], 0x0d);
  EXPECT_EQ(std::get<std::string>(parse_hex_key("abc")), "it holds an odd number of hex digits");
  EXPECT_EQ(std::get<std::string>(parse_hex_key(" \n")), "it holds no key (no hex digits)");
  EXPECT_NE(std::get<std::string>(parse_hex_key("0x12 34 g5")).find("at byte 9"),
            std::string::npos);
}

TEST(KeyFileText, KeysAreWipedWhenMovedFrom) {
  const std::uint8_t bytes[] = {1, 2, 3};
  filter::XfrmKey a{bytes};
  filter::XfrmKey b{std::move(a)};
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): wiping is the point
  EXPECT_EQ(b.size(), 3u);
  b.wipe();
  EXPECT_TRUE(b.empty());
}

}  // namespace
}  // namespace netpolicy::policy
