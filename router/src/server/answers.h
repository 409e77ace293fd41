// Answers: what the router itself tells senders (DESIGN.md §1: never a silent drop).
//  - Every dead letter — no route, a reject route, a delivery that failed for good or ran out of
//    attempts or time, a next hop's failure report — is answered with an infrastructure NACK
//    (ITK2) or a negative ITK3 response, unless the dead letter is itself an acknowledgement
//    (ITK2 §3.1: never NACK an ack; ITK3 §2.4: never answer a response).
//  - On a route with `infrastructure_ack: router`, the router sends the infrastructure ack the
//    sender asked for once the message is durable, and sends it again for a duplicate (CIAO).
//  - An ITK3 duplicate from the sender is answered 20007.
// Every answer is an ordinary message accepted into the Router and routed back to the sender by
// its address list, so it is durable, retried and audited like any other.
#pragma once

#include <functional>

#include "delivery/delivery_engine.h"
#include "itk/clock.h"
#include "itk/inbound_sink.h"
#include "itk/routing.h"
#include "itk/store.h"
#include "itk/transport.h"

namespace itk {

class Answers {
 public:
  // References outlive this object. `router` is where answers are accepted.
  Answers(InboundSink& router, Store& store, const RoutingTableHolder& routing,
          const Clock& clock, RouterIdentity identity);

  // DeliveryHooks::on_dead_letter. Calls `notified` once the answer is durably accepted, or at
  // once when no answer is due. When the router cannot accept it now (busy), `notified` is not
  // called: the dead letter is offered again when the engine restarts.
  void onDeadLetter(const DeadLetterNotice& notice, std::function<void()> notified);

  // RouterHooks::on_accepted: router-sent infrastructure acks and duplicate answers.
  void onAccepted(const MessagePtr& message, AcceptOutcome::Kind kind);

  // The NACK or ITK3 response for `original`, whose delivery to `address` (empty: the message as
  // a whole) became a dead letter for `cause` with the delivery's `error` (for a reported failure
  // "<peer code>: <text>", the code choosing the ITK3 response code). Exposed for tests. nullopt
  // when no answer is due (an ack, no sender address, not requested for ITK3).
  Result<std::optional<Message>> negativeAnswer(const Message& original, DeadLetterCause cause,
                                                const std::string& error,
                                                const std::string& address = {}) const;

 private:
  // Accepts `answer`; then runs `then` (on success or when the answer was refused for good).
  void send(Message answer, const std::string& about, std::function<void()> then);
  bool routerAcknowledges(const Message& message) const;

  InboundSink& router_;
  Store& store_;
  const RoutingTableHolder& routing_;
  const Clock& clock_;
  RouterIdentity identity_;
};

}  // namespace itk
