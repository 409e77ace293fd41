#include "server/answers.h"

#include "itk/envelope/builders.h"
#include "itk/envelope/distribution_envelope.h"
#include "itk/envelope/reader.h"
#include "itk/fhir/response.h"
#include "itk/log.h"

namespace itk {

namespace {

// Turns a DE the router built into a Message to accept (its header read back from its bytes, so
// routing sees exactly what the next hop will).
Result<Message> messageOf(itk2::BuiltEnvelope built) {
  auto bytes = std::make_shared<const std::string>(std::move(built.bytes));
  auto header = itk2::readDistributionEnvelope(*bytes);
  if (!header.ok()) return header.status();
  Message m;
  m.header = std::move(*header);
  m.body = std::move(bytes);
  m.origin.transport = "router";
  return m;
}

// The peer's code at the start of a late failure's text ("EPL-151: ...", "14: ...").
std::string_view peerCodeOf(std::string_view error) {
  auto colon = error.find(':');
  return colon == std::string_view::npos ? std::string_view() : error.substr(0, colon);
}

// The ITK2 status a NACK carries for a dead letter: address problems are DE0003 (address list),
// a failed delivery DE0001 (the DE as a whole); toolkit 2200 either way (not retryable).
Status nackStatus(DeadLetterCause cause, const std::string& reason) {
  switch (cause) {
    case DeadLetterCause::kUnroutable:
      return Status::unknownAddress(reason).withToolkit(ToolkitCode::kNotRetryable, "DE0003");
    case DeadLetterCause::kRejectedByRoute:
      return Status::rejected(reason).withToolkit(ToolkitCode::kNotRetryable, "DE0003");
    default:
      return Status::rejected("could not be delivered: " + reason)
          .withToolkit(ToolkitCode::kNotRetryable, "DE0001");
  }
}

std::string itk3CodeFor(DeadLetterCause cause, const std::string& error) {
  switch (cause) {
    case DeadLetterCause::kUnroutable:
    case DeadLetterCause::kRejectedByRoute:
      return "20002";  // Unrecognised Recipient Organisation
    case DeadLetterCause::kReportedFailure:
      return std::string(itk3::deliveryFailureCode(peerCodeOf(error)));
    default:
      return std::string(itk3::deliveryFailureCode());
  }
}

}  // namespace

Answers::Answers(InboundSink& router, Store& store, const RoutingTableHolder& routing,
                 const Clock& clock, RouterIdentity identity)
    : router_(router), store_(store), routing_(routing), clock_(clock),
      identity_(std::move(identity)) {}

// The router answers ITK3 messages from the mailbox they came to, else from its own.
static itk3::Responder responderFor(const Message& original, const RouterIdentity& identity) {
  itk3::Responder r;
  if (const std::string* to = original.origin.attribute(itk3::kAttrMeshTo)) r.mailbox = *to;
  if (r.mailbox.empty()) r.mailbox = identity.mesh_mailbox;
  if (r.mailbox.empty()) r.mailbox = identity.ods_code;
  r.ods_code = identity.ods_code;
  return r;
}

Result<std::optional<Message>> Answers::negativeAnswer(const Message& original,
                                                       DeadLetterCause cause,
                                                       const std::string& error,
                                                       const std::string& address) const {
  const MessageHeader& h = original.header;
  const std::string reason = address.empty() ? error : "address " + address + ": " + error;
  if (h.format == MessageFormat::kItk2) {
    // ITK2 §3.1: never NACK an ack (nor a Broadcast); a message without senderAddress cannot be
    // answered (§2: acks go to the original senderAddress).
    if (h.kind != MessageKind::kBusiness || !itk2::isAckable(h) || h.sender_address.empty())
      return std::optional<Message>();
    auto built = itk2::buildInfrastructureAck(h, identity_, nackStatus(cause, reason),
                                              clock_.now());
    if (!built.ok()) return built.status();
    auto message = messageOf(std::move(*built));
    if (!message.ok()) return message.status();
    return std::optional<Message>(std::move(*message));
  }
  // ITK3 §2.4: never answer a response; answer only what the sender asked for.
  if (h.kind == MessageKind::kItk3Response) return std::optional<Message>();
  // The peer's code leads the delivery's own error, not the text with the address before it.
  std::string code = itk3CodeFor(cause, error);
  itk3::ResponseContext context;
  context.inf_ack_requested = h.infack_requested;
  context.bus_ack_requested = h.busack_requested;
  if (itk3::decideResponse(context, code) != itk3::ResponseDecision::kSend)
    return std::optional<Message>();
  auto response =
      itk3::respondTo(original, code, responderFor(original, identity_), clock_.now(), reason);
  if (!response.ok()) return response.status();
  return std::optional<Message>(std::move(*response));
}

void Answers::onDeadLetter(const DeadLetterNotice& notice, std::function<void()> notified) {
  const DeliveryTask& task = notice.task;
  if (!notice.message) {
    log::error("answer.no_original", {{"delivery_id", static_cast<long long>(task.delivery_id)}});
    notified();
    return;
  }
  auto answer = negativeAnswer(*notice.message, task.cause, task.last_error, task.address);
  const std::string& tracking_id = notice.message->header.tracking_id;
  if (!answer.ok()) {
    // Building failed (a bug or an unanswerable original): retrying would fail the same way.
    log::error("answer.build_failed",
               {{"tracking_id", tracking_id}, {"error", answer.status().toString()}});
    notified();
    return;
  }
  if (!*answer) {
    log::info("answer.none_due", {{"tracking_id", tracking_id},
                                  {"kind", kindName(notice.message->header.kind)},
                                  {"cause", deadLetterCauseName(task.cause)}});
    notified();
    return;
  }
  send(std::move(**answer), tracking_id, std::move(notified));
}

bool Answers::routerAcknowledges(const Message& message) const {
  RoutingTablePtr table = routing_.current();
  if (!table) return false;
  RoutingDecision decision = decide(*table, message.header);
  for (const auto& d : decision.deliveries)
    if (d.route && d.route->router_infack) return true;
  return false;
}

void Answers::onAccepted(const MessagePtr& message, AcceptOutcome::Kind kind) {
  const MessageHeader& h = message->header;
  if (h.kind != MessageKind::kBusiness) return;  // acks and responses are never answered
  std::optional<Message> answer;
  if (h.format == MessageFormat::kItk2) {
    if (!itk2::infrastructureAckWanted(h) || !routerAcknowledges(*message)) return;
    // The positive infack (sent again for a duplicate, as CIAO does).
    auto built = itk2::buildInfrastructureAck(h, identity_, Status(), clock_.now());
    auto m = built.ok() ? messageOf(std::move(*built)) : Result<Message>(built.status());
    if (!m.ok()) {
      log::error("answer.build_failed", {{"tracking_id", h.tracking_id},
                                         {"error", m.status().toString()}});
      return;
    }
    answer = std::move(*m);
  } else {
    std::string code;
    if (kind == AcceptOutcome::Kind::kDuplicate) {
      // A sender's duplicate is 20007. The same transport id is the transport redelivering after
      // our own crash before it could acknowledge: not the sender's duplicate, nothing to say.
      auto original = store_.loadHeader(message->id);
      if (original.ok() && !message->origin.transport_message_id.empty() &&
          (*original)->origin.transport_message_id == message->origin.transport_message_id) {
        return;
      }
      code = "20007";
    } else if (routerAcknowledges(*message)) {
      code = "20013";  // Success: a business response may follow from the recipient
    } else {
      return;
    }
    itk3::ResponseContext context;
    context.inf_ack_requested = h.infack_requested;
    context.bus_ack_requested = h.busack_requested;
    if (itk3::decideResponse(context, code) != itk3::ResponseDecision::kSend) return;
    auto r = itk3::respondTo(*message, code, responderFor(*message, identity_), clock_.now());
    if (!r.ok()) {
      log::error("answer.build_failed", {{"tracking_id", h.tracking_id},
                                         {"error", r.status().toString()}});
      return;
    }
    answer = std::move(*r);
  }
  send(std::move(*answer), h.tracking_id, [] {});
}

void Answers::send(Message answer, const std::string& about, std::function<void()> then) {
  std::string tracking_id = answer.header.tracking_id;
  std::string kind(kindName(answer.header.kind));
  router_.accept(std::move(answer), [about, tracking_id, kind,
                                     then = std::move(then)](AcceptOutcome o) {
    switch (o.kind) {
      case AcceptOutcome::Kind::kAccepted:
      case AcceptOutcome::Kind::kDuplicate:
        log::info("answer.sent", {{"about", about}, {"tracking_id", tracking_id}, {"kind", kind}});
        then();
        break;
      case AcceptOutcome::Kind::kRejected:
        // Our own answer refused: a bug, and retrying would not help. The dead letter stays.
        log::error("answer.refused", {{"about", about}, {"error", o.status.toString()}});
        then();
        break;
      case AcceptOutcome::Kind::kBusy:
        log::warn("answer.deferred", {{"about", about}, {"error", o.status.toString()}});
        break;
    }
  });
}

}  // namespace itk
