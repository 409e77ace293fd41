// Router: what reaches the store, what the sender is answered, and the hooks' contracts
// (duplicates answered as accepted with a re-ack hook call, store failure = busy, acks correlated).
#include "server/router.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <future>

#include "store/memory_store.h"
#include "support/manual_clock.h"
#include "support/store_builders.h"

namespace itk {
namespace {

using namespace std::chrono_literals;

class NoRoutes final : public DeliveryRoutes {
 public:
  std::shared_ptr<const EndpointSpec> endpoint(std::string_view) const override { return nullptr; }
  std::vector<std::shared_ptr<const EndpointSpec>> endpoints() const override { return {}; }
  std::optional<RouteParams> route(std::string_view) const override { return std::nullopt; }
};

class RouterTest : public ::testing::Test {
 protected:
  RouterTest() {
    Route to_trust;
    to_trust.name = "to-trust";
    to_trust.address = {FieldMatch::Kind::kPrefix, "urn:nhs-uk:addressing:ods:TRUST"};
    to_trust.endpoint = "trust";
    to_trust.retry.deadline = 3600s;
    to_trust.retry.max_attempts = 7;
    to_trust.ordering.kind = OrderingSpec::Kind::kFifo;
    Route blocked;
    blocked.name = "blocked";
    blocked.address = {FieldMatch::Kind::kExact, "urn:nhs-uk:addressing:ods:BLOCKED"};
    blocked.reject = true;
    blocked.reject_reason = "not accepted here";
    Route back;
    back.name = "back-to-sender";
    back.address = {FieldMatch::Kind::kExact, "urn:nhs-uk:addressing:ods:SENDER"};
    back.endpoint = "sender";
    EndpointSpec trust;
    trust.name = "trust";
    trust.transport = "soap";
    EndpointSpec sender;
    sender.name = "sender";
    sender.transport = "soap";
    holder_.publish(std::make_shared<const RoutingTable>(
        std::vector<Route>{to_trust, blocked, back}, std::vector<EndpointSpec>{trust, sender}, "v1",
        "sum"));
    engine_ = std::make_unique<DeliveryEngine>(
        io_, store_, std::make_shared<NoRoutes>(), [](std::string_view) { return nullptr; }, clock_,
        DeliveryHooks{});
    AckTrackerHooks ack_hooks;
    ack_hooks.on_resolved = [this](const PendingAck& a) { resolved_.set_value(a); };
    acks_ = std::make_unique<AckTracker>(store_, clock_, ack_hooks);
    RouterHooks hooks;
    hooks.on_accepted = [this](const MessagePtr& m, AcceptOutcome::Kind kind) {
      {
        std::lock_guard lock(mu_);
        accepted_.push_back({m, kind});
      }
      cv_.notify_all();
    };
    router_ = std::make_unique<Router>(
        store_, holder_, *engine_, [](std::string_view) { return nullptr; }, clock_, hooks,
        acks_.get());
  }

  Message message(const std::string& tracking_id,
                  std::vector<std::string> addresses = {"urn:nhs-uk:addressing:ods:TRUST:A"}) {
    Message m = test::makeMessage(tracking_id, TimePoint{});
    m.header.addresses = std::move(addresses);
    return m;
  }

  // The hook runs after the sender was answered: wait for it.
  std::vector<std::pair<MessagePtr, AcceptOutcome::Kind>> waitAccepted(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(20), [&] { return accepted_.size() >= n; });
    return accepted_;
  }

  AcceptOutcome send(Message m) {
    std::promise<AcceptOutcome> p;
    router_->accept(std::move(m), [&](AcceptOutcome o) { p.set_value(std::move(o)); });
    return p.get_future().get();
  }

  boost::asio::io_context io_;  // never run: the engine is only notified
  test::ManualClock clock_;
  RoutingTableHolder holder_;
  std::promise<PendingAck> resolved_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<MessagePtr, AcceptOutcome::Kind>> accepted_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<AckTracker> acks_;
  std::unique_ptr<DeliveryEngine> engine_;
  // Declared last, destroyed first: its destructor finishes the store callbacks still running
  // (the Router's accept continuation runs on after answering the sender) while the Router and
  // everything its hooks touch still exist.
  MemoryStore store_;
};

TEST_F(RouterTest, AnAcceptedMessageIsAnsweredOnlyOnceStoredWithItsDeliveries) {
  AcceptOutcome o = send(message("T-1"));
  ASSERT_EQ(o.kind, AcceptOutcome::Kind::kAccepted);
  auto stored = store_.loadMessage(o.message_id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ((*stored)->received_at, clock_.now());  // stamped by the router's clock
  auto d = store_.deliveriesOf(o.message_id);
  ASSERT_EQ(d->size(), 1u);
  EXPECT_EQ(d->at(0).route, "to-trust");
  EXPECT_EQ(d->at(0).endpoint, "trust");
  EXPECT_EQ(d->at(0).max_attempts, 7);
  EXPECT_EQ(d->at(0).deadline, clock_.now() + 3600s);
  EXPECT_EQ(d->at(0).ordering_key, "to-trust|urn:nhs-uk:addressing:ods:SENDER");
  auto accepted = waitAccepted(1);
  ASSERT_EQ(accepted.size(), 1u);
  EXPECT_EQ(accepted[0].second, AcceptOutcome::Kind::kAccepted);
}

TEST_F(RouterTest, ADuplicateIsAnsweredAsAcceptedAndTheReAckHookIsCalled) {
  Message m = message("T-dup");
  m.header.infack_requested = true;
  AcceptOutcome first = send(m);
  clock_.advance(10min);
  AcceptOutcome again = send(m);
  EXPECT_EQ(again.kind, AcceptOutcome::Kind::kDuplicate);
  EXPECT_EQ(again.message_id, first.message_id);
  EXPECT_EQ(store_.deliveriesOf(first.message_id)->size(), 1u);  // not delivered again
  auto accepted = waitAccepted(2);
  ASSERT_EQ(accepted.size(), 2u);
  EXPECT_EQ(accepted[1].second, AcceptOutcome::Kind::kDuplicate);
  // What the hook needs to send the infack again: the request flag and the original's id.
  EXPECT_TRUE(accepted[1].first->header.infack_requested);
  EXPECT_EQ(accepted[1].first->id, first.message_id);
}

TEST_F(RouterTest, AStoreThatCannotWriteMakesTheRouterBusy) {
  store_.failNextWrites(1);
  AcceptOutcome o = send(message("T-busy"));
  EXPECT_EQ(o.kind, AcceptOutcome::Kind::kBusy);
  EXPECT_EQ(o.status.code(), Code::kUnavailable);
  EXPECT_TRUE(store_.findByTrackingId("T-busy")->empty());
  EXPECT_EQ(send(message("T-busy")).kind, AcceptOutcome::Kind::kAccepted);  // the sender retries
}

TEST_F(RouterTest, UnroutableAndRejectedAddressesAreKeptAsDeadLettersWithTheirCause) {
  AcceptOutcome o = send(
      message("T-mixed", {"urn:nhs-uk:addressing:ods:TRUST:A", "urn:nhs-uk:addressing:ods:NOWHERE",
                          "urn:nhs-uk:addressing:ods:BLOCKED"}));
  ASSERT_EQ(o.kind, AcceptOutcome::Kind::kAccepted);
  auto d = store_.deliveriesOf(o.message_id);
  ASSERT_EQ(d->size(), 3u);
  EXPECT_EQ(d->at(0).state, DeliveryState::kPending);
  EXPECT_EQ(d->at(1).state, DeliveryState::kDeadLetter);
  EXPECT_EQ(d->at(1).cause, DeadLetterCause::kUnroutable);
  EXPECT_EQ(d->at(2).state, DeliveryState::kDeadLetter);
  EXPECT_EQ(d->at(2).cause, DeadLetterCause::kRejectedByRoute);
  EXPECT_EQ(d->at(2).last_error, "not accepted here");
  EXPECT_EQ(store_.unnotifiedDeadLetters(10)->size(), 2u);  // the engine will NACK them
}

TEST_F(RouterTest, AnAcceptedAckResolvesWhatItsOriginalsDeliveryExpected) {
  Message original = message("T-orig");
  original.header.infack_requested = true;
  AcceptOutcome o = send(original);
  auto c = test::claimNow(store_, clock_.now());
  ASSERT_EQ(c->tasks.size(), 1u);
  AttemptRecord rec =
      test::outcome(c->tasks[0].delivery_id, AttemptRecord::Next::kDelivered, clock_.now());
  rec.expect_acks = expectedAcks(original.header, clock_.now(), AckTimeouts{});
  ASSERT_TRUE(test::recordNow(store_, rec).ok());

  // The recipient's infack comes back, addressed to the original sender.
  Message ack = message("T-infack", {"urn:nhs-uk:addressing:ods:SENDER"});
  ack.header.kind = MessageKind::kInfrastructureAck;
  ack.header.sender_address = "urn:nhs-uk:addressing:ods:TRUST:A";
  ack.header.acknowledged_tracking_id = "T-orig";
  AcceptOutcome ack_outcome = send(ack);
  ASSERT_EQ(ack_outcome.kind, AcceptOutcome::Kind::kAccepted);
  PendingAck resolved = resolved_.get_future().get();
  EXPECT_EQ(resolved.message_id, o.message_id);
  EXPECT_EQ(resolved.ack_message_id, ack_outcome.message_id);
  EXPECT_EQ(store_.deliveriesOf(ack_outcome.message_id)->at(0).route, "back-to-sender");
}

// A next hop may report on a message before the router has recorded that it took it.
TEST_F(RouterTest, AReportOnADeliveryStillInFlightIsDeferredThenRecorded) {
  AcceptOutcome o = send(message("T-report"));
  auto c = test::claimNow(store_, clock_.now());
  ASSERT_EQ(c->tasks.size(), 1u);
  DeliveryFailureReport report;
  report.transport = "mesh";
  report.remote_id = "MESH-1";
  report.tracking_id = "T-report";
  report.code = "14";
  report.description = "not collected";
  report.report_id = "REPORT-1";
  auto reportNow = [&] {
    std::promise<Status> p;
    router_->reportDeliveryFailure(report, [&](Status s) { p.set_value(s); });
    return p.get_future().get();
  };
  // In flight: refused for now, so the transport offers it again.
  EXPECT_EQ(reportNow().code(), Code::kUnavailable);
  AttemptRecord rec =
      test::outcome(c->tasks[0].delivery_id, AttemptRecord::Next::kDelivered, clock_.now());
  rec.remote_id = "MESH-1";
  ASSERT_TRUE(test::recordNow(store_, rec).ok());
  EXPECT_TRUE(reportNow().ok());
  auto d = store_.deliveriesOf(o.message_id);
  ASSERT_EQ(d->size(), 1u);
  EXPECT_EQ(d->at(0).state, DeliveryState::kDeadLetter);
  EXPECT_EQ(d->at(0).cause, DeadLetterCause::kReportedFailure);
  EXPECT_EQ(d->at(0).last_error, "14: not collected");
  // About nothing the store knows: taken (and logged), not offered for ever.
  report.remote_id = "MESH-2";
  report.tracking_id = "T-unknown";
  EXPECT_TRUE(reportNow().ok());
}

// ITK3: an ITK3 response from a peer goes back the way the message it answers came.
TEST_F(RouterTest, AnItk3ResponseIsAddressedByCorrelationWithItsOriginal) {
  Message original = message("itk3-orig", {"urn:nhs-uk:addressing:ods:TRUST:A"});
  original.header.format = MessageFormat::kItk3;
  original.origin.transport = "mesh";
  original.origin.attributes = {{"mesh.from", "SENDERMBX"}, {"mesh.workflow", "DIGMED_FLU_VAC"}};
  ASSERT_EQ(send(original).kind, AcceptOutcome::Kind::kAccepted);

  auto response = [](const std::string& id, std::vector<std::string> addresses) {
    Message r = test::makeMessage(id, TimePoint{}, "RECIPMBX");
    r.header.format = MessageFormat::kItk3;
    r.header.kind = MessageKind::kItk3Response;
    r.header.addresses = std::move(addresses);
    r.header.acknowledged_tracking_id = "itk3-orig";
    r.origin.transport = "mesh";
    r.origin.attributes = {{"mesh.from", "RECIPMBX"}, {"mesh.workflow", "DIGMED_FLU_VAC_ACK"}};
    return r;
  };
  // No receiver: the original's mailbox, on its workflow's _ACK partner.
  AcceptOutcome o = send(response("itk3-resp-1", {}));
  ASSERT_EQ(o.kind, AcceptOutcome::Kind::kAccepted);
  auto stored = store_.loadHeader(o.message_id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ((*stored)->header.addresses, std::vector<std::string>{"SENDERMBX"});
  ASSERT_NE((*stored)->origin.attribute("mesh.reply_workflow"), nullptr);
  EXPECT_EQ(*(*stored)->origin.attribute("mesh.reply_workflow"), "DIGMED_FLU_VAC_ACK");
  auto d = store_.deliveriesOf(o.message_id);
  ASSERT_EQ(d->size(), 1u);
  EXPECT_EQ(d->at(0).address, "SENDERMBX");

  // A receiver named by ODS code gives way to the mailbox (MESH cannot send to an ODS code).
  o = send(response("itk3-resp-2", {"urn:nhs-uk:addressing:ods:SENDERORG"}));
  EXPECT_EQ(store_.deliveriesOf(o.message_id)->at(0).address, "SENDERMBX");

  // Full Acknowledgement: the original sender acknowledges the recipient's business response;
  // that goes back to the recipient. An answer to one of the router's own responses ends here.
  Message acknowledging = response("itk3-resp-ack", {});
  acknowledging.header.acknowledged_tracking_id = "itk3-resp-1";
  acknowledging.origin.attributes = {{"mesh.from", "SENDERMBX"},
                                     {"mesh.workflow", "DIGMED_FLU_VAC_ACK"}};
  o = send(acknowledging);
  EXPECT_EQ(store_.deliveriesOf(o.message_id)->at(0).address, "RECIPMBX");
  Message ours = response("itk3-router-resp", {"SENDERMBX"});
  ours.origin.transport = "router";
  ASSERT_EQ(send(ours).kind, AcceptOutcome::Kind::kAccepted);
  Message about_ours = response("itk3-resp-4", {});
  about_ours.header.acknowledged_tracking_id = "itk3-router-resp";
  o = send(about_ours);
  EXPECT_EQ(store_.deliveriesOf(o.message_id)->at(0).state, DeliveryState::kDeadLetter);
  EXPECT_EQ(store_.deliveriesOf(o.message_id)->at(0).address, "");

  // Nothing to correlate with: unaddressed, a dead letter (whose sender is never answered).
  Message stray = response("itk3-resp-3", {});
  stray.header.acknowledged_tracking_id = "never-seen";
  o = send(stray);
  d = store_.deliveriesOf(o.message_id);
  ASSERT_EQ(d->size(), 1u);
  EXPECT_EQ(d->at(0).state, DeliveryState::kDeadLetter);
  EXPECT_EQ(d->at(0).cause, DeadLetterCause::kUnroutable);

  // An ITK2 acknowledgement keeps its own address list.
  Message ack = message("itk2-ack", {"urn:nhs-uk:addressing:ods:SENDER"});
  ack.header.kind = MessageKind::kInfrastructureAck;
  ack.header.acknowledged_tracking_id = "itk3-orig";
  o = send(ack);
  EXPECT_EQ(store_.deliveriesOf(o.message_id)->at(0).address, "urn:nhs-uk:addressing:ods:SENDER");
}

}  // namespace
}  // namespace itk
