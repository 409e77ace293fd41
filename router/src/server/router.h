// Router: the InboundSink every inbound transport hands messages to. It asks the routing table
// where each address goes, commits the message and its deliveries to the Store in one group
// commit, answers the adapter only after that, and wakes the DeliveryEngine. Addresses that are
// rejected or have no route become dead-letter deliveries plus a NACK to the sender: never a
// silent drop (DESIGN.md §1).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "delivery/ack_tracker.h"
#include "delivery/delivery_engine.h"
#include "itk/clock.h"
#include "itk/inbound_sink.h"
#include "itk/routing.h"
#include "itk/store.h"
#include "itk/transport.h"

namespace itk {

// One address the router could not route: a reject route or no route at all.
struct UnroutedAddress {
  std::string address;
  std::string route;  // the reject route's name; empty when no route matched
  Status reason;      // with its toolkit code (2200 for "route not found")
};

struct RouterHooks {
  // After the message is durable: addresses that were rejected or unroutable (each is stored as
  // a dead-letter delivery). Called on a store thread; informational (logs). The NACK to the
  // sender comes from DeliveryHooks::on_dead_letter, which covers these dead letters too and is
  // durable (offered again after a crash until confirmed): do not NACK from here as well.
  std::function<void(const MessagePtr&, const std::vector<UnroutedAddress>&)> on_unrouted;
  // After the message is durable and accepted (kAccepted), or found to be a duplicate
  // (kDuplicate: nothing was stored or delivered again, and the sender must be answered as if
  // accepted — re-send its infrastructure ack if it asked for one, as CIAO does). Called on a
  // store thread. Used for router-generated acknowledgements and audit.
  std::function<void(const MessagePtr&, AcceptOutcome::Kind)> on_accepted;
};

class Router final : public InboundSink {
 public:
  using TransportResolver = DeliveryEngine::TransportResolver;

  // `acks` (optional) correlates accepted acknowledgements with what was expected.
  Router(Store& store, const RoutingTableHolder& routing, DeliveryEngine& engine,
         TransportResolver transports, const Clock& clock, RouterHooks hooks = {},
         AckTracker* acks = nullptr);

  // InboundSink. Thread-safe.
  void accept(Message message, AcceptCallback done) override;
  void reportUnreadable(const Origin& from, const Status& why) override;
  // Finds the delivery (by the next hop's id, else the tracking id it was sent with) and records
  // it as failed late: a dead letter whose sender is then answered like any other. A report about
  // a message whose attempt is still in flight (its outcome, with the next hop's id, not yet
  // recorded) is answered kUnavailable, so the transport offers it again. A report about nothing
  // the store knows (or already failed) is logged and answered OK, so its transport does not
  // offer it for ever.
  void reportDeliveryFailure(DeliveryFailureReport report,
                             std::function<void(Status)> done) override;

  // From now on accept() answers kBusy. Accepts already under way still complete.
  void stopAccepting() { stopping_ = true; }
  // Accepts between accept() and their `done`.
  size_t pending() const { return pending_.load(); }

 private:
  void proxySynchronously(Message message, const Route& route, const EndpointSpec& endpoint,
                          RoutingTablePtr table, AcceptCallback done);

  Store& store_;
  const RoutingTableHolder& routing_;
  DeliveryEngine& engine_;
  TransportResolver transports_;
  const Clock& clock_;
  RouterHooks hooks_;
  AckTracker* acks_;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> pending_{0};
};

}  // namespace itk
