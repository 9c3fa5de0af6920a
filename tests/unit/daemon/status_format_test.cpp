// netpolicyctl's tables, from reply data as the daemon builds it.
#include "daemon/status_format.h"

#include <gtest/gtest.h>

#include "daemon/control_protocol.h"

namespace netpolicy::daemon {
namespace {

using nlohmann::json;

DaemonStatus sample() {
  DaemonStatus s;
  s.pid = 4321;
  s.version = "0.1.0";
  s.policy = PolicyStatus{"/etc/netpolicy/policy.yaml",
                          "5629157a4d42aa0115ce3804617978988b2283b0c1143ed9ccdf98a42a9e013d",
                          "local",
                          WallTime{std::chrono::seconds{1714566896}},
                          12,
                          3};
  s.interface_count = 3;
  s.view_complete = true;
  s.view_since = WallTime{std::chrono::seconds{1714566890}};
  s.interfaces = {
      {"lo",
       1,
       std::nullopt,
       InterfaceState::loopback,
       {*parse_ip_prefix("127.0.0.1"), *parse_ip_prefix("::1")}},
      {"vh-lab0", 3, "lab", InterfaceState::protected_, {*parse_ip_prefix("10.200.1.1")}},
      {"docker0", 12, std::nullopt, InterfaceState::unknown_posture, {}},
  };
  return s;
}

TEST(StatusFormat, Status) {
  EXPECT_EQ(format_status(control::status_data(sample())),
            "Policy:      /etc/netpolicy/policy.yaml (local)\n"
            "SHA-256:     5629157a4d42aa0115ce3804617978988b2283b0c1143ed9ccdf98a42a9e013d\n"
            "Applied at:  2024-05-01T12:34:56Z\n"
            "Rules:       12 in 3 zones\n"
            "Interfaces:  3; view complete since 2024-05-01T12:34:50Z\n"
            "Last error:  none\n"
            "Daemon:      pid 4321, version 0.1.0\n");
}

TEST(StatusFormat, StatusWithAnErrorAndAnIncompleteView) {
  DaemonStatus s = sample();
  s.view_complete = false;
  ErrorRecord e;
  e.event = "policy-failed";
  e.event_id = 5461;
  e.message = "Policy /etc/netpolicy/policy.yaml is invalid";
  e.error_code = 0;
  e.location = "/etc/netpolicy/policy.yaml:6:18";
  e.time = WallTime{std::chrono::seconds{1714566900}};
  s.last_error = e;
  std::string text = format_status(control::status_data(s));
  EXPECT_NE(text.find("Interfaces:  3; view INCOMPLETE since 2024-05-01T12:34:50Z\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("Last error:  policy-failed (event 5461) at 2024-05-01T12:35:00Z\n"
                      "  message:   Policy /etc/netpolicy/policy.yaml is invalid\n"
                      "  location:  /etc/netpolicy/policy.yaml:6:18\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("errno"), std::string::npos) << "no errno line without an errno";
}

TEST(StatusFormat, NoPolicyAndMissingFields) {
  EXPECT_EQ(format_status(json::object()),
            "Policy:      none applied\n"
            "Interfaces:  -; completeness unknown\n"
            "Last error:  none\n"
            "Daemon:      pid -, version -\n");
}

TEST(StatusFormat, InterfacesTableIsAligned) {
  EXPECT_EQ(format_interfaces(control::interfaces_data(sample())),
            "NAME     INDEX  ZONE  STATE            ADDRESSES\n"
            "lo       1      -     loopback         127.0.0.1, ::1\n"
            "vh-lab0  3      lab   protected        10.200.1.1\n"
            "docker0  12     -     unknown-posture  -\n");
}

TEST(StatusFormat, IncompleteViewIsSaidBelowTheTable) {
  DaemonStatus s = sample();
  s.view_complete = false;
  std::string text = format_interfaces(control::interfaces_data(s));
  EXPECT_NE(text.find("The interface view is incomplete since 2024-05-01T12:34:50Z"),
            std::string::npos)
      << text;
  EXPECT_EQ(format_interfaces(json{{"interfaces", json::array()}}),
            "NAME  INDEX  ZONE  STATE  ADDRESSES\n");
}

}  // namespace
}  // namespace netpolicy::daemon
