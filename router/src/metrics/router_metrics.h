// RouterMetrics: the router's own Prometheus families (DESIGN.md §5), registered on the shared
// registry the admin listener serves at /metrics, with one typed function per event. Callers
// never build label values themselves, so every label set stays bounded:
//   transport  the transport type that received a message (from the configuration)
//   service    a service named exactly in the current routing table, else "other"
//   route      a route name from a routing table, "(none)" for an address no route matched
//   outcome, cause, kind, result: fixed vocabularies
// No label ever carries a tracking id, an address or anything else taken from one message.
// Transports register their own families on the same registry (TransportContext::metrics).
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "itk/inbound_sink.h"
#include "itk/routing.h"
#include "itk/routing/reloader.h"
#include "itk/store.h"

namespace prometheus {
class Registry;
}

namespace itk {

// The route label: the route's name, or "(none)" when no route matched.
std::string routeLabel(std::string_view route);

class RouterMetrics {
 public:
  // `registry` and `routing` outlive this object.
  RouterMetrics(prometheus::Registry& registry, const RoutingTableHolder& routing);
  ~RouterMetrics();
  RouterMetrics(const RouterMetrics&) = delete;
  RouterMetrics& operator=(const RouterMetrics&) = delete;

  // ---- Inbound: itk_messages_received_total{transport,service,outcome},
  // itk_messages_unreadable_total{transport}
  void received(std::string_view transport, std::string_view service, AcceptOutcome::Kind outcome);
  void unreadable(std::string_view transport);
  // The service label for `service` under the current routing table.
  std::string serviceLabel(std::string_view service) const;

  // ---- Delivery
  // A recorded attempt: itk_deliveries_total{route,outcome=delivered|retry|dead_letter}; when
  // delivered also itk_end_to_end_latency_seconds{route} (accepted -> delivered) and
  // itk_acks_expected_total{kind} for each acknowledgement the delivery now waits for.
  void attempt(const DeliveryTask& task, const AttemptRecord& record);
  // An address refused at accept time, dead on arrival (a reject route, or no route at all):
  // itk_deliveries_total{route,outcome=rejected}.
  void rejected(std::string_view route);
  // A new dead letter, whatever its cause (offered once per process by the delivery engine):
  // itk_dead_letters_total{route,cause}.
  void deadLettered(const DeliveryTask& task);

  // ---- Acknowledgements: itk_acks_received_total{kind,result=positive|negative},
  // itk_ack_latency_seconds{kind} (delivered -> ack), itk_acks_timed_out_total{kind}
  void ackResolved(const PendingAck& ack);
  void ackTimedOut(const PendingAck& ack);

  // ---- Store: itk_store_commit_seconds, itk_store_commit_group_size,
  // itk_store_commit_failures_total. Called on the store's writer thread: cheap.
  void commit(const CommitReport& report);

  // ---- Routing: itk_routing_reloads_total{outcome=loaded|unchanged|failed},
  // itk_routing_reload_failing (1 while the latest attempt failed and the old table still runs)
  void reload(const ReloadOutcome& outcome);

 private:
  struct Families;
  std::unique_ptr<Families> f_;
  const RoutingTableHolder& routing_;

  // The services named exactly in a table, built once per published table.
  struct ServiceNames;
  mutable std::mutex services_mu_;
  mutable std::shared_ptr<const ServiceNames> services_;
};

}  // namespace itk
