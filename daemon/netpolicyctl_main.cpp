// netpolicyctl [--runtime-dir DIR] COMMAND [--json]
// Commands that ask the daemon over RUNTIME_DIR/control.sock: `status`,
// `interfaces`, `rules`, `diff FILE`, `reload`. Commands that need no
// running daemon: `check FILE`, `export FILE`.
// Exit status: 0 success, 1 failure (policy invalid, daemon not reached,
// daemon's error reply), 2 usage error.
#include <CLI/CLI.hpp>
#include <chrono>
#include <exception>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include <unistd.h>

#include "daemon/check.h"
#include "daemon/control_client.h"
#include "daemon/control_protocol.h"
#include "daemon/policy_source.h"
#include "daemon/rules_format.h"
#include "daemon/ruleset_diff.h"
#include "daemon/xfrm_diff.h"
#include "daemon/status_format.h"
#include "filter/nft_text.h"
#include "filter/xfrm_text.h"
#include "netlink/interface_listing.h"
#include "policy/compiler.h"

namespace {

using netpolicy::daemon::CheckReport;

int print_failure(const CheckReport& report, bool json) {
  if (json) {
    std::cout << report.to_json() << '\n';
  } else {
    for (const auto& d : report.diagnostics) std::cerr << d.to_string() << '\n';
  }
  return 1;
}

int check(const std::string& path, bool json) {
  CheckReport report = netpolicy::daemon::check_policy_file(path);
  if (!report.ok()) return print_failure(report, json);
  if (json)
    std::cout << report.to_json() << '\n';
  else
    std::cout << report.summary() << '\n';
  return 0;
}

// What the daemon would put in the kernel for PATH in this network
// namespace, as nft(8) text.
int export_ruleset(const std::string& path, bool json) {
  auto loaded = netpolicy::daemon::load_policy(path);
  if (auto* failure = std::get_if<netpolicy::daemon::PolicyLoadFailure>(&loaded)) {
    CheckReport report;
    report.path = path;
    report.diagnostics = std::move(failure->diagnostics);
    return print_failure(report, json);
  }
  const auto& policy = std::get<netpolicy::policy::Policy>(loaded);
  auto view = netpolicy::netlink::list_interfaces();
  if (!view) {
    std::string text = view.error().describe();
    if (json)
      std::cout << nlohmann::json{{"ok", false}, {"error", text}}.dump() << '\n';
    else
      std::cerr << "netpolicyctl: " << text << '\n';
    return 1;
  }
  std::string ruleset = netpolicy::filter::render_nft(netpolicy::policy::compile(policy, *view));
  if (json)
    std::cout << nlohmann::json{{"ok", true}, {"ruleset", ruleset}}.dump() << '\n';
  else
    std::cout << ruleset;
  return 0;
}

// The data of the daemon's answer to `command`; nullopt, once the reason is
// printed, when it cannot be reached or refuses.
std::optional<nlohmann::json> daemon_data(
    const std::string& runtime_dir, netpolicy::daemon::control::Command command,
    std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
  namespace d = netpolicy::daemon;
  auto reply = d::call_daemon(d::control::control_socket_path(runtime_dir), command,
                              nlohmann::json::object(), timeout);
  if (!reply) {
    std::cerr << "netpolicyctl: " << reply.error().describe() << '\n';
    return std::nullopt;
  }
  if (!reply->ok) {
    std::cerr << "netpolicyctl: netpolicyd refused '" << d::control::command_name(command)
              << "': " << reply->error_message << " (" << reply->error_code << ")\n";
    return std::nullopt;
  }
  return std::move(reply->data);
}

// Asks the daemon; prints its data as JSON or through `format`.
int ask_daemon(const std::string& runtime_dir, netpolicy::daemon::control::Command command,
               bool json, std::string (*format)(const nlohmann::json&)) {
  auto data = daemon_data(runtime_dir, command);
  if (!data) return 1;
  if (json)
    std::cout << data->dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  else
    std::cout << format(*data);
  return 0;
}

// What applying FILE (and its drop-ins) would add, remove and change in
// the daemon's table and XFRM band: the daemon's rendering of the policy in
// force against FILE compiled for this namespace's interfaces, object by
// object (nft objects first, then XFRM policies and manual SAs). Exit 0
// with or without changes ("no change" when none); 1 when FILE is invalid
// or the daemon cannot be asked.
int diff(const std::string& runtime_dir, const std::string& path, bool json) {
  namespace d = netpolicy::daemon;
  auto loaded = d::load_policy(path);
  if (auto* failure = std::get_if<d::PolicyLoadFailure>(&loaded)) {
    CheckReport report;
    report.path = path;
    report.diagnostics = std::move(failure->diagnostics);
    return print_failure(report, json);
  }
  auto view = netpolicy::netlink::list_interfaces();
  if (!view) {
    std::cerr << "netpolicyctl: " << view.error().describe() << '\n';
    return 1;
  }
  const netpolicy::filter::DesiredState compiled =
      netpolicy::policy::compile(std::get<netpolicy::policy::Policy>(loaded), *view);
  auto in_force = daemon_data(runtime_dir, d::control::Command::ruleset);
  if (!in_force) return 1;
  std::vector<std::string> changes = d::diff_rulesets(
      in_force->value("ruleset", std::string{}), netpolicy::filter::render_nft(compiled));
  for (auto& line : d::diff_xfrm(in_force->value("xfrm", std::string{}),
                                 netpolicy::filter::render_xfrm(compiled.xfrm)))
    changes.push_back(std::move(line));
  if (json) {
    std::cout << nlohmann::json{{"changed", !changes.empty()}, {"changes", changes}}.dump(
                     2, ' ', false, nlohmann::json::error_handler_t::replace)
              << '\n';
  } else if (changes.empty()) {
    std::cout << "no change\n";
  } else {
    for (const auto& line : changes) std::cout << line << '\n';
  }
  return 0;
}

// Asks the daemon to reload and waits for the outcome: exit 0 when the
// policy was applied, 1 when not (the daemon keeps the previous one) or
// when the daemon refused or could not be reached.
int reload(const std::string& runtime_dir, bool json) {
  namespace d = netpolicy::daemon;
  if (::geteuid() != 0) {
    // The daemon checks SO_PEERCRED too; saying it here is clearer than
    // the socket's EACCES.
    std::cerr << "netpolicyctl: reload changes the kernel's rules; only root may ask netpolicyd "
                 "to reload (you are uid "
              << ::geteuid() << ")\n";
    return 1;
  }
  // The daemon answers once the reload is over: it may first finish a
  // central fetch under way, then fetch again (each at most the source's
  // timeout, at most 600 s), so wait that long, not the usual 10 s.
  constexpr std::chrono::milliseconds kReloadTimeout = std::chrono::seconds{2 * 600 + 60};
  auto outcome = daemon_data(runtime_dir, d::control::Command::reload, kReloadTimeout);
  if (!outcome) return 1;
  const bool applied = outcome->value("applied", false);
  if (json) {
    std::cout << outcome->dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  } else if (applied) {
    std::cout << "reloaded: " << outcome->value("status", std::string{}) << '\n';
  } else {
    std::cout << "reload failed: " << outcome->value("reason", std::string{})
              << "; the previous policy stays in force\n";
  }
  return applied ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string runtime_dir = "/run/netpolicy";
  bool json = false;
  std::string file;

  CLI::App app{"netpolicyctl: inspect and check netpolicyd policies"};
  app.set_version_flag("--version", NETPOLICY_VERSION);
  app.add_option("--runtime-dir", runtime_dir, "netpolicyd's runtime directory")
      ->capture_default_str();
  app.add_flag("--json", json, "machine-readable output");
  app.require_subcommand(1);

  auto* check_cmd = app.add_subcommand("check", "validate and compile a policy file");
  check_cmd->add_option("FILE", file, "policy file")->required();
  check_cmd->fallthrough();  // --json may follow the command
  auto* export_cmd = app.add_subcommand(
      "export", "print the nft ruleset FILE compiles to for this namespace's interfaces");
  export_cmd->add_option("FILE", file, "policy file")->required();
  export_cmd->fallthrough();
  auto* status_cmd = app.add_subcommand(
      "status", "show the policy in force, the interface view and the last error");
  status_cmd->fallthrough();
  auto* interfaces_cmd =
      app.add_subcommand("interfaces", "show each interface with its zone and state");
  interfaces_cmd->fallthrough();
  auto* rules_cmd = app.add_subcommand(
      "rules",
      "show each rule in force with its source, zones, action and the kernel's counters");
  rules_cmd->fallthrough();
  auto* diff_cmd = app.add_subcommand(
      "diff", "show what applying FILE would add, remove and change in netpolicyd's table");
  diff_cmd->add_option("FILE", file, "policy file")->required();
  diff_cmd->fallthrough();
  auto* reload_cmd = app.add_subcommand(
      "reload", "reload the policy now and print the outcome (root only)");
  reload_cmd->fallthrough();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; a usage error exits 2, apart from the
    // 1 that means "policy invalid" or "failed".
    return app.exit(e) == 0 ? 0 : 2;
  }

  try {
    if (check_cmd->parsed()) return check(file, json);
    if (export_cmd->parsed()) return export_ruleset(file, json);
    using netpolicy::daemon::control::Command;
    if (diff_cmd->parsed()) return diff(runtime_dir, file, json);
    if (reload_cmd->parsed()) return reload(runtime_dir, json);
    if (status_cmd->parsed())
      return ask_daemon(runtime_dir, Command::status, json, &netpolicy::daemon::format_status);
    if (interfaces_cmd->parsed())
      return ask_daemon(runtime_dir, Command::interfaces, json,
                        &netpolicy::daemon::format_interfaces);
    if (rules_cmd->parsed())
      return ask_daemon(runtime_dir, Command::rules, json, &netpolicy::daemon::format_rules);
  } catch (const std::exception& e) {
    std::cerr << "netpolicyctl: fatal: " << e.what() << std::endl;
    return 1;
  }
  return 1;
}
