#include "store/store_rules.h"

#include <charconv>

namespace itk::store_rules {

std::vector<AckKind> kindsResolvedBy(MessageKind kind) {
  switch (kind) {
    case MessageKind::kInfrastructureAck:
      return {AckKind::kInfrastructure};
    case MessageKind::kBusinessAck:
      return {AckKind::kBusiness};
    // An ITK3 response answers whichever response was asked for (spec/itk3-mesh.md).
    case MessageKind::kItk3Response:
      return {AckKind::kInfrastructure, AckKind::kBusiness};
    case MessageKind::kBusiness:
      return {};
  }
  return {};
}

AckKind earlyKindOf(MessageKind kind) {
  switch (kind) {
    case MessageKind::kInfrastructureAck:
      return AckKind::kInfrastructure;
    case MessageKind::kBusinessAck:
      return AckKind::kBusiness;
    default:
      return AckKind::kAny;
  }
}

// Who sent it (IG): the sender's address and audit identity from the message, and what its
// transport saw: the peer (IP and port, the sending MESH mailbox) and the identity it
// authenticated (TLS client subject, wsse:Username, our MESH mailbox) with the transport's id.
std::string senderDetail(const Message& m) {
  std::string d = "from " + (m.header.sender_address.empty() ? std::string("(no sender address)")
                                                             : m.header.sender_address);
  if (!m.header.audit_identity.empty()) d += ", audit identity " + m.header.audit_identity;
  d += ", via " + m.origin.transport;
  if (!m.origin.peer.empty()) d += ", peer " + m.origin.peer;
  if (!m.origin.authenticated_as.empty()) d += ", authenticated as " + m.origin.authenticated_as;
  if (!m.origin.transport_message_id.empty())
    d += ", transport id " + m.origin.transport_message_id;
  return d;
}

std::string acceptedDetail(const AcceptRequest& request) {
  const Message& m = request.message;
  std::string d =
      std::string(kindName(m.header.kind)) + " " + m.header.service + " " + senderDetail(m);
  for (const NewDelivery& nd : request.deliveries) {
    if (nd.initial_state == DeliveryState::kDeadLetter) {
      d += "; not routed " + nd.address + ": " + nd.error;
    } else {
      d += "; " + nd.address + " -> route " + nd.route + " endpoint " + nd.endpoint;
    }
  }
  return d;
}

std::string duplicateDetail(const Message& message) {
  return "same sender and tracking id again " + senderDetail(message) + "; not delivered again";
}

std::string proxiedDetail(const Message& message, const std::string& route,
                          const std::string& endpoint, std::string_view outcome,
                          const std::string& result) {
  return std::string(kindName(message.header.kind)) + " " + message.header.service + " " +
         senderDetail(message) + "; proxied synchronously to route " + route + " endpoint " +
         endpoint + ": " + std::string(outcome) + (result.empty() ? "" : " (" + result + ")");
}

AuditEntry attemptAudit(const AttemptRecord& record, int attempt, const std::string& endpoint,
                        const std::string& address) {
  std::string n = "attempt " + std::to_string(attempt) + " to " + endpoint + " for " + address;
  switch (record.next) {
    case AttemptRecord::Next::kDelivered: {
      std::string d = n + " delivered";
      if (!record.remote_id.empty()) d += " (remote id " + record.remote_id + ")";
      for (const ExpectedAck& e : record.expect_acks)
        d += "; " + std::string(ackKindName(e.kind)) + " ack expected by " +
             formatIsoSeconds(e.expected_by);
      return {audit_event::kDelivered, d};
    }
    case AttemptRecord::Next::kRetry:
      return {audit_event::kAttemptFailed, n + " failed: " + record.error + "; next attempt at " +
                                               formatIsoSeconds(record.next_attempt_at)};
    case AttemptRecord::Next::kDeadLetter:
      return {audit_event::kDeadLettered,
              n + " " + std::string(deadLetterCauseName(record.cause)) + ": " + record.error};
  }
  return {audit_event::kAttemptFailed, n};
}

AuditEntry lateFailureAudit(const LateFailure& failure, const std::string& endpoint) {
  std::string d = "reported undeliverable by " + endpoint + " after it had taken the message: " +
                  failure.error;
  if (!failure.report_id.empty()) d += " (report " + failure.report_id + ")";
  return {audit_event::kDeadLettered, d};
}

AuditEntry ackAudit(const PendingAck& resolved) {
  std::string d = std::string(ackKindName(resolved.kind)) + (resolved.positive ? " ack" : " nack") +
                  " (message " + std::to_string(resolved.ack_message_id) + ") from " +
                  resolved.address;
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(resolved.resolved_at -
                                                                      resolved.created_at);
  if (waited.count() >= 0) d += " after " + std::to_string(waited.count()) + " ms";
  if (resolved.resolved_at > resolved.expected_by) d += " (after its timeout)";
  return {resolved.positive ? audit_event::kAcked : audit_event::kNacked, d};
}

std::string ackUnmatchedDetail(const AckArrival& arrival) {
  return std::string(kindName(arrival.kind)) + " (message " +
         std::to_string(arrival.ack_message_id) + ") from " + arrival.from_address +
         " matches no open expectation; kept in case the delivery is still being recorded";
}

std::string ackTimeoutDetail(const PendingAck& expired) {
  return std::string(ackKindName(expired.kind)) + " ack from " + expired.address + " expected by " +
         formatIsoSeconds(expired.expected_by) + " did not arrive";
}

std::string replayedDetail(const DeliveryTask& before) {
  return "dead letter (" + std::string(deadLetterCauseName(before.cause)) + " after " +
         std::to_string(before.attempts) + " attempt(s): " + before.last_error +
         ") replayed to endpoint " + before.endpoint;
}

std::string replayRefusal(const DeliveryTask& task, bool body_pruned) {
  if (task.endpoint.empty())
    return "delivery " + std::to_string(task.delivery_id) + " was never routed (" +
           std::string(deadLetterCauseName(task.cause)) +
           "): the sender must send it again once the routing table has a route";
  if (body_pruned)
    return "the body of message " + std::to_string(task.message_id) +
           " was pruned by the retention policy";
  return {};
}

TimePoint replayDeadline(const DeliveryTask& task, const ReplayOptions& options) {
  Duration span = task.deadline - task.created_at;
  if (span <= Duration::zero()) span = options.fallback_deadline;
  return options.now + span;
}

std::string encodeStrings(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) {
    out += std::to_string(s.size());
    out += ':';
    out += s;
  }
  return out;
}

bool decodeStrings(std::string_view text, std::vector<std::string>* out) {
  out->clear();
  while (!text.empty()) {
    size_t colon = text.find(':');
    if (colon == std::string_view::npos) return false;
    size_t n = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + colon, n);
    if (ec != std::errc() || ptr != text.data() + colon || text.size() - colon - 1 < n)
      return false;
    out->emplace_back(text.substr(colon + 1, n));
    text.remove_prefix(colon + 1 + n);
  }
  return true;
}

}  // namespace itk::store_rules
