#include "delivery/delivery_engine.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <map>
#include <mutex>
#include <random>
#include <set>

#include "delivery/retry_policy.h"
#include "itk/log.h"

namespace itk {

namespace asio = boost::asio;

struct DeliveryEngine::State : std::enable_shared_from_this<DeliveryEngine::State> {
  State(asio::io_context& io, Store& store, std::shared_ptr<const DeliveryRoutes> routes,
        TransportResolver transports, const Clock& clock, DeliveryHooks hooks,
        DeliveryOptions options)
      : strand(asio::make_strand(io)),
        timer(strand),
        store(store),
        routes(std::move(routes)),
        transports(std::move(transports)),
        clock(clock),
        hooks(std::move(hooks)),
        options(std::move(options)) {
    if (!this->options.random) {
      auto rng = std::make_shared<std::mt19937_64>(std::random_device{}());
      this->options.random = [rng] {
        return std::uniform_real_distribution<double>(0.0, 1.0)(*rng);
      };
    }
  }

  asio::strand<asio::io_context::executor_type> strand;
  asio::steady_timer timer;
  Store& store;
  std::shared_ptr<const DeliveryRoutes> routes;
  TransportResolver transports;
  const Clock& clock;
  DeliveryHooks hooks;
  DeliveryOptions options;

  std::atomic<bool> pump_posted{false};

  // Strand-only state.
  bool started = false;
  bool stopping = false;
  bool claiming = false;        // a claim is at the store
  bool pump_requested = false;  // a pump was asked for while claiming
  std::function<void()> on_stopped;
  std::vector<std::function<void(size_t)>> poll_waiters;  // wait for the next claim
  size_t in_flight = 0;                                   // claimed and not yet recorded
  std::map<std::string, size_t, std::less<>> endpoint_in_flight;
  std::set<int64_t> notices_outstanding;  // dead letters offered to on_dead_letter

  mutable std::mutex count_mu;  // guards in_flight_snapshot for inFlight()
  size_t in_flight_snapshot = 0;

  void publishCount() {
    std::lock_guard lock(count_mu);
    in_flight_snapshot = in_flight;
  }

  template <class F>
  void onStrand(F&& f) {
    asio::post(strand, std::forward<F>(f));
  }

  void requestPump() {
    if (pump_posted.exchange(true)) return;
    onStrand([self = shared_from_this()] {
      self->pump_posted = false;
      self->pump();
    });
  }

  void answerWaiters(std::vector<std::function<void(size_t)>>& waiters, size_t started_now) {
    for (auto& w : waiters) w(started_now);
    waiters.clear();
  }

  void pump() {
    if (!started || stopping) {
      answerWaiters(poll_waiters, 0);
      return;
    }
    offerDeadLetters();
    if (claiming) {
      pump_requested = true;  // the claim under way may have missed what woke us
      return;
    }
    if (in_flight >= options.max_in_flight) {
      answerWaiters(poll_waiters, 0);
      armTimer(options.idle_poll);  // a finishing attempt pumps again
      return;
    }
    ClaimRequest request;
    request.now = clock.now();
    request.limit = std::min(options.claim_batch, options.max_in_flight - in_flight);
    request.default_room = options.unknown_endpoint_concurrency;
    std::set<std::string, std::less<>> known;
    for (const auto& e : routes->endpoints()) {
      size_t limit = static_cast<size_t>(std::max(e->max_concurrency, 1));
      size_t busy = busyOn(e->name);
      request.room[e->name] = limit > busy ? limit - busy : 0;
      known.insert(e->name);
    }
    for (const auto& [name, busy] : endpoint_in_flight) {
      if (known.count(name)) continue;
      size_t limit = options.unknown_endpoint_concurrency;
      request.room[name] = limit > busy ? limit - busy : 0;
    }
    claiming = true;
    pump_requested = false;
    auto waiters =
        std::make_shared<std::vector<std::function<void(size_t)>>>(std::move(poll_waiters));
    poll_waiters.clear();
    store.claimDue(request, [self = shared_from_this(), limit = request.limit,
                             waiters](Result<ClaimResult> r) mutable {
      self->onStrand([self, limit, waiters, r = std::move(r)]() mutable {
        self->claimed(std::move(r), limit, *waiters);
      });
    });
  }

  size_t busyOn(std::string_view endpoint) const {
    auto it = endpoint_in_flight.find(endpoint);
    return it == endpoint_in_flight.end() ? 0 : it->second;
  }

  void claimed(Result<ClaimResult> r, size_t limit,
               std::vector<std::function<void(size_t)>>& waiters) {
    claiming = false;
    if (!r.ok()) {
      log::error("delivery.claim_failed", {{"error", r.status().toString()}});
      answerWaiters(waiters, 0);
      if (!stopping) armTimer(options.idle_poll);
      maybeStopped();
      return;
    }
    // Claimed while stopping: they stay in flight in the store and go back to pending at the
    // next start (Store::recover), like attempts cut short by a crash.
    if (stopping) {
      answerWaiters(waiters, 0);
      maybeStopped();
      return;
    }
    const size_t n = r->tasks.size();
    for (DeliveryTask& task : r->tasks) {
      ++in_flight;
      ++endpoint_in_flight[task.endpoint];
      begin(std::move(task));
    }
    publishCount();
    answerWaiters(waiters, n);
    if (pump_requested || (n == limit && in_flight < options.max_in_flight)) {
      requestPump();  // more may be due right now
      return;
    }
    auto wait = options.idle_poll;
    if (r->next_due) {
      auto until =
          std::chrono::duration_cast<std::chrono::milliseconds>(*r->next_due - clock.now());
      // At least 1 ms: never spin on a due time the claim could not serve.
      wait = std::clamp(until, std::chrono::milliseconds(1), options.idle_poll);
    }
    armTimer(wait);
  }

  void armTimer(std::chrono::milliseconds wait) {
    timer.expires_after(wait);
    timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec != asio::error::operation_aborted) self->pump();
    });
  }

  void begin(DeliveryTask task) {
    const TimePoint now = clock.now();
    auto message = store.loadMessage(task.message_id);
    if (!message.ok()) {
      finish(std::move(task), nullptr,
             SendResult::retryable("cannot load the message: " + message.status().toString()));
      return;
    }
    // Spine persistDuration, MESH's 5 days: past the route's deadline a message is not sent.
    if (now >= task.deadline) {
      SendResult expired =
          SendResult::permanent("the route's deadline " + formatIsoSeconds(task.deadline) +
                                " passed before attempt " + std::to_string(task.attempts + 1));
      finish(std::move(task), *message, std::move(expired), DeadLetterCause::kDeadlineExpired);
      return;
    }
    std::shared_ptr<const EndpointSpec> endpoint = routes->endpoint(task.endpoint);
    if (!endpoint) {
      // Retryable: an operator may be fixing the table; attempts and the deadline still bound it.
      finish(std::move(task), *message,
             SendResult::retryable("endpoint '" + task.endpoint + "' is not in the routing table"));
      return;
    }
    Transport* transport = transports(endpoint->transport);
    if (!transport) {
      finish(std::move(task), *message,
             SendResult::retryable("transport '" + endpoint->transport + "' is not configured"));
      return;
    }
    OutboundMessage out;
    out.message = *message;
    out.delivery_id = task.delivery_id;
    out.route = task.route;
    out.address = task.address;
    out.attempt = task.attempts + 1;
    if (auto params = routes->route(task.route)) {
      out.time_to_live = params->time_to_live;
      out.timeout = params->timeout;
    }
    const EndpointSpec& spec = *endpoint;
    transport->send(std::move(out), spec,
                    [self = shared_from_this(), task, msg = *message,
                     endpoint = std::move(endpoint)](SendResult result) mutable {
                      self->onStrand([self, task = std::move(task), msg = std::move(msg),
                                      result = std::move(result)]() mutable {
                        self->finish(std::move(task), std::move(msg), std::move(result));
                      });
                    });
  }

  // The outcome of an attempt (or of not attempting) becomes an AttemptRecord.
  void finish(DeliveryTask task, MessagePtr message, SendResult result,
              DeadLetterCause permanent_cause = DeadLetterCause::kPermanentFailure) {
    const TimePoint now = clock.now();
    const int attempts_made = task.attempts + 1;
    AttemptRecord record;
    record.delivery_id = task.delivery_id;
    record.at = now;
    record.remote_id = result.remote_id;
    switch (result.outcome) {
      case SendResult::Outcome::kDelivered:
        record.next = AttemptRecord::Next::kDelivered;
        if (message) record.expect_acks = expectedAcks(message->header, now, options.ack_timeouts);
        break;
      case SendResult::Outcome::kPermanent:
        record.next = AttemptRecord::Next::kDeadLetter;
        record.cause = permanent_cause;
        record.error = result.detail;
        break;
      case SendResult::Outcome::kRetryable: {
        auto params = routes->route(task.route);
        RetrySpec spec = params ? params->retry : RetrySpec{};
        spec.max_attempts = task.max_attempts;  // fixed when the message was accepted
        auto next =
            RetryPolicy(spec).nextAttempt(attempts_made, now, task.deadline, options.random());
        record.error = result.detail;
        if (next) {
          record.next = AttemptRecord::Next::kRetry;
          record.next_attempt_at = *next;
        } else {
          record.next = AttemptRecord::Next::kDeadLetter;
          record.cause = attempts_made >= task.max_attempts ? DeadLetterCause::kAttemptsExhausted
                                                            : DeadLetterCause::kDeadlineExpired;
          record.error =
              "gave up after " + std::to_string(attempts_made) + " attempt(s): " + result.detail;
        }
        break;
      }
    }
    std::shared_ptr<const EndpointSpec> spec = routes->endpoint(task.endpoint);
    log::write(
        record.next == AttemptRecord::Next::kDeadLetter ? log::Level::kWarn : log::Level::kInfo,
        "delivery.attempt",
        {{"tracking_id", message ? message->header.tracking_id : std::string()},
         {"route", task.route},
         {"transport", spec ? spec->transport : std::string()},
         {"endpoint", task.endpoint},
         {"attempt", attempts_made},
         {"outcome", outcomeName(result.outcome)},
         {"detail", record.error.empty() ? result.detail : record.error}});
    record_(std::move(task), std::move(message), std::move(result), std::move(record));
  }

  void record_(DeliveryTask task, MessagePtr message, SendResult result, AttemptRecord record) {
    AttemptRecord copy = record;
    store.recordAttempt(std::move(copy), [self = shared_from_this(), task = std::move(task),
                                          message = std::move(message), result = std::move(result),
                                          record = std::move(record)](Status s) mutable {
      self->onStrand([self, task = std::move(task), message = std::move(message),
                      result = std::move(result), record = std::move(record), s]() mutable {
        self->recorded(std::move(task), std::move(message), std::move(result), std::move(record),
                       s);
      });
    });
  }

  void recorded(DeliveryTask task, MessagePtr message, SendResult result, AttemptRecord record,
                const Status& s) {
    if (!s.ok() && s.code() != Code::kNotFound && !stopping) {
      // The store cannot take the outcome now (disk full, I/O error). Keep the slot and try
      // again: dropping the record would leave the delivery in flight until a restart.
      log::error(
          "delivery.record_failed",
          {{"delivery_id", static_cast<long long>(task.delivery_id)}, {"error", s.toString()}});
      auto retry = std::make_shared<asio::steady_timer>(strand, options.record_retry);
      retry->async_wait([self = shared_from_this(), retry, task = std::move(task),
                         message = std::move(message), result = std::move(result),
                         record = std::move(record)](const boost::system::error_code&) mutable {
        self->record_(std::move(task), std::move(message), std::move(result), std::move(record));
      });
      return;
    }
    --in_flight;
    auto it = endpoint_in_flight.find(task.endpoint);
    if (it != endpoint_in_flight.end() && --it->second == 0) endpoint_in_flight.erase(it);
    publishCount();
    if (!s.ok()) {
      // notFound: no longer in flight (recovered by another process, or the engine is stopping
      // and the store refused); nothing to record here.
      log::warn(
          "delivery.record_dropped",
          {{"delivery_id", static_cast<long long>(task.delivery_id)}, {"error", s.toString()}});
    } else {
      if (hooks.on_attempt) hooks.on_attempt(task, record);
      if (record.next == AttemptRecord::Next::kDelivered && hooks.on_delivered)
        hooks.on_delivered(task, message, result);
    }
    if (stopping) {
      maybeStopped();
      return;
    }
    pump();
  }

  // Offers dead letters whose sender has not been told to on_dead_letter, once each.
  void offerDeadLetters() {
    if (!hooks.on_dead_letter) return;
    auto dead = store.unnotifiedDeadLetters(options.dead_letter_batch);
    if (!dead.ok()) {
      log::error("delivery.dead_letters_failed", {{"error", dead.status().toString()}});
      return;
    }
    for (DeliveryTask& task : *dead) {
      if (!notices_outstanding.insert(task.delivery_id).second) continue;
      DeadLetterNotice notice;
      auto message = store.loadMessage(task.message_id);
      if (!message.ok()) message = store.loadHeader(task.message_id);  // body pruned
      if (message.ok()) notice.message = *message;
      notice.task = std::move(task);
      const int64_t id = notice.task.delivery_id;
      auto once = std::make_shared<std::atomic<bool>>(false);
      hooks.on_dead_letter(notice, [self = shared_from_this(), id, once] {
        if (once->exchange(true)) return;
        self->store.markSenderNotified(id, self->clock.now(), [self, id](Status s) {
          if (!s.ok())
            log::error("delivery.notified_failed",
                       {{"delivery_id", static_cast<long long>(id)}, {"error", s.toString()}});
          self->onStrand([self, id] { self->notices_outstanding.erase(id); });
        });
      });
    }
  }

  void maybeStopped() {
    if (stopping && in_flight == 0 && !claiming && on_stopped) std::exchange(on_stopped, nullptr)();
  }
};

DeliveryEngine::DeliveryEngine(asio::io_context& io, Store& store,
                               std::shared_ptr<const DeliveryRoutes> routes,
                               TransportResolver transports, const Clock& clock,
                               DeliveryHooks hooks, DeliveryOptions options)
    : state_(std::make_shared<State>(io, store, std::move(routes), std::move(transports), clock,
                                     std::move(hooks), std::move(options))) {}

DeliveryEngine::~DeliveryEngine() = default;

void DeliveryEngine::start() {
  asio::post(state_->strand, [s = state_] {
    s->started = true;
    s->pump();
  });
}

void DeliveryEngine::notify() {
  state_->requestPump();
}

void DeliveryEngine::pollNow() {
  notify();
}

void DeliveryEngine::pollNow(std::function<void(size_t started)> done) {
  asio::post(state_->strand, [s = state_, done = std::move(done)]() mutable {
    s->poll_waiters.push_back(std::move(done));
    s->pump();
  });
}

void DeliveryEngine::stop(std::function<void()> done) {
  asio::post(state_->strand, [s = state_, done = std::move(done)]() mutable {
    s->stopping = true;
    s->timer.cancel();
    s->on_stopped = std::move(done);
    s->answerWaiters(s->poll_waiters, 0);
    s->maybeStopped();
  });
}

size_t DeliveryEngine::inFlight() const {
  std::lock_guard lock(state_->count_mu);
  return state_->in_flight_snapshot;
}

}  // namespace itk
