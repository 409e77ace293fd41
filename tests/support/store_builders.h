// Builders for store tests: messages and accept requests with sensible ITK-looking defaults,
// and blocking wrappers over the Store's asynchronous calls (futures, no sleeps).
#pragma once

#include <future>
#include <memory>
#include <string>
#include <vector>

#include "itk/store.h"

namespace itk::test {

inline Message makeMessage(const std::string& tracking_id, TimePoint received_at,
                           const std::string& sender = "urn:nhs-uk:addressing:ods:SENDER",
                           std::string body = "<itk:DistributionEnvelope/>") {
  Message m;
  m.header.service = "urn:nhs-itk:services:201005:SendDocument-v1-0";
  m.header.interaction = "urn:nhs-itk:interaction:primaryRecipientDocument-v1-0";
  m.header.tracking_id = tracking_id;
  m.header.addresses = {"urn:nhs-uk:addressing:ods:RECIPIENT"};
  m.header.sender_address = sender;
  m.header.audit_identity = "urn:nhs-uk:identity:ods:SENDER";
  m.body = std::make_shared<const std::string>(std::move(body));
  m.origin.transport = "soap";
  m.origin.peer = "127.0.0.1:40000";
  m.origin.transport_message_id = "uuid:" + tracking_id;
  m.received_at = received_at;
  return m;
}

inline NewDelivery makeDelivery(TimePoint now, const std::string& endpoint = "ep",
                                const std::string& route = "route",
                                const std::string& ordering_key = "") {
  NewDelivery d;
  d.route = route;
  d.endpoint = endpoint;
  d.address = "urn:nhs-uk:addressing:ods:RECIPIENT";
  d.ordering_key = ordering_key;
  d.next_attempt_at = now;
  d.deadline = now + std::chrono::hours(24);
  d.max_attempts = 5;
  return d;
}

inline AcceptRequest makeRequest(Message m, std::vector<NewDelivery> deliveries) {
  AcceptRequest r;
  r.message = std::move(m);
  r.deliveries = std::move(deliveries);
  return r;
}

inline Result<AcceptResult> acceptNow(Store& store, AcceptRequest request) {
  std::promise<Result<AcceptResult>> p;
  auto f = p.get_future();
  store.accept(std::move(request), [&](Result<AcceptResult> r) { p.set_value(std::move(r)); });
  return f.get();
}

inline Result<ClaimResult> claimNow(Store& store, TimePoint now, size_t limit = 64,
                                    size_t default_room = 64) {
  ClaimRequest request;
  request.now = now;
  request.limit = limit;
  request.default_room = default_room;
  std::promise<Result<ClaimResult>> p;
  auto f = p.get_future();
  store.claimDue(std::move(request), [&](Result<ClaimResult> r) { p.set_value(std::move(r)); });
  return f.get();
}

inline Result<ClaimResult> claimNow(Store& store, ClaimRequest request) {
  std::promise<Result<ClaimResult>> p;
  auto f = p.get_future();
  store.claimDue(std::move(request), [&](Result<ClaimResult> r) { p.set_value(std::move(r)); });
  return f.get();
}

inline Status recordNow(Store& store, AttemptRecord record) {
  std::promise<Status> p;
  auto f = p.get_future();
  store.recordAttempt(std::move(record), [&](Status s) { p.set_value(std::move(s)); });
  return f.get();
}

inline Result<std::optional<PendingAck>> resolveNow(Store& store, AckArrival arrival) {
  std::promise<Result<std::optional<PendingAck>>> p;
  auto f = p.get_future();
  store.resolveAck(std::move(arrival),
                   [&](Result<std::optional<PendingAck>> r) { p.set_value(std::move(r)); });
  return f.get();
}

inline Status notifiedNow(Store& store, int64_t delivery_id, TimePoint at) {
  std::promise<Status> p;
  auto f = p.get_future();
  store.markSenderNotified(delivery_id, at, [&](Status s) { p.set_value(std::move(s)); });
  return f.get();
}

inline AttemptRecord outcome(int64_t delivery_id, AttemptRecord::Next next, TimePoint at,
                             std::string error = {}) {
  AttemptRecord r;
  r.delivery_id = delivery_id;
  r.next = next;
  r.at = at;
  r.error = std::move(error);
  if (next == AttemptRecord::Next::kDeadLetter) r.cause = DeadLetterCause::kPermanentFailure;
  return r;
}

}  // namespace itk::test
