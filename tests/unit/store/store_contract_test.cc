// The Store contract, run against every backend: the in-memory store the other tests use must
// behave like the durable one.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>

#include "store/memory_store.h"
#include "store/sqlite_store.h"
#include "support/manual_clock.h"
#include "support/store_builders.h"
#include "support/temp_dir.h"

namespace itk {
namespace {

using namespace std::chrono_literals;
using test::acceptNow;
using test::claimNow;
using test::makeDelivery;
using test::makeMessage;
using test::makeRequest;
using test::outcome;
using test::recordNow;
using test::resolveNow;
using Next = AttemptRecord::Next;

struct Backend {
  std::string name;
  std::function<std::unique_ptr<Store>(const StoreConfig&)> open;
};

void PrintTo(const Backend& b, std::ostream* os) {
  *os << b.name;
}

class StoreContractTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    config_.path = dir_ / "store.db";
    config_.group_commit_max_wait = 0us;
    config_.dedup_window = 1h;
    config_.body_retention = 24h;
    config_.audit_retention = 72h;
    store_ = GetParam().open(config_);
    ASSERT_NE(store_, nullptr);
  }

  TimePoint now() const { return clock_.now(); }

  // Accepts one message with `deliveries` and returns its id.
  int64_t accept(const std::string& tracking_id, std::vector<NewDelivery> deliveries,
                 const std::string& sender = "urn:nhs-uk:addressing:ods:SENDER") {
    auto r = acceptNow(*store_,
                       makeRequest(makeMessage(tracking_id, now(), sender), std::move(deliveries)));
    EXPECT_TRUE(r.ok()) << r.status().toString();
    EXPECT_FALSE(r->duplicate);
    return r->message_id;
  }

  std::vector<DeliveryTask> claim(size_t limit = 64) {
    auto r = claimNow(*store_, now(), limit);
    EXPECT_TRUE(r.ok()) << r.status().toString();
    return r.ok() ? r->tasks : std::vector<DeliveryTask>{};
  }

  DeliveryTask only(int64_t message_id) {
    auto d = store_->deliveriesOf(message_id);
    EXPECT_TRUE(d.ok());
    EXPECT_EQ(d->size(), 1u);
    return d->empty() ? DeliveryTask{} : d->front();
  }

  std::vector<std::string> events(const std::string& tracking_id) {
    std::vector<std::string> out;
    auto trail = store_->auditTrail(tracking_id);
    EXPECT_TRUE(trail.ok());
    for (const auto& e : *trail) out.push_back(e.event);
    return out;
  }

  test::TempDir dir_;
  test::ManualClock clock_;
  StoreConfig config_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreContractTest, AcceptStoresHeaderBodyAndDeliveries) {
  int64_t id = accept("T-1", {makeDelivery(now())});
  auto m = store_->loadMessage(id);
  ASSERT_TRUE(m.ok()) << m.status().toString();
  EXPECT_EQ((*m)->id, id);
  EXPECT_EQ((*m)->header.tracking_id, "T-1");
  EXPECT_EQ((*m)->header.addresses,
            std::vector<std::string>{"urn:nhs-uk:addressing:ods:RECIPIENT"});
  EXPECT_EQ(*(*m)->body, "<itk:DistributionEnvelope/>");
  EXPECT_EQ((*m)->origin.transport_message_id, "uuid:T-1");
  EXPECT_EQ((*m)->received_at, now());
  auto header = store_->loadHeader(id);
  ASSERT_TRUE(header.ok());
  EXPECT_EQ((*header)->body, nullptr);
  EXPECT_EQ((*header)->header.service, (*m)->header.service);
  DeliveryTask d = only(id);
  EXPECT_EQ(d.state, DeliveryState::kPending);
  EXPECT_EQ(d.endpoint, "ep");
  EXPECT_EQ(d.attempts, 0);
  EXPECT_EQ(*store_->findByTrackingId("T-1"), std::vector<int64_t>{id});
  EXPECT_EQ(*store_->findByTransportId("uuid:T-1"), std::vector<int64_t>{id});
  EXPECT_TRUE(store_->findByTrackingId("nope")->empty());
  EXPECT_EQ(events("T-1"), std::vector<std::string>{"accepted"});
  EXPECT_TRUE(store_->loadMessage(id + 100).status().code() == Code::kNotFound);
}

TEST_P(StoreContractTest, OriginAttributesAndAddressListRoundTrip) {
  Message m = makeMessage("T-attr", now());
  m.header.addresses = {"a:b", "", "c:1:2"};
  m.origin.attributes = {{"mesh.workflow", "TOC_FHIR_EC_DISCH"}, {"k:3", "v:5:x"}};
  m.header.infack_requested = true;
  m.header.kind = MessageKind::kBusinessAck;
  m.header.acknowledged_tracking_id = "T-orig";
  m.header.ack_positive = false;
  auto r = acceptNow(*store_, makeRequest(m, {makeDelivery(now())}));
  ASSERT_TRUE(r.ok());
  auto back = store_->loadHeader(r->message_id);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ((*back)->header.addresses, m.header.addresses);
  EXPECT_EQ((*back)->origin.attributes, m.origin.attributes);
  EXPECT_TRUE((*back)->header.infack_requested);
  EXPECT_EQ((*back)->header.kind, MessageKind::kBusinessAck);
  EXPECT_EQ((*back)->header.acknowledged_tracking_id, "T-orig");
  EXPECT_FALSE((*back)->header.ack_positive);
}

TEST_P(StoreContractTest, DuplicateWithinWindowIsAnsweredWithTheOriginal) {
  int64_t id = accept("T-dup", {makeDelivery(now())});
  clock_.advance(59min);
  auto again = acceptNow(*store_, makeRequest(makeMessage("T-dup", now()), {makeDelivery(now())}));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->message_id, id);
  EXPECT_EQ(store_->findByTrackingId("T-dup")->size(), 1u);
  EXPECT_EQ(store_->deliveriesOf(id)->size(), 1u);
  EXPECT_EQ(events("T-dup"), (std::vector<std::string>{"accepted", "duplicate"}));
}

TEST_P(StoreContractTest, SameTrackingIdFromAnotherSenderIsNotADuplicate) {
  int64_t a = accept("T-same", {makeDelivery(now())}, "urn:nhs-uk:addressing:ods:A");
  int64_t b = accept("T-same", {makeDelivery(now())}, "urn:nhs-uk:addressing:ods:B");
  EXPECT_NE(a, b);
  EXPECT_EQ(*store_->findByTrackingId("T-same"), (std::vector<int64_t>{a, b}));
}

TEST_P(StoreContractTest, DuplicateAfterTheWindowIsAcceptedAgain) {
  int64_t first = accept("T-window", {makeDelivery(now())});
  clock_.advance(61min);
  int64_t second = accept("T-window", {makeDelivery(now())});
  EXPECT_NE(first, second);
  // The key now points at the second: within its window, a third is its duplicate.
  clock_.advance(10min);
  auto third = acceptNow(*store_, makeRequest(makeMessage("T-window", now()), {}));
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(third->duplicate);
  EXPECT_EQ(third->message_id, second);
}

TEST_P(StoreContractTest, DeduplicateFalseNeverMatches) {
  accept("T-nodedup", {makeDelivery(now())});
  AcceptRequest r = makeRequest(makeMessage("T-nodedup", now()), {makeDelivery(now())});
  r.deduplicate = false;
  auto again = acceptNow(*store_, std::move(r));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->duplicate);
}

TEST_P(StoreContractTest, ClaimTakesDueDeliveriesOnceAndSaysWhenMoreAreDue) {
  NewDelivery later = makeDelivery(now());
  later.next_attempt_at = now() + 30s;
  int64_t a = accept("T-a", {makeDelivery(now())});
  int64_t b = accept("T-b", {later});
  auto first = claimNow(*store_, now());
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->tasks.size(), 1u);
  EXPECT_EQ(first->tasks[0].message_id, a);
  EXPECT_EQ(first->tasks[0].state, DeliveryState::kInFlight);
  ASSERT_TRUE(first->next_due.has_value());
  EXPECT_EQ(*first->next_due, now() + 30s);
  EXPECT_EQ(only(a).state, DeliveryState::kInFlight);
  EXPECT_TRUE(claim().empty());  // in flight is not claimed twice; b is not due
  EXPECT_EQ(**store_->nextDue(), now() + 30s);
  clock_.advance(30s);
  auto second = claim();
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].message_id, b);
  EXPECT_FALSE(store_->nextDue()->has_value());
}

TEST_P(StoreContractTest, ClaimHonoursEachEndpointsRoom) {
  for (int i = 0; i < 4; ++i) accept("A" + std::to_string(i), {makeDelivery(now(), "A")});
  for (int i = 0; i < 4; ++i) accept("B" + std::to_string(i), {makeDelivery(now(), "B")});
  ClaimRequest request;
  request.now = now();
  request.limit = 64;
  request.room = {{"A", 2}, {"B", 0}};
  request.default_room = 0;
  auto r = claimNow(*store_, request);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->tasks.size(), 2u);
  for (const auto& t : r->tasks) EXPECT_EQ(t.endpoint, "A");
  // A has no room left and B none at all: nothing is "due" for this caller until room frees.
  EXPECT_FALSE(r->next_due.has_value());
  request.room = {{"A", 0}, {"B", 3}};
  r = claimNow(*store_, request);
  ASSERT_EQ(r->tasks.size(), 3u);
  for (const auto& t : r->tasks) EXPECT_EQ(t.endpoint, "B");
}

TEST_P(StoreContractTest, ClaimVisitsEndpointsRoundRobin) {
  for (const char* e : {"A", "B", "C"})
    for (int i = 0; i < 3; ++i)
      accept(std::string(e) + std::to_string(i), {makeDelivery(now(), e)});
  std::string seen;
  for (int round = 0; round < 6; ++round) {
    auto r = claimNow(*store_, now(), /*limit=*/1);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->tasks.size(), 1u);
    seen += r->tasks[0].endpoint;
    EXPECT_EQ(*r->next_due, now());  // the limit stopped it: more is due now
  }
  EXPECT_EQ(seen, "ABCABC");
}

TEST_P(StoreContractTest, FifoKeyOffersOnlyItsHeadAndAFailingHeadHoldsOnlyItsKey) {
  int64_t k1a = accept("k1a", {makeDelivery(now(), "ep", "route", "route|S1")});
  int64_t k1b = accept("k1b", {makeDelivery(now(), "ep", "route", "route|S1")});
  int64_t k1c = accept("k1c", {makeDelivery(now(), "ep", "route", "route|S1")});
  int64_t k2a = accept("k2a", {makeDelivery(now(), "ep", "route", "route|S2")});
  int64_t k2b = accept("k2b", {makeDelivery(now(), "ep", "route", "route|S2")});
  EXPECT_EQ(only(k1b).state, DeliveryState::kWaiting);
  auto c = claim();
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].message_id, k1a);
  EXPECT_EQ(c[1].message_id, k2a);
  // The head of S1 fails and will retry in a minute; S2 carries on meanwhile.
  ASSERT_TRUE(recordNow(*store_,
                        [&] {
                          auto r = outcome(c[0].delivery_id, Next::kRetry, now(), "busy");
                          r.next_attempt_at = now() + 1min;
                          return r;
                        }())
                  .ok());
  ASSERT_TRUE(recordNow(*store_, outcome(c[1].delivery_id, Next::kDelivered, now())).ok());
  c = claim();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].message_id, k2b);
  clock_.advance(1min);
  c = claim();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].message_id, k1a);  // the head again, never k1b
  // The head dies: the key moves on to the next in order.
  ASSERT_TRUE(recordNow(*store_, outcome(c[0].delivery_id, Next::kDeadLetter, now(), "no")).ok());
  EXPECT_EQ(only(k1b).state, DeliveryState::kPending);
  EXPECT_EQ(only(k1c).state, DeliveryState::kWaiting);
  c = claim();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].message_id, k1b);
}

TEST_P(StoreContractTest, RecordAttemptUpdatesTheDeliveryAndAudits) {
  int64_t id = accept("T-att", {makeDelivery(now())});
  auto c = claim();
  ASSERT_EQ(c.size(), 1u);
  auto retry = outcome(c[0].delivery_id, Next::kRetry, now(), "connection refused");
  retry.next_attempt_at = now() + 5s;
  ASSERT_TRUE(recordNow(*store_, retry).ok());
  DeliveryTask d = only(id);
  EXPECT_EQ(d.state, DeliveryState::kPending);
  EXPECT_EQ(d.attempts, 1);
  EXPECT_EQ(d.last_error, "connection refused");
  EXPECT_EQ(d.next_attempt_at, now() + 5s);
  // Not in flight any more: a second record is refused.
  EXPECT_EQ(recordNow(*store_, retry).code(), Code::kNotFound);
  clock_.advance(5s);
  c = claim();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].attempts, 1);
  auto ok = outcome(c[0].delivery_id, Next::kDelivered, now());
  ok.remote_id = "MESH-20260101-1";
  ASSERT_TRUE(recordNow(*store_, ok).ok());
  d = only(id);
  EXPECT_EQ(d.state, DeliveryState::kDelivered);
  EXPECT_EQ(d.attempts, 2);
  EXPECT_EQ(d.remote_id, "MESH-20260101-1");
  EXPECT_EQ(*store_->findByTransportId("MESH-20260101-1"), std::vector<int64_t>{id});
  EXPECT_EQ(events("T-att"), (std::vector<std::string>{"accepted", "attempt-failed", "delivered"}));
}

TEST_P(StoreContractTest, RecoverPutsInFlightBackToPending) {
  int64_t id = accept("T-rec", {makeDelivery(now())});
  ASSERT_EQ(claim().size(), 1u);
  auto n = store_->recover(now());
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(only(id).state, DeliveryState::kPending);
  EXPECT_EQ(claim().size(), 1u);
  EXPECT_EQ(events("T-rec").back(), "recovered");
}

TEST_P(StoreContractTest, DeadLettersAreListedAndReplayedWithAFreshDeadline) {
  int64_t id = accept("T-dead", {makeDelivery(now(), "ep", "r1")});
  accept("T-other", {makeDelivery(now(), "ep", "r2")});
  auto c = claim();
  ASSERT_EQ(c.size(), 2u);
  auto dead = outcome(c[0].delivery_id, Next::kDeadLetter, now(), "fault 2200");
  dead.cause = DeadLetterCause::kAttemptsExhausted;
  ASSERT_TRUE(recordNow(*store_, dead).ok());
  auto list = store_->listDeadLetters({});
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].tracking_id, "T-dead");
  EXPECT_EQ((*list)[0].task.cause, DeadLetterCause::kAttemptsExhausted);
  EXPECT_EQ((*list)[0].task.last_error, "fault 2200");
  EXPECT_TRUE(store_->listDeadLetters({"r2", 0, 100})->empty());
  EXPECT_EQ(store_->statistics()->routes.front().dead_letters, 1);

  clock_.advance(48h);  // long after the original 24 h deadline
  ReplayOptions replay;
  replay.now = now();
  replay.actor = "cli:alice";
  ASSERT_TRUE(store_->replayDeadLetter(c[0].delivery_id, replay).ok());
  DeliveryTask d = only(id);
  EXPECT_EQ(d.state, DeliveryState::kPending);
  EXPECT_EQ(d.attempts, 0);
  EXPECT_EQ(d.deadline, now() + 24h);  // the original span, from now
  EXPECT_EQ(d.next_attempt_at, now());
  EXPECT_TRUE(store_->listDeadLetters({})->empty());
  auto trail = store_->auditTrail("T-dead");
  ASSERT_TRUE(trail.ok());
  EXPECT_EQ(trail->back().event, "replayed");
  EXPECT_EQ(trail->back().actor, "cli:alice");
  c = claim();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].message_id, id);
  // Only a dead letter can be replayed.
  EXPECT_EQ(store_->replayDeadLetter(c[0].delivery_id, replay).code(), Code::kNotFound);
  EXPECT_EQ(store_->replayDeadLetter(999999, replay).code(), Code::kNotFound);
}

TEST_P(StoreContractTest, ReplayRefusesWhatWasNeverRouted) {
  NewDelivery unrouted;
  unrouted.address = "urn:nhs-uk:addressing:ods:NOWHERE";
  unrouted.initial_state = DeliveryState::kDeadLetter;
  unrouted.cause = DeadLetterCause::kUnroutable;
  unrouted.error = "route not found";
  unrouted.next_attempt_at = unrouted.deadline = now();
  int64_t id = accept("T-unrouted", {unrouted});
  DeliveryTask d = only(id);
  EXPECT_EQ(d.state, DeliveryState::kDeadLetter);
  ReplayOptions replay;
  replay.now = now();
  EXPECT_EQ(store_->replayDeadLetter(d.delivery_id, replay).code(), Code::kRejected);
  auto n = store_->replayAllDeadLetters(replay);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
  EXPECT_EQ(only(id).state, DeliveryState::kDeadLetter);
}

TEST_P(StoreContractTest, ReplayAllReplaysEveryDeadLetterOfARoute) {
  for (int i = 0; i < 3; ++i) accept("r1-" + std::to_string(i), {makeDelivery(now(), "ep", "r1")});
  accept("r2-0", {makeDelivery(now(), "ep", "r2")});
  for (const auto& t : claim())
    ASSERT_TRUE(recordNow(*store_, outcome(t.delivery_id, Next::kDeadLetter, now(), "x")).ok());
  ReplayOptions replay;
  replay.now = now();
  replay.route = "r1";
  auto n = store_->replayAllDeadLetters(replay);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 3u);
  ASSERT_EQ(store_->listDeadLetters({})->size(), 1u);
  replay.route.clear();
  EXPECT_EQ(*store_->replayAllDeadLetters(replay), 1u);
  EXPECT_EQ(claim().size(), 4u);
}

TEST_P(StoreContractTest, ReplayedDeadLetterWaitsBehindItsKeysActiveHead) {
  int64_t first = accept("f1", {makeDelivery(now(), "ep", "route", "route|S")});
  auto c = claim();
  ASSERT_TRUE(recordNow(*store_, outcome(c[0].delivery_id, Next::kDeadLetter, now(), "x")).ok());
  int64_t second = accept("f2", {makeDelivery(now(), "ep", "route", "route|S")});
  c = claim();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].message_id, second);
  ReplayOptions replay;
  replay.now = now();
  ASSERT_TRUE(store_->replayDeadLetter(only(first).delivery_id, replay).ok());
  EXPECT_EQ(only(first).state, DeliveryState::kWaiting);
  ASSERT_TRUE(recordNow(*store_, outcome(c[0].delivery_id, Next::kDelivered, now())).ok());
  c = claim();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].message_id, first);
}

// Delivers a fresh message that asked for acks and returns its delivery.
DeliveryTask deliverExpecting(Store& store, test::ManualClock& clock, const std::string& tracking,
                              std::vector<ExpectedAck> acks,
                              std::vector<std::string> addresses = {"urn:a"}) {
  std::vector<NewDelivery> ds;
  for (const auto& a : addresses) {
    NewDelivery d = makeDelivery(clock.now(), "ep-" + a);
    d.address = a;
    ds.push_back(d);
  }
  auto r = acceptNow(store, makeRequest(makeMessage(tracking, clock.now()), ds));
  EXPECT_TRUE(r.ok());
  auto c = claimNow(store, clock.now());
  EXPECT_EQ(c->tasks.size(), addresses.size());
  for (const auto& t : c->tasks) {
    auto rec = outcome(t.delivery_id, Next::kDelivered, clock.now());
    rec.expect_acks = acks;
    EXPECT_TRUE(recordNow(store, rec).ok());
  }
  return c->tasks.front();
}

AckArrival ackFor(const std::string& tracking, MessageKind kind, const std::string& from,
                  TimePoint at, bool positive = true) {
  AckArrival a;
  a.acknowledged_tracking_id = tracking;
  a.kind = kind;
  a.from_address = from;
  a.ack_message_id = 4242;
  a.positive = positive;
  a.at = at;
  return a;
}

TEST_P(StoreContractTest, AnAckResolvesTheExpectationRecordedWithTheDelivery) {
  DeliveryTask d =
      deliverExpecting(*store_, clock_, "T-ack",
                       {{AckKind::kInfrastructure, now() + 1h}, {AckKind::kBusiness, now() + 48h}});
  auto acks = store_->acksOf(d.message_id);
  ASSERT_TRUE(acks.ok());
  ASSERT_EQ(acks->size(), 2u);
  EXPECT_EQ((*acks)[0].state, PendingAckState::kOpen);
  EXPECT_EQ(store_->statistics()->acks_open, 2);
  clock_.advance(2s);
  auto r = resolveNow(*store_, ackFor("T-ack", MessageKind::kInfrastructureAck, "urn:a", now()));
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->kind, AckKind::kInfrastructure);
  EXPECT_EQ((*r)->message_id, d.message_id);
  EXPECT_EQ((*r)->resolved_at - (*r)->created_at, 2s);
  EXPECT_EQ((*r)->ack_message_id, 4242);
  auto nack =
      resolveNow(*store_, ackFor("T-ack", MessageKind::kBusinessAck, "urn:a", now(), false));
  ASSERT_TRUE(nack->has_value());
  EXPECT_FALSE((*nack)->positive);
  EXPECT_EQ(store_->statistics()->acks_open, 0);
  EXPECT_EQ(events("T-ack"),
            (std::vector<std::string>{"accepted", "delivered", "acked", "nacked"}));
}

TEST_P(StoreContractTest, AnAckPrefersTheExpectationOfTheAddressItCameFrom) {
  deliverExpecting(*store_, clock_, "T-two", {{AckKind::kInfrastructure, now() + 1h}},
                   {"urn:a", "urn:b"});
  auto r = resolveNow(*store_, ackFor("T-two", MessageKind::kInfrastructureAck, "urn:b", now()));
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ((*r)->address, "urn:b");
  r = resolveNow(*store_, ackFor("T-two", MessageKind::kItk3Response, "urn:other", now()));
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ((*r)->address, "urn:a");
  r = resolveNow(*store_, ackFor("T-two", MessageKind::kInfrastructureAck, "urn:a", now()));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());  // nothing left open: kept as an early ack
}

TEST_P(StoreContractTest, AnAckArrivingBeforeItsExpectationResolvesItWhenRecorded) {
  auto early =
      resolveNow(*store_, ackFor("T-early", MessageKind::kInfrastructureAck, "urn:a", now()));
  ASSERT_TRUE(early.ok());
  EXPECT_FALSE(early->has_value());
  EXPECT_EQ(events("T-early"), std::vector<std::string>{"ack-unmatched"});
  DeliveryTask d =
      deliverExpecting(*store_, clock_, "T-early", {{AckKind::kInfrastructure, now() + 1h}});
  auto acks = store_->acksOf(d.message_id);
  ASSERT_EQ(acks->size(), 1u);
  EXPECT_EQ((*acks)[0].state, PendingAckState::kResolved);
  EXPECT_EQ(store_->statistics()->acks_open, 0);
}

TEST_P(StoreContractTest, AnOverdueExpectationExpiresAndALateAckStillClosesIt) {
  DeliveryTask d =
      deliverExpecting(*store_, clock_, "T-late", {{AckKind::kInfrastructure, now() + 1h}});
  auto none = store_->expireAcks(now() + 59min, 100);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  clock_.advance(61min);
  auto expired = store_->expireAcks(now(), 100);
  ASSERT_TRUE(expired.ok());
  ASSERT_EQ(expired->size(), 1u);
  EXPECT_EQ((*expired)[0].delivery_id, d.delivery_id);
  EXPECT_TRUE(store_->expireAcks(now(), 100)->empty());  // once
  auto stats = store_->statistics();
  EXPECT_EQ(stats->acks_open, 0);
  EXPECT_EQ(stats->acks_expired, 1);
  EXPECT_EQ(events("T-late").back(), "ack-timeout");
  auto r = resolveNow(*store_, ackFor("T-late", MessageKind::kInfrastructureAck, "urn:a", now()));
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ((*r)->state, PendingAckState::kResolved);
}

TEST_P(StoreContractTest, DeadLettersWaitForTheirSenderToBeTold) {
  NewDelivery unrouted;
  unrouted.initial_state = DeliveryState::kDeadLetter;
  unrouted.cause = DeadLetterCause::kUnroutable;
  unrouted.error = "route not found";
  int64_t id = accept("T-nack", {unrouted});
  auto pending = store_->unnotifiedDeadLetters(10);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].message_id, id);
  EXPECT_EQ(store_->statistics()->dead_letters_unnotified, 1);
  ASSERT_TRUE(test::notifiedNow(*store_, (*pending)[0].delivery_id, now()).ok());
  EXPECT_TRUE(store_->unnotifiedDeadLetters(10)->empty());
  EXPECT_TRUE(only(id).sender_notified);
  EXPECT_EQ(events("T-nack").back(), "sender-notified");
  int64_t live = accept("T-live", {makeDelivery(now())});
  EXPECT_EQ(test::notifiedNow(*store_, only(live).delivery_id, now()).code(), Code::kNotFound);
}

TEST_P(StoreContractTest, StatisticsGiveDepthOldestAgeAndDeadLettersPerRoute) {
  TimePoint start = now();
  accept("s1", {makeDelivery(now(), "ep", "r1")});
  clock_.advance(10s);
  accept("s2", {makeDelivery(now(), "ep", "r1")});
  accept("s3", {makeDelivery(now(), "ep2", "r2")});
  ClaimRequest request;
  request.now = now();
  request.room = {{"ep", 1}, {"ep2", 1}};
  request.default_room = 0;
  auto c = claimNow(*store_, request);
  ASSERT_EQ(c->tasks.size(), 2u);
  for (const auto& t : c->tasks) {
    if (t.route == "r2") {
      ASSERT_TRUE(recordNow(*store_, outcome(t.delivery_id, Next::kDeadLetter, now(), "x")).ok());
    }
  }
  auto stats = store_->statistics();
  ASSERT_TRUE(stats.ok());
  ASSERT_EQ(stats->routes.size(), 2u);
  const RouteQueueStats& r1 = stats->routes[0];
  EXPECT_EQ(r1.route, "r1");
  EXPECT_EQ(r1.queued, 2);
  EXPECT_EQ(r1.in_flight, 1);
  EXPECT_EQ(*r1.oldest_queued, start);
  EXPECT_EQ(r1.dead_letters, 0);
  const RouteQueueStats& r2 = stats->routes[1];
  EXPECT_EQ(r2.queued, 0);
  EXPECT_FALSE(r2.oldest_queued.has_value());
  EXPECT_EQ(r2.dead_letters, 1);
}

TEST_P(StoreContractTest, RetentionPrunesBodiesThenRowsAuditAndDedupKeys) {
  int64_t done_id = accept("T-old", {makeDelivery(now())});
  int64_t open_id = accept("T-open", {makeDelivery(now(), "other")});
  ClaimRequest request;
  request.now = now();
  request.room = {{"ep", 1}};
  request.default_room = 0;
  auto c = claimNow(*store_, request);
  ASSERT_EQ(c->tasks.size(), 1u);
  ASSERT_TRUE(recordNow(*store_, outcome(c->tasks[0].delivery_id, Next::kDelivered, now())).ok());

  clock_.advance(23h);
  auto p = store_->prune(now());
  ASSERT_TRUE(p.ok()) << p.status().toString();
  EXPECT_EQ(p->bodies_pruned, 0);
  EXPECT_EQ(p->dedup_keys_deleted, 2);  // the 1 h window is over
  clock_.advance(2h);
  p = store_->prune(now());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->bodies_pruned, 1);
  EXPECT_EQ(store_->loadMessage(done_id).status().code(), Code::kStoreError);
  EXPECT_TRUE(store_->loadHeader(done_id).ok());
  EXPECT_TRUE(store_->loadMessage(open_id).ok());  // unfinished: kept whatever its age

  clock_.advance(48h);
  p = store_->prune(now());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->messages_deleted, 1);
  EXPECT_GE(p->audit_deleted, 3);  // both "accepted" and the "delivered"
  EXPECT_EQ(store_->loadHeader(done_id).status().code(), Code::kNotFound);
  EXPECT_TRUE(store_->deliveriesOf(done_id)->empty());
  EXPECT_TRUE(store_->auditTrail("T-old")->empty());
  EXPECT_TRUE(store_->loadMessage(open_id).ok());
}

TEST_P(StoreContractTest, AuditNeverHoldsPayloadContent) {
  Message m =
      makeMessage("T-pii", now(), "urn:s", "<ClinicalDocument>NHS 943 476 5919</ClinicalDocument>");
  auto r = acceptNow(*store_, makeRequest(m, {makeDelivery(now())}));
  ASSERT_TRUE(r.ok());
  auto c = claim();
  ASSERT_TRUE(recordNow(*store_, outcome(c[0].delivery_id, Next::kDelivered, now())).ok());
  auto trail = store_->auditTrail("T-pii");
  ASSERT_TRUE(trail.ok());
  for (const auto& e : *trail) {
    EXPECT_EQ(e.detail.find("943 476 5919"), std::string::npos) << e.detail;
    EXPECT_EQ(e.detail.find("ClinicalDocument"), std::string::npos) << e.detail;
  }
}

TEST_P(StoreContractTest, AppendedAuditEventsJoinTheTrail) {
  int64_t id = accept("T-ext", {makeDelivery(now())});
  AuditEvent e;
  e.at = now();
  e.message_id = id;
  e.tracking_id = "T-ext";
  e.event = "nack-sent";
  e.actor = "router";
  e.detail = "infrastructure NACK 2200 to urn:s";
  std::promise<Status> p;
  store_->appendAudit(e, [&](Status s) { p.set_value(s); });
  ASSERT_TRUE(p.get_future().get().ok());
  EXPECT_EQ(events("T-ext"), (std::vector<std::string>{"accepted", "nack-sent"}));
}

TEST_P(StoreContractTest, CallbacksNeverRunInline) {
  std::thread::id caller = std::this_thread::get_id();
  std::promise<std::thread::id> p;
  store_->accept(makeRequest(makeMessage("T-thread", now()), {}),
                 [&](Result<AcceptResult>) { p.set_value(std::this_thread::get_id()); });
  EXPECT_NE(p.get_future().get(), caller);
}

INSTANTIATE_TEST_SUITE_P(
    Backends, StoreContractTest,
    ::testing::Values(Backend{"memory",
                              [](const StoreConfig& c) -> std::unique_ptr<Store> {
                                return std::make_unique<MemoryStore>(c);
                              }},
                      Backend{"sqlite",
                              [](const StoreConfig& c) -> std::unique_ptr<Store> {
                                auto s = SqliteStore::open(c);
                                EXPECT_TRUE(s.ok()) << s.status().toString();
                                return s.ok() ? std::move(*s) : nullptr;
                              }}),
    [](const ::testing::TestParamInfo<Backend>& info) { return info.param.name; });

}  // namespace
}  // namespace itk
