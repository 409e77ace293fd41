// DeliveryEngine against the in-memory store, a recording transport and a ManualClock: time only
// moves when a test advances it, and the engine is polled with pollNow() instead of waiting.
#include "delivery/delivery_engine.h"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "store/memory_store.h"
#include "support/manual_clock.h"
#include "support/recording_transport.h"
#include "support/store_builders.h"

namespace itk {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using test::makeDelivery;
using test::makeMessage;
using test::makeRequest;

// The routing table as the engine sees it, editable by the test.
class FakeRoutes final : public DeliveryRoutes {
 public:
  void addEndpoint(const std::string& name, int concurrency) {
    std::lock_guard lock(mu_);
    auto e = std::make_shared<EndpointSpec>();
    e->name = name;
    e->transport = "rec";
    e->max_concurrency = concurrency;
    endpoints_[name] = e;
  }
  void removeEndpoint(const std::string& name) {
    std::lock_guard lock(mu_);
    endpoints_.erase(name);
  }
  void setRoute(const std::string& name, RouteParams params) {
    std::lock_guard lock(mu_);
    routes_[name] = params;
  }
  std::shared_ptr<const EndpointSpec> endpoint(std::string_view name) const override {
    std::lock_guard lock(mu_);
    auto it = endpoints_.find(std::string(name));
    return it == endpoints_.end() ? nullptr : it->second;
  }
  std::vector<std::shared_ptr<const EndpointSpec>> endpoints() const override {
    std::lock_guard lock(mu_);
    std::vector<std::shared_ptr<const EndpointSpec>> out;
    for (const auto& [name, e] : endpoints_) out.push_back(e);
    return out;
  }
  std::optional<RouteParams> route(std::string_view name) const override {
    std::lock_guard lock(mu_);
    auto it = routes_.find(std::string(name));
    if (it == routes_.end()) return std::nullopt;
    return it->second;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<EndpointSpec>> endpoints_;
  std::map<std::string, RouteParams> routes_;
};

RouteParams params() {
  RouteParams p;
  p.retry.max_attempts = 5;
  p.retry.initial_backoff = 1000ms;
  p.retry.max_backoff = 4000ms;
  p.retry.multiplier = 2.0;
  p.retry.jitter = 0.2;
  p.time_to_live = 123s;
  p.timeout = 4567ms;
  return p;
}

class DeliveryEngineTest : public ::testing::Test {
 protected:
  DeliveryEngineTest() : work_(asio::make_work_guard(io_)), transport_(io_) {
    routes_ = std::make_shared<FakeRoutes>();
    routes_->addEndpoint("ep", 8);
    routes_->setRoute("route", params());
    runner_ = std::thread([this] { io_.run(); });
  }

  ~DeliveryEngineTest() override {
    stopEngine();
    work_.reset();
    io_.stop();
    runner_.join();
  }

  DeliveryOptions options() {
    DeliveryOptions o;
    o.idle_poll = 1h;                // the test polls; the timer never does it behind its back
    o.random = [] { return 0.75; };  // jitter factor 1.1
    o.record_retry = 1ms;
    o.ack_timeouts.infrastructure = 600s;
    o.ack_timeouts.business = 2h;
    return o;
  }

  void startEngine(DeliveryOptions o) {
    DeliveryHooks hooks;
    hooks.on_attempt = [this](const DeliveryTask& t, const AttemptRecord& r) {
      {
        std::lock_guard lock(mu_);
        attempts_.push_back({t, r});
      }
      cv_.notify_all();
    };
    hooks.on_dead_letter = [this](const DeadLetterNotice& n, std::function<void()> notified) {
      {
        std::lock_guard lock(mu_);
        notices_.push_back(n);
        if (confirm_notices_) {
          notified();
        } else {
          unconfirmed_.push_back(std::move(notified));
        }
      }
      cv_.notify_all();
    };
    engine_ = std::make_unique<DeliveryEngine>(
        io_, store_, routes_,
        [this](std::string_view type) -> Transport* {
          return type == "rec" ? &transport_ : nullptr;
        },
        clock_, hooks, std::move(o));
    engine_->start();
  }
  void startEngine() { startEngine(options()); }

  void stopEngine() {
    if (!engine_) return;
    transport_.setResponder(
        [](const OutboundMessage&, const std::string&) { return SendResult::delivered(); });
    while (transport_.complete(SendResult::retryable("test over"))) {
    }
    std::promise<void> stopped;
    engine_->stop([&] { stopped.set_value(); });
    stopped.get_future().wait();
    engine_.reset();
  }

  // One poll at the clock's current time; returns how many attempts it started. The engine also
  // polls by itself after each recorded attempt, so a test expecting work waits for its effect
  // (pollUntilSent) rather than counting on this poll to be the one that finds it.
  size_t poll() {
    std::promise<size_t> p;
    engine_->pollNow([&](size_t n) { p.set_value(n); });
    return p.get_future().get();
  }

  bool pollUntilSent(size_t total_sends) {
    poll();
    return transport_.waitForSends(total_sends);
  }
  bool pollUntilAttempts(size_t total_attempts) {
    poll();
    return waitAttempts(total_attempts);
  }

  bool waitAttempts(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 20s, [&] { return attempts_.size() >= n; });
  }
  bool waitNotices(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 20s, [&] { return notices_.size() >= n; });
  }
  AttemptRecord attempt(size_t i) {
    std::lock_guard lock(mu_);
    return attempts_.at(i).second;
  }
  size_t attemptCount() {
    std::lock_guard lock(mu_);
    return attempts_.size();
  }

  int64_t accept(const std::string& tracking_id, NewDelivery d, Message m = {}) {
    if (m.header.tracking_id.empty()) m = makeMessage(tracking_id, clock_.now());
    auto r = test::acceptNow(store_, makeRequest(std::move(m), {std::move(d)}));
    EXPECT_TRUE(r.ok());
    return r->message_id;
  }
  int64_t accept(const std::string& tracking_id) {
    return accept(tracking_id, makeDelivery(clock_.now()));
  }
  DeliveryTask deliveryOf(int64_t message_id) { return store_.deliveriesOf(message_id)->at(0); }

  void respond(SendResult r) {
    transport_.setResponder([r](const OutboundMessage&, const std::string&) { return r; });
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  test::ManualClock clock_;
  MemoryStore store_;
  test::RecordingTransport transport_;
  std::shared_ptr<FakeRoutes> routes_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<DeliveryTask, AttemptRecord>> attempts_;
  std::vector<DeadLetterNotice> notices_;
  bool confirm_notices_ = true;
  std::vector<std::function<void()>> unconfirmed_;
  std::unique_ptr<DeliveryEngine> engine_;
  std::thread runner_;
};

TEST_F(DeliveryEngineTest, DeliversADueMessageAndRecordsIt) {
  respond(SendResult::delivered());
  int64_t id = accept("T-1");
  startEngine();
  ASSERT_TRUE(waitAttempts(1));
  auto sent = transport_.sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].endpoint, "ep");
  EXPECT_EQ(sent[0].message.message->header.tracking_id, "T-1");
  EXPECT_EQ(*sent[0].message.message->body, "<itk:DistributionEnvelope/>");
  EXPECT_EQ(sent[0].message.attempt, 1);
  EXPECT_EQ(sent[0].message.route, "route");
  EXPECT_EQ(sent[0].message.time_to_live, 123s);
  EXPECT_EQ(sent[0].message.timeout, 4567ms);
  EXPECT_EQ(attempt(0).next, AttemptRecord::Next::kDelivered);
  EXPECT_EQ(deliveryOf(id).state, DeliveryState::kDelivered);
  EXPECT_EQ(engine_->inFlight(), 0u);
}

TEST_F(DeliveryEngineTest, RetriesFollowExponentialBackoffWithJitterAndCap) {
  respond(SendResult::retryable("HTTP 503"));
  int64_t id = accept("T-backoff");
  startEngine();
  // Delays 1 s, 2 s, 4 s, then the 4 s cap, each x1.1 for the fixed jitter draw of 0.75.
  const std::chrono::milliseconds expected[] = {1100ms, 2200ms, 4400ms, 4400ms};
  for (size_t i = 0; i < 4; ++i) {
    if (i > 0) {
      clock_.advance(expected[i - 1] - 1ms);
      EXPECT_EQ(poll(), 0u) << "attempt " << i + 1 << " went early";
      EXPECT_EQ(transport_.sentCount(), i);
      clock_.advance(1ms);
      ASSERT_TRUE(pollUntilSent(i + 1)) << "attempt " << i + 1 << " is due";
    }
    ASSERT_TRUE(waitAttempts(i + 1));
    AttemptRecord r = attempt(i);
    EXPECT_EQ(r.next, AttemptRecord::Next::kRetry);
    EXPECT_EQ(r.next_attempt_at, clock_.now() + expected[i]);
    EXPECT_EQ(r.error, "HTTP 503");
  }
  EXPECT_EQ(transport_.sentCount(), 4u);
  EXPECT_EQ(transport_.sent()[3].message.attempt, 4);
  // The fifth and last attempt fails too: dead letter, and the sender's NACK hook is called.
  clock_.advance(expected[3]);
  ASSERT_TRUE(pollUntilAttempts(5));
  EXPECT_EQ(attempt(4).next, AttemptRecord::Next::kDeadLetter);
  EXPECT_EQ(attempt(4).cause, DeadLetterCause::kAttemptsExhausted);
  ASSERT_TRUE(waitNotices(1));
  DeliveryTask d = deliveryOf(id);
  EXPECT_EQ(d.state, DeliveryState::kDeadLetter);
  EXPECT_EQ(d.attempts, 5);
  EXPECT_EQ(d.last_error, "gave up after 5 attempt(s): HTTP 503");
}

TEST_F(DeliveryEngineTest, ADeadLetterIsOfferedWithTheOriginalMessageUntilConfirmed) {
  respond(SendResult::permanent("SOAP fault 2200: unknown service"));
  int64_t id = accept("T-perm");
  startEngine();
  ASSERT_TRUE(waitNotices(1));
  DeadLetterNotice n;
  {
    std::lock_guard lock(mu_);
    n = notices_[0];
  }
  EXPECT_EQ(n.task.message_id, id);
  EXPECT_EQ(n.task.cause, DeadLetterCause::kPermanentFailure);
  EXPECT_EQ(n.task.last_error, "SOAP fault 2200: unknown service");
  EXPECT_EQ(n.task.route, "route");
  ASSERT_NE(n.message, nullptr);
  EXPECT_EQ(n.message->header.sender_address, "urn:nhs-uk:addressing:ods:SENDER");
  EXPECT_NE(n.message->body, nullptr);
  EXPECT_EQ(attempt(0).next, AttemptRecord::Next::kDeadLetter);
  EXPECT_EQ(transport_.sentCount(), 1u);  // a permanent failure is not retried
  // Confirmed: the store records that the sender was told, and it is not offered again.
  poll();
  EXPECT_TRUE(store_.unnotifiedDeadLetters(10)->empty());
  EXPECT_TRUE(deliveryOf(id).sender_notified);
  std::lock_guard lock(mu_);
  EXPECT_EQ(notices_.size(), 1u);
}

TEST_F(DeliveryEngineTest, AnUnconfirmedDeadLetterIsOfferedAgainAfterARestart) {
  confirm_notices_ = false;
  NewDelivery unrouted;
  unrouted.address = "urn:nhs-uk:addressing:ods:NOWHERE";
  unrouted.initial_state = DeliveryState::kDeadLetter;
  unrouted.cause = DeadLetterCause::kUnroutable;
  unrouted.error = "route not found";
  accept("T-doa", unrouted);
  startEngine();
  ASSERT_TRUE(waitNotices(1));
  poll();
  poll();
  {
    std::lock_guard lock(mu_);
    EXPECT_EQ(notices_.size(), 1u);  // offered once per engine while unconfirmed
    EXPECT_EQ(notices_[0].task.cause, DeadLetterCause::kUnroutable);
  }
  stopEngine();  // a crash before the NACK was queued
  confirm_notices_ = true;
  startEngine();
  ASSERT_TRUE(waitNotices(2));
  poll();
  EXPECT_TRUE(store_.unnotifiedDeadLetters(10)->empty());
  // The first engine's late confirmation is harmless.
  std::vector<std::function<void()>> late;
  {
    std::lock_guard lock(mu_);
    late.swap(unconfirmed_);
  }
  for (auto& f : late) f();
}

TEST_F(DeliveryEngineTest, TheRoutesDeadlineEndsRetries) {
  respond(SendResult::retryable("timeout"));
  NewDelivery d = makeDelivery(clock_.now());
  d.deadline = clock_.now() + 3s;
  d.max_attempts = 100;
  int64_t id = accept("T-deadline", d);
  startEngine();
  ASSERT_TRUE(waitAttempts(1));
  EXPECT_EQ(attempt(0).next, AttemptRecord::Next::kRetry);  // +1.1 s is before the deadline
  clock_.advance(1100ms);
  ASSERT_TRUE(pollUntilAttempts(2));
  // The next would be at +1.1 + 2.2 = 3.3 s, after the 3 s deadline: give up now.
  EXPECT_EQ(attempt(1).next, AttemptRecord::Next::kDeadLetter);
  EXPECT_EQ(attempt(1).cause, DeadLetterCause::kDeadlineExpired);
  EXPECT_EQ(deliveryOf(id).state, DeliveryState::kDeadLetter);
}

TEST_F(DeliveryEngineTest, AMessagePastItsDeadlineIsNotSentAtAll) {
  respond(SendResult::delivered());
  NewDelivery d = makeDelivery(clock_.now());
  d.deadline = clock_.now() + 1s;
  int64_t id = accept("T-stale", d);
  clock_.advance(2s);  // e.g. the router was down
  startEngine();
  ASSERT_TRUE(waitAttempts(1));
  EXPECT_EQ(transport_.sentCount(), 0u);
  EXPECT_EQ(attempt(0).cause, DeadLetterCause::kDeadlineExpired);
  EXPECT_EQ(deliveryOf(id).state, DeliveryState::kDeadLetter);
}

TEST_F(DeliveryEngineTest, AReplayedDeadLetterIsDeliveredAgain) {
  respond(SendResult::permanent("rejected"));
  int64_t id = accept("T-replay");
  startEngine();
  ASSERT_TRUE(waitAttempts(1));
  ASSERT_EQ(deliveryOf(id).state, DeliveryState::kDeadLetter);
  respond(SendResult::delivered());
  clock_.advance(1h);
  ReplayOptions replay;
  replay.now = clock_.now();
  replay.actor = "cli:operator";
  ASSERT_TRUE(store_.replayDeadLetter(deliveryOf(id).delivery_id, replay).ok());
  ASSERT_TRUE(pollUntilAttempts(2));
  EXPECT_EQ(attempt(1).next, AttemptRecord::Next::kDelivered);
  EXPECT_EQ(transport_.sent()[1].message.attempt, 1);  // attempts were reset
  EXPECT_EQ(deliveryOf(id).state, DeliveryState::kDelivered);
}

TEST_F(DeliveryEngineTest, EachEndpointGetsAtMostItsConcurrency) {
  routes_->addEndpoint("slow", 2);
  routes_->addEndpoint("other", 1);
  for (int i = 0; i < 5; ++i) accept("S" + std::to_string(i), makeDelivery(clock_.now(), "slow"));
  accept("O", makeDelivery(clock_.now(), "other"));
  startEngine();  // no responder: sends stay open until complete()
  ASSERT_TRUE(transport_.waitForSends(3));
  EXPECT_EQ(poll(), 0u);
  auto sent = transport_.sent();
  ASSERT_EQ(sent.size(), 3u);
  int slow = 0;
  for (const auto& s : sent) slow += s.endpoint == "slow";
  EXPECT_EQ(slow, 2);  // the third slow one waits; the other endpoint is not held up
  EXPECT_EQ(engine_->inFlight(), 3u);
  // Sends complete oldest first: "other", then the first "slow" one, which frees a slot.
  ASSERT_TRUE(transport_.complete(SendResult::delivered()));
  ASSERT_TRUE(transport_.complete(SendResult::delivered()));
  ASSERT_TRUE(transport_.waitForSends(4));
  EXPECT_EQ(transport_.sent()[3].endpoint, "slow");
  EXPECT_EQ(transport_.waitingCount(), 2u);
}

TEST_F(DeliveryEngineTest, FifoKeysGoInOrderAndAFailingHeadHoldsOnlyItsKey) {
  auto keyed = [&](const std::string& key) {
    return makeDelivery(clock_.now(), "ep", "route", "route|" + key);
  };
  int64_t a1 = accept("A1", keyed("A"));
  int64_t a2 = accept("A2", keyed("A"));
  int64_t b1 = accept("B1", keyed("B"));
  int64_t b2 = accept("B2", keyed("B"));
  transport_.setResponder([](const OutboundMessage& m, const std::string&) {
    return m.message->header.tracking_id == "A1" ? SendResult::retryable("busy")
                                                 : SendResult::delivered();
  });
  startEngine();
  ASSERT_TRUE(transport_.waitForSends(3));  // A1 (fails), B1, then B2 once B1 is done
  ASSERT_TRUE(waitAttempts(3));
  EXPECT_EQ(deliveryOf(b1).state, DeliveryState::kDelivered);
  EXPECT_EQ(deliveryOf(b2).state, DeliveryState::kDelivered);
  EXPECT_EQ(deliveryOf(a2).state, DeliveryState::kWaiting);
  std::vector<std::string> order;
  for (const auto& s : transport_.sent()) order.push_back(s.message.message->header.tracking_id);
  EXPECT_EQ(order[0], "A1");
  EXPECT_LT(std::find(order.begin(), order.end(), "B1"),
            std::find(order.begin(), order.end(), "B2"));
  EXPECT_EQ(std::count(order.begin(), order.end(), "A2"), 0);
  // A1 succeeds on its retry: then, and only then, A2 goes.
  respond(SendResult::delivered());
  clock_.advance(1100ms);
  ASSERT_TRUE(pollUntilSent(5));
  EXPECT_EQ(transport_.sent()[3].message.message->header.tracking_id, "A1");
  EXPECT_EQ(transport_.sent()[4].message.message->header.tracking_id, "A2");
  ASSERT_TRUE(waitAttempts(5));
  EXPECT_EQ(deliveryOf(a1).state, DeliveryState::kDelivered);
  EXPECT_EQ(deliveryOf(a2).state, DeliveryState::kDelivered);
}

TEST_F(DeliveryEngineTest, AnEndpointMissingFromTheTableIsRetriedNotDropped) {
  respond(SendResult::delivered());
  int64_t id = accept("T-gone", makeDelivery(clock_.now(), "removed"));
  startEngine();
  ASSERT_TRUE(waitAttempts(1));
  EXPECT_EQ(transport_.sentCount(), 0u);
  EXPECT_EQ(attempt(0).next, AttemptRecord::Next::kRetry);
  EXPECT_EQ(attempt(0).error, "endpoint 'removed' is not in the routing table");
  routes_->addEndpoint("removed", 1);  // the operator fixes the table
  clock_.advance(1100ms);
  ASSERT_TRUE(pollUntilAttempts(2));
  EXPECT_EQ(deliveryOf(id).state, DeliveryState::kDelivered);
}

TEST_F(DeliveryEngineTest, ADeliveredMessageThatAskedForAcksRecordsTheExpectations) {
  respond(SendResult::delivered());
  Message m = makeMessage("T-acks", clock_.now());
  m.header.infack_requested = true;
  m.header.busack_requested = true;
  int64_t id = accept("T-acks", makeDelivery(clock_.now()), m);
  Message ack = makeMessage("T-ack-of-ack", clock_.now());
  ack.header.kind = MessageKind::kInfrastructureAck;
  ack.header.infack_requested = true;  // never infack an infack: nothing is expected for it
  int64_t ack_id = accept("T-ack-of-ack", makeDelivery(clock_.now()), ack);
  startEngine();
  ASSERT_TRUE(waitAttempts(2));
  auto acks = store_.acksOf(id);
  ASSERT_EQ(acks->size(), 2u);
  EXPECT_EQ((*acks)[0].kind, AckKind::kInfrastructure);
  EXPECT_EQ((*acks)[0].expected_by, clock_.now() + 600s);
  EXPECT_EQ((*acks)[1].kind, AckKind::kBusiness);
  EXPECT_EQ((*acks)[1].expected_by, clock_.now() + 2h);
  EXPECT_TRUE(store_.acksOf(ack_id)->empty());
}

TEST_F(DeliveryEngineTest, AnOutcomeTheStoreRefusesIsRecordedLater) {
  respond(SendResult::delivered());
  int64_t id = accept("T-disk");
  store_.failNextWrites(2);  // the claim is not a write in MemoryStore; the record is, twice
  startEngine();
  ASSERT_TRUE(waitAttempts(1));
  EXPECT_EQ(transport_.sentCount(), 1u);  // recorded without sending again
  EXPECT_EQ(deliveryOf(id).state, DeliveryState::kDelivered);
}

TEST_F(DeliveryEngineTest, StopWaitsForAttemptsInFlight) {
  accept("T-stop");
  startEngine();
  ASSERT_TRUE(transport_.waitForSends(1));
  std::promise<void> stopped;
  auto done = stopped.get_future();
  engine_->stop([&] { stopped.set_value(); });
  EXPECT_EQ(poll(), 0u);  // a round trip through the strand: stop() has run by now
  EXPECT_EQ(done.wait_for(0s), std::future_status::timeout);  // ...and is waiting for the send
  ASSERT_TRUE(transport_.complete(SendResult::delivered()));
  done.wait();
  EXPECT_EQ(engine_->inFlight(), 0u);
  engine_.reset();
}

}  // namespace
}  // namespace itk
