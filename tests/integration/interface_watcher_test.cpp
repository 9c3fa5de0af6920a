// netlink/interface_watcher.cpp against the real kernel: link and address
// events change the view; an overrun of a deliberately tiny receive buffer
// is reported and a resync brings back every link. Each test first moves
// the process into a fresh network namespace of its own.
#include <poll.h>
#include <sched.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "netlink/interface_watcher.h"
#include "tests/integration/root_test.h"

namespace netpolicy::netlink {
namespace {

using netpolicy::testing::enter_fresh_netns;

void sh(const std::string& command) { ASSERT_EQ(std::system(command.c_str()), 0) << command; }

const Interface* find(const InterfaceView& v, const std::string& name) {
  auto it = std::find_if(v.interfaces.begin(), v.interfaces.end(),
                         [&](const Interface& i) { return i.name == name; });
  return it == v.interfaces.end() ? nullptr : &*it;
}

// Reads events until `done(view)` holds, waiting on the fd (at most 5 s).
template <typename Done>
bool read_until(InterfaceWatcher& w, Done&& done) {
  for (int i = 0; i < 50; ++i) {
    auto batch = w.read_events();
    if (!batch.ok()) {
      ADD_FAILURE() << batch.error().describe();
      return false;
    }
    if (done(w.view())) return true;
    pollfd p{w.fd(), POLLIN, 0};
    poll(&p, 1, 100);
  }
  return false;
}

TEST(InterfaceWatcher, FollowsLinksRenamesAndAddresses) {
  enter_fresh_netns();
  auto opened = InterfaceWatcher::open(32u << 20);
  ASSERT_TRUE(opened.ok()) << opened.error().describe();
  InterfaceWatcher& w = **opened;
  EXPECT_TRUE(w.buffer_forced()) << "root may force the receive buffer";
  EXPECT_GE(w.receive_buffer(), 32 << 20);
  ASSERT_TRUE(w.resync().ok());
  ASSERT_NE(find(w.view(), "lo"), nullptr);

  sh("ip link add vw-a type veth peer name vw-b");
  ASSERT_TRUE(read_until(w, [](const InterfaceView& v) {
    return find(v, "vw-a") != nullptr && find(v, "vw-b") != nullptr;
  }));
  sh("ip addr add 10.200.7.1/24 dev vw-a && ip -6 addr add fd00:200:7::1/64 dev vw-a nodad");
  ASSERT_TRUE(read_until(w, [](const InterfaceView& v) {
    const Interface* a = find(v, "vw-a");
    return a != nullptr && a->addresses.size() == 2;
  }));
  const int ifindex = find(w.view(), "vw-a")->ifindex;
  sh("ip link set vw-a name vl-renamed");
  ASSERT_TRUE(read_until(w, [&](const InterfaceView& v) {
    const Interface* r = find(v, "vl-renamed");
    return r != nullptr && find(v, "vw-a") == nullptr && r->ifindex == ifindex &&
           r->addresses.size() == 2;
  }));
  sh("ip addr del 10.200.7.1/24 dev vl-renamed");
  ASSERT_TRUE(read_until(w, [](const InterfaceView& v) {
    const Interface* r = find(v, "vl-renamed");
    return r != nullptr && r->addresses.size() == 1 && r->addresses[0].family == Family::ipv6;
  }));
  sh("ip link del vl-renamed");  // takes its peer with it
  ASSERT_TRUE(read_until(w, [](const InterfaceView& v) {
    return find(v, "vl-renamed") == nullptr && find(v, "vw-b") == nullptr;
  }));
  EXPECT_TRUE(w.complete());
}

TEST(InterfaceWatcher, OverrunIsReportedAndResyncRecovers) {
  enter_fresh_netns();
  auto opened = InterfaceWatcher::open(4096);  // holds a handful of link events
  ASSERT_TRUE(opened.ok()) << opened.error().describe();
  InterfaceWatcher& w = **opened;
  ASSERT_TRUE(w.resync().ok());

  constexpr int kLinks = 400;
  char path[] = "/tmp/np-watcher-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    std::ofstream batch(path);
    for (int i = 0; i < kLinks; ++i) batch << "link add ifs" << i << " type ifb\n";
  }
  sh(std::string{"ip -batch "} + path);  // while nobody reads
  unlink(path);

  auto batch = w.read_events();
  ASSERT_TRUE(batch.ok()) << batch.error().describe();
  EXPECT_TRUE(batch->overrun) << "ENOBUFS expected with a 4 KiB buffer";
  EXPECT_FALSE(w.complete());
  EXPECT_FALSE(w.view().complete);
  EXPECT_LT(w.size(), static_cast<std::size_t>(kLinks) + 1) << "events were lost";

  ASSERT_TRUE(w.resync().ok());
  EXPECT_TRUE(w.complete());
  const InterfaceView v = w.view();
  EXPECT_EQ(v.interfaces.size(), static_cast<std::size_t>(kLinks) + 1);  // + lo
  for (int i = 0; i < kLinks; ++i)
    ASSERT_NE(find(v, "ifs" + std::to_string(i)), nullptr) << "ifs" << i;
}

}  // namespace
}  // namespace netpolicy::netlink
