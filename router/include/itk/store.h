// The durable journal: messages, deliveries, de-duplication keys, pending acknowledgements and
// audit events. Backends: SQLite (embedded default), PostgreSQL (shared by several nodes), and
// an in-memory store used only by tests.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "itk/clock.h"
#include "itk/message.h"
#include "itk/status.h"

namespace itk {

enum class DeliveryState : uint8_t {
  kPending = 0,     // waiting for its next attempt
  kInFlight = 1,    // claimed by a delivery worker
  kDelivered = 2,   // the next hop took it
  kDeadLetter = 3,  // gave up: attempts or deadline exhausted, or a permanent failure
};
std::string_view deliveryStateName(DeliveryState s);

struct NewDelivery {
  std::string route;
  std::string endpoint;
  std::string address;
  std::string ordering_key;  // empty: unordered; else FIFO among deliveries with the same key
  TimePoint next_attempt_at{};
  TimePoint deadline{};
  int max_attempts = 10;
  // A delivery that is dead on arrival (a reject route, no route at all) is recorded as a dead
  // letter with its reason, so nothing is silently dropped and operators can see and replay it.
  DeliveryState initial_state = DeliveryState::kPending;
  std::string error;
};

struct AcceptRequest {
  Message message;  // id is ignored; the store assigns it
  std::vector<NewDelivery> deliveries;
  // De-duplicate on (sender address, tracking id) within the store's retention window.
  bool deduplicate = true;
};

struct AcceptResult {
  int64_t message_id = 0;
  bool duplicate = false;  // true: nothing was written; message_id is the original's
};

struct DeliveryTask {
  int64_t delivery_id = 0;
  int64_t message_id = 0;
  std::string route;
  std::string endpoint;
  std::string address;
  std::string ordering_key;
  int attempts = 0;  // attempts made before this one
  int max_attempts = 10;
  TimePoint deadline{};
  TimePoint created_at{};
  DeliveryState state = DeliveryState::kPending;
  std::string last_error;
};

struct AttemptRecord {
  int64_t delivery_id = 0;
  enum class Next { kDelivered, kRetry, kDeadLetter } next = Next::kDelivered;
  TimePoint next_attempt_at{};  // kRetry only
  std::string error;            // the attempt's failure, empty on success
  std::string remote_id;        // an id the peer gave the message
};

// Thread-safety: every method may be called from any thread. Callbacks run on a store thread
// (never inline from the call) once the write is durable per the configured durability mode.
class Store {
 public:
  virtual ~Store() = default;

  // Records a message with its deliveries in one group commit, or finds it is a duplicate.
  virtual void accept(AcceptRequest request, std::function<void(Result<AcceptResult>)> done) = 0;

  // Marks up to `limit` pending deliveries due at `now` as in flight and returns them, oldest
  // first, honouring FIFO keys (a key with a delivery in flight or an earlier pending one yields
  // nothing further). Bodies are not loaded.
  virtual Result<std::vector<DeliveryTask>> claimDue(TimePoint now, size_t limit) = 0;
  // When the earliest pending delivery becomes due; nullopt when none is pending.
  virtual std::optional<TimePoint> nextDue() = 0;

  // The message with its body.
  virtual Result<MessagePtr> loadMessage(int64_t message_id) = 0;

  // Records the outcome of an attempt (group committed like accept).
  virtual void recordAttempt(AttemptRecord record, std::function<void(Status)> done) = 0;

  // Deliveries of one message (admin "messages show").
  virtual Result<std::vector<DeliveryTask>> deliveriesOf(int64_t message_id) = 0;
  // Messages by tracking id (several when the same id came from different senders).
  virtual Result<std::vector<int64_t>> findByTrackingId(const std::string& tracking_id) = 0;
};

}  // namespace itk
