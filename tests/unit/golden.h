#pragma once
// Golden-file comparison for unit tests: the text a test produces must equal
// tests/unit/data/golden/<name> byte for byte. Run with
// NETPOLICY_UPDATE_GOLDEN=1 to rewrite the files instead (then review every
// changed file by eye before committing it).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace netpolicy::testing {

inline std::string golden_path(const std::string& name) {
  return std::string{NETPOLICY_TEST_DATA} + "/golden/" + name;
}

inline void expect_golden(const std::string& name, const std::string& actual) {
  const std::string path = golden_path(name);
  const char* update = std::getenv("NETPOLICY_UPDATE_GOLDEN");
  if (update != nullptr && std::string{update} == "1") {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << actual;
    ASSERT_TRUE(out.good()) << "Failed to write golden file '" << path << "'";
    return;
  }
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in.good()) << "Failed to open golden file '" << path
                         << "' (NETPOLICY_UPDATE_GOLDEN=1 creates it)";
  std::ostringstream expected;
  expected << in.rdbuf();
  EXPECT_EQ(expected.str(), actual) << "golden file: " << path;
}

}  // namespace netpolicy::testing
