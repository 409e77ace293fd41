// The router's metrics: event counters and histograms (RouterMetrics), the gauges read at scrape
// time (LiveMetrics) and the counting InboundSink (MeteredSink).
#include <gtest/gtest.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <atomic>
#include <future>
#include <map>
#include <optional>

#include "metrics/live_metrics.h"
#include "metrics/metered_sink.h"
#include "metrics/router_metrics.h"
#include "store/memory_store.h"
#include "support/manual_clock.h"
#include "support/process.h"
#include "support/store_builders.h"

namespace itk {
namespace {

using namespace std::chrono_literals;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::map<std::string, std::string>;

const char* kCda = "urn:nhs-itk:services:201005:SendCDADocument-v2-0";
const char* kGlobbed = "urn:nhs-itk:services:201005:getPatientDetails-v1-0";

// One series of a scrape: a counter's or gauge's value, or a histogram's sample count (and sum
// through `sum`). nullopt when the family or the series is absent.
std::optional<double> valueOf(const std::vector<MetricFamily>& families, const std::string& name,
                              const Labels& labels = {}, double* sum = nullptr) {
  for (const MetricFamily& f : families) {
    if (f.name != name) continue;
    for (const auto& m : f.metric) {
      Labels have;
      for (const auto& l : m.label) have[l.name] = l.value;
      if (have != labels) continue;
      switch (f.type) {
        case MetricType::Counter:
          return m.counter.value;
        case MetricType::Gauge:
          return m.gauge.value;
        case MetricType::Histogram:
          if (sum) *sum = m.histogram.sample_sum;
          return static_cast<double>(m.histogram.sample_count);
        default:
          return std::nullopt;
      }
    }
  }
  return std::nullopt;
}

bool hasFamily(const std::vector<MetricFamily>& families, const std::string& name) {
  for (const MetricFamily& f : families)
    if (f.name == name) return true;
  return false;
}

Route route(std::string name, FieldMatch service, bool reject = false) {
  Route r;
  r.name = std::move(name);
  r.service = std::move(service);
  r.reject = reject;
  r.endpoint = reject ? "" : "archive";
  return r;
}

RoutingTablePtr table(std::vector<Route> routes, std::string version = "2026-01-01.1") {
  EndpointSpec archive;
  archive.name = "archive";
  archive.transport = "loopback";
  return std::make_shared<const RoutingTable>(std::move(routes), std::vector{archive},
                                              std::move(version), "c0ffee");
}

class RouterMetricsTest : public ::testing::Test {
 protected:
  RouterMetricsTest() {
    routing_.publish(table({route("cda", FieldMatch::exact(kCda)),
                            route("pds", FieldMatch::glob("urn:nhs-itk:services:201005:get*"))}));
  }

  std::vector<MetricFamily> scrape() const { return registry_.Collect(); }

  test::ManualClock clock_;
  prometheus::Registry registry_;
  RoutingTableHolder routing_;
  RouterMetrics metrics_{registry_, routing_};
};

TEST_F(RouterMetricsTest, ReceivedMessagesCountByTransportServiceAndOutcome) {
  metrics_.received("soap", kCda, AcceptOutcome::Kind::kAccepted);
  metrics_.received("soap", kCda, AcceptOutcome::Kind::kAccepted);
  metrics_.received("soap", kCda, AcceptOutcome::Kind::kDuplicate);
  metrics_.received("mesh", kCda, AcceptOutcome::Kind::kBusy);
  metrics_.unreadable("mesh");
  auto s = scrape();
  EXPECT_EQ(valueOf(s, "itk_messages_received_total",
                    {{"transport", "soap"}, {"service", kCda}, {"outcome", "accepted"}}),
            2);
  EXPECT_EQ(valueOf(s, "itk_messages_received_total",
                    {{"transport", "soap"}, {"service", kCda}, {"outcome", "duplicate"}}),
            1);
  EXPECT_EQ(valueOf(s, "itk_messages_received_total",
                    {{"transport", "mesh"}, {"service", kCda}, {"outcome", "busy"}}),
            1);
  EXPECT_EQ(valueOf(s, "itk_messages_unreadable_total", {{"transport", "mesh"}}), 1);
}

TEST_F(RouterMetricsTest, OnlyServicesTheTableNamesExactlyBecomeLabelValues) {
  // A peer can send any service text: unnamed services (matched by a glob, or by nothing) share
  // one label value, so the series stay bounded.
  EXPECT_EQ(metrics_.serviceLabel(kCda), kCda);
  EXPECT_EQ(metrics_.serviceLabel(kGlobbed), "other");
  EXPECT_EQ(metrics_.serviceLabel("urn:made-up:by-a-peer:1"), "other");
  // The table is read again once a new one is published.
  routing_.publish(table({route("pds", FieldMatch::exact(kGlobbed))}));
  EXPECT_EQ(metrics_.serviceLabel(kCda), "other");
  EXPECT_EQ(metrics_.serviceLabel(kGlobbed), kGlobbed);
}

TEST_F(RouterMetricsTest, AttemptsCountByRouteAndOutcomeWithEndToEndLatency) {
  DeliveryTask task;
  task.route = "cda";
  task.created_at = clock_.now();
  AttemptRecord retry = test::outcome(1, AttemptRecord::Next::kRetry, clock_.now() + 5s);
  metrics_.attempt(task, retry);
  AttemptRecord delivered = test::outcome(1, AttemptRecord::Next::kDelivered, clock_.now() + 90s);
  delivered.expect_acks = {{AckKind::kInfrastructure, clock_.now() + 1h},
                           {AckKind::kBusiness, clock_.now() + 24h}};
  metrics_.attempt(task, delivered);
  metrics_.attempt(task, test::outcome(2, AttemptRecord::Next::kDeadLetter, clock_.now()));
  metrics_.rejected("");
  metrics_.rejected("blocked");

  auto s = scrape();
  EXPECT_EQ(valueOf(s, "itk_deliveries_total", {{"route", "cda"}, {"outcome", "retry"}}), 1);
  EXPECT_EQ(valueOf(s, "itk_deliveries_total", {{"route", "cda"}, {"outcome", "delivered"}}), 1);
  EXPECT_EQ(valueOf(s, "itk_deliveries_total", {{"route", "cda"}, {"outcome", "dead_letter"}}), 1);
  EXPECT_EQ(valueOf(s, "itk_deliveries_total", {{"route", "(none)"}, {"outcome", "rejected"}}), 1);
  EXPECT_EQ(valueOf(s, "itk_deliveries_total", {{"route", "blocked"}, {"outcome", "rejected"}}), 1);
  double sum = 0;
  EXPECT_EQ(valueOf(s, "itk_end_to_end_latency_seconds", {{"route", "cda"}}, &sum), 1);
  EXPECT_DOUBLE_EQ(sum, 90);
  EXPECT_EQ(valueOf(s, "itk_acks_expected_total", {{"kind", "infrastructure"}}), 1);
  EXPECT_EQ(valueOf(s, "itk_acks_expected_total", {{"kind", "business"}}), 1);
}

TEST_F(RouterMetricsTest, DeadLettersCountByRouteAndCause) {
  DeliveryTask task;
  task.route = "cda";
  task.cause = DeadLetterCause::kAttemptsExhausted;
  metrics_.deadLettered(task);
  task.route = "";
  task.cause = DeadLetterCause::kUnroutable;
  metrics_.deadLettered(task);
  auto s = scrape();
  EXPECT_EQ(
      valueOf(s, "itk_dead_letters_total", {{"route", "cda"}, {"cause", "attempts-exhausted"}}), 1);
  EXPECT_EQ(valueOf(s, "itk_dead_letters_total", {{"route", "(none)"}, {"cause", "unroutable"}}),
            1);
}

TEST_F(RouterMetricsTest, AcknowledgementsByKindWithLatencyAndTimeouts) {
  // Counters alerts divide by exist before the first event.
  EXPECT_EQ(valueOf(scrape(), "itk_acks_timed_out_total", {{"kind", "business"}}), 0);
  PendingAck ack;
  ack.kind = AckKind::kInfrastructure;
  ack.created_at = clock_.now();
  ack.resolved_at = clock_.now() + 2500ms;
  ack.positive = true;
  metrics_.ackResolved(ack);
  ack.positive = false;
  metrics_.ackResolved(ack);
  ack.kind = AckKind::kBusiness;
  metrics_.ackTimedOut(ack);
  auto s = scrape();
  EXPECT_EQ(
      valueOf(s, "itk_acks_received_total", {{"kind", "infrastructure"}, {"result", "positive"}}),
      1);
  EXPECT_EQ(
      valueOf(s, "itk_acks_received_total", {{"kind", "infrastructure"}, {"result", "negative"}}),
      1);
  double sum = 0;
  EXPECT_EQ(valueOf(s, "itk_ack_latency_seconds", {{"kind", "infrastructure"}}, &sum), 2);
  EXPECT_DOUBLE_EQ(sum, 5);
  EXPECT_EQ(valueOf(s, "itk_acks_timed_out_total", {{"kind", "business"}}), 1);
}

TEST_F(RouterMetricsTest, StoreCommitsObserveLatencyAndGroupSizeAndCountFailures) {
  metrics_.commit({12, 3ms, true});
  metrics_.commit({1, 1ms, true});
  metrics_.commit({40, 9ms, false});
  auto s = scrape();
  double sum = 0;
  EXPECT_EQ(valueOf(s, "itk_store_commit_group_size", {}, &sum), 2);
  EXPECT_DOUBLE_EQ(sum, 13);
  EXPECT_EQ(valueOf(s, "itk_store_commit_seconds", {}, &sum), 2);
  EXPECT_NEAR(sum, 0.004, 1e-9);
  EXPECT_EQ(valueOf(s, "itk_store_commit_failures_total"), 1);
}

TEST_F(RouterMetricsTest, ReloadsCountByOutcomeAndAFailingTableIsFlagged) {
  ReloadOutcome o;
  o.kind = ReloadOutcome::Kind::kFailed;
  metrics_.reload(o);
  auto s = scrape();
  EXPECT_EQ(valueOf(s, "itk_routing_reloads_total", {{"outcome", "failed"}}), 1);
  EXPECT_EQ(valueOf(s, "itk_routing_reloads_total", {{"outcome", "loaded"}}), 0);
  EXPECT_EQ(valueOf(s, "itk_routing_reload_failing"), 1);
  o.kind = ReloadOutcome::Kind::kLoaded;
  metrics_.reload(o);
  s = scrape();
  EXPECT_EQ(valueOf(s, "itk_routing_reloads_total", {{"outcome", "loaded"}}), 1);
  EXPECT_EQ(valueOf(s, "itk_routing_reload_failing"), 0);
}

// ---- LiveMetrics --------------------------------------------------------------------------------

class LiveMetricsTest : public ::testing::Test {
 protected:
  LiveMetricsTest() {
    StoreConfig config;
    config.backend = StoreBackend::kMemory;
    store_ = std::make_unique<MemoryStore>(config);
    routing_.publish(
        table({route("cda", FieldMatch::exact(kCda)), route("idle", FieldMatch::exact(kGlobbed)),
               route("blocked", FieldMatch::any(), /*reject=*/true)}));
  }

  LiveSources sources() {
    LiveSources s;
    s.statistics = [this] { return store_->statistics(); };
    s.store_health = [this] { return store_->health(); };
    s.routing = &routing_;
    return s;
  }

  test::ManualClock clock_;
  std::unique_ptr<MemoryStore> store_;
  RoutingTableHolder routing_;
};

TEST_F(LiveMetricsTest, QueueGaugesComeFromTheStoreAtScrapeTime) {
  const TimePoint t0 = clock_.now();
  ASSERT_TRUE(
      test::acceptNow(*store_, test::makeRequest(test::makeMessage("T-1", t0),
                                                 {test::makeDelivery(t0, "archive", "cda")}))
          .ok());
  clock_.advance(30s);
  NewDelivery unroutable = test::makeDelivery(clock_.now(), "", "");
  unroutable.initial_state = DeliveryState::kDeadLetter;
  unroutable.cause = DeadLetterCause::kUnroutable;
  ASSERT_TRUE(test::acceptNow(*store_,
                              test::makeRequest(
                                  test::makeMessage("T-2", clock_.now()),
                                  {test::makeDelivery(clock_.now(), "archive", "cda"), unroutable}))
                  .ok());
  clock_.advance(15s);

  LiveMetrics live(sources(), clock_);
  auto s = live.Collect();
  EXPECT_EQ(valueOf(s, "itk_queue_depth", {{"route", "cda"}}), 2);
  EXPECT_EQ(valueOf(s, "itk_queue_in_flight", {{"route", "cda"}}), 0);
  EXPECT_EQ(valueOf(s, "itk_queue_oldest_age_seconds", {{"route", "cda"}}), 45);
  EXPECT_EQ(valueOf(s, "itk_dead_letters", {{"route", "cda"}}), 0);
  // A route of the running table with nothing queued reads 0 rather than no data; reject
  // routes queue nothing and have no series.
  EXPECT_EQ(valueOf(s, "itk_queue_depth", {{"route", "idle"}}), 0);
  EXPECT_EQ(valueOf(s, "itk_queue_oldest_age_seconds", {{"route", "idle"}}), 0);
  EXPECT_EQ(valueOf(s, "itk_queue_depth", {{"route", "blocked"}}), std::nullopt);
  EXPECT_EQ(valueOf(s, "itk_dead_letters", {{"route", "(none)"}}), 1);
  EXPECT_EQ(valueOf(s, "itk_dead_letters_unnotified"), 1);
  EXPECT_EQ(valueOf(s, "itk_store_healthy"), 1);
  EXPECT_EQ(valueOf(s, "itk_store_statistics_failures_total"), 0);
  EXPECT_TRUE(valueOf(s, "itk_store_statistics_age_seconds"));

  // The next scrape sees the store as it is then.
  auto claimed = test::claimNow(*store_, clock_.now());
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->tasks.size(), 2u);
  ASSERT_TRUE(test::recordNow(*store_, test::outcome(claimed->tasks[0].delivery_id,
                                                     AttemptRecord::Next::kDelivered, clock_.now()))
                  .ok());
  s = live.Collect();
  EXPECT_EQ(valueOf(s, "itk_queue_depth", {{"route", "cda"}}), 1);
  EXPECT_EQ(valueOf(s, "itk_queue_in_flight", {{"route", "cda"}}), 1);
}

TEST_F(LiveMetricsTest, ASlowStoreDoesNotHoldTheScrape) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  LiveSources s = sources();
  s.statistics = [this, released] {
    released.wait();  // the store is stuck until the test lets it go
    return store_->statistics();
  };
  LiveMetricsOptions options;
  options.store_wait = 100ms;
  LiveMetrics live(s, clock_, options);

  // The scrape returns without the statistics: no queue series rather than made-up empty
  // queues, and everything else as usual.
  auto first = live.Collect();
  EXPECT_FALSE(hasFamily(first, "itk_queue_depth"));
  EXPECT_FALSE(hasFamily(first, "itk_store_statistics_age_seconds"));
  EXPECT_EQ(valueOf(first, "itk_store_healthy"), 1);
  EXPECT_EQ(valueOf(first, "itk_routing_table_version",
                    {{"version", "2026-01-01.1"}, {"checksum", "c0ffee"}}),
            1);

  release.set_value();
  EXPECT_TRUE(test::eventually([&] {
    return valueOf(live.Collect(), "itk_queue_depth", {{"route", "cda"}}) == 0;
  }));
}

TEST_F(LiveMetricsTest, FailedStatisticsAreCountedAndTheLastSampleIsServed) {
  std::atomic<bool> fail{false};
  LiveSources s = sources();
  s.statistics = [this, &fail]() -> Result<StoreStatistics> {
    if (fail) return Status::storeError("disk I/O error");
    return store_->statistics();
  };
  LiveMetrics live(s, clock_);
  EXPECT_EQ(valueOf(live.Collect(), "itk_queue_depth", {{"route", "cda"}}), 0);
  fail = true;
  auto out = live.Collect();
  EXPECT_EQ(valueOf(out, "itk_store_statistics_failures_total"), 1);
  EXPECT_EQ(valueOf(out, "itk_queue_depth", {{"route", "cda"}}), 0);
}

TEST_F(LiveMetricsTest, TransportsRoutingTableAndUnmatchedAcks) {
  LiveSources s;
  s.routing = &routing_;
  s.transports = [] {
    return std::vector<std::pair<std::string, bool>>{{"soap", true}, {"mesh", false}};
  };
  s.acks_unmatched = [] { return uint64_t{3}; };
  LiveMetrics live(s, clock_);
  auto out = live.Collect();
  EXPECT_EQ(valueOf(out, "itk_transport_up", {{"transport", "soap"}}), 1);
  EXPECT_EQ(valueOf(out, "itk_transport_up", {{"transport", "mesh"}}), 0);
  EXPECT_EQ(valueOf(out, "itk_routing_table_version",
                    {{"version", "2026-01-01.1"}, {"checksum", "c0ffee"}}),
            1);
  EXPECT_EQ(valueOf(out, "itk_routing_table_routes"), 3);
  EXPECT_EQ(valueOf(out, "itk_acks_unmatched_total"), 3);
  EXPECT_FALSE(hasFamily(out, "itk_queue_depth"));  // no store given
}

// ---- MeteredSink --------------------------------------------------------------------------------

// Answers each accept with the next scripted outcome; records what it was handed.
class ScriptedSink final : public InboundSink {
 public:
  std::vector<AcceptOutcome::Kind> answers;
  std::vector<std::string> accepted;
  int unreadable = 0;

  void accept(Message message, AcceptCallback done) override {
    accepted.push_back(message.header.tracking_id);
    AcceptOutcome o;
    o.kind = answers.at(accepted.size() - 1);
    done(std::move(o));
  }
  void reportUnreadable(const Origin&, const Status&) override { ++unreadable; }
};

TEST(MeteredSinkTest, CountsWhatTransportsHandOverAndForwardsAll) {
  prometheus::Registry registry;
  RoutingTableHolder routing;
  routing.publish(table({route("cda", FieldMatch::exact(kCda))}));
  RouterMetrics metrics(registry, routing);
  ScriptedSink router;
  router.answers = {AcceptOutcome::Kind::kAccepted, AcceptOutcome::Kind::kRejected};
  MeteredSink sink(router, metrics);

  std::vector<AcceptOutcome::Kind> answered;
  for (const char* id : {"T-1", "T-2"}) {
    Message m = test::makeMessage(id, TimePoint{});
    m.header.service = kCda;
    m.origin.transport = "mesh";
    sink.accept(std::move(m), [&](AcceptOutcome o) { answered.push_back(o.kind); });
  }
  sink.reportUnreadable(Origin{"mesh", "X26", "", "", {}}, Status::invalid("not XML"));

  EXPECT_EQ(router.accepted, (std::vector<std::string>{"T-1", "T-2"}));
  EXPECT_EQ(answered, router.answers);
  EXPECT_EQ(router.unreadable, 1);
  auto s = registry.Collect();
  EXPECT_EQ(valueOf(s, "itk_messages_received_total",
                    {{"transport", "mesh"}, {"service", kCda}, {"outcome", "accepted"}}),
            1);
  EXPECT_EQ(valueOf(s, "itk_messages_received_total",
                    {{"transport", "mesh"}, {"service", kCda}, {"outcome", "rejected"}}),
            1);
  EXPECT_EQ(valueOf(s, "itk_messages_unreadable_total", {{"transport", "mesh"}}), 1);
}

}  // namespace
}  // namespace itk
