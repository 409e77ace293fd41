// InboundSink: where inbound transport adapters hand messages to the router.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "itk/message.h"
#include "itk/status.h"

namespace itk {

struct AcceptOutcome {
  enum class Kind {
    kAccepted,   // durably stored; the adapter may now acknowledge its peer
    kDuplicate,  // same sender and tracking id seen in the de-duplication window: answer as accepted
    kRejected,   // refused (status says why, with its toolkit code); nothing was stored
    kBusy,       // the router cannot take work now (store unavailable, queue limits): busy tone
  };
  Kind kind = Kind::kAccepted;
  Status status;            // why, for kRejected and kBusy
  int64_t message_id = 0;   // the stored message (kAccepted, kDuplicate)
  // Synchronous proxy routes only: the next hop's response, relayed to the caller unchanged.
  std::shared_ptr<const std::string> response;

  static AcceptOutcome accepted(int64_t id) { return {Kind::kAccepted, {}, id, nullptr}; }
  static AcceptOutcome duplicate(int64_t id) { return {Kind::kDuplicate, {}, id, nullptr}; }
  static AcceptOutcome rejected(Status s) { return {Kind::kRejected, std::move(s), 0, nullptr}; }
  static AcceptOutcome busy(Status s) { return {Kind::kBusy, std::move(s), 0, nullptr}; }
};

// Called exactly once. May run inline or on any thread; an adapter that needs its own executor
// posts to it.
using AcceptCallback = std::function<void(AcceptOutcome)>;

// Implemented by the Router. Thread-safe.
class InboundSink {
 public:
  virtual ~InboundSink() = default;
  // Takes a parsed message. `done` fires once the message is durably committed (kAccepted),
  // recognised as a duplicate, refused, or cannot be taken; only then may the adapter answer.
  virtual void accept(Message message, AcceptCallback done) = 0;
  // Reports input an adapter could not even parse into a Message, for metrics and audit.
  virtual void reportUnreadable(const Origin& from, const Status& why) = 0;
};

}  // namespace itk
