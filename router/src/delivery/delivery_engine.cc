#include "delivery/delivery_engine.h"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <deque>

#include "delivery/retry_policy.h"
#include "itk/log.h"

namespace itk {

namespace asio = boost::asio;

struct DeliveryEngine::State : std::enable_shared_from_this<DeliveryEngine::State> {
  State(asio::io_context& io, Store& store, const RoutingTableHolder& routing,
        TransportResolver transports, const Clock& clock, DeliveryHooks hooks,
        DeliveryOptions options)
      : strand(asio::make_strand(io)),
        timer(strand),
        store(store),
        routing(routing),
        transports(std::move(transports)),
        clock(clock),
        hooks(std::move(hooks)),
        options(options),
        rng(std::random_device{}()) {}

  asio::strand<asio::io_context::executor_type> strand;
  asio::steady_timer timer;
  Store& store;
  const RoutingTableHolder& routing;
  TransportResolver transports;
  const Clock& clock;
  DeliveryHooks hooks;
  DeliveryOptions options;
  std::mt19937_64 rng;

  // Strand-only state.
  bool started = false;
  bool stopping = false;
  std::function<void()> on_stopped;
  size_t in_flight = 0;  // claimed and not yet recorded (queued + sending)
  std::map<std::string, size_t> endpoint_in_flight;
  std::map<std::string, std::deque<DeliveryTask>> endpoint_queue;
  mutable std::mutex count_mu;  // guards in_flight_snapshot for inFlight()
  size_t in_flight_snapshot = 0;

  void publishCount() {
    std::lock_guard lock(count_mu);
    in_flight_snapshot = in_flight;
  }

  void pump() {
    if (stopping || !started) return;
    while (in_flight < options.max_in_flight) {
      size_t room = std::min(options.claim_batch, options.max_in_flight - in_flight);
      auto claimed = store.claimDue(clock.now(), room);
      if (!claimed.ok()) {
        log::error("delivery.claim_failed", {{"error", claimed.status().toString()}});
        break;
      }
      if (claimed->empty()) break;
      for (auto& task : *claimed) {
        ++in_flight;
        endpoint_queue[task.endpoint].push_back(std::move(task));
      }
    }
    publishCount();
    for (auto& [endpoint, queue] : endpoint_queue) dispatch(endpoint);
    armTimer();
  }

  void armTimer() {
    auto wait = options.idle_poll;
    if (auto due = store.nextDue()) {
      auto until = std::chrono::duration_cast<std::chrono::milliseconds>(*due - clock.now());
      wait = std::clamp(until, std::chrono::milliseconds(0), options.idle_poll);
    }
    timer.expires_after(wait);
    timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec != asio::error::operation_aborted) self->pump();
    });
  }

  void dispatch(const std::string& endpoint_name) {
    auto& queue = endpoint_queue[endpoint_name];
    RoutingTablePtr table = routing.current();
    const EndpointSpec* endpoint = table ? table->endpoint(endpoint_name) : nullptr;
    size_t limit = endpoint ? static_cast<size_t>(std::max(endpoint->max_concurrency, 1)) : 1;
    while (!queue.empty() && endpoint_in_flight[endpoint_name] < limit) {
      DeliveryTask task = std::move(queue.front());
      queue.pop_front();
      ++endpoint_in_flight[endpoint_name];
      begin(std::move(task), table);
    }
  }

  const Route* routeNamed(const RoutingTable& table, const std::string& name) const {
    for (const auto& r : table.routes())
      if (r.name == name) return &r;
    return nullptr;
  }

  void begin(DeliveryTask task, RoutingTablePtr table) {
    auto message = store.loadMessage(task.message_id);
    if (!message.ok()) {
      finish(std::move(task), nullptr, table,
             SendResult::retryable("cannot load message: " + message.status().toString()));
      return;
    }
    const EndpointSpec* endpoint = table ? table->endpoint(task.endpoint) : nullptr;
    if (!endpoint) {
      finish(std::move(task), *message, table,
             SendResult::permanent("endpoint '" + task.endpoint + "' is not in the routing table"));
      return;
    }
    Transport* transport = transports(endpoint->transport);
    if (!transport) {
      finish(std::move(task), *message, table,
             SendResult::permanent("transport '" + endpoint->transport + "' is not configured"));
      return;
    }
    OutboundMessage out;
    out.message = *message;
    out.delivery_id = task.delivery_id;
    out.route = task.route;
    out.address = task.address;
    out.attempt = task.attempts + 1;
    if (const Route* route = table ? routeNamed(*table, task.route) : nullptr) {
      out.time_to_live = route->time_to_live;
      out.timeout = route->timeout;
    }
    // The table snapshot keeps `endpoint` alive until the transport answers.
    transport->send(std::move(out), *endpoint,
                    [self = shared_from_this(), task, msg = *message, table](SendResult r) mutable {
                      asio::post(self->strand, [self, task = std::move(task), msg = std::move(msg),
                                                table = std::move(table), r = std::move(r)]() mutable {
                        self->finish(std::move(task), std::move(msg), std::move(table),
                                     std::move(r));
                      });
                    });
  }

  void finish(DeliveryTask task, MessagePtr message, RoutingTablePtr table, SendResult result) {
    AttemptRecord record;
    record.delivery_id = task.delivery_id;
    record.error = result.outcome == SendResult::Outcome::kDelivered ? "" : result.detail;
    record.remote_id = result.remote_id;
    int attempts_made = task.attempts + 1;
    switch (result.outcome) {
      case SendResult::Outcome::kDelivered: record.next = AttemptRecord::Next::kDelivered; break;
      case SendResult::Outcome::kPermanent: record.next = AttemptRecord::Next::kDeadLetter; break;
      case SendResult::Outcome::kRetryable: {
        const Route* route = table ? routeNamed(*table, task.route) : nullptr;
        RetrySpec spec = route ? route->retry : RetrySpec{};
        spec.max_attempts = task.max_attempts;
        std::uniform_real_distribution<double> unit(0.0, 1.0);
        auto next = RetryPolicy(spec).nextAttempt(attempts_made, clock.now(), task.deadline,
                                                  unit(rng));
        if (next) {
          record.next = AttemptRecord::Next::kRetry;
          record.next_attempt_at = *next;
        } else {
          record.next = AttemptRecord::Next::kDeadLetter;
          result.detail = "gave up after " + std::to_string(attempts_made) +
                          " attempt(s): " + result.detail;
        }
        break;
      }
    }
    log::write(record.next == AttemptRecord::Next::kDeadLetter ? log::Level::kWarn
                                                               : log::Level::kInfo,
               "delivery.attempt",
               {{"tracking_id", message ? message->header.tracking_id : std::string()},
                {"route", task.route},
                {"endpoint", task.endpoint},
                {"attempt", attempts_made},
                {"outcome", outcomeName(result.outcome)},
                {"detail", result.detail}});
    auto next = record.next;
    store.recordAttempt(std::move(record), [self = shared_from_this(), task, message, result,
                                            next](Status s) mutable {
      asio::post(self->strand, [self, task = std::move(task), message = std::move(message),
                                result = std::move(result), next, s]() mutable {
        if (!s.ok()) {
          // The delivery stays in flight in the store; recovery on restart retries it.
          log::error("delivery.record_failed",
                     {{"delivery_id", static_cast<long long>(task.delivery_id)},
                      {"error", s.toString()}});
        } else if (next == AttemptRecord::Next::kDelivered && self->hooks.on_delivered) {
          self->hooks.on_delivered(task, message, result);
        } else if (next == AttemptRecord::Next::kDeadLetter && self->hooks.on_dead_letter) {
          self->hooks.on_dead_letter(task, message, result.detail);
        }
        --self->in_flight;
        --self->endpoint_in_flight[task.endpoint];
        self->publishCount();
        if (self->stopping) {
          if (self->in_flight == 0 && self->on_stopped) std::exchange(self->on_stopped, nullptr)();
          return;
        }
        self->pump();
      });
    });
  }
};

DeliveryEngine::DeliveryEngine(asio::io_context& io, Store& store,
                               const RoutingTableHolder& routing, TransportResolver transports,
                               const Clock& clock, DeliveryHooks hooks, DeliveryOptions options)
    : state_(std::make_shared<State>(io, store, routing, std::move(transports), clock,
                                     std::move(hooks), options)) {}

DeliveryEngine::~DeliveryEngine() = default;

void DeliveryEngine::start() {
  asio::post(state_->strand, [s = state_] {
    s->started = true;
    s->pump();
  });
}

void DeliveryEngine::notify() {
  asio::post(state_->strand, [s = state_] { s->pump(); });
}

void DeliveryEngine::pollNow() { notify(); }

void DeliveryEngine::stop(std::function<void()> done) {
  asio::post(state_->strand, [s = state_, done = std::move(done)]() mutable {
    s->stopping = true;
    s->timer.cancel();
    // Claimed deliveries still waiting for an endpoint slot go back to the store on restart
    // (they are in flight there); they are not sent now.
    for (auto& [endpoint, queue] : s->endpoint_queue) {
      s->in_flight -= queue.size();
      queue.clear();
    }
    s->publishCount();
    if (s->in_flight == 0) {
      done();
    } else {
      s->on_stopped = std::move(done);
    }
  });
}

size_t DeliveryEngine::inFlight() const {
  std::lock_guard lock(state_->count_mu);
  return state_->in_flight_snapshot;
}

}  // namespace itk
