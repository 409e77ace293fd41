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

// A transport's report that a message it sent earlier was not delivered after all: the peer took
// it (send() answered kDelivered with SendResult::remote_id) and later gave up on it, e.g. a MESH
// REPORT (error 14 not collected in 5 days, 12 unregistered, EPL-15x GP look-up failures).
struct DeliveryFailureReport {
  std::string transport;    // "mesh"
  std::string remote_id;    // SendResult::remote_id of the failed send (MESH mex-LinkedMsgID)
  std::string tracking_id;  // the local id it was sent with: header.tracking_id (mex-LocalID)
  std::string code;         // the peer's error code ("14", "12", "EPL-151", ...)
  std::string description;  // the peer's text, for audit and the NACK diagnostics
  std::string report_id;    // the report's own id (MESH message id), for audit
  Origin origin;            // where the report came from (mailbox, workflow)
};

// Implemented by the Router. Thread-safe.
class InboundSink {
 public:
  virtual ~InboundSink() = default;
  // Takes a parsed message. `done` fires once the message is durably committed (kAccepted),
  // recognised as a duplicate, refused, or cannot be taken; only then may the adapter answer.
  virtual void accept(Message message, AcceptCallback done) = 0;
  // Reports input an adapter could not even parse into a Message, for metrics and audit.
  virtual void reportUnreadable(const Origin& from, const Status& why) = 0;
  // Takes a delivery failure report: the router finds the delivery (by remote_id, else by
  // tracking_id), records it as failed and tells the original sender (an infrastructure NACK or
  // an ITK3 negative response). `done` fires once that is durable (OK) or cannot be done now
  // (an error: the transport keeps the report with its peer and offers it again later). May run
  // inline or on any thread. The default refuses, so no transport acknowledges a report the
  // router cannot act on.
  virtual void reportDeliveryFailure(DeliveryFailureReport report,
                                     std::function<void(Status)> done) {
    done(Status::unavailable("this router does not act on delivery failure reports (" +
                             report.transport + " " + report.report_id + ")"));
  }
};

}  // namespace itk
