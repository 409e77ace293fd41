#include "itk/message.h"

#include "itk/store.h"
#include "itk/transport.h"

namespace itk {

std::string_view formatName(MessageFormat f) {
  switch (f) {
    case MessageFormat::kItk2: return "itk2";
    case MessageFormat::kItk3: return "itk3";
  }
  return "unknown";
}

std::string_view kindName(MessageKind k) {
  switch (k) {
    case MessageKind::kBusiness: return "business";
    case MessageKind::kInfrastructureAck: return "infack";
    case MessageKind::kBusinessAck: return "busack";
    case MessageKind::kItk3Response: return "itk3-response";
  }
  return "unknown";
}

std::string_view outcomeName(SendResult::Outcome o) {
  switch (o) {
    case SendResult::Outcome::kDelivered: return "delivered";
    case SendResult::Outcome::kRetryable: return "retryable";
    case SendResult::Outcome::kPermanent: return "permanent";
  }
  return "unknown";
}

std::string_view deliveryStateName(DeliveryState s) {
  switch (s) {
    case DeliveryState::kPending: return "pending";
    case DeliveryState::kInFlight: return "in-flight";
    case DeliveryState::kDelivered: return "delivered";
    case DeliveryState::kDeadLetter: return "dead-letter";
    case DeliveryState::kWaiting: return "waiting";
  }
  return "unknown";
}

std::string_view deadLetterCauseName(DeadLetterCause c) {
  switch (c) {
    case DeadLetterCause::kNone: return "none";
    case DeadLetterCause::kUnroutable: return "unroutable";
    case DeadLetterCause::kRejectedByRoute: return "rejected-by-route";
    case DeadLetterCause::kPermanentFailure: return "permanent-failure";
    case DeadLetterCause::kAttemptsExhausted: return "attempts-exhausted";
    case DeadLetterCause::kDeadlineExpired: return "deadline-expired";
  }
  return "unknown";
}

std::string_view ackKindName(AckKind k) {
  switch (k) {
    case AckKind::kAny: return "any";
    case AckKind::kInfrastructure: return "infrastructure";
    case AckKind::kBusiness: return "business";
  }
  return "unknown";
}

}  // namespace itk
