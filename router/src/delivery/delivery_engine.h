// DeliveryEngine: takes due deliveries from the Store, sends each on its endpoint's transport,
// and records the outcome: delivered (with the acks to expect), retry with exponential backoff
// and jitter, or dead letter (permanent failure, attempts exhausted, deadline passed). Claims
// honour each endpoint's concurrency limit and FIFO keys (the store only ever offers a key's
// head). Dead letters are offered to a hook until it confirms the sender was told.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "delivery/ack_tracker.h"
#include "itk/clock.h"
#include "itk/routing.h"
#include "itk/store.h"
#include "itk/transport.h"

namespace boost::asio {
class io_context;
}

namespace itk {

// A route's sending parameters, as far as delivery is concerned.
struct RouteParams {
  RetrySpec retry;
  std::chrono::seconds time_to_live{600};
  std::chrono::milliseconds timeout{30000};
};

// What the engine needs from the routing table: endpoints by name and routes' parameters.
// Implementations are thread-safe and answer from the current table each time.
class DeliveryRoutes {
 public:
  virtual ~DeliveryRoutes() = default;
  // The endpoint called `name`, or null. The pointer keeps what it points to alive (it may share
  // ownership of a routing-table snapshot), so it stays valid while an attempt is under way.
  virtual std::shared_ptr<const EndpointSpec> endpoint(std::string_view name) const = 0;
  // Every endpoint of the current table.
  virtual std::vector<std::shared_ptr<const EndpointSpec>> endpoints() const = 0;
  // The parameters of route `name`; nullopt when the table no longer has it (defaults apply).
  virtual std::optional<RouteParams> route(std::string_view name) const = 0;
};

// DeliveryRoutes over the holder's current RoutingTable (table_routes.cc).
std::shared_ptr<const DeliveryRoutes> routesFromTable(const RoutingTableHolder& holder);

// A dead letter whose sender has not been told yet.
struct DeadLetterNotice {
  DeliveryTask task;   // route, endpoint, address, attempts, last_error (the reason), cause
  MessagePtr message;  // the original with its body; without it (null body) if it was pruned
};

struct DeliveryHooks {
  // A delivery succeeded. On the engine's strand, after the store recorded it.
  std::function<void(const DeliveryTask&, const MessagePtr&, const SendResult&)> on_delivered;
  // Every recorded attempt (metrics: itk_deliveries_total{route,outcome}). On the strand.
  std::function<void(const DeliveryTask&, const AttemptRecord&)> on_attempt;
  // A dead letter whose sender has not been told: the place to send an infrastructure NACK
  // (ITK2) or an ITK3 response. Covers every dead letter, dead-on-arrival (unroutable, rejected)
  // ones included. Called on the engine's strand; `notified` must be called exactly once, from
  // any thread, after the NACK is durably queued (the Router accepted it) or when none is due
  // (the dead letter is itself an acknowledgement: never NACK an ack, ITK2 §3.1). Until then the
  // dead letter is not offered again by this engine; a restarted engine offers it again.
  std::function<void(const DeadLetterNotice&, std::function<void()> notified)> on_dead_letter;
};

struct DeliveryOptions {
  size_t claim_batch = 64;     // deliveries claimed per store round trip
  size_t max_in_flight = 256;  // across all endpoints
  // How often the store is polled even without a notify() (another node, a replay from the CLI).
  std::chrono::milliseconds idle_poll{1000};
  // Attempts at once to an endpoint the routing table does not (or no longer) define: they fail
  // (retryable) until the table has it again or the delivery runs out of attempts.
  size_t unknown_endpoint_concurrency = 1;
  AckTimeouts ack_timeouts;
  size_t dead_letter_batch = 64;  // dead letters offered to on_dead_letter per poll
  // When the store refuses to record an outcome (disk full, I/O error), try again after this.
  std::chrono::milliseconds record_retry{1000};
  // Uniform random numbers in [0, 1) for backoff jitter; empty: a seeded generator. Tests fix it.
  std::function<double()> random;
};

class DeliveryEngine {
 public:
  using TransportResolver = std::function<Transport*(std::string_view type)>;

  // References outlive the engine. Runs on a strand of `io`.
  DeliveryEngine(boost::asio::io_context& io, Store& store,
                 std::shared_ptr<const DeliveryRoutes> routes, TransportResolver transports,
                 const Clock& clock, DeliveryHooks hooks, DeliveryOptions options = {});
  // The same over a routing-table holder (routesFromTable).
  DeliveryEngine(boost::asio::io_context& io, Store& store, const RoutingTableHolder& routing,
                 TransportResolver transports, const Clock& clock, DeliveryHooks hooks,
                 DeliveryOptions options = {});
  ~DeliveryEngine();

  // Starts claiming due deliveries. Call once, after Store::recover().
  void start();
  // New deliveries were committed: look for due work now. Thread-safe, cheap, never blocks;
  // notifications arriving while one is pending are folded into it.
  void notify();
  // Stops claiming; `done` runs once the attempts in flight have finished. Thread-safe.
  void stop(std::function<void()> done);
  // Claims and starts every delivery due at clock.now(). Tests that drive a ManualClock call this
  // instead of waiting for the timer. Thread-safe.
  void pollNow();
  // The same; `done(started)` runs on the strand once the claim is done and its attempts have
  // been handed to their transports (`started` of them).
  void pollNow(std::function<void(size_t started)> done);

  size_t inFlight() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace itk
