// The central policy path of the engine (begin_file / finish_file with
// canned fetch results: events, cache, stored validators across a
// "restart") and the runner that keeps one apply at a time (a fake fetcher
// finishes each GET when the test says so).
#include "daemon/central_runner.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/central_cache.h"
#include "tests/unit/daemon/recording_sink.h"

namespace netpolicy::daemon {
namespace {

using netpolicy::daemon::testing::RecordingSink;

class FakeApplier final : public filter::RulesetApplier {
 public:
  Status replace_table(const filter::DesiredState&) override {
    ++replaced;
    return Ok{};
  }
  int replaced = 0;
};


// Finishes a GET only when the test calls finish().
class FakeFetcher final : public AsyncFetcher {
 public:
  Status start(const policy::CentralSource& source, const Validators& validators,
               Done done) override {
    if (refuse) return errno_error("Failed to create a libcurl handle", ENOMEM);
    if (done_) return errno_error("busy", EBUSY);
    ++starts;
    last_source = source;
    last_validators = validators;
    done_ = std::move(done);
    return Ok{};
  }
  void cancel() override {
    if (done_) ++cancels;
    done_ = nullptr;
  }
  [[nodiscard]] bool busy() const override { return static_cast<bool>(done_); }
  void finish(FetchResult result) {
    ASSERT_TRUE(done_) << "no GET under way";
    Done done = std::move(done_);
    done_ = nullptr;
    done(std::move(result));
  }

  int starts = 0;
  int cancels = 0;
  bool refuse = false;
  policy::CentralSource last_source;
  Validators last_validators;

 private:
  Done done_;
};

constexpr const char* kCentralA =
    "version: 1\nrules:\n  - {name: central-a, direction: in, protocol: tcp, ports: [2222], "
    "action: allow}\n";
constexpr const char* kCentralB =
    "version: 1\nrules:\n  - {name: central-b, direction: in, protocol: tcp, ports: [2223], "
    "action: allow}\n";

FetchResult fetched(const std::string& body, const std::string& etag) {
  FetchResult r;
  r.kind = FetchResult::Kind::fetched;
  r.body = body;
  r.etag = etag;
  r.last_modified = "Sun, 22 Nov 2026 23:00:00 GMT";
  return r;
}
FetchResult not_modified() {
  FetchResult r;
  r.kind = FetchResult::Kind::not_modified;
  return r;
}

class CentralTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (std::filesystem::temp_directory_path() / "np-central-XXXXXX").string();
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
    path_ = dir_ + "/policy.yaml";
    state_ = dir_ + "/state";
    url_ = "http://192.0.2.1:8080/central.yaml";
    std::ofstream(path_) << "version: 1\nsources:\n  central: {url: \"" << url_
                         << "\", interval: 60s, timeout: 3s}\nzones:\n"
                            "  - {name: lan, interfaces: [\"veth*\"]}\nrules:\n"
                            "  - {name: local-open, direction: in, protocol: tcp, ports: [2224], "
                            "action: allow}\n";
    view_.interfaces = {{"lo", 1, {}}, {"veth0", 2, {}}};
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A new engine over the same state directory: a daemon restart.
  std::unique_ptr<PolicyEngine> restart() {
    sink_.records.clear();
    auto engine = std::make_unique<PolicyEngine>(
        applier_, [this]() -> Result<InterfaceView> { return view_; }, sink_, diag_);
    engine->set_sources(SourceOptions{state_, false});
    return engine;
  }

  // begin_file, which must ask for a GET.
  PolicyEngine::PendingApply begin(PolicyEngine& engine, bool poll = false) {
    auto begun = engine.begin_file(path_, poll);
    EXPECT_TRUE(std::holds_alternative<PolicyEngine::PendingApply>(begun));
    return std::get<PolicyEngine::PendingApply>(std::move(begun));
  }

  std::string dir_, path_, state_, url_;
  FakeApplier applier_;
  RecordingSink sink_;
  std::ostringstream diag_;
  InterfaceView view_;
};

TEST_F(CentralTest, EngineIsUnchangedUntilTheFetchEnds) {
  auto engine = restart();
  auto pending = begin(*engine);
  EXPECT_EQ(pending.source.url, url_);
  EXPECT_TRUE(pending.validators.empty());  // nothing stored yet
  EXPECT_EQ(engine->current(), nullptr);
  EXPECT_EQ(applier_.replaced, 0);
  EXPECT_TRUE(sink_.records.empty());

  auto outcome = engine->finish_file(std::move(pending), fetched(kCentralA, "\"a\""));
  ASSERT_TRUE(outcome.applied) << outcome.reason << diag_.str();
  EXPECT_EQ(sink_.events(), std::vector<Event>{Event::central_policy_applied});
  EXPECT_EQ(engine->current()->source, "central");
  EXPECT_EQ(engine->current()->policy.rules.front().name, "central-a");

  auto stored = read_central_validators(state_);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->url, url_);
  EXPECT_EQ(stored->etag, "\"a\"");
  EXPECT_EQ(stored->last_modified, "Sun, 22 Nov 2026 23:00:00 GMT");
  auto cache = read_central_cache(state_);
  ASSERT_TRUE(std::holds_alternative<CachedPolicy>(cache));
  EXPECT_EQ(std::get<CachedPolicy>(cache).sha256, stored->cache_sha256);

  // The next GET in the same run is conditional on what it holds.
  pending = begin(*engine, true);
  EXPECT_EQ(pending.validators.etag, "\"a\"");
  outcome = engine->finish_file(std::move(pending), not_modified());
  EXPECT_TRUE(outcome.applied);
  EXPECT_EQ(outcome.reason, "unchanged");
  EXPECT_EQ(sink_.records.back().event, Event::policy_unchanged);
}

TEST_F(CentralTest, RestartSendsAConditionalGetAndA304AppliesTheCache) {
  auto engine = restart();
  ASSERT_TRUE(engine->finish_file(begin(*engine), fetched(kCentralA, "\"a\"")).applied);
  const std::string sha = engine->current()->policy.sha256;

  engine = restart();
  auto pending = begin(*engine);
  EXPECT_EQ(pending.validators.etag, "\"a\"");
  EXPECT_EQ(pending.validators.last_modified, "Sun, 22 Nov 2026 23:00:00 GMT");
  auto outcome = engine->finish_file(std::move(pending), not_modified());
  ASSERT_TRUE(outcome.applied) << outcome.reason << diag_.str();
  EXPECT_EQ(sink_.events(), std::vector<Event>{Event::central_policy_applied});
  EXPECT_EQ(sink_.field(Event::central_policy_applied, Field::policy_source), "central");
  EXPECT_EQ(engine->current()->policy.sha256, sha);
}

TEST_F(CentralTest, ACorruptCacheMeansAnUnconditionalGet) {
  auto engine = restart();
  ASSERT_TRUE(engine->finish_file(begin(*engine), fetched(kCentralA, "\"a\"")).applied);
  std::ofstream(central_cache_path(state_), std::ios::app) << "# appended\n";

  engine = restart();
  auto pending = begin(*engine);
  EXPECT_TRUE(pending.validators.empty());
  // And a 304 to it (a confused server) is not taken for the damaged copy.
  auto outcome = engine->finish_file(std::move(pending), not_modified());
  EXPECT_FALSE(outcome.applied);
  EXPECT_EQ(sink_.events(),
            (std::vector<Event>{Event::central_unreachable, Event::cached_policy_failed}));

  // A full answer repairs the cache.
  ASSERT_TRUE(engine->finish_file(begin(*engine), fetched(kCentralA, "\"a\"")).applied);
  auto cache = read_central_cache(state_);
  ASSERT_TRUE(std::holds_alternative<CachedPolicy>(cache));
  EXPECT_EQ(std::get<CachedPolicy>(cache).text, kCentralA);
}

TEST_F(CentralTest, ValidatorsOfAnotherUrlOrCopyAreNotSent) {
  auto engine = restart();
  ASSERT_TRUE(engine->finish_file(begin(*engine), fetched(kCentralA, "\"a\"")).applied);
  auto stored = *read_central_validators(state_);

  stored.url = "http://192.0.2.9/other.yaml";
  ASSERT_TRUE(write_central_validators(state_, stored));
  engine = restart();
  EXPECT_TRUE(begin(*engine).validators.empty());

  stored.url = url_;
  stored.cache_sha256 = std::string(64, '0');
  ASSERT_TRUE(write_central_validators(state_, stored));
  engine = restart();
  EXPECT_TRUE(begin(*engine).validators.empty());
}

TEST_F(CentralTest, A304RepairsACacheDamagedWhileRunning) {
  auto engine = restart();
  ASSERT_TRUE(engine->finish_file(begin(*engine), fetched(kCentralA, "\"a\"")).applied);
  std::ofstream(central_cache_path(state_), std::ios::trunc) << "garbage";
  ASSERT_TRUE(engine->finish_file(begin(*engine, true), not_modified()).applied);
  auto cache = read_central_cache(state_);
  ASSERT_TRUE(std::holds_alternative<CachedPolicy>(cache)) << diag_.str();
  EXPECT_EQ(std::get<CachedPolicy>(cache).text, kCentralA);
  EXPECT_NE(diag_.str().find("replacing the damaged central policy cache"), std::string::npos);
}

TEST_F(CentralTest, UnreachableUsesTheCacheAndABrokenOneKeepsThePolicy) {
  auto engine = restart();
  ASSERT_TRUE(engine->finish_file(begin(*engine), fetched(kCentralA, "\"a\"")).applied);
  sink_.records.clear();
  auto outcome = engine->finish_file(
      begin(*engine), fetch_unreachable(url_, "Couldn't connect to server", ECONNREFUSED));
  EXPECT_TRUE(outcome.applied);
  EXPECT_EQ(sink_.events(),
            (std::vector<Event>{Event::central_unreachable, Event::cached_policy_applied}));
  EXPECT_EQ(sink_.field(Event::central_unreachable, Field::error_code),
            std::to_string(ECONNREFUSED));
  EXPECT_EQ(engine->current()->source, "cache");

  sink_.records.clear();
  const int replaced = applier_.replaced;
  outcome = engine->finish_file(begin(*engine), fetched("version: 1\nbogus: 1\n", "\"x\""));
  EXPECT_FALSE(outcome.applied);
  EXPECT_EQ(sink_.events(), std::vector<Event>{Event::central_policy_failed});
  EXPECT_EQ(applier_.replaced, replaced);
  EXPECT_EQ(engine->current()->source, "cache");
  // The stored validators still name the last good copy.
  EXPECT_EQ(read_central_validators(state_)->etag, "\"a\"");
}

TEST_F(CentralTest, UrlFetcherServesApplyFile) {
  auto engine = restart();
  int calls = 0;
  engine->set_url_fetcher([&](const policy::CentralSource& s, const Validators& v) {
    ++calls;
    EXPECT_EQ(s.url, url_);
    return v.empty() ? fetched(kCentralA, "\"a\"") : not_modified();
  });
  ASSERT_TRUE(engine->apply_file(path_).applied);
  EXPECT_EQ(engine->poll_file(path_).reason, "unchanged");
  EXPECT_EQ(calls, 2);
}

// ---- the runner ----------------------------------------------------------------

struct Trace {
  std::vector<std::string> lines;
  void add(std::string s) { lines.push_back(std::move(s)); }
};

const char* kind_name(ApplyRunner::Kind k) {
  switch (k) {
    case ApplyRunner::Kind::start: return "start";
    case ApplyRunner::Kind::reload: return "reload";
    case ApplyRunner::Kind::poll: return "poll";
  }
  return "?";
}

class RunnerTest : public CentralTest {
 protected:
  void SetUp() override {
    CentralTest::SetUp();
    engine_ = restart();
    runner_ = std::make_unique<ApplyRunner>(
        *engine_, fetcher_, path_,
        [this](ApplyRunner::Kind k) { trace_.add(std::string{"begin "} + kind_name(k)); },
        [this](ApplyRunner::Kind k, const PolicyEngine::Outcome& o) {
          trace_.add(std::string{"end "} + kind_name(k) + (o.applied ? " ok" : " failed"));
        });
  }
  ApplyRunner::Waiter waiter(std::string name) {
    return [this, name](const PolicyEngine::Outcome& o) {
      trace_.add(name + (o.applied ? " ok" : " failed: " + o.reason));
    };
  }

  FakeFetcher fetcher_;
  std::unique_ptr<PolicyEngine> engine_;
  std::unique_ptr<ApplyRunner> runner_;
  Trace trace_;
};

TEST_F(RunnerTest, ReloadsDuringAFetchShareOneQueuedCycle) {
  runner_->request(ApplyRunner::Kind::start);
  EXPECT_TRUE(runner_->fetching());
  runner_->request(ApplyRunner::Kind::reload, waiter("r1"));
  runner_->request(ApplyRunner::Kind::poll);  // dropped
  runner_->request(ApplyRunner::Kind::reload, waiter("r2"));
  EXPECT_EQ(fetcher_.starts, 1);  // never two at once
  EXPECT_EQ(trace_.lines, std::vector<std::string>{"begin start"});

  fetcher_.finish(fetched(kCentralA, "\"a\""));
  // The queued cycle began at once, with the validators just stored.
  EXPECT_EQ(fetcher_.starts, 2);
  EXPECT_EQ(fetcher_.last_validators.etag, "\"a\"");
  EXPECT_EQ(trace_.lines, (std::vector<std::string>{"begin start", "end start ok", "begin reload"}));

  fetcher_.finish(fetched(kCentralB, "\"b\""));
  EXPECT_EQ(trace_.lines, (std::vector<std::string>{"begin start", "end start ok", "begin reload",
                                                    "end reload ok", "r1 ok", "r2 ok"}));
  EXPECT_FALSE(runner_->running());
  EXPECT_EQ(fetcher_.starts, 2);
  EXPECT_EQ(engine_->current()->policy.rules.front().name, "central-b");
}

TEST_F(RunnerTest, PollWhileIdleRunsAndReportsUnchanged) {
  runner_->request(ApplyRunner::Kind::start);
  fetcher_.finish(fetched(kCentralA, "\"a\""));
  runner_->request(ApplyRunner::Kind::poll);
  EXPECT_TRUE(runner_->fetching());
  fetcher_.finish(not_modified());
  EXPECT_EQ(trace_.lines.back(), "end poll ok");
  EXPECT_EQ(sink_.records.back().event, Event::policy_unchanged);
}

TEST_F(RunnerTest, StopAbortsTheFetchAndAnswersEveryWaiter) {
  runner_->request(ApplyRunner::Kind::start);
  fetcher_.finish(fetched(kCentralA, "\"a\""));
  runner_->request(ApplyRunner::Kind::reload, waiter("r1"));
  runner_->request(ApplyRunner::Kind::reload, waiter("r2"));
  ASSERT_TRUE(fetcher_.busy());
  const std::size_t events = sink_.records.size();

  runner_->stop("netpolicyd is stopping (SIGTERM)");
  EXPECT_EQ(fetcher_.cancels, 1);
  EXPECT_FALSE(fetcher_.busy());
  EXPECT_FALSE(runner_->running());
  EXPECT_EQ(trace_.lines.back(), "r2 failed: netpolicyd is stopping (SIGTERM)");
  EXPECT_EQ(trace_.lines[trace_.lines.size() - 2], "r1 failed: netpolicyd is stopping (SIGTERM)");
  EXPECT_EQ(sink_.records.size(), events);  // the engine was not asked to finish

  runner_->request(ApplyRunner::Kind::reload, waiter("r3"));
  EXPECT_EQ(trace_.lines.back(), "r3 failed: netpolicyd is stopping (SIGTERM)");
  EXPECT_EQ(fetcher_.starts, 2);
}

TEST_F(RunnerTest, AFetchThatCannotStartIsAnUnreachableSource) {
  fetcher_.refuse = true;
  runner_->request(ApplyRunner::Kind::start, waiter("s"));
  EXPECT_FALSE(runner_->running());
  // No cache yet: the local policy alone, after 5466.
  EXPECT_EQ(trace_.lines.back(), "s ok");
  EXPECT_EQ(sink_.events(),
            (std::vector<Event>{Event::central_unreachable, Event::policy_applied}));
  EXPECT_NE(sink_.field(Event::central_unreachable, Field::reason).find("libcurl handle"),
            std::string::npos);
}

TEST_F(RunnerTest, ALocalPolicyFinishesInsideTheRequest) {
  std::ofstream(path_, std::ios::trunc)
      << "version: 1\nrules:\n  - {name: a, direction: in, protocol: tcp, ports: [22], "
         "action: allow}\n";
  runner_->request(ApplyRunner::Kind::reload, waiter("r"));
  EXPECT_EQ(trace_.lines, (std::vector<std::string>{"begin reload", "end reload ok", "r ok"}));
  EXPECT_EQ(fetcher_.starts, 0);
}

TEST_F(RunnerTest, DestroyingTheRunnerCancelsItsFetch) {
  runner_->request(ApplyRunner::Kind::start);
  ASSERT_TRUE(fetcher_.busy());
  runner_.reset();
  EXPECT_EQ(fetcher_.cancels, 1);
}

}  // namespace
}  // namespace netpolicy::daemon
