#include "server/router.h"

#include "itk/fhir/response.h"
#include "itk/log.h"

namespace itk {

Router::Router(Store& store, const RoutingTableHolder& routing, DeliveryEngine& engine,
               TransportResolver transports, const Clock& clock, RouterHooks hooks,
               AckTracker* acks)
    : store_(store),
      routing_(routing),
      engine_(engine),
      transports_(std::move(transports)),
      clock_(clock),
      hooks_(std::move(hooks)),
      acks_(acks) {}

namespace {

struct Plan {
  std::vector<NewDelivery> deliveries;
  std::vector<UnroutedAddress> unrouted;
  const Route* sync_route = nullptr;  // set when the (single) route is a synchronous proxy
};

// The routing decision (fan-out: one delivery per distinct route and endpoint, spec/itk2.md
// §5.1) as the deliveries to store.
Plan plan(const RoutingTable& table, const MessageHeader& h, TimePoint now) {
  Plan p;
  RoutingDecision decision = decide(table, h);
  for (const RoutedDelivery& routed : decision.deliveries) {
    const Route& route = *routed.route;
    if (route.mode == RouteMode::kSyncProxy) p.sync_route = &route;
    NewDelivery d;
    d.route = route.name;
    d.endpoint = route.endpoint;
    d.address = routed.addresses.front();  // the DE goes unchanged, with all its addresses
    d.ordering_key = routed.ordering_key;
    d.next_attempt_at = now;
    d.deadline = now + route.retry.deadline;
    d.max_attempts = route.retry.max_attempts;
    p.deliveries.push_back(std::move(d));
  }
  for (RefusedAddress& refused : decision.refused) {
    p.unrouted.push_back({std::move(refused.address),
                          refused.route ? refused.route->name : std::string(),
                          std::move(refused.reason)});
  }
  return p;
}

// ITK3 §2.4: a response goes back to whoever sent the message it answers, the way that message
// came. Its receiver is optional (and an ODS code at best, which MESH cannot send to), so an ITK3
// response that arrived from a peer is addressed by correlation: the latest ITK3 message relayed
// here whose MessageHeader.id the response acknowledges (a business message, or a business
// response that the original sender acknowledges in the Full Acknowledgement pattern) gives the
// MESH mailbox it came from (else its source.endpoint), and the response travels on that
// message's workflow with _ACK appended (else on the _ACK workflow it came on). The router's own
// responses are not relayed messages: an answer to one ends here. False when no such message is
// stored: the response keeps the address of its receiver, if any, and otherwise becomes a dead
// letter (never answered). Responses the router built itself are already addressed this way.
bool addressByCorrelation(Store& store, Message& m) {
  const MessageHeader& h = m.header;
  if (h.format != MessageFormat::kItk3 || h.kind != MessageKind::kItk3Response ||
      h.acknowledged_tracking_id.empty() || m.origin.transport == "router") {
    return false;
  }
  auto ids = store.findByTrackingId(h.acknowledged_tracking_id);
  if (!ids.ok()) return false;
  for (auto it = ids->rbegin(); it != ids->rend(); ++it) {
    auto original = store.loadHeader(*it);
    if (!original.ok()) continue;
    const Message& o = **original;
    if (o.header.format != MessageFormat::kItk3 || o.origin.transport == "router" ||
        (o.header.kind != MessageKind::kBusiness && o.header.kind != MessageKind::kItk3Response)) {
      continue;
    }
    const std::string* from = o.origin.attribute(itk3::kAttrMeshFrom);
    std::string reply_to = from && !from->empty() ? *from : o.header.sender_address;
    if (reply_to.empty()) continue;
    const std::string receiver = h.addresses.empty() ? std::string() : h.addresses.front();
    m.header.addresses = {std::move(reply_to)};
    if (!m.origin.attribute(itk3::kAttrMeshReplyWorkflow)) {
      std::string workflow;
      const std::string* asked = o.origin.attribute(itk3::kAttrMeshWorkflow);
      const std::string* came = m.origin.attribute(itk3::kAttrMeshWorkflow);
      if (asked && !asked->empty())
        workflow = itk3::ackWorkflow(*asked);
      else if (came && itk3::isAckWorkflow(*came))
        workflow = *came;
      if (!workflow.empty()) {
        m.origin.attributes.emplace_back(std::string(itk3::kAttrMeshReplyWorkflow),
                                         std::move(workflow));
      }
    }
    log::info("message.correlated", {{"tracking_id", h.tracking_id},
                                     {"acknowledges", h.acknowledged_tracking_id},
                                     {"original", static_cast<long long>(*it)},
                                     {"address", m.header.addresses.front()},
                                     {"receiver", receiver}});
    return true;
  }
  log::warn("message.uncorrelated", {{"tracking_id", h.tracking_id},
                                     {"acknowledges", h.acknowledged_tracking_id},
                                     {"reason", "no ITK3 message with that id to answer"}});
  return false;
}

}  // namespace

void Router::accept(Message message, AcceptCallback done) {
  if (stopping_) {
    done(AcceptOutcome::busy(Status::unavailable("the router is shutting down")));
    return;
  }
  RoutingTablePtr table = routing_.current();
  if (!table) {
    done(AcceptOutcome::busy(Status::unavailable("no routing table is loaded")));
    return;
  }
  TimePoint now = clock_.now();
  if (message.received_at == TimePoint{}) message.received_at = now;
  addressByCorrelation(store_, message);
  Plan p = plan(*table, message.header, now);

  // Request/response services are proxied now and the response relayed (spec/itk2.md §4.3).
  if (p.sync_route) {
    if (p.deliveries.size() != 1 || !p.unrouted.empty()) {
      done(AcceptOutcome::rejected(
          Status::rejected("a synchronous request must resolve to exactly one route")
              .withToolkit(ToolkitCode::kNotRetryable)));
      return;
    }
    const EndpointSpec* endpoint = table->endpoint(p.sync_route->endpoint);
    if (!endpoint) {
      done(AcceptOutcome::rejected(
          Status::internal("endpoint " + p.sync_route->endpoint + " missing")));
      return;
    }
    proxySynchronously(std::move(message), *p.sync_route, *endpoint, table, std::move(done));
    return;
  }

  for (const auto& u : p.unrouted) {
    NewDelivery d;
    d.route = u.route;
    d.endpoint = "";
    d.address = u.address;
    d.initial_state = DeliveryState::kDeadLetter;
    d.cause = u.route.empty() ? DeadLetterCause::kUnroutable : DeadLetterCause::kRejectedByRoute;
    d.error = u.reason.message();
    d.next_attempt_at = now;
    d.deadline = now;
    d.max_attempts = 0;
    p.deliveries.push_back(std::move(d));
  }
  if (p.deliveries.empty()) {
    // An empty address list: the DE reader refuses these, but a message must never vanish.
    NewDelivery d;
    d.initial_state = DeliveryState::kDeadLetter;
    d.cause = DeadLetterCause::kUnroutable;
    d.error = "the message has no address to route on";
    d.next_attempt_at = d.deadline = now;
    d.max_attempts = 0;
    p.deliveries.push_back(std::move(d));
  }

  ++pending_;
  AcceptRequest request;
  request.message = std::move(message);
  request.deliveries = std::move(p.deliveries);
  // De-duplication needs a tracking id; a message without one is never a duplicate.
  request.deduplicate = !request.message.header.tracking_id.empty();
  auto keep = std::make_shared<Message>(request.message);  // header/body for hooks and logs
  store_.accept(std::move(request), [this, done = std::move(done), keep,
                                     unrouted = std::move(p.unrouted)](
                                        Result<AcceptResult> r) mutable {
    const auto& h = keep->header;
    if (!r.ok()) {
      log::error("message.store_failed",
                 {{"tracking_id", h.tracking_id}, {"error", r.status().toString()}});
      done(AcceptOutcome::busy(Status::unavailable("the store cannot accept: " +
                                                   r.status().message())));
      --pending_;
      return;
    }
    keep->id = r->message_id;
    MessagePtr stored = keep;
    if (r->duplicate) {
      log::info("message.duplicate", {{"tracking_id", h.tracking_id},
                                      {"sender", h.sender_address},
                                      {"transport", keep->origin.transport}});
      done(AcceptOutcome::duplicate(r->message_id));
      if (hooks_.on_accepted) hooks_.on_accepted(stored, AcceptOutcome::Kind::kDuplicate);
      --pending_;
      return;
    }
    log::info("message.accepted", {{"tracking_id", h.tracking_id},
                                   {"service", h.service},
                                   {"kind", kindName(h.kind)},
                                   {"transport", keep->origin.transport},
                                   {"message_id", static_cast<long long>(r->message_id)}});
    done(AcceptOutcome::accepted(r->message_id));
    engine_.notify();
    // An acknowledgement closes the expectation its original's delivery recorded (it is also
    // routed back to the original sender like any message).
    if (acks_ && h.kind != MessageKind::kBusiness) acks_->onAckAccepted(stored);
    for (const auto& u : unrouted) {
      log::warn("message.unrouted", {{"tracking_id", h.tracking_id},
                                     {"address", u.address},
                                     {"route", u.route},
                                     {"reason", u.reason.message()}});
    }
    if (hooks_.on_accepted) hooks_.on_accepted(stored, AcceptOutcome::Kind::kAccepted);
    if (!unrouted.empty() && hooks_.on_unrouted) hooks_.on_unrouted(stored, unrouted);
    --pending_;
  });
}

void Router::proxySynchronously(Message message, const Route& route, const EndpointSpec& endpoint,
                                RoutingTablePtr table, AcceptCallback done) {
  Transport* transport = transports_(endpoint.transport);
  if (!transport) {
    done(AcceptOutcome::rejected(Status::internal("transport " + endpoint.transport +
                                                  " is not configured")));
    return;
  }
  ++pending_;
  OutboundMessage out;
  auto msg = std::make_shared<Message>(std::move(message));
  out.message = msg;
  out.route = route.name;
  out.address = msg->header.addresses.empty() ? "" : msg->header.addresses.front();
  out.time_to_live = route.time_to_live;
  out.timeout = route.timeout;
  std::string route_name = route.name;
  transport->send(std::move(out), endpoint,
                  [this, done = std::move(done), msg, table, route_name](SendResult r) {
                    log::info("message.proxied", {{"tracking_id", msg->header.tracking_id},
                                                  {"route", route_name},
                                                  {"outcome", outcomeName(r.outcome)},
                                                  {"detail", r.detail}});
                    if (r.outcome == SendResult::Outcome::kDelivered) {
                      AcceptOutcome o = AcceptOutcome::accepted(0);
                      o.response = r.response;
                      done(std::move(o));
                    } else if (r.outcome == SendResult::Outcome::kRetryable) {
                      done(AcceptOutcome::rejected(
                          Status::timeout(r.detail).withToolkit(ToolkitCode::kRetryable)));
                    } else {
                      done(AcceptOutcome::rejected(
                          Status::rejected(r.detail).withToolkit(ToolkitCode::kNotRetryable)));
                    }
                    --pending_;
                  });
}

namespace {

// The delivered delivery a failure report is about: the one the next hop gave `remote_id`, else
// the one delivered on `transport` for the message with that tracking id. `in_flight` is set when
// none is found but the message has an attempt whose outcome is not recorded yet: the next hop can
// report on a message (MESH error 12, EPL-15x) before the router has written down that it took it.
std::optional<DeliveryTask> reportedDelivery(Store& store, const DeliveryFailureReport& report,
                                             bool* in_flight) {
  *in_flight = false;
  auto pick = [&](const std::vector<int64_t>& message_ids,
                  bool by_remote_id) -> std::optional<DeliveryTask> {
    for (int64_t id : message_ids) {
      auto deliveries = store.deliveriesOf(id);
      if (!deliveries.ok()) continue;
      for (const auto& d : *deliveries) {
        if (d.state == DeliveryState::kInFlight) *in_flight = true;
        if (d.state != DeliveryState::kDelivered) continue;
        if (by_remote_id ? d.remote_id == report.remote_id : !d.remote_id.empty()) return d;
      }
    }
    return std::nullopt;
  };
  if (!report.remote_id.empty()) {
    if (auto ids = store.findByTransportId(report.remote_id); ids.ok()) {
      if (auto d = pick(*ids, true)) return d;
    }
  }
  if (!report.tracking_id.empty()) {
    if (auto ids = store.findByTrackingId(report.tracking_id); ids.ok()) return pick(*ids, false);
  }
  return std::nullopt;
}

}  // namespace

void Router::reportDeliveryFailure(DeliveryFailureReport report,
                                   std::function<void(Status)> done) {
  bool in_flight = false;
  auto delivery = reportedDelivery(store_, report, &in_flight);
  if (!delivery && in_flight) {
    // Not refused for good: the transport keeps the report and offers it again.
    log::info("delivery.report_deferred", {{"transport", report.transport},
                                           {"report_id", report.report_id},
                                           {"tracking_id", report.tracking_id},
                                           {"reason", "the reported delivery is still in flight"}});
    done(Status::unavailable("the delivery the report is about is still in flight"));
    return;
  }
  if (!delivery) {
    log::warn("delivery.report_unmatched", {{"transport", report.transport},
                                            {"report_id", report.report_id},
                                            {"remote_id", report.remote_id},
                                            {"tracking_id", report.tracking_id},
                                            {"code", report.code}});
    done(Status());
    return;
  }
  LateFailure failure;
  failure.delivery_id = delivery->delivery_id;
  failure.at = clock_.now();
  failure.error = report.code + ": " + report.description;
  failure.report_id = report.report_id;
  log::warn("delivery.reported_failed", {{"tracking_id", report.tracking_id},
                                         {"route", delivery->route},
                                         {"endpoint", delivery->endpoint},
                                         {"code", report.code},
                                         {"detail", report.description}});
  store_.recordLateFailure(std::move(failure), [this, done = std::move(done)](Status s) {
    if (s.ok()) {
      engine_.notify();  // the dead letter's sender is answered on the engine's next poll
    } else if (s.code() == Code::kNotFound) {
      s = Status();  // already failed: a repeated report
    }
    done(s);
  });
}

void Router::reportUnreadable(const Origin& from, const Status& why) {
  log::warn("message.unreadable", {{"transport", from.transport},
                                   {"peer", from.peer},
                                   {"transport_message_id", from.transport_message_id},
                                   {"error", why.toString()}});
}

}  // namespace itk
