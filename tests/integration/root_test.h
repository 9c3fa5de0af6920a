#pragma once
// Shared by the tests of the root_tests binary. Each test first moves the
// whole process into a fresh network namespace (unshare(CLONE_NEWNET)), so
// nothing it does reaches the host's own nftables, XFRM state or links;
// shell commands it runs then see that namespace.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace netpolicy::testing {

inline void enter_fresh_netns() {
  ASSERT_EQ(geteuid(), 0u) << "root tests must run as root";
  ASSERT_EQ(unshare(CLONE_NEWNET), 0) << "unshare(CLONE_NEWNET): " << std::strerror(errno);
}

// The stdout of `command` run by /bin/sh; its exit status in `*status`
// (-1 when it could not be run).
inline std::string shell_output(const std::string& command, int* status = nullptr) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) {
    if (status != nullptr) *status = -1;
    return out;
  }
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int raw = pclose(p);
  if (status != nullptr) *status = raw >= 0 && WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return out;
}

}  // namespace netpolicy::testing
