// Rules and audit wording shared by every Store backend, so that the in-memory store used by
// tests and the durable ones behave (and audit) the same way.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "itk/store.h"

namespace itk::store_rules {

// Delivered and dead-lettered deliveries are final: they hold no FIFO key and no queue slot.
inline bool isFinal(DeliveryState s) {
  return s == DeliveryState::kDelivered || s == DeliveryState::kDeadLetter;
}

// The expectation kinds an arriving ack may resolve.
std::vector<AckKind> kindsResolvedBy(MessageKind kind);
// The kind recorded for an ack that arrived before its expectation (kEarly).
AckKind earlyKindOf(MessageKind kind);
// True when an early ack of kind `early` resolves an expectation of kind `expected`.
inline bool earlyMatches(AckKind early, AckKind expected) {
  return early == AckKind::kAny || early == expected;
}

// Who sent a message (IG): "from SENDER, audit identity ID, via TRANSPORT, peer P,
// authenticated as A, transport id T", leaving out what is unknown.
std::string senderDetail(const Message& message);
// The "accepted" audit detail: who sent it (sender address, audit identity, transport, peer,
// authenticated identity, transport id) and where each delivery goes. Never payload content.
std::string acceptedDetail(const AcceptRequest& request);
// The "duplicate" audit detail.
std::string duplicateDetail(const Message& message);
// The "proxied" audit detail of a synchronous request/response exchange (nothing is stored but
// this event): who sent it, where it went and how it ended.
std::string proxiedDetail(const Message& message, const std::string& route,
                          const std::string& endpoint, std::string_view outcome,
                          const std::string& result);

struct AuditEntry {
  std::string_view event;
  std::string detail;
};
// The audit event of a recorded attempt; `attempt` counts it (1 for the first); where it went:
// the endpoint and the address-list entry the delivery is for.
AuditEntry attemptAudit(const AttemptRecord& record, int attempt, const std::string& endpoint,
                        const std::string& address);
AuditEntry lateFailureAudit(const LateFailure& failure, const std::string& endpoint);
// "acked"/"nacked" for an expectation resolved by an ack message.
AuditEntry ackAudit(const PendingAck& resolved);
std::string ackUnmatchedDetail(const AckArrival& arrival);
std::string ackTimeoutDetail(const PendingAck& expired);
std::string replayedDetail(const DeliveryTask& before);

// Why a dead letter cannot be replayed (empty: it can).
std::string replayRefusal(const DeliveryTask& task, bool body_pruned);
// The replayed delivery's deadline: now + its original span, or the fallback.
TimePoint replayDeadline(const DeliveryTask& task, const ReplayOptions& options);

// Newline-free length-prefixed encoding of a list of strings ("3:abc5:hello"), for portable
// TEXT columns holding the address list and transport attributes.
std::string encodeStrings(const std::vector<std::string>& items);
bool decodeStrings(std::string_view text, std::vector<std::string>* out);

}  // namespace itk::store_rules
