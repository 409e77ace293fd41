// The durable journal: messages, deliveries, de-duplication keys, pending acknowledgements and
// audit events. Backends: SQLite (embedded default), PostgreSQL (shared by several nodes), and
// an in-memory store used only by tests. openStore() (below) builds one from configuration.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
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
  kWaiting = 4,     // FIFO: queued behind an earlier delivery with the same ordering key
};
std::string_view deliveryStateName(DeliveryState s);

// Why a delivery became a dead letter; drives the answer its sender gets.
enum class DeadLetterCause : uint8_t {
  kNone = 0,
  kUnroutable = 1,         // no route matched the address (toolkit 2200 "route not found")
  kRejectedByRoute = 2,    // a reject route refused it
  kPermanentFailure = 3,   // the next hop refused it for good (fault 1000/2200/3000, 4xx)
  kAttemptsExhausted = 4,  // the last allowed attempt failed
  kDeadlineExpired = 5,    // the route's overall deadline passed
  kReportedFailure = 6,    // the next hop took it, then reported it undeliverable (MESH REPORT)
};
std::string_view deadLetterCauseName(DeadLetterCause c);

struct NewDelivery {
  std::string route;
  std::string endpoint;
  std::string address;
  std::string ordering_key;  // empty: unordered; else FIFO among deliveries with the same key
  TimePoint next_attempt_at{};
  TimePoint deadline{};
  int max_attempts = 10;
  // A delivery that is dead on arrival (a reject route, no route at all) is recorded as a dead
  // letter with its reason, so nothing is silently dropped and operators can see it.
  DeliveryState initial_state = DeliveryState::kPending;
  DeadLetterCause cause = DeadLetterCause::kNone;  // with initial_state kDeadLetter
  std::string error;
};

struct AcceptRequest {
  Message message;  // id is ignored; the store assigns it. received_at is "now" for the store.
  std::vector<NewDelivery> deliveries;
  // De-duplicate on (sender address, tracking id) within the store's de-duplication window.
  bool deduplicate = true;
};

struct AcceptResult {
  int64_t message_id = 0;
  bool duplicate = false;  // true: nothing but an audit event was written; the original's id
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
  TimePoint next_attempt_at{};
  TimePoint updated_at{};  // the last state change (for a dead letter: when it died)
  DeliveryState state = DeliveryState::kPending;
  std::string last_error;
  std::string remote_id;  // an id the next hop gave the message (MESH message id, ...)
  DeadLetterCause cause = DeadLetterCause::kNone;
  bool sender_notified = false;  // dead letters: the sender's NACK has been queued
};

enum class AckKind : uint8_t {
  kAny = 0,             // only on kEarly records from an ITK3 response, which answers either
  kInfrastructure = 1,  // ITK2 InfrastructureResponse (infack / infnack)
  kBusiness = 2,        // ITK2 BusinessResponseMessage (busack / busnack)
};
std::string_view ackKindName(AckKind k);

// An acknowledgement the next hop's recipient owes us for a delivered message.
struct ExpectedAck {
  AckKind kind = AckKind::kInfrastructure;
  TimePoint expected_by{};
};

// A next hop that had taken a message reports later that it could not deliver it (a MESH
// REPORT, an NDR). The delivery becomes a dead letter (kReportedFailure) whose sender is not yet
// told, so the ordinary dead-letter path answers the sender.
struct LateFailure {
  int64_t delivery_id = 0;
  TimePoint at{};
  std::string error;      // the peer's code and text
  std::string report_id;  // the report's own id, for audit
};

struct AttemptRecord {
  int64_t delivery_id = 0;
  enum class Next { kDelivered, kRetry, kDeadLetter } next = Next::kDelivered;
  TimePoint at{};                                  // when the attempt ended (audit, updated_at)
  TimePoint next_attempt_at{};                     // kRetry only
  std::string error;                               // the attempt's failure, empty on success
  std::string remote_id;                           // an id the peer gave the message
  DeadLetterCause cause = DeadLetterCause::kNone;  // kDeadLetter only
  // kDelivered only: acknowledgements to expect, recorded in the same transaction.
  std::vector<ExpectedAck> expect_acks;
};

// What the delivery engine may claim now.
struct ClaimRequest {
  TimePoint now{};
  size_t limit = 64;  // at most this many in total
  // Free delivery slots per endpoint; an endpoint not listed has `default_room`. An endpoint with
  // no room is skipped (a failing or slow endpoint never holds up another).
  std::map<std::string, size_t, std::less<>> room;
  size_t default_room = 1;
};

struct ClaimResult {
  std::vector<DeliveryTask> tasks;  // now in flight; bodies are not loaded
  // When the next claim could find work on an endpoint that still has room; nullopt when there
  // is none. An endpoint without room is not counted: finishing one of its attempts frees room.
  std::optional<TimePoint> next_due;
};

enum class PendingAckState : uint8_t {
  kOpen = 0,      // expected, not yet seen
  kResolved = 1,  // the ack arrived
  kExpired = 2,   // expected_by passed without one (counted and audited; nothing is resent)
  kEarly = 3,     // an ack arrived before its expectation was recorded (kept to resolve it)
};

struct PendingAck {
  int64_t id = 0;
  int64_t message_id = 0;  // the acknowledged (original) message
  int64_t delivery_id = 0;
  std::string tracking_id;  // the original's tracking id
  AckKind kind = AckKind::kInfrastructure;
  std::string address;     // the recipient it was delivered to
  TimePoint created_at{};  // when the expectation was recorded (= delivered)
  TimePoint expected_by{};
  PendingAckState state = PendingAckState::kOpen;
  TimePoint resolved_at{};
  int64_t ack_message_id = 0;  // the ack that resolved it
  bool positive = true;        // infack vs infnack, busack vs busnack
};

// An accepted acknowledgement, to correlate with what was expected.
struct AckArrival {
  std::string acknowledged_tracking_id;  // the tracking id it answers
  // kInfrastructureAck / kBusinessAck match their kind; kItk3Response matches either.
  MessageKind kind = MessageKind::kInfrastructureAck;
  std::string from_address;  // the ack's sender: preferred match for the delivery address
  int64_t ack_message_id = 0;
  bool positive = true;
  TimePoint at{};
};

struct AuditEvent {
  int64_t id = 0;
  TimePoint at{};
  int64_t message_id = 0;
  int64_t delivery_id = 0;  // 0 when about the whole message
  std::string tracking_id;
  std::string event;   // one of audit_event:: below
  std::string actor;   // "router", "cli:<user>", an admin token's name
  std::string detail;  // what and why; never payload content
};

// Audit event names (IG: every state change is an event).
namespace audit_event {
inline constexpr std::string_view kAccepted = "accepted";
inline constexpr std::string_view kDuplicate = "duplicate";
inline constexpr std::string_view kAttemptFailed = "attempt-failed";
inline constexpr std::string_view kDelivered = "delivered";
inline constexpr std::string_view kDeadLettered = "dead-lettered";
inline constexpr std::string_view kSenderNotified = "sender-notified";
inline constexpr std::string_view kReplayed = "replayed";
inline constexpr std::string_view kAcked = "acked";
inline constexpr std::string_view kNacked = "nacked";
inline constexpr std::string_view kAckUnmatched = "ack-unmatched";
inline constexpr std::string_view kAckTimeout = "ack-timeout";
inline constexpr std::string_view kRecovered = "recovered";
// The router answered the message itself (an infrastructure ack or NACK, an ITK3 response).
inline constexpr std::string_view kAnswered = "answered";
// A synchronous request proxied to its next hop and the response relayed (sync-proxy routes
// store nothing else about it).
inline constexpr std::string_view kProxied = "proxied";
}  // namespace audit_event

struct DeadLetterQuery {
  std::string route;              // empty: every route
  int64_t after_delivery_id = 0;  // paging: ids greater than this
  size_t limit = 100;
};

struct DeadLetterEntry {
  DeliveryTask task;
  std::string tracking_id;
  std::string service;
  std::string sender_address;
};

struct ReplayOptions {
  TimePoint now{};
  std::string actor = "router";
  // The replayed delivery gets a fresh deadline: now + its original span (deadline - created),
  // or this when that span is not positive.
  std::chrono::seconds fallback_deadline{24 * 3600};
  std::string route;  // replayAll: only this route (empty: every route)
};

struct RouteQueueStats {
  std::string route;
  int64_t queued = 0;  // pending + waiting + in flight
  int64_t in_flight = 0;
  std::optional<TimePoint> oldest_queued;  // created_at of the oldest queued delivery
  int64_t dead_letters = 0;
};

struct StoreStatistics {
  std::vector<RouteQueueStats> routes;  // sorted by route name
  int64_t acks_open = 0;
  int64_t acks_expired = 0;  // expectations that timed out, still within audit retention
  int64_t dead_letters_unnotified = 0;
};

struct PruneStats {
  int64_t bodies_pruned = 0;     // bodies of finished messages older than the body retention
  int64_t messages_deleted = 0;  // headers and deliveries older than the audit retention
  int64_t audit_deleted = 0;
  int64_t dedup_keys_deleted = 0;
  int64_t acks_deleted = 0;
  int64_t bytes_reclaimed = 0;  // file space given back (SQLite: incremental vacuum)
};

// Thread-safety: every method may be called from any thread. Asynchronous methods commit as part
// of a group (one fsync for many) and call back on a store thread, never inline, once the write is
// durable per the configured durability mode or has failed; callbacks must not block for long.
// Synchronous methods may be called from anywhere, store callbacks included. Store errors (disk
// full, I/O) are Status::storeError; nothing of a failed write is kept. The store takes "now" from
// its callers (received_at, AttemptRecord::at, ...) and never reads a clock itself.
class Store {
 public:
  virtual ~Store() = default;

  // ---- The message path (asynchronous, group committed) ----

  // Records a message with its deliveries, or finds it is a duplicate of one whose dedup key
  // (sender address, tracking id) was recorded less than the dedup window before
  // message.received_at. A delivery whose ordering key already has an active delivery starts
  // kWaiting. The "accepted"/"duplicate" audit event is part of the same transaction.
  virtual void accept(AcceptRequest request, std::function<void(Result<AcceptResult>)> done) = 0;

  // Marks pending deliveries due at request.now as in flight and returns them, oldest due first
  // per endpoint, endpoints visited round-robin, at most `limit` in all and the room of each
  // endpoint. Only the head of each FIFO key is ever pending, so keys are honoured.
  virtual void claimDue(ClaimRequest request, std::function<void(Result<ClaimResult>)> done) = 0;

  // Records the outcome of an attempt on an in-flight delivery (notFound when it is not in
  // flight) with its audit event; a final outcome promotes the next delivery of its FIFO key.
  virtual void recordAttempt(AttemptRecord record, std::function<void(Status)> done) = 0;
  // Records a LateFailure (group committed). Only a delivered delivery can fail late; any other
  // state gives kNotFound (a repeated report changes nothing).
  virtual void recordLateFailure(LateFailure failure, std::function<void(Status)> done) = 0;

  // Correlates an accepted ack with an open expectation (the one delivered to from_address if
  // any, else the oldest) and audits it. Returns the resolved expectation, or nullopt when none
  // was open; such an ack is kept as kEarly and resolves an expectation recorded later.
  virtual void resolveAck(AckArrival arrival,
                          std::function<void(Result<std::optional<PendingAck>>)> done) = 0;

  // The sender of a dead letter has been told (its NACK is durably queued). Audited.
  virtual void markSenderNotified(int64_t delivery_id, TimePoint at,
                                  std::function<void(Status)> done) = 0;

  // An audit event not tied to a state change of the store (e.g. a NACK sent by a transport).
  virtual void appendAudit(AuditEvent event, std::function<void(Status)> done) = 0;

  // ---- Reads (synchronous) ----

  // The message with its body (notFound; a pruned body is an error: storeError "body pruned").
  virtual Result<MessagePtr> loadMessage(int64_t message_id) = 0;
  // The message without its body (body is null).
  virtual Result<MessagePtr> loadHeader(int64_t message_id) = 0;
  // Deliveries of one message, by id.
  virtual Result<std::vector<DeliveryTask>> deliveriesOf(int64_t message_id) = 0;
  // Messages by tracking id (several when the same id came from different senders), by id.
  virtual Result<std::vector<int64_t>> findByTrackingId(const std::string& tracking_id) = 0;
  // Messages by a transport's id: the inbound transport_message_id (wsa:MessageID, MESH message
  // id) or an id the next hop gave a delivery (remote_id).
  virtual Result<std::vector<int64_t>> findByTransportId(const std::string& id) = 0;
  // Audit events about a tracking id (the original's and its acks' correlation), oldest first.
  virtual Result<std::vector<AuditEvent>> auditTrail(const std::string& tracking_id) = 0;
  // Ack expectations of a message, by id.
  virtual Result<std::vector<PendingAck>> acksOf(int64_t message_id) = 0;
  // Dead letters, by delivery id.
  virtual Result<std::vector<DeadLetterEntry>> listDeadLetters(const DeadLetterQuery& query) = 0;
  // Dead letters whose sender has not been told yet (the engine NACKs these), by id.
  virtual Result<std::vector<DeliveryTask>> unnotifiedDeadLetters(size_t limit) = 0;
  // When the earliest pending delivery becomes due; nullopt when none is pending.
  virtual Result<std::optional<TimePoint>> nextDue() = 0;
  // Queue depth and oldest age per route, dead letters, ack counters (metrics, alerts).
  virtual Result<StoreStatistics> statistics() = 0;

  // ---- Operations (synchronous writes) ----

  // Puts a dead letter back to pending (kWaiting behind its key's active delivery) with attempts
  // reset, due now and a fresh deadline; audited. notFound when it is not a dead letter; rejected
  // when it cannot be delivered (no endpoint: it was never routed; its body was pruned).
  virtual Status replayDeadLetter(int64_t delivery_id, const ReplayOptions& options) = 0;
  // replayDeadLetter for every dead letter (of options.route); returns how many were replayed.
  // Dead letters that cannot be replayed are skipped.
  virtual Result<size_t> replayAllDeadLetters(const ReplayOptions& options) = 0;
  // Expectations whose expected_by is before `now` become kExpired (audited); returns them.
  virtual Result<std::vector<PendingAck>> expireAcks(TimePoint now, size_t limit) = 0;
  // Retention: prunes bodies and rows past their retention at `now`, expired dedup keys, and
  // gives the file space back.
  virtual Result<PruneStats> prune(TimePoint now) = 0;
  // Deliveries left in flight by a process that died go back to pending (audited). The router
  // calls it once at start, before its delivery engine; openStore() in router mode does it.
  virtual Result<size_t> recover(TimePoint now) = 0;
  // For /readyz: the store can take writes (not failing, not full).
  virtual Status health() = 0;
};

// ---- Configuration and the factory ----

// One transaction of a backend's writer (a group commit), reported for metrics.
struct CommitReport {
  size_t writes = 0;                     // writes in the group
  std::chrono::nanoseconds duration{0};  // BEGIN to COMMIT (the fsync included), or to ROLLBACK
  bool ok = true;                        // false: rolled back on a store error
};

enum class StoreBackend { kSqlite, kPostgres, kMemory /* tests only: nothing survives */ };
enum class Durability {
  kFsync,  // every commit is fsynced: survives power loss (the default)
  kOs,     // commits are in the OS page cache: survive a process crash, not a power loss
};
bool parseStoreBackend(std::string_view text,
                       StoreBackend* out);                     // "sqlite" | "postgres" | "memory"
bool parseDurability(std::string_view text, Durability* out);  // "fsync" | "os"

struct StoreConfig {
  StoreBackend backend = StoreBackend::kSqlite;
  std::string path = "var/itk-router.db";  // sqlite: the database file
  std::string url;                         // postgres: a libpq connection string
  Durability durability = Durability::kFsync;
  // Group commit: a batch closes when it holds this many writes or when the first one has
  // waited max_wait, whichever is first. max_batch 1 is one transaction per write.
  size_t group_commit_max_batch = 256;
  std::chrono::microseconds group_commit_max_wait{500};
  // Writes queued beyond this are refused (the router answers busy): bounded memory.
  size_t max_queued_writes = 10000;
  std::chrono::seconds dedup_window{7 * 24 * 3600};
  std::chrono::seconds body_retention{7 * 24 * 3600};    // of finished messages
  std::chrono::seconds audit_retention{90 * 24 * 3600};  // audit events and message headers
  // How long a write waits for another process (the CLI) holding the database lock.
  std::chrono::milliseconds busy_timeout{5000};
  size_t read_connections = 4;
  // SQLite: the WAL is checkpointed in the background once it holds this many pages (4 KB each).
  size_t checkpoint_pages = 4096;
  // Called on the writer thread after each group transaction, committed or rolled back, before
  // its writes' callbacks run. Must be quick and must not call the store. Optional; backends
  // without transactions (memory) do not call it.
  std::function<void(const CommitReport&)> on_commit;
  enum class Mode {
    kRouter,  // creates the store if absent, takes the router's lock, recovers in-flight work
    kTool,    // an existing store only, no lock, no recovery: safe beside a running router
  } mode = Mode::kRouter;
};

// Opens (and in router mode creates and recovers) the configured store.
Result<std::unique_ptr<Store>> openStore(const StoreConfig& config);

}  // namespace itk
