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
  }
  return "unknown";
}

}  // namespace itk
