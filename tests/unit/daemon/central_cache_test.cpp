// The cached central policy and its stored validators: written whole or
// not at all, and any damage is detected on read.
#include "daemon/central_cache.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace netpolicy::daemon {
namespace {

class CentralCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (std::filesystem::temp_directory_path() / "np-cache-XXXXXX").string();
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
    state_ = dir_ + "/state/sub";  // created on first write
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  static void spit(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  }

  std::string dir_, state_;
};

TEST_F(CentralCacheTest, CacheRoundTripAndDamage) {
  EXPECT_TRUE(std::holds_alternative<CacheMissing>(read_central_cache(state_)));
  ASSERT_TRUE(write_central_cache(state_, "version: 1\n"));
  CacheRead read = read_central_cache(state_);
  ASSERT_TRUE(std::holds_alternative<CachedPolicy>(read));
  EXPECT_EQ(std::get<CachedPolicy>(read).text, "version: 1\n");
  EXPECT_EQ(std::filesystem::status(state_).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_all);

  std::string file = slurp(central_cache_path(state_));
  file.back() = '\t';
  spit(central_cache_path(state_), file);
  read = read_central_cache(state_);
  ASSERT_TRUE(std::holds_alternative<CacheCorrupt>(read));
  EXPECT_NE(std::get<CacheCorrupt>(read).reason.find("checksum mismatch"), std::string::npos);
}

TEST_F(CentralCacheTest, ValidatorsRoundTrip) {
  std::string why;
  EXPECT_FALSE(read_central_validators(state_, &why));
  EXPECT_NE(why.find("does not exist"), std::string::npos) << why;

  const CacheValidators v{"http://192.0.2.1/c.yaml", std::string(64, 'a'), "\"etag-1\"",
                          "Sun, 22 Nov 2026 23:00:00 GMT"};
  ASSERT_TRUE(write_central_validators(state_, v));
  auto back = read_central_validators(state_);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, v);
  const std::string file = slurp(central_validators_path(state_));
  EXPECT_EQ(file.rfind("netpolicy-central-validators 1 sha256=", 0), 0u) << file;
  EXPECT_FALSE(std::filesystem::exists(central_validators_path(state_) + ".tmp"));

  // Rewritten whole.
  const CacheValidators w{v.url, std::string(64, 'b'), "", ""};
  ASSERT_TRUE(write_central_validators(state_, w));
  EXPECT_EQ(*read_central_validators(state_), w);
}

TEST_F(CentralCacheTest, DamagedValidatorsAreIgnored) {
  const CacheValidators v{"http://192.0.2.1/c.yaml", std::string(64, 'a'), "\"e\"", ""};
  ASSERT_TRUE(write_central_validators(state_, v));
  const std::string path = central_validators_path(state_);
  const std::string good = slurp(path);
  std::string why;

  std::string flipped = good;
  ASSERT_NE(flipped.find("etag"), std::string::npos);
  flipped[flipped.find("etag")] = 'E';  // still JSON, checksum wrong
  spit(path, flipped);
  EXPECT_FALSE(read_central_validators(state_, &why));
  EXPECT_NE(why.find("checksum mismatch"), std::string::npos) << why;

  spit(path, good.substr(0, good.size() - 3));  // torn
  EXPECT_FALSE(read_central_validators(state_, &why));

  spit(path, "garbage\n");
  EXPECT_FALSE(read_central_validators(state_, &why));
  EXPECT_NE(why.find("no valid cache header"), std::string::npos) << why;

  // A valid checksum over JSON without the fields.
  const std::string payload = "{\"url\": 1}\n";
  ASSERT_TRUE(write_central_cache(dir_ + "/other", payload));  // borrow its framing
  std::string framed = slurp(central_cache_path(dir_ + "/other"));
  framed.replace(0, std::string{"netpolicy-central-cache 1 "}.size(),
                 "netpolicy-central-validators 1 ");
  spit(path, framed);
  EXPECT_FALSE(read_central_validators(state_, &why));
  EXPECT_NE(why.find("expected fields"), std::string::npos) << why;
}

}  // namespace
}  // namespace netpolicy::daemon
