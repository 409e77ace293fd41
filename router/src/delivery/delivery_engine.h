// DeliveryEngine: takes due deliveries from the Store, sends each on its endpoint's transport,
// and records the outcome (delivered, retry with backoff, dead letter).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "itk/clock.h"
#include "itk/routing.h"
#include "itk/store.h"
#include "itk/transport.h"

namespace boost::asio {
class io_context;
}

namespace itk {

struct DeliveryHooks {
  // A delivery reached its end. Called on the engine's strand after the store recorded it.
  std::function<void(const DeliveryTask&, const MessagePtr&, const SendResult&)> on_delivered;
  std::function<void(const DeliveryTask&, const MessagePtr&, const std::string& reason)>
      on_dead_letter;
};

struct DeliveryOptions {
  size_t claim_batch = 64;     // deliveries claimed per store round trip
  size_t max_in_flight = 256;  // across all endpoints
  // How often the store is polled even without a notify() (another node, a replay from the CLI).
  std::chrono::milliseconds idle_poll{1000};
};

class DeliveryEngine {
 public:
  using TransportResolver = std::function<Transport*(std::string_view type)>;

  DeliveryEngine(boost::asio::io_context& io, Store& store, const RoutingTableHolder& routing,
                 TransportResolver transports, const Clock& clock, DeliveryHooks hooks,
                 DeliveryOptions options = {});
  ~DeliveryEngine();

  // Starts claiming due deliveries. Call once.
  void start();
  // New deliveries were committed: look for due work now. Thread-safe, cheap, never blocks.
  void notify();
  // Stops claiming; `done` runs once the attempts in flight have finished. Thread-safe.
  void stop(std::function<void()> done);
  // Claims and starts every delivery due at clock.now(). Tests that drive a ManualClock call this
  // instead of waiting for the timer. Thread-safe.
  void pollNow();

  size_t inFlight() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace itk
