#include "daemon/daemon.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <iostream>
#include <memory>
#include <vector>

#include "base/error.h"
#include "daemon/audit.h"
#include "daemon/central_fetcher.h"
#include "daemon/central_runner.h"
#include "daemon/check.h"
#include "daemon/control_server.h"
#include "daemon/daemon_status.h"
#include "daemon/interface_loop.h"
#include "daemon/policy_engine.h"
#include "daemon/rules_report.h"
#include "daemon/sa_missing.h"
#include "filter/xfrm_backend.h"
#include "daemon/sd_handles.h"
#include "daemon/status_recorder.h"
#include "filter/nft_backend.h"
#include "filter/nft_readback.h"
#include "filter/nft_text.h"
#include "filter/xfrm_text.h"

namespace netpolicy::daemon {

namespace {

// mkdir -p with mode 0755 for the components it creates.
Status make_directories(const std::string& path) {
  if (path.empty()) return errno_error("Failed to create directory ''", EINVAL);
  for (std::size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') continue;
    std::string prefix = path.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0755) < 0 && errno != EEXIST)
      return errno_error("Failed to create directory '" + prefix + "'", errno, prefix);
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) < 0)
    return errno_error("Failed to create directory '" + path + "'", errno, path);
  if (!S_ISDIR(st.st_mode))
    return errno_error("Failed to create directory '" + path + "'", ENOTDIR, path);
  return Ok{};
}

std::uint64_t monotonic_usec() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1'000u;
}

// sd_notify is a no-op without NOTIFY_SOCKET; a failure to reach the
// service manager is worth a line, never a stop.
void notify(const std::string& state) {
  int r = sd_notify(0, state.c_str());
  if (r < 0)
    std::cerr << "netpolicyd: Failed to notify the service manager: " << std::strerror(-r)
              << std::endl;
}

class Daemon {
 public:
  // Every event goes through recorder_ to `journal`, so status can report
  // the last error and when the policy was applied.
  Daemon(const DaemonOptions& options, AuditSink& journal)
      : options_(options), recorder_(journal), audit_(recorder_) {}
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  int run();

 private:
  static int on_reload_signal(sd_event_source*, const signalfd_siginfo* si, void* userdata);
  static int on_stop_signal(sd_event_source*, const signalfd_siginfo* si, void* userdata);
  void reload(const signalfd_siginfo& si);
  // Audits 5465 (`who`: "SIGHUP from pid N") and asks the runner for a
  // reload; `waiter` gets its outcome (central_runner.h: queued behind a
  // cycle that is under way).
  void request_reload(const std::string& who, ApplyRunner::Waiter waiter = {});
  // The runner's hooks: RELOADING=1 / READY=1, STATUS=, the poll timer, and
  // for the first cycle READY=1 (or exit 1).
  void cycle_begins(ApplyRunner::Kind kind);
  void cycle_ends(ApplyRunner::Kind kind, const PolicyEngine::Outcome& outcome);
  void started();
  // The central source's polling timer, (re)armed after each apply from
  // the policy in force; none without sources.central.
  void arm_poll();
  static int on_poll(sd_event_source*, std::uint64_t, void* userdata);
  void stop(const signalfd_siginfo& si);
  int fail(const Error& error, std::string action);
  Status setup_loop();
  Status open_control();
  DaemonStatus snapshot() const;
  // STATUS=: the policy and the interface view.
  std::string status_line() const;

  const DaemonOptions& options_;
  StatusRecorder recorder_;
  AuditSink& audit_;
  SdEventPtr event_;
  std::vector<SdEventSourcePtr> signals_;
  SdEventSourcePtr poll_timer_;
  std::unique_ptr<filter::NftBackend> backend_;
  std::unique_ptr<filter::XfrmBackend> xfrm_;
  // `rules` reads the table's counters over a short-lived socket of its
  // own, never through backend_'s.
  filter::NftReadback readback_;
  std::unique_ptr<SaMissingWatch> sa_watch_;
  // Before the engine, which applies through it.
  std::unique_ptr<InterfaceLoop> interfaces_;
  std::unique_ptr<PolicyEngine> engine_;
  // The central policy's HTTP GET on the loop, and the one-apply-at-a-time
  // runner that uses it and the engine (gone before either; the fetcher's
  // sources before the loop).
  std::unique_ptr<CentralFetcher> fetcher_;
  std::unique_ptr<ApplyRunner> runner_;
  bool start_failed_ = false;
  // Last: its sources go before the loop and the engine it reads.
  std::unique_ptr<ControlServer> control_;
};

int Daemon::fail(const Error& error, std::string action) {
  AuditRecord rec{Event::critical_failure, error.describe() + "; " + action, {}};
  rec.add(Field::policy_path, options_.config)
      .add_errno(error.error_code)
      .add(Field::reason, error.describe())
      .add(Field::action_taken, std::move(action));
  audit_.record(rec);
  notify("STATUS=failed: " + error.describe());
  return 1;
}

Status Daemon::setup_loop() {
  sd_event* raw = nullptr;
  if (int r = sd_event_default(&raw); r < 0)
    return errno_error("Failed to create the event loop", -r);
  event_.reset(raw);

  // SD_EVENT_SIGNAL_PROCMASK blocks the signal for us, so none is ever
  // delivered asynchronously: all work happens in the loop.
  const std::pair<int, sd_event_signal_handler_t> handled[] = {
      {SIGHUP, &Daemon::on_reload_signal},
      {SIGTERM, &Daemon::on_stop_signal},
      {SIGINT, &Daemon::on_stop_signal},
  };
  for (const auto& [signo, handler] : handled) {
    sd_event_source* source = nullptr;
    if (int r = sd_event_add_signal(event_.get(), &source, signo | SD_EVENT_SIGNAL_PROCMASK,
                                    handler, this);
        r < 0)
      return errno_error(fmt::format("Failed to watch signal '{}'", sigabbrev_np(signo)), -r);
    signals_.emplace_back(source);
  }
  // Pings the watchdog well within WATCHDOG_USEC when WatchdogSec= is set;
  // a loop that is stuck stops pinging and systemd restarts us.
  if (int r = sd_event_set_watchdog(event_.get(), true); r < 0)
    return errno_error("Failed to enable the watchdog", -r);
  return Ok{};
}

// RUNTIME_DIR/control.sock, answered from the loop. Requests that come
// before READY=1 wait in the socket's backlog until the loop runs.
Status Daemon::open_control() {
  auto server = ControlServer::open(event_.get(),
                                    control::control_socket_path(options_.runtime_dir), std::cerr);
  if (!server) return server.error();
  control_ = std::move(server.value());
  control_->handle(control::Command::status, [this](const control::Request&, const PeerCredentials&,
                                                    const ControlServer::Responder& respond) {
    respond.reply(control::status_data(snapshot()));
  });
  control_->handle(control::Command::interfaces,
                   [this](const control::Request&, const PeerCredentials&,
                          const ControlServer::Responder& respond) {
                     respond.reply(control::interfaces_data(snapshot()));
                   });
  // What the policy in force compiled to, as nft text: netpolicyctl diff
  // compares it with what FILE compiles to.
  control_->handle(control::Command::ruleset,
                   [this](const control::Request&, const PeerCredentials&,
                          const ControlServer::Responder& respond) {
                     const AppliedPolicy* now = engine_ ? engine_->current() : nullptr;
                     if (now == nullptr) {
                       respond.fail({control::ErrorCode::internal_error, "no policy applied"});
                       return;
                     }
                     respond.reply({{"ruleset", filter::render_nft(now->state)},
                                    {"xfrm", filter::render_xfrm(now->state.xfrm)},
                                    {"sha256", now->policy.sha256},
                                    {"source", now->source}});
                   });
  // Each rule in force with the kernel's counters; reads only, so anyone
  // who may open the socket may ask.
  control_->handle(control::Command::rules,
                   [this](const control::Request&, const PeerCredentials&,
                          const ControlServer::Responder& respond) {
                     auto data =
                         answer_rules(engine_ ? engine_->current() : nullptr, readback_);
                     if (!data) {
                       std::cerr << "netpolicyd: rules: " << data.error().describe() << std::endl;
                       respond.fail({control::ErrorCode::internal_error, data.error().describe()});
                       return;
                     }
                     respond.reply(std::move(data).value());
                   });
  // Changes the kernel's rules: root only (SO_PEERCRED). Answered with the
  // outcome, once the reload is over.
  control_->handle(control::Command::reload,
                   [this](const control::Request&, const PeerCredentials& peer,
                          const ControlServer::Responder& respond) {
                     if (!peer.is_root()) {
                       respond.fail({control::ErrorCode::permission_denied,
                                     fmt::format("reload changes the kernel's rules; only root "
                                                 "may ask (caller uid {})",
                                                 peer.uid)});
                       return;
                     }
                     // Held until the outcome: a central fetch runs in the
                     // loop meanwhile (the client waits; others are served).
                     request_reload(fmt::format("netpolicyctl reload from pid {} uid 0", peer.pid),
                                    [this, respond](const PolicyEngine::Outcome& outcome) {
                                      respond.reply({{"applied", outcome.applied},
                                                     {"reason", outcome.reason},
                                                     {"status", engine_->status()}});
                                    });
                   });
  return Ok{};
}

DaemonStatus Daemon::snapshot() const {
  DaemonStatus s;
  s.pid = static_cast<int>(::getpid());
  s.version = NETPOLICY_VERSION;
  s.last_error = recorder_.last_error();
  const AppliedPolicy* now = engine_ ? engine_->current() : nullptr;
  if (now) {
    s.policy = PolicyStatus{now->policy.path,           now->policy.sha256,
                            recorder_.applied_source(), recorder_.applied_at().value_or(WallTime{}),
                            now->policy.rules.size(),   now->policy.zones.size()};
  }
  // The live view, and the table as the kernel holds it now: interface
  // events change its elements after the last full apply.
  static const InterfaceView kNone;
  const InterfaceView& view = interfaces_ ? interfaces_->tracker().interfaces() : kNone;
  const filter::DesiredState* applied = interfaces_ ? interfaces_->tracker().applied() : nullptr;
  s.interface_count = view.interfaces.size();
  s.view_complete = view.complete;
  s.view_since = recorder_.view_since();  // from the 5480/5490 events
  s.interfaces = interface_statuses(now ? &now->policy : nullptr, now ? applied : nullptr, view);
  return s;
}

std::string Daemon::status_line() const {
  std::string line = engine_ ? engine_->status() : std::string{"no policy applied"};
  if (interfaces_) line += "; " + interfaces_->status();
  return line;
}

int Daemon::run() {
  const std::string no_change = "exiting; the kernel keeps the rules it had";
  // Signals first: a SIGHUP during start-up must not kill us.
  if (Status s = setup_loop(); !s) return fail(s.error(), no_change);
  if (Status s = make_directories(options_.runtime_dir); !s) return fail(s.error(), no_change);
  if (Status s = open_control(); !s) return fail(s.error(), no_change);

  auto backend = filter::NftBackend::open();
  if (!backend) return fail(backend.error(), no_change);
  backend_ = std::move(backend.value());
  // Subscribe to interface changes, then dump; every full apply compiles
  // from the watcher's view and goes through interfaces_, so it knows what
  // the kernel holds when it sends element updates.
  auto interfaces = InterfaceLoop::open(
      event_.get(), *backend_, *backend_, audit_,
      [this]() -> const policy::Policy* {
        const AppliedPolicy* now = engine_ ? engine_->current() : nullptr;
        return now ? &now->policy : nullptr;
      },
      [this] { notify("STATUS=" + status_line()); });
  if (!interfaces) return fail(interfaces.error(), no_change);
  interfaces_ = std::move(interfaces.value());
  engine_ = std::make_unique<PolicyEngine>(
      *interfaces_, [this] { return interfaces_->view_for_apply(); }, audit_);
  // The daemon applies what root owns only (StrictModes); the cached
  // central policy lives in the state directory.
  engine_->set_sources(SourceOptions{options_.state_dir, true});
  // protect rules: XFRM policies in netpolicyd's priority band, applied
  // before the table and rolled back if it is refused.
  auto xfrm = filter::XfrmBackend::open();
  if (!xfrm) return fail(xfrm.error(), no_change);
  xfrm_ = std::move(xfrm.value());
  engine_->set_xfrm_applier(xfrm_.get());
  // ipsec-sa-missing (5492): ACQUIREs of protected flows left without an SA.
  auto sa_watch = SaMissingWatch::start(event_.get(), audit_, [this]() -> const policy::Policy* {
    const AppliedPolicy* now = engine_ ? engine_->current() : nullptr;
    return now != nullptr ? &now->policy : nullptr;
  });
  if (!sa_watch) return fail(sa_watch.error(), no_change);
  sa_watch_ = std::move(sa_watch.value());

  auto fetcher = CentralFetcher::open(event_.get());
  if (!fetcher) return fail(fetcher.error(), no_change);
  fetcher_ = std::move(fetcher.value());
  runner_ = std::make_unique<ApplyRunner>(
      *engine_, *fetcher_, options_.config, [this](ApplyRunner::Kind kind) { cycle_begins(kind); },
      [this](ApplyRunner::Kind kind, const PolicyEngine::Outcome& outcome) {
        cycle_ends(kind, outcome);
      });

  // Fail closed: a broken policy never deletes what the kernel has. The
  // first policy is applied here when it is local only; a central `url`
  // is fetched in the loop, which already serves the control socket and
  // pings the watchdog meanwhile: READY=1 (started()) or exit 1 follows
  // its outcome, at most the source's timeout later.
  runner_->request(ApplyRunner::Kind::start);
  if (start_failed_) return 1;

  int r = sd_event_loop(event_.get());
  if (r < 0) {
    return fail(errno_error("Failed to run the event loop", -r),
                "exiting; the rules stay in the kernel");
  }
  return r;
}

void Daemon::reload(const signalfd_siginfo& si) {
  request_reload(fmt::format("SIGHUP from pid {}", si.ssi_pid));
}

void Daemon::request_reload(const std::string& who, ApplyRunner::Waiter waiter) {
  AuditRecord req{Event::reload_requested,
                  fmt::format("Reload of policy {} requested ({})", options_.config, who),
                  {}};
  req.add(Field::policy_path, options_.config).add(Field::reason, who);
  audit_.record(req);
  runner_->request(ApplyRunner::Kind::reload, std::move(waiter));
}

void Daemon::cycle_begins(ApplyRunner::Kind kind) {
  if (kind != ApplyRunner::Kind::reload) return;
  notify(fmt::format("RELOADING=1\nMONOTONIC_USEC={}\nSTATUS=reloading policy {}", monotonic_usec(),
                     options_.config));
}

void Daemon::cycle_ends(ApplyRunner::Kind kind, const PolicyEngine::Outcome& outcome) {
  switch (kind) {
    case ApplyRunner::Kind::start:
      if (outcome.applied) {
        started();
        return;
      }
      notify("STATUS=start failed: " + outcome.reason);
      start_failed_ = true;
      runner_->stop("netpolicyd could not start: " + outcome.reason);
      sd_event_exit(event_.get(), 1);
      return;
    case ApplyRunner::Kind::reload:
      arm_poll();
      if (outcome.applied)
        notify("READY=1\nSTATUS=" + status_line());
      else
        notify("READY=1\nSTATUS=reload failed: " + outcome.reason + "; previous policy kept");
      return;
    case ApplyRunner::Kind::poll:
      if (outcome.applied && outcome.reason != "unchanged")
        notify("STATUS=" + engine_->status());
      arm_poll();
      return;
  }
}

void Daemon::started() {
  // The policy's netlink_receive_buffer, before READY=1.
  interfaces_->apply_settings();

  notify("READY=1\nSTATUS=" + status_line());
  arm_poll();
  const AppliedPolicy& now = *engine_->current();
  AuditRecord rec{Event::service_started, "netpolicyd started: " + status_line(), {}};
  rec.add(Field::policy_path, now.policy.path)
      .add(Field::policy_source, now.source)
      .add(Field::policy_sha256, now.policy.sha256)
      .add(Field::rules, std::to_string(now.policy.rules.size()))
      .add(Field::interfaces, std::to_string(now.interfaces));
  audit_.record(rec);
}

void Daemon::stop(const signalfd_siginfo& si) {
  notify("STOPPING=1");
  const char* name = sigabbrev_np(static_cast<int>(si.ssi_signo));
  const AppliedPolicy* now = engine_ ? engine_->current() : nullptr;
  std::string table = now ? now->state.table.name : std::string{"netpolicy"};
  AuditRecord rec{
      Event::service_stopped,
      fmt::format("netpolicyd stopping on SIG{}; the rules stay in the kernel", name ? name : "?"),
      {}};
  rec.add(Field::policy_path, now ? now->policy.path : options_.config)
      .add(Field::policy_sha256, now ? now->policy.sha256 : std::string{})
      .add(Field::reason, fmt::format("SIG{} from pid {}", name ? name : "?", si.ssi_pid))
      .add(Field::action_taken, "left table inet " + table + " in the kernel");
  audit_.record(rec);
  // A fetch under way is aborted (its handles freed); a held reload reply
  // says why it did not happen.
  if (runner_) runner_->stop(fmt::format("netpolicyd is stopping (SIG{})", name ? name : "?"));
  sd_event_exit(event_.get(), 0);
}

void Daemon::arm_poll() {
  const AppliedPolicy* now = engine_ ? engine_->current() : nullptr;
  if (now == nullptr || !now->policy.central) {
    poll_timer_.reset();
    return;
  }
  const std::uint64_t usec = now->policy.central->interval_seconds * 1'000'000u;
  if (poll_timer_) {
    // Already armed: keep the period it runs at, change it if it changed.
    sd_event_source_set_time_relative(poll_timer_.get(), usec);
    sd_event_source_set_enabled(poll_timer_.get(), SD_EVENT_ONESHOT);
    return;
  }
  sd_event_source* source = nullptr;
  if (int r = sd_event_add_time_relative(event_.get(), &source, CLOCK_MONOTONIC, usec, 0,
                                         &Daemon::on_poll, this);
      r < 0) {
    std::cerr << "netpolicyd: Failed to arm the central policy timer: " << std::strerror(-r)
              << std::endl;
    return;
  }
  poll_timer_.reset(source);
}

int Daemon::on_poll(sd_event_source*, std::uint64_t, void* userdata) {
  // Dropped while another apply runs; its end re-arms the timer.
  static_cast<Daemon*>(userdata)->runner_->request(ApplyRunner::Kind::poll);
  return 0;
}

int Daemon::on_reload_signal(sd_event_source*, const signalfd_siginfo* si, void* userdata) {
  static_cast<Daemon*>(userdata)->reload(*si);
  return 0;
}

int Daemon::on_stop_signal(sd_event_source*, const signalfd_siginfo* si, void* userdata) {
  static_cast<Daemon*>(userdata)->stop(*si);
  return 0;
}

}  // namespace

int run_daemon(const DaemonOptions& options) {
  JournalSink sink;
  Daemon daemon{options, sink};
  return daemon.run();
}

int run_check(const std::string& path) {
  CheckReport report = check_policy_file(path);
  if (!report.ok()) {
    for (const auto& d : report.diagnostics) std::cerr << d.to_string() << '\n';
    return 1;
  }
  std::cout << report.summary() << '\n';
  return 0;
}

}  // namespace netpolicy::daemon
