// AckTracker and Housekeeper over the in-memory store, driven by a ManualClock.
#include "delivery/ack_tracker.h"

#include <gtest/gtest.h>

#include <future>

#include "delivery/housekeeper.h"
#include "store/memory_store.h"
#include "support/manual_clock.h"
#include "support/process.h"
#include "support/store_builders.h"

namespace itk {
namespace {

using namespace std::chrono_literals;
using test::makeDelivery;
using test::makeMessage;
using test::makeRequest;

class AckTrackerTest : public ::testing::Test {
 protected:
  AckTrackerTest() {
    StoreConfig config;
    config.body_retention = 24h;
    config.audit_retention = 72h;
    store_ = std::make_unique<MemoryStore>(config);
    AckTrackerHooks hooks;
    hooks.on_resolved = [this](const PendingAck& a) { resolved_.push_back(a); };
    hooks.on_expired = [this](const PendingAck& a) { expired_.push_back(a); };
    tracker_ = std::make_unique<AckTracker>(*store_, clock_, hooks);
  }

  // A business message asking for an infack, delivered now.
  int64_t delivered(const std::string& tracking_id) {
    Message m = makeMessage(tracking_id, clock_.now());
    m.header.infack_requested = true;
    auto r = test::acceptNow(*store_, makeRequest(m, {makeDelivery(clock_.now())}));
    auto c = test::claimNow(*store_, clock_.now());
    AttemptRecord rec =
        test::outcome(c->tasks.at(0).delivery_id, AttemptRecord::Next::kDelivered, clock_.now());
    AckTimeouts timeouts;
    timeouts.infrastructure = 10min;
    rec.expect_acks = expectedAcks(m.header, clock_.now(), timeouts);
    EXPECT_TRUE(test::recordNow(*store_, rec).ok());
    return r->message_id;
  }

  MessagePtr ack(const std::string& acknowledges, MessageKind kind, bool positive = true) {
    auto m = std::make_shared<Message>(
        makeMessage("ACK-" + acknowledges, clock_.now(), "urn:nhs-uk:addressing:ods:RECIPIENT"));
    m->id = 777;
    m->header.kind = kind;
    m->header.acknowledged_tracking_id = acknowledges;
    m->header.ack_positive = positive;
    return m;
  }

  Result<std::optional<PendingAck>> correlate(const MessagePtr& m) {
    std::promise<Result<std::optional<PendingAck>>> p;
    tracker_->onAckAccepted(
        m, [&](Result<std::optional<PendingAck>> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }

  test::ManualClock clock_;
  std::unique_ptr<MemoryStore> store_;
  std::unique_ptr<AckTracker> tracker_;
  std::vector<PendingAck> resolved_;
  std::vector<PendingAck> expired_;
};

TEST(ExpectedAcksTest, OnlyBusinessMessagesExpectWhatTheyAskedFor) {
  MessageHeader h;
  AckTimeouts t;
  t.infrastructure = 1h;
  t.business = 2h;
  TimePoint now = fromEpochMillis(0);
  EXPECT_TRUE(expectedAcks(h, now, t).empty());
  h.infack_requested = true;
  h.busack_requested = true;
  auto both = expectedAcks(h, now, t);
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[0].kind, AckKind::kInfrastructure);
  EXPECT_EQ(both[0].expected_by, now + 1h);
  EXPECT_EQ(both[1].expected_by, now + 2h);
  h.kind = MessageKind::kInfrastructureAck;  // ITK2 §3.1: never infack an infack
  EXPECT_TRUE(expectedAcks(h, now, t).empty());
}

TEST_F(AckTrackerTest, AnArrivingAckIsCorrelatedByTrackingId) {
  int64_t id = delivered("T-corr");
  clock_.advance(3s);
  auto r = correlate(ack("T-corr", MessageKind::kInfrastructureAck));
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->message_id, id);
  EXPECT_EQ((*r)->ack_message_id, 777);
  EXPECT_EQ((*r)->resolved_at - (*r)->created_at, 3s);
  ASSERT_EQ(resolved_.size(), 1u);
  EXPECT_EQ(tracker_->counters().resolved, 1u);
  EXPECT_EQ(store_->acksOf(id)->at(0).state, PendingAckState::kResolved);
}

TEST_F(AckTrackerTest, AnAckNobodyExpectedIsCountedAndKept) {
  auto r = correlate(ack("T-unknown", MessageKind::kBusinessAck));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  EXPECT_EQ(tracker_->counters().unmatched, 1u);
  auto trail = store_->auditTrail("T-unknown");
  ASSERT_EQ(trail->size(), 1u);
  EXPECT_EQ(trail->at(0).event, "ack-unmatched");
}

TEST_F(AckTrackerTest, ABusinessMessageIsNotAnAck) {
  auto m = std::make_shared<Message>(makeMessage("T-biz", clock_.now()));
  auto r = correlate(m);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  EXPECT_EQ(tracker_->counters().unmatched, 0u);
}

TEST_F(AckTrackerTest, AnExpectationThatTimesOutIsCountedAndAuditedOnce) {
  int64_t id = delivered("T-timeout");
  clock_.advance(9min);
  EXPECT_EQ(*tracker_->expireDue(), 0u);
  clock_.advance(2min);
  EXPECT_EQ(*tracker_->expireDue(), 1u);
  EXPECT_EQ(*tracker_->expireDue(), 0u);
  EXPECT_EQ(tracker_->counters().expired, 1u);
  ASSERT_EQ(expired_.size(), 1u);
  EXPECT_EQ(expired_[0].message_id, id);
  EXPECT_EQ(store_->auditTrail("T-timeout")->back().event, "ack-timeout");
  EXPECT_EQ(store_->statistics()->acks_expired, 1);
}

TEST_F(AckTrackerTest, TheHousekeeperExpiresAcksAndPrunesOnItsInterval) {
  HousekeeperOptions options;
  options.prune_interval = 1h;
  Housekeeper keeper(*store_, *tracker_, clock_, options);
  int64_t id = delivered("T-keep");
  keeper.runOnce();  // first round prunes (nothing is old enough yet)
  clock_.advance(11min);
  keeper.runOnce();
  EXPECT_EQ(tracker_->counters().expired, 1u);
  EXPECT_TRUE(store_->loadMessage(id).ok());
  clock_.advance(25h);  // past the body retention of the finished message
  keeper.runOnce();
  EXPECT_EQ(store_->loadMessage(id).status().code(), Code::kStoreError);
  EXPECT_TRUE(store_->loadHeader(id).ok());
}

// start() runs a first round at once on its own thread: an overdue expectation is expired
// without anyone calling runOnce(). stop() joins it, and may be called again.
TEST_F(AckTrackerTest, TheHousekeeperThreadStartsAndStops) {
  delivered("T-thread");
  clock_.advance(11min);
  Housekeeper keeper(*store_, *tracker_, clock_, {});
  keeper.start();
  EXPECT_TRUE(test::eventually([&] { return tracker_->counters().expired == 1u; }));
  keeper.stop();
  keeper.stop();  // idempotent
  EXPECT_EQ(tracker_->counters().expired, 1u);
}

}  // namespace
}  // namespace itk
