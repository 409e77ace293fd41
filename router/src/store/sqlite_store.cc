#include "store/sqlite_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <future>

#include "itk/log.h"
#include "store/schema.h"
#include "store/sqlite_db.h"
#include "store/store_rules.h"

namespace itk {

using sqlite::Blob;
using sqlite::Db;
using sqlite::Stmt;
using sqlite::TextOrNull;
using store_rules::isFinal;

namespace {

int64_t ms(TimePoint t) {
  return toEpochMillis(t);
}
TimePoint at(int64_t v) {
  return fromEpochMillis(v);
}

// ---- Column lists and the rows they read ----

#define ITK_DELIVERY_COLUMNS(p)                                                           \
  p "id, " p "message_id, " p "route, " p "endpoint, " p "address, " p "ordering_key, " p \
    "state, " p "attempts, " p "max_attempts, " p "next_attempt_at, " p "deadline, " p    \
    "created_at, " p "updated_at, " p "last_error, " p "remote_id, " p "dead_cause, " p   \
    "sender_notified"
constexpr int kDeliveryColumnCount = 17;

DeliveryTask readDelivery(const Stmt& s, int c = 0) {
  DeliveryTask d;
  d.delivery_id = s.int64(c + 0);
  d.message_id = s.int64(c + 1);
  d.route = s.text(c + 2);
  d.endpoint = s.text(c + 3);
  d.address = s.text(c + 4);
  d.ordering_key = s.text(c + 5);
  d.state = static_cast<DeliveryState>(s.int64(c + 6));
  d.attempts = static_cast<int>(s.int64(c + 7));
  d.max_attempts = static_cast<int>(s.int64(c + 8));
  d.next_attempt_at = at(s.int64(c + 9));
  d.deadline = at(s.int64(c + 10));
  d.created_at = at(s.int64(c + 11));
  d.updated_at = at(s.int64(c + 12));
  d.last_error = s.text(c + 13);
  d.remote_id = s.text(c + 14);
  d.cause = static_cast<DeadLetterCause>(s.int64(c + 15));
  d.sender_notified = s.int64(c + 16) != 0;
  return d;
}

#define ITK_MESSAGE_COLUMNS                                                       \
  "id, received_at, format, kind, service, interaction, tracking_id, addresses, " \
  "sender_address, audit_identity, infack_requested, busack_requested, "          \
  "acknowledged_tracking_id, ack_positive, origin_transport, origin_peer, "       \
  "origin_authenticated_as, transport_message_id, origin_attributes, body_pruned_at"

std::shared_ptr<Message> readMessage(const Stmt& s, bool* body_pruned) {
  auto m = std::make_shared<Message>();
  m->id = s.int64(0);
  m->received_at = at(s.int64(1));
  MessageHeader& h = m->header;
  h.format = static_cast<MessageFormat>(s.int64(2));
  h.kind = static_cast<MessageKind>(s.int64(3));
  h.service = s.text(4);
  h.interaction = s.text(5);
  h.tracking_id = s.text(6);
  store_rules::decodeStrings(s.text(7), &h.addresses);
  h.sender_address = s.text(8);
  h.audit_identity = s.text(9);
  h.infack_requested = s.int64(10) != 0;
  h.busack_requested = s.int64(11) != 0;
  h.acknowledged_tracking_id = s.text(12);
  h.ack_positive = s.int64(13) != 0;
  m->origin.transport = s.text(14);
  m->origin.peer = s.text(15);
  m->origin.authenticated_as = s.text(16);
  m->origin.transport_message_id = s.text(17);
  std::vector<std::string> kv;
  store_rules::decodeStrings(s.text(18), &kv);
  for (size_t i = 0; i + 1 < kv.size(); i += 2) m->origin.attributes.emplace_back(kv[i], kv[i + 1]);
  *body_pruned = !s.isNull(19);
  return m;
}

#define ITK_ACK_COLUMNS                                                                       \
  "id, message_id, delivery_id, tracking_id, kind, address, created_at, expected_by, state, " \
  "resolved_at, ack_message_id, positive"

PendingAck readAck(const Stmt& s) {
  PendingAck a;
  a.id = s.int64(0);
  a.message_id = s.int64(1);
  a.delivery_id = s.int64(2);
  a.tracking_id = s.text(3);
  a.kind = static_cast<AckKind>(s.int64(4));
  a.address = s.text(5);
  a.created_at = at(s.int64(6));
  a.expected_by = at(s.int64(7));
  a.state = static_cast<PendingAckState>(s.int64(8));
  if (!s.isNull(9)) a.resolved_at = at(s.int64(9));
  a.ack_message_id = s.int64(10);
  a.positive = s.int64(11) != 0;
  return a;
}

// ---- Statements (static storage: the connection caches them by address) ----

constexpr const char kSelectDedup[] =
    "SELECT message_id, expires_at FROM dedup_keys WHERE sender_address = ?1 AND tracking_id = ?2";
constexpr const char kUpsertDedup[] =
    "INSERT INTO dedup_keys (sender_address, tracking_id, message_id, expires_at) "
    "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (sender_address, tracking_id) "
    "DO UPDATE SET message_id = excluded.message_id, expires_at = excluded.expires_at";
constexpr const char kInsertMessage[] =
    "INSERT INTO messages (received_at, format, kind, service, interaction, tracking_id, "
    "addresses, sender_address, audit_identity, infack_requested, busack_requested, "
    "acknowledged_tracking_id, ack_positive, origin_transport, origin_peer, "
    "origin_authenticated_as, transport_message_id, origin_attributes, body_size, finished_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
    "?19, ?20)";
constexpr const char kInsertBody[] =
    "INSERT INTO message_bodies (message_id, body) VALUES (?1, ?2)";
constexpr const char kInsertDelivery[] =
    "INSERT INTO deliveries (message_id, route, endpoint, address, ordering_key, state, "
    "attempts, max_attempts, next_attempt_at, deadline, created_at, updated_at, last_error, "
    "remote_id, dead_cause, sender_notified) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?8, ?9, ?10, ?10, ?11, NULL, ?12, 0)";
constexpr const char kInsertAudit[] =
    "INSERT INTO audit_events (at, message_id, delivery_id, tracking_id, event, actor, detail) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

// FIFO keys. "state <> 2" lets the planner use the deliveries_key partial index.
constexpr const char kKeyActive[] =
    "SELECT 1 FROM deliveries WHERE ordering_key = ?1 AND state <> 2 AND state IN (0, 1, 4) "
    "AND id <> ?2 LIMIT 1";
constexpr const char kKeyHasHead[] =
    "SELECT 1 FROM deliveries WHERE ordering_key = ?1 AND state <> 2 AND state IN (0, 1) LIMIT 1";
constexpr const char kKeyNextWaiting[] =
    "SELECT id FROM deliveries WHERE ordering_key = ?1 AND state <> 2 AND state = 4 "
    "ORDER BY id LIMIT 1";
constexpr const char kPromote[] = "UPDATE deliveries SET state = 0, updated_at = ?2 WHERE id = ?1";

constexpr const char kMessageActive[] =
    "SELECT 1 FROM deliveries WHERE message_id = ?1 AND state IN (0, 1, 4) LIMIT 1";
constexpr const char kSetFinished[] = "UPDATE messages SET finished_at = ?2 WHERE id = ?1";

// Claiming: a skip scan over the endpoints of the pending-only index.
constexpr const char kFirstEndpoint[] =
    "SELECT endpoint, next_attempt_at FROM deliveries WHERE state = 0 "
    "ORDER BY endpoint, next_attempt_at LIMIT 1";
constexpr const char kNextEndpoint[] =
    "SELECT endpoint, next_attempt_at FROM deliveries WHERE state = 0 AND endpoint > ?1 "
    "ORDER BY endpoint, next_attempt_at LIMIT 1";
constexpr const char kEndpointNextDue[] =
    "SELECT next_attempt_at FROM deliveries WHERE state = 0 AND endpoint = ?1 "
    "ORDER BY next_attempt_at LIMIT 1";
constexpr const char kClaimRows[] =
    "SELECT " ITK_DELIVERY_COLUMNS("") " FROM deliveries WHERE state = 0 AND endpoint = ?1 "
    "AND next_attempt_at <= ?2 ORDER BY next_attempt_at, id LIMIT ?3";
constexpr const char kMarkInFlight[] =
    "UPDATE deliveries SET state = 1, updated_at = ?2 WHERE id = ?1";

constexpr const char kDeliveryForUpdate[] =
    "SELECT d.message_id, d.ordering_key, d.state, d.attempts, d.endpoint, d.address, "
    "m.tracking_id FROM deliveries d JOIN messages m ON m.id = d.message_id WHERE d.id = ?1";
constexpr const char kUpdateAttempt[] =
    "UPDATE deliveries SET state = ?2, attempts = ?3, next_attempt_at = COALESCE(?4, "
    "next_attempt_at), updated_at = ?5, last_error = ?6, remote_id = COALESCE(?7, remote_id), "
    "dead_cause = ?8, sender_notified = 0 WHERE id = ?1";

constexpr const char kLateFailure[] =
    "UPDATE deliveries SET state = 3, dead_cause = 6, last_error = ?3, updated_at = ?2, "
    "sender_notified = 0 WHERE id = ?1";

constexpr const char kEarlyAck[] =
    "SELECT id, resolved_at, ack_message_id, positive FROM pending_acks "
    "WHERE tracking_id = ?1 AND state = 3 AND kind IN (0, ?2) ORDER BY id LIMIT 1";
constexpr const char kDeleteAck[] = "DELETE FROM pending_acks WHERE id = ?1";
constexpr const char kInsertAck[] =
    "INSERT INTO pending_acks (message_id, delivery_id, tracking_id, kind, address, created_at, "
    "expected_by, state, resolved_at, ack_message_id, positive) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
constexpr const char kFindExpectation[] =
    "SELECT " ITK_ACK_COLUMNS
    " FROM pending_acks WHERE tracking_id = ?1 AND state IN (0, 2) "
    "AND kind IN (?2, ?3) ORDER BY (CASE WHEN state = 0 THEN 0 ELSE 2 END) + "
    "(CASE WHEN address = ?4 THEN 0 ELSE 1 END), id LIMIT 1";
constexpr const char kResolveAck[] =
    "UPDATE pending_acks SET state = 1, resolved_at = ?2, ack_message_id = ?3, positive = ?4 "
    "WHERE id = ?1";
constexpr const char kDueAcks[] = "SELECT " ITK_ACK_COLUMNS
                                  " FROM pending_acks WHERE state = 0 AND expected_by < ?1 "
                                  "ORDER BY expected_by LIMIT ?2";
constexpr const char kExpireAck[] = "UPDATE pending_acks SET state = 2 WHERE id = ?1";

constexpr const char kMarkNotified[] = "UPDATE deliveries SET sender_notified = 1 WHERE id = ?1";

constexpr const char kSelectDelivery[] =
    "SELECT " ITK_DELIVERY_COLUMNS("") " FROM deliveries WHERE id = ?1";
constexpr const char kBodyPruned[] = "SELECT body_pruned_at FROM messages WHERE id = ?1";
constexpr const char kReplay[] =
    "UPDATE deliveries SET state = ?2, attempts = 0, next_attempt_at = ?3, deadline = ?4, "
    "updated_at = ?3, last_error = '', dead_cause = 0, sender_notified = 0 WHERE id = ?1";
constexpr const char kUnfinish[] = "UPDATE messages SET finished_at = NULL WHERE id = ?1";
constexpr const char kDeadIds[] = "SELECT id FROM deliveries WHERE state = 3 ORDER BY id";
constexpr const char kDeadIdsOfRoute[] =
    "SELECT id FROM deliveries WHERE state = 3 AND route = ?1 ORDER BY id";

constexpr const char kInFlight[] =
    "SELECT d.id, d.message_id, m.tracking_id FROM deliveries d JOIN messages m "
    "ON m.id = d.message_id WHERE d.state <> 2 AND d.state = 1";
constexpr const char kBackToPending[] =
    "UPDATE deliveries SET state = 0, updated_at = ?2 WHERE id = ?1";

// Reads.
constexpr const char kSelectMessage[] =
    "SELECT " ITK_MESSAGE_COLUMNS " FROM messages WHERE id = ?1";
constexpr const char kSelectBody[] = "SELECT body FROM message_bodies WHERE message_id = ?1";
constexpr const char kDeliveriesOf[] =
    "SELECT " ITK_DELIVERY_COLUMNS("") " FROM deliveries WHERE message_id = ?1 ORDER BY id";
constexpr const char kByTrackingId[] = "SELECT id FROM messages WHERE tracking_id = ?1 ORDER BY id";
constexpr const char kByTransportId[] =
    "SELECT id FROM messages WHERE transport_message_id = ?1 "
    "UNION SELECT message_id FROM deliveries WHERE remote_id = ?1 ORDER BY 1";
constexpr const char kAuditTrail[] =
    "SELECT id, at, message_id, delivery_id, tracking_id, event, actor, detail "
    "FROM audit_events WHERE tracking_id = ?1 ORDER BY id";
constexpr const char kAcksOf[] = "SELECT " ITK_ACK_COLUMNS
                                 " FROM pending_acks WHERE message_id = ?1 AND state <> 3 "
                                 "ORDER BY id";
constexpr const char kDeadLetters[] =
    "SELECT " ITK_DELIVERY_COLUMNS("d.") ", m.tracking_id, m.service, m.sender_address "
    "FROM deliveries d JOIN messages m ON m.id = d.message_id "
    "WHERE d.state = 3 AND d.id > ?1 ORDER BY d.id LIMIT ?2";
constexpr const char kDeadLettersOfRoute[] =
    "SELECT " ITK_DELIVERY_COLUMNS("d.") ", m.tracking_id, m.service, m.sender_address "
    "FROM deliveries d JOIN messages m ON m.id = d.message_id "
    "WHERE d.state = 3 AND d.route = ?3 AND d.id > ?1 ORDER BY d.id LIMIT ?2";
constexpr const char kUnnotified[] =
    "SELECT " ITK_DELIVERY_COLUMNS("") " FROM deliveries WHERE state = 3 AND sender_notified = 0 "
    "ORDER BY id LIMIT ?1";
constexpr const char kQueueStats[] =
    "SELECT route, state, count(*), min(created_at) FROM deliveries WHERE state <> 2 "
    "GROUP BY route, state";
constexpr const char kAckStats[] =
    "SELECT state, count(*) FROM pending_acks WHERE state IN (0, 2) GROUP BY state";

// Retention.
// INDEXED BY: both partial indexes qualify, and only messages_body_kept skips what is pruned.
constexpr const char kPrunableBodies[] =
    "SELECT id FROM messages INDEXED BY messages_body_kept WHERE finished_at IS NOT NULL AND "
    "body_pruned_at IS NULL "
    "AND finished_at <= ?1 ORDER BY finished_at LIMIT ?2";
constexpr const char kExpiredMessages[] =
    "SELECT id FROM messages WHERE finished_at IS NOT NULL AND finished_at <= ?1 "
    "ORDER BY finished_at LIMIT ?2";
constexpr const char kDeleteBody[] = "DELETE FROM message_bodies WHERE message_id = ?1";
constexpr const char kMarkBodyPruned[] = "UPDATE messages SET body_pruned_at = ?2 WHERE id = ?1";
constexpr const char kDeleteDeliveriesOf[] = "DELETE FROM deliveries WHERE message_id = ?1";
constexpr const char kDeleteAcksOf[] = "DELETE FROM pending_acks WHERE message_id = ?1";
constexpr const char kDeleteMessage[] = "DELETE FROM messages WHERE id = ?1";
constexpr const char kDeleteAudit[] =
    "DELETE FROM audit_events WHERE id IN "
    "(SELECT id FROM audit_events WHERE at <= ?1 ORDER BY at LIMIT ?2)";
constexpr const char kDeleteEarlyAcks[] =
    "DELETE FROM pending_acks WHERE id IN "
    "(SELECT id FROM pending_acks WHERE state = 3 AND created_at <= ?1 LIMIT ?2)";
constexpr const char kDeleteDedup[] =
    "DELETE FROM dedup_keys WHERE expires_at IN "
    "(SELECT expires_at FROM dedup_keys WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2)";
constexpr const char kFreePages[] = "PRAGMA freelist_count";
constexpr const char kPageSize[] = "PRAGMA page_size";
constexpr const char kPageCount[] = "PRAGMA page_count";

// Past this many WAL pages (16 x the background threshold) the writer checkpoints itself,
// slowing accepts rather than letting the WAL grow without bound when the background
// checkpointer cannot keep up.
constexpr size_t kWalHardLimitFactor = 16;

constexpr int64_t kPruneChunk = 500;    // messages per retention transaction
constexpr int64_t kDeleteChunk = 5000;  // audit events, dedup keys, early acks per transaction

Status insertAudit(Db& db, TimePoint when, int64_t message_id, int64_t delivery_id,
                   std::string_view tracking_id, std::string_view event, std::string_view detail,
                   std::string_view actor = "router") {
  return db.run(kInsertAudit, ms(when), message_id, delivery_id, tracking_id, event, actor, detail);
}

// True when the FIFO key has a delivery other than `except` that is not final.
Result<bool> keyActive(Db& db, const std::string& key, int64_t except) {
  bool active = false;
  Status s = db.query(
      kKeyActive, [&](const Stmt&) { active = true; }, key, except);
  if (!s.ok()) return s;
  return active;
}

// After a delivery of `key` reached a final state: the oldest waiting one becomes the head.
Status promoteNext(Db& db, const std::string& key, TimePoint now) {
  if (key.empty()) return {};
  bool has_head = false;
  Status s = db.query(
      kKeyHasHead, [&](const Stmt&) { has_head = true; }, key);
  if (!s.ok() || has_head) return s;
  int64_t next = 0;
  s = db.query(
      kKeyNextWaiting, [&](const Stmt& r) { next = r.int64(0); }, key);
  if (!s.ok() || next == 0) return s;
  return db.run(kPromote, next, ms(now));
}

// Sets finished_at once no delivery of the message is left to do (retention starts then).
Status updateFinished(Db& db, int64_t message_id, TimePoint now) {
  bool active = false;
  Status s = db.query(
      kMessageActive, [&](const Stmt&) { active = true; }, message_id);
  if (!s.ok() || active) return s;
  return db.run(kSetFinished, message_id, ms(now));
}

bool isStoreError(const Status& s) {
  return s.code() == Code::kStoreError;
}

const Status& statusOf(const Status& s) {
  return s;
}
template <class T>
const Status& statusOf(const Result<T>& r) {
  return r.status();
}

}  // namespace

// ---- Lifecycle ----

SqliteStore::SqliteStore(StoreConfig config, std::string vfs)
    : config_(std::move(config)), vfs_(std::move(vfs)) {}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const StoreConfig& config, std::string vfs) {
  std::unique_ptr<SqliteStore> store(new SqliteStore(config, std::move(vfs)));
  Status s = store->init();
  if (!s.ok()) return s;
  if (store->checkpoint_db_)
    store->checkpointer_ = std::thread([s = store.get()] { s->checkpointLoop(); });
  store->writer_ = std::thread([s = store.get()] { s->writerLoop(); });
  return store;
}

SqliteStore::~SqliteStore() {
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
    hold_ = false;
  }
  queue_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  {
    std::lock_guard lock(checkpoint_mu_);
    checkpoint_stopping_ = true;
  }
  checkpoint_cv_.notify_all();
  if (checkpointer_.joinable()) checkpointer_.join();
  checkpoint_db_.reset();
  idle_readers_.clear();
  writer_db_.reset();
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the router's lock
}

Status SqliteStore::init() {
  const bool router = config_.mode == StoreConfig::Mode::kRouter;
  if (router) {
    // One router per store file: a second one would reset the first one's in-flight work.
    std::string lock_path = config_.path + "-router.lock";
    lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd_ < 0)
      return Status::storeError("cannot open " + lock_path + ": " + std::strerror(errno));
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0)
      return Status::unavailable("another router has the store " + config_.path + " open");
  }
  int flags = SQLITE_OPEN_READWRITE | (router ? SQLITE_OPEN_CREATE : 0);
  auto db = Db::open(config_.path, flags, vfs_, config_.busy_timeout);
  if (!db.ok()) return db.status();
  writer_db_ = std::move(*db);
  Db& w = *writer_db_;

  if (router) {
    auto pages = w.queryInt(kPageCount);
    if (!pages.ok()) return pages.status();
    // Incremental vacuum must be chosen before the first table exists: retention gives pages
    // back to the file system instead of keeping them free inside it.
    if (*pages == 0) {
      Status s = w.exec("PRAGMA auto_vacuum = INCREMENTAL");
      if (!s.ok()) return s;
    }
    Status s = w.exec("PRAGMA journal_mode = WAL");
    if (!s.ok()) return s;
  }
  // fsync: FULL syncs the WAL at every commit, so a commit survives power loss. os: NORMAL
  // syncs only at checkpoints; a commit is in the OS page cache and survives a process crash,
  // and WAL mode stays consistent on power loss (the last commits may be lost). OFF would skip
  // the checkpoint syncs too and could corrupt the file on power loss, so it is never used.
  Status s = w.exec(config_.durability == Durability::kFsync ? "PRAGMA synchronous = FULL"
                                                             : "PRAGMA synchronous = NORMAL");
  if (!s.ok()) return s;
  // 16 MB of page cache for the writer (indexes of a long queue), a WAL trimmed back to 64 MB
  // after checkpoints.
  s = w.exec(
      "PRAGMA cache_size = -16384; PRAGMA journal_size_limit = 67108864; "
      "PRAGMA temp_store = MEMORY; PRAGMA foreign_keys = OFF");
  if (!s.ok()) return s;

  if (router) {
    // Checkpoints move off the commit path: the writer's connection does not checkpoint after
    // its commits; its WAL hook wakes a checkpointer with a connection of its own.
    s = w.exec("PRAGMA wal_autocheckpoint = 0");
    if (!s.ok()) return s;
    auto ckpt = Db::open(config_.path, SQLITE_OPEN_READWRITE, vfs_, config_.busy_timeout);
    if (!ckpt.ok()) return ckpt.status();
    // A connection finds out that the database is in WAL mode when it first reads it; until
    // then sqlite3_wal_checkpoint_v2 on it copies nothing and still answers SQLITE_OK (the WAL
    // then grew to the hard limit below and the writer checkpointed inline). Read once.
    s = (*ckpt)->exec("SELECT count(*) FROM sqlite_master");
    if (!s.ok()) return s;
    checkpoint_db_ = std::move(*ckpt);
    sqlite3_wal_hook(w.handle(), &SqliteStore::walHook, this);
    s = w.exec("BEGIN IMMEDIATE");
    if (!s.ok()) return s;
    for (const std::string& stmt : store_schema::statements(store_schema::Dialect::kSqlite)) {
      s = w.exec(stmt);
      if (!s.ok()) {
        w.exec("ROLLBACK");
        return s;
      }
    }
    s = w.exec("INSERT INTO store_meta (name, value) VALUES ('schema_version', '" +
               std::to_string(store_schema::kVersion) + "') ON CONFLICT (name) DO NOTHING");
    if (s.ok()) s = w.exec("COMMIT");
    if (!s.ok()) {
      w.exec("ROLLBACK");
      return s;
    }
  }
  // Both modes: this must be an itk-router store of a schema we understand.
  std::string version;
  s = w.query("SELECT value FROM store_meta WHERE name = 'schema_version'",
              [&](const Stmt& r) { version = r.text(0); });
  if (!s.ok() || version.empty())
    return Status::storeError(config_.path + " is not an itk-router store" +
                              (s.ok() ? std::string() : ": " + s.message()));
  if (version != std::to_string(store_schema::kVersion))
    return Status::storeError(config_.path + " has store schema version " + version +
                              "; this router understands version " +
                              std::to_string(store_schema::kVersion));
  return {};
}

int SqliteStore::walHook(void* self, sqlite3* db, const char*, int pages) {
  auto* store = static_cast<SqliteStore*>(self);
  const size_t wal = static_cast<size_t>(pages);
  const size_t threshold = std::max<size_t>(store->config_.checkpoint_pages, 1);
  if (wal >= threshold * kWalHardLimitFactor) {
    std::lock_guard run(store->checkpoint_run_mu_);
    int rc = sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    if (rc != SQLITE_OK)
      log::warn("store.checkpoint_failed",
                {{"error", sqlite::errorStatus(rc, sqlite3_errmsg(db), "checkpoint").toString()}});
  } else if (wal >= threshold) {
    {
      std::lock_guard lock(store->checkpoint_mu_);
      store->checkpoint_wanted_ = true;
    }
    store->checkpoint_cv_.notify_one();
  }
  return SQLITE_OK;
}

void SqliteStore::checkpointLoop() {
  std::unique_lock lock(checkpoint_mu_);
  for (;;) {
    checkpoint_cv_.wait(lock, [&] { return checkpoint_stopping_ || checkpoint_wanted_; });
    if (checkpoint_stopping_) return;
    checkpoint_wanted_ = false;
    lock.unlock();
    // PASSIVE: copies what it can without blocking the writer or readers; the writer starts
    // the WAL over once a checkpoint has copied everything.
    int rc;
    {
      std::lock_guard run(checkpoint_run_mu_);
      rc = sqlite3_wal_checkpoint_v2(checkpoint_db_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                     nullptr, nullptr);
    }
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
      log::warn("store.checkpoint_failed",
                {{"error", checkpoint_db_->error(rc, "checkpoint").toString()}});
    lock.lock();
  }
}

Result<std::unique_ptr<Db>> SqliteStore::openReader() {
  auto db = Db::open(config_.path, SQLITE_OPEN_READWRITE, vfs_, config_.busy_timeout);
  if (!db.ok()) return db.status();
  Status s = (*db)->exec("PRAGMA query_only = 1; PRAGMA cache_size = -2048");
  if (!s.ok()) return s;
  return std::move(*db);
}

template <class F>
auto SqliteStore::read(F&& fn) -> decltype(fn(std::declval<Db&>())) {
  std::unique_ptr<Db> db;
  {
    std::unique_lock lock(readers_mu_);
    readers_cv_.wait(lock, [&] {
      return !idle_readers_.empty() ||
             open_readers_ < std::max<size_t>(config_.read_connections, 1);
    });
    if (!idle_readers_.empty()) {
      db = std::move(idle_readers_.back());
      idle_readers_.pop_back();
    } else {
      ++open_readers_;
    }
  }
  if (!db) {
    auto opened = openReader();
    if (!opened.ok()) {
      {
        std::lock_guard lock(readers_mu_);
        --open_readers_;
      }
      readers_cv_.notify_one();
      return opened.status();
    }
    db = std::move(*opened);
  }
  auto result = fn(*db);
  {
    std::lock_guard lock(readers_mu_);
    idle_readers_.push_back(std::move(db));
  }
  readers_cv_.notify_one();
  return result;
}

// ---- The writer: group commit ----

bool SqliteStore::enqueue(Job job, Status* refusal) {
  {
    std::lock_guard lock(queue_mu_);
    if (stopping_) {
      *refusal = Status::unavailable("the store is closing");
      return false;
    }
    // Bounded memory: past this, the router answers busy rather than queueing without limit.
    if (queue_.size() >= config_.max_queued_writes) {
      *refusal = Status::unavailable("the store's write queue is full (" +
                                     std::to_string(queue_.size()) + " writes waiting)");
      return false;
    }
    job.enqueued = std::chrono::steady_clock::now();
    queue_.push_back(std::move(job));
  }
  queue_cv_.notify_all();
  return true;
}

template <class R>
SqliteStore::Job SqliteStore::makeJob(std::function<R(Db&)> apply, std::function<void(R)> deliver,
                                      bool alone) {
  auto slot = std::make_shared<std::optional<R>>();
  Job job;
  job.alone = alone;
  job.apply = [apply = std::move(apply), slot](Db& db) {
    slot->emplace(apply(db));
    const Status& s = statusOf(**slot);
    return isStoreError(s) ? s : Status();
  };
  job.complete = [slot, deliver = std::move(deliver)](const Status& group) {
    deliver(group.ok() ? std::move(**slot) : R(group));
  };
  return job;
}

template <class R>
void SqliteStore::submit(std::function<R(Db&)> apply, std::function<void(R)> done, bool alone) {
  auto finish = std::make_shared<std::function<void(R)>>(std::move(done));
  Job job = makeJob<R>(
      std::move(apply),
      [this, finish](R result) {
        callbacks_.post(
            [finish, result = std::move(result)]() mutable { (*finish)(std::move(result)); });
      },
      alone);
  Status refusal;
  if (!enqueue(std::move(job), &refusal))
    callbacks_.post([finish, refusal] { (*finish)(R(refusal)); });
}

template <class R>
R SqliteStore::call(std::function<R(Db&)> apply, bool alone) {
  auto promise = std::make_shared<std::promise<R>>();
  std::future<R> future = promise->get_future();
  Job job = makeJob<R>(
      std::move(apply), [promise](R result) { promise->set_value(std::move(result)); }, alone);
  Status refusal;
  if (!enqueue(std::move(job), &refusal)) return R(refusal);
  return future.get();
}

void SqliteStore::writerLoop() {
  const auto max_wait = config_.group_commit_max_wait;
  const size_t max_batch = std::max<size_t>(config_.group_commit_max_batch, 1);
  std::vector<Job> group;
  for (;;) {
    group.clear();
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return (stopping_ || !hold_) && (stopping_ || !queue_.empty()); });
      if (queue_.empty()) return;  // stopping, and every queued write is done
      // Group commit: let writers arriving within max_wait of the first join its transaction.
      if (max_wait.count() > 0 && queue_.size() < max_batch && !queue_.front().alone) {
        auto until = queue_.front().enqueued + max_wait;
        queue_cv_.wait_until(lock, until, [&] { return stopping_ || queue_.size() >= max_batch; });
      }
      if (queue_.front().alone) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      } else {
        while (!queue_.empty() && group.size() < max_batch && !queue_.front().alone) {
          group.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
    }
    runGroup(group);
  }
}

void SqliteStore::runGroup(std::vector<Job>& group) {
  Db& db = *writer_db_;
  Status status;
  const bool alone = group.size() == 1 && group.front().alone;
  if (alone) {
    status = group.front().apply(db);
  } else {
    const auto began = std::chrono::steady_clock::now();
    status = db.exec("BEGIN IMMEDIATE");
    for (size_t i = 0; status.ok() && i < group.size(); ++i) status = group[i].apply(db);
    if (status.ok()) status = db.exec("COMMIT");
    // A failed group leaves nothing behind: every write in it is told it failed.
    if (!status.ok() && !sqlite3_get_autocommit(db.handle())) db.exec("ROLLBACK");
    if (config_.on_commit) {
      config_.on_commit({group.size(), std::chrono::steady_clock::now() - began, status.ok()});
    }
  }
  {
    std::lock_guard lock(queue_mu_);
    if (status.ok()) {
      ++counters_.transactions;
      counters_.writes += group.size();
      counters_.largest_batch = std::max<uint64_t>(counters_.largest_batch, group.size());
    } else {
      ++counters_.failed_transactions;
    }
    last_write_ = status;
  }
  if (!status.ok())
    log::error("store.write_failed", {{"writes", group.size()}, {"error", status.toString()}});
  for (Job& job : group) job.complete(status);
}

SqliteStore::Counters SqliteStore::counters() const {
  std::lock_guard lock(queue_mu_);
  return counters_;
}

void SqliteStore::holdWriter(bool hold) {
  {
    std::lock_guard lock(queue_mu_);
    hold_ = hold;
  }
  queue_cv_.notify_all();
}

Status SqliteStore::health() {
  std::lock_guard lock(queue_mu_);
  if (stopping_) return Status::unavailable("the store is closing");
  if (!last_write_.ok()) return last_write_;
  if (queue_.size() >= config_.max_queued_writes)
    return Status::unavailable("the store's write queue is full");
  return {};
}

// ---- The message path ----

void SqliteStore::accept(AcceptRequest request, std::function<void(Result<AcceptResult>)> done) {
  auto shared = std::make_shared<AcceptRequest>(std::move(request));
  submit<Result<AcceptResult>>([this, shared](Db& db) { return applyAccept(db, *shared); },
                               std::move(done));
}

Result<AcceptResult> SqliteStore::applyAccept(Db& db, const AcceptRequest& request) {
  const Message& m = request.message;
  const MessageHeader& h = m.header;
  const TimePoint now = m.received_at;
  if (request.deduplicate) {
    int64_t original = 0;
    Status s = db.query(
        kSelectDedup,
        [&](const Stmt& r) {
          if (r.int64(1) > ms(now)) original = r.int64(0);
        },
        h.sender_address, h.tracking_id);
    if (!s.ok()) return s;
    if (original != 0) {
      s = insertAudit(db, now, original, 0, h.tracking_id, audit_event::kDuplicate,
                      store_rules::duplicateDetail(m));
      if (!s.ok()) return s;
      return AcceptResult{original, true};
    }
  }
  bool all_final = std::all_of(request.deliveries.begin(), request.deliveries.end(),
                               [](const NewDelivery& d) { return isFinal(d.initial_state); });
  std::vector<std::string> attributes;
  for (const auto& [k, v] : m.origin.attributes) {
    attributes.push_back(k);
    attributes.push_back(v);
  }
  std::string_view body = m.body ? std::string_view(*m.body) : std::string_view();
  Status s = db.run(kInsertMessage, ms(now), h.format, h.kind, h.service, h.interaction,
                    h.tracking_id, store_rules::encodeStrings(h.addresses), h.sender_address,
                    h.audit_identity, h.infack_requested, h.busack_requested,
                    h.acknowledged_tracking_id, h.ack_positive, m.origin.transport, m.origin.peer,
                    m.origin.authenticated_as, TextOrNull{m.origin.transport_message_id},
                    store_rules::encodeStrings(attributes), static_cast<int64_t>(body.size()),
                    all_final ? std::optional<int64_t>(ms(now)) : std::nullopt);
  if (!s.ok()) return s;
  const int64_t id = db.lastInsertId();
  s = db.run(kInsertBody, id, Blob{body});
  if (!s.ok()) return s;
  for (const NewDelivery& d : request.deliveries) {
    DeliveryState state = d.initial_state;
    if (state == DeliveryState::kPending && !d.ordering_key.empty()) {
      auto active = keyActive(db, d.ordering_key, 0);
      if (!active.ok()) return active.status();
      if (*active) state = DeliveryState::kWaiting;
    }
    s = db.run(kInsertDelivery, id, d.route, d.endpoint, d.address, TextOrNull{d.ordering_key},
               state, d.max_attempts, ms(d.next_attempt_at), ms(d.deadline), ms(now), d.error,
               d.cause);
    if (!s.ok()) return s;
  }
  if (request.deduplicate) {
    s = db.run(kUpsertDedup, h.sender_address, h.tracking_id, id, ms(now + config_.dedup_window));
    if (!s.ok()) return s;
  }
  s = insertAudit(db, now, id, 0, h.tracking_id, audit_event::kAccepted,
                  store_rules::acceptedDetail(request));
  if (!s.ok()) return s;
  return AcceptResult{id, false};
}

void SqliteStore::claimDue(ClaimRequest request, std::function<void(Result<ClaimResult>)> done) {
  auto shared = std::make_shared<ClaimRequest>(std::move(request));
  submit<Result<ClaimResult>>([this, shared](Db& db) { return applyClaim(db, *shared); },
                              std::move(done));
}

Result<ClaimResult> SqliteStore::applyClaim(Db& db, const ClaimRequest& request) {
  ClaimResult out;
  const int64_t now = ms(request.now);
  auto later = [&](TimePoint t) { out.next_due = out.next_due ? std::min(*out.next_due, t) : t; };
  const std::string cursor = claim_cursor_;
  // Endpoints after the cursor, then from the first up to the cursor: round-robin.
  for (int phase = 0; phase < 2; ++phase) {
    std::string after = cursor;
    bool first = phase == 1;
    for (;;) {
      std::optional<std::pair<std::string, int64_t>> next;
      auto take = [&](const Stmt& r) { next.emplace(r.text(0), r.int64(1)); };
      Status s = first ? db.query(kFirstEndpoint, take) : db.query(kNextEndpoint, take, after);
      if (!s.ok()) return s;
      first = false;
      if (!next || (phase == 1 && next->first > cursor)) break;
      const std::string& endpoint = next->first;
      after = endpoint;
      auto found = request.room.find(endpoint);
      size_t room = found == request.room.end() ? request.default_room : found->second;
      if (room == 0) continue;  // finishing one of its attempts frees room and claims again
      if (out.tasks.size() >= request.limit) {
        later(request.now);
        return out;
      }
      if (next->second > now) {
        later(at(next->second));
        continue;
      }
      size_t n = std::min(room, request.limit - out.tasks.size());
      size_t before = out.tasks.size();
      s = db.query(
          kClaimRows, [&](const Stmt& r) { out.tasks.push_back(readDelivery(r)); }, endpoint, now,
          static_cast<int64_t>(n));
      if (!s.ok()) return s;
      for (size_t i = before; i < out.tasks.size(); ++i) {
        DeliveryTask& t = out.tasks[i];
        s = db.run(kMarkInFlight, t.delivery_id, now);
        if (!s.ok()) return s;
        t.state = DeliveryState::kInFlight;
        t.updated_at = request.now;
      }
      if (out.tasks.size() > before) claim_cursor_ = endpoint;
      if (out.tasks.size() - before < room) {
        s = db.query(
            kEndpointNextDue, [&](const Stmt& r) { later(at(r.int64(0))); }, endpoint);
        if (!s.ok()) return s;
      }
    }
  }
  return out;
}

void SqliteStore::recordLateFailure(LateFailure failure, std::function<void(Status)> done) {
  auto shared = std::make_shared<LateFailure>(std::move(failure));
  submit<Status>(
      [this, shared](Db& db) -> Status {
        const LateFailure& f = *shared;
        std::optional<int64_t> message_id;
        DeliveryState state = DeliveryState::kPending;
        std::string endpoint, tracking_id;
        Status s = db.query(
            kDeliveryForUpdate,
            [&](const Stmt& r) {
              message_id = r.int64(0);
              state = static_cast<DeliveryState>(r.int64(2));
              endpoint = r.text(4);
              tracking_id = r.text(6);
            },
            f.delivery_id);
        if (!s.ok()) return s;
        if (!message_id || state != DeliveryState::kDelivered)
          return Status::notFound("delivery " + std::to_string(f.delivery_id) +
                                  " is not delivered");
        s = db.run(kLateFailure, f.delivery_id, ms(f.at), f.error);
        if (!s.ok()) return s;
        auto entry = store_rules::lateFailureAudit(f, endpoint);
        return insertAudit(db, f.at, *message_id, f.delivery_id, tracking_id, entry.event,
                           entry.detail);
      },
      std::move(done));
}

void SqliteStore::recordAttempt(AttemptRecord record, std::function<void(Status)> done) {
  auto shared = std::make_shared<AttemptRecord>(std::move(record));
  submit<Status>([this, shared](Db& db) { return applyAttempt(db, *shared); }, std::move(done));
}

Status SqliteStore::applyAttempt(Db& db, const AttemptRecord& record) {
  struct Row {
    int64_t message_id = 0;
    std::string key;
    DeliveryState state = DeliveryState::kPending;
    int attempts = 0;
    std::string endpoint, address, tracking_id;
  };
  std::optional<Row> row;
  Status s = db.query(
      kDeliveryForUpdate,
      [&](const Stmt& r) {
        row = Row{r.int64(0),
                  r.text(1),
                  static_cast<DeliveryState>(r.int64(2)),
                  static_cast<int>(r.int64(3)),
                  r.text(4),
                  r.text(5),
                  r.text(6)};
      },
      record.delivery_id);
  if (!s.ok()) return s;
  if (!row || row->state != DeliveryState::kInFlight)
    return Status::notFound("delivery " + std::to_string(record.delivery_id) + " is not in flight");
  const int attempts = row->attempts + 1;
  DeliveryState state = DeliveryState::kDelivered;
  std::optional<int64_t> next_at;
  DeadLetterCause cause = DeadLetterCause::kNone;
  switch (record.next) {
    case AttemptRecord::Next::kDelivered:
      break;
    case AttemptRecord::Next::kRetry:
      state = DeliveryState::kPending;
      next_at = ms(record.next_attempt_at);
      break;
    case AttemptRecord::Next::kDeadLetter:
      state = DeliveryState::kDeadLetter;
      cause = record.cause;
      break;
  }
  s = db.run(kUpdateAttempt, record.delivery_id, state, attempts, next_at, ms(record.at),
             record.error, TextOrNull{record.remote_id}, cause);
  if (!s.ok()) return s;
  auto entry = store_rules::attemptAudit(record, attempts, row->endpoint, row->address);
  s = insertAudit(db, record.at, row->message_id, record.delivery_id, row->tracking_id, entry.event,
                  entry.detail);
  if (!s.ok()) return s;
  for (const ExpectedAck& e : record.expect_acks) {
    PendingAck a;
    a.message_id = row->message_id;
    a.delivery_id = record.delivery_id;
    a.tracking_id = row->tracking_id;
    a.kind = e.kind;
    a.address = row->address;
    a.created_at = record.at;
    a.expected_by = e.expected_by;
    // An ack that overtook this record resolves the expectation at once.
    int64_t early_id = 0;
    s = db.query(
        kEarlyAck,
        [&](const Stmt& r) {
          early_id = r.int64(0);
          a.state = PendingAckState::kResolved;
          a.resolved_at = at(r.int64(1));
          a.ack_message_id = r.int64(2);
          a.positive = r.int64(3) != 0;
        },
        a.tracking_id, a.kind);
    if (!s.ok()) return s;
    if (early_id != 0) {
      s = db.run(kDeleteAck, early_id);
      if (!s.ok()) return s;
      auto ack = store_rules::ackAudit(a);
      s = insertAudit(db, record.at, a.message_id, a.delivery_id, a.tracking_id, ack.event,
                      ack.detail);
      if (!s.ok()) return s;
    }
    s = db.run(kInsertAck, a.message_id, a.delivery_id, a.tracking_id, a.kind, a.address,
               ms(a.created_at), ms(a.expected_by), a.state,
               early_id ? std::optional<int64_t>(ms(a.resolved_at)) : std::nullopt,
               a.ack_message_id, a.positive);
    if (!s.ok()) return s;
  }
  if (isFinal(state)) {
    s = promoteNext(db, row->key, record.at);
    if (s.ok()) s = updateFinished(db, row->message_id, record.at);
  }
  return s;
}

void SqliteStore::resolveAck(AckArrival arrival,
                             std::function<void(Result<std::optional<PendingAck>>)> done) {
  auto shared = std::make_shared<AckArrival>(std::move(arrival));
  submit<Result<std::optional<PendingAck>>>(
      [this, shared](Db& db) { return applyResolveAck(db, *shared); }, std::move(done));
}

Result<std::optional<PendingAck>> SqliteStore::applyResolveAck(Db& db, const AckArrival& arrival) {
  std::vector<AckKind> kinds = store_rules::kindsResolvedBy(arrival.kind);
  if (kinds.empty()) return Status::invalid("a business message is not an acknowledgement");
  std::optional<PendingAck> found;
  Status s = db.query(
      kFindExpectation, [&](const Stmt& r) { found = readAck(r); },
      arrival.acknowledged_tracking_id, kinds.front(), kinds.back(), arrival.from_address);
  if (!s.ok()) return s;
  if (found) {
    found->state = PendingAckState::kResolved;
    found->resolved_at = arrival.at;
    found->ack_message_id = arrival.ack_message_id;
    found->positive = arrival.positive;
    s = db.run(kResolveAck, found->id, ms(arrival.at), arrival.ack_message_id, arrival.positive);
    if (!s.ok()) return s;
    auto entry = store_rules::ackAudit(*found);
    s = insertAudit(db, arrival.at, found->message_id, found->delivery_id, found->tracking_id,
                    entry.event, entry.detail);
    if (!s.ok()) return s;
    return found;
  }
  s = db.run(kInsertAck, 0, 0, arrival.acknowledged_tracking_id,
             store_rules::earlyKindOf(arrival.kind), arrival.from_address, ms(arrival.at),
             ms(arrival.at), PendingAckState::kEarly, ms(arrival.at), arrival.ack_message_id,
             arrival.positive);
  if (!s.ok()) return s;
  s = insertAudit(db, arrival.at, arrival.ack_message_id, 0, arrival.acknowledged_tracking_id,
                  audit_event::kAckUnmatched, store_rules::ackUnmatchedDetail(arrival));
  if (!s.ok()) return s;
  return std::optional<PendingAck>();
}

void SqliteStore::markSenderNotified(int64_t delivery_id, TimePoint when,
                                     std::function<void(Status)> done) {
  submit<Status>(
      [delivery_id, when](Db& db) -> Status {
        std::optional<DeliveryState> state;
        int64_t message_id = 0;
        std::string address, tracking_id;
        Status s = db.query(
            kDeliveryForUpdate,
            [&](const Stmt& r) {
              message_id = r.int64(0);
              state = static_cast<DeliveryState>(r.int64(2));
              address = r.text(5);
              tracking_id = r.text(6);
            },
            delivery_id);
        if (!s.ok()) return s;
        if (state != DeliveryState::kDeadLetter)
          return Status::notFound("delivery " + std::to_string(delivery_id) +
                                  " is not a dead letter");
        s = db.run(kMarkNotified, delivery_id);
        if (!s.ok()) return s;
        return insertAudit(db, when, message_id, delivery_id, tracking_id,
                           audit_event::kSenderNotified,
                           "the sender was told the delivery to " + address + " failed");
      },
      std::move(done));
}

void SqliteStore::appendAudit(AuditEvent event, std::function<void(Status)> done) {
  auto shared = std::make_shared<AuditEvent>(std::move(event));
  submit<Status>(
      [shared](Db& db) {
        const AuditEvent& e = *shared;
        return insertAudit(db, e.at, e.message_id, e.delivery_id, e.tracking_id, e.event, e.detail,
                           e.actor);
      },
      std::move(done));
}

// ---- Reads ----

namespace {

Result<MessagePtr> readMessageRow(Db& db, int64_t message_id, bool with_body) {
  std::shared_ptr<Message> message;
  bool pruned = false;
  Status s = db.query(
      kSelectMessage, [&](const Stmt& r) { message = readMessage(r, &pruned); }, message_id);
  if (!s.ok()) return s;
  if (!message) return Status::notFound("message " + std::to_string(message_id));
  if (!with_body) return MessagePtr(message);
  if (pruned)
    return Status::storeError("the body of message " + std::to_string(message_id) + " was pruned");
  s = db.query(
      kSelectBody,
      [&](const Stmt& r) { message->body = std::make_shared<const std::string>(r.blob(0)); },
      message_id);
  if (!s.ok()) return s;
  if (!message->body)
    return Status::storeError("the body of message " + std::to_string(message_id) + " is missing");
  return MessagePtr(message);
}

template <class T, class Row, class... A>
Result<std::vector<T>> collect(Db& db, const char* sql, Row&& row, const A&... args) {
  std::vector<T> out;
  Status s = db.query(
      sql, [&](const Stmt& r) { out.push_back(row(r)); }, args...);
  if (!s.ok()) return s;
  return out;
}

int64_t firstColumn(const Stmt& r) {
  return r.int64(0);
}

}  // namespace

Result<MessagePtr> SqliteStore::loadMessage(int64_t message_id) {
  return read([&](Db& db) { return readMessageRow(db, message_id, true); });
}

Result<MessagePtr> SqliteStore::loadHeader(int64_t message_id) {
  return read([&](Db& db) { return readMessageRow(db, message_id, false); });
}

Result<std::vector<DeliveryTask>> SqliteStore::deliveriesOf(int64_t message_id) {
  return read([&](Db& db) {
    return collect<DeliveryTask>(
        db, kDeliveriesOf, [](const Stmt& r) { return readDelivery(r); }, message_id);
  });
}

Result<std::vector<int64_t>> SqliteStore::findByTrackingId(const std::string& tracking_id) {
  return read(
      [&](Db& db) { return collect<int64_t>(db, kByTrackingId, firstColumn, tracking_id); });
}

Result<std::vector<int64_t>> SqliteStore::findByTransportId(const std::string& id) {
  return read([&](Db& db) { return collect<int64_t>(db, kByTransportId, firstColumn, id); });
}

Result<std::vector<AuditEvent>> SqliteStore::auditTrail(const std::string& tracking_id) {
  return read([&](Db& db) {
    return collect<AuditEvent>(
        db, kAuditTrail,
        [](const Stmt& r) {
          AuditEvent e;
          e.id = r.int64(0);
          e.at = at(r.int64(1));
          e.message_id = r.int64(2);
          e.delivery_id = r.int64(3);
          e.tracking_id = r.text(4);
          e.event = r.text(5);
          e.actor = r.text(6);
          e.detail = r.text(7);
          return e;
        },
        tracking_id);
  });
}

Result<std::vector<PendingAck>> SqliteStore::acksOf(int64_t message_id) {
  return read([&](Db& db) { return collect<PendingAck>(db, kAcksOf, readAck, message_id); });
}

Result<std::vector<DeadLetterEntry>> SqliteStore::listDeadLetters(const DeadLetterQuery& query) {
  auto row = [](const Stmt& r) {
    return DeadLetterEntry{readDelivery(r), r.text(kDeliveryColumnCount),
                           r.text(kDeliveryColumnCount + 1), r.text(kDeliveryColumnCount + 2)};
  };
  auto limit = static_cast<int64_t>(query.limit);
  return read([&](Db& db) {
    return query.route.empty()
               ? collect<DeadLetterEntry>(db, kDeadLetters, row, query.after_delivery_id, limit)
               : collect<DeadLetterEntry>(db, kDeadLettersOfRoute, row, query.after_delivery_id,
                                          limit, query.route);
  });
}

Result<std::vector<DeliveryTask>> SqliteStore::unnotifiedDeadLetters(size_t limit) {
  return read([&](Db& db) {
    return collect<DeliveryTask>(
        db, kUnnotified, [](const Stmt& r) { return readDelivery(r); },
        static_cast<int64_t>(limit));
  });
}

Result<std::optional<TimePoint>> SqliteStore::nextDue() {
  return read([&](Db& db) -> Result<std::optional<TimePoint>> {
    // The first row of each endpoint in the pending index is its earliest.
    std::optional<TimePoint> best;
    std::optional<std::string> after;
    for (;;) {
      std::optional<std::pair<std::string, int64_t>> next;
      auto take = [&](const Stmt& r) { next.emplace(r.text(0), r.int64(1)); };
      Status s = after ? db.query(kNextEndpoint, take, *after) : db.query(kFirstEndpoint, take);
      if (!s.ok()) return s;
      if (!next) return best;
      if (!best || at(next->second) < *best) best = at(next->second);
      after = next->first;
    }
  });
}

Result<StoreStatistics> SqliteStore::statistics() {
  return read([&](Db& db) -> Result<StoreStatistics> {
    std::map<std::string, RouteQueueStats> routes;
    StoreStatistics out;
    Status s = db.query(kQueueStats, [&](const Stmt& r) {
      RouteQueueStats& q = routes[r.text(0)];
      q.route = r.text(0);
      auto state = static_cast<DeliveryState>(r.int64(1));
      int64_t count = r.int64(2);
      if (state == DeliveryState::kDeadLetter) {
        q.dead_letters += count;
        return;
      }
      q.queued += count;
      if (state == DeliveryState::kInFlight) q.in_flight += count;
      TimePoint oldest = at(r.int64(3));
      if (!q.oldest_queued || oldest < *q.oldest_queued) q.oldest_queued = oldest;
    });
    if (!s.ok()) return s;
    for (auto& [name, q] : routes) out.routes.push_back(std::move(q));
    s = db.query(kAckStats, [&](const Stmt& r) {
      (r.int64(0) == 0 ? out.acks_open : out.acks_expired) = r.int64(1);
    });
    if (!s.ok()) return s;
    auto unnotified =
        db.queryInt("SELECT count(*) FROM deliveries WHERE state = 3 AND sender_notified = 0");
    if (!unnotified.ok()) return unnotified.status();
    out.dead_letters_unnotified = *unnotified;
    return out;
  });
}

// ---- Operations ----

Status SqliteStore::applyReplay(Db& db, int64_t delivery_id, const ReplayOptions& options) {
  std::optional<DeliveryTask> d;
  Status s = db.query(
      kSelectDelivery, [&](const Stmt& r) { d = readDelivery(r); }, delivery_id);
  if (!s.ok()) return s;
  if (!d) return Status::notFound("delivery " + std::to_string(delivery_id) + " does not exist");
  if (d->state != DeliveryState::kDeadLetter)
    return Status::notFound("delivery " + std::to_string(delivery_id) + " is not a dead letter");
  bool pruned = false;
  s = db.query(
      kBodyPruned, [&](const Stmt& r) { pruned = !r.isNull(0); }, d->message_id);
  if (!s.ok()) return s;
  std::string refusal = store_rules::replayRefusal(*d, pruned);
  if (!refusal.empty()) return Status::rejected(refusal);
  DeliveryState state = DeliveryState::kPending;
  if (!d->ordering_key.empty()) {
    auto active = keyActive(db, d->ordering_key, delivery_id);
    if (!active.ok()) return active.status();
    if (*active) state = DeliveryState::kWaiting;
  }
  s = db.run(kReplay, delivery_id, state, ms(options.now),
             ms(store_rules::replayDeadline(*d, options)));
  if (s.ok()) s = db.run(kUnfinish, d->message_id);
  if (!s.ok()) return s;
  auto tracking = collect<std::string>(
      db, "SELECT tracking_id FROM messages WHERE id = ?1", [](const Stmt& r) { return r.text(0); },
      d->message_id);
  if (!tracking.ok()) return tracking.status();
  return insertAudit(db, options.now, d->message_id, delivery_id,
                     tracking->empty() ? std::string() : tracking->front(), audit_event::kReplayed,
                     store_rules::replayedDetail(*d), options.actor);
}

Status SqliteStore::replayDeadLetter(int64_t delivery_id, const ReplayOptions& options) {
  return call<Status>(
      [this, delivery_id, options](Db& db) { return applyReplay(db, delivery_id, options); });
}

Result<size_t> SqliteStore::replayAllDeadLetters(const ReplayOptions& options) {
  return call<Result<size_t>>([this, options](Db& db) -> Result<size_t> {
    auto ids = options.route.empty()
                   ? collect<int64_t>(db, kDeadIds, firstColumn)
                   : collect<int64_t>(db, kDeadIdsOfRoute, firstColumn, options.route);
    if (!ids.ok()) return ids.status();
    size_t n = 0;
    for (int64_t id : *ids) {
      Status s = applyReplay(db, id, options);
      if (isStoreError(s)) return s;
      if (s.ok()) ++n;  // refused ones (never routed, body pruned) stay dead letters
    }
    return n;
  });
}

Result<std::vector<PendingAck>> SqliteStore::expireAcks(TimePoint now, size_t limit) {
  return call<Result<std::vector<PendingAck>>>(
      [now, limit](Db& db) -> Result<std::vector<PendingAck>> {
        auto due = collect<PendingAck>(db, kDueAcks, readAck, ms(now), static_cast<int64_t>(limit));
        if (!due.ok()) return due;
        for (PendingAck& a : *due) {
          a.state = PendingAckState::kExpired;
          Status s = db.run(kExpireAck, a.id);
          if (s.ok())
            s = insertAudit(db, now, a.message_id, a.delivery_id, a.tracking_id,
                            audit_event::kAckTimeout, store_rules::ackTimeoutDetail(a));
          if (!s.ok()) return s;
        }
        return due;
      });
}

Result<int64_t> SqliteStore::pruneChunk(Db& db, const char* select_sql, TimePoint cutoff,
                                        TimePoint now, bool whole_message) {
  auto ids = collect<int64_t>(db, select_sql, firstColumn, ms(cutoff), kPruneChunk);
  if (!ids.ok()) return ids.status();
  for (int64_t id : *ids) {
    Status s = db.run(kDeleteBody, id);
    if (s.ok() && whole_message) s = db.run(kDeleteDeliveriesOf, id);
    if (s.ok() && whole_message) s = db.run(kDeleteAcksOf, id);
    if (s.ok())
      s = whole_message ? db.run(kDeleteMessage, id) : db.run(kMarkBodyPruned, id, ms(now));
    if (!s.ok()) return s;
  }
  return static_cast<int64_t>(ids->size());
}

Result<PruneStats> SqliteStore::prune(TimePoint now) {
  PruneStats stats;
  // Small transactions, so accepts keep flowing between them: a chunk at a time until a chunk
  // comes back short.
  auto drain = [&](const std::function<Result<int64_t>(Db&)>& chunk, int64_t chunk_size,
                   int64_t* total) -> Status {
    for (;;) {
      auto n = call<Result<int64_t>>(chunk);
      if (!n.ok()) return n.status();
      *total += *n;
      if (*n < chunk_size) return {};
    }
  };
  auto deleting = [](const char* sql, TimePoint cutoff) {
    return [sql, cutoff](Db& db) -> Result<int64_t> {
      Status d = db.run(sql, ms(cutoff), kDeleteChunk);
      if (!d.ok()) return d;
      return static_cast<int64_t>(db.changes());
    };
  };
  const TimePoint body_cutoff = now - config_.body_retention;
  const TimePoint audit_cutoff = now - config_.audit_retention;
  Status s =
      drain([&](Db& db) { return pruneChunk(db, kExpiredMessages, audit_cutoff, now, true); },
            kPruneChunk, &stats.messages_deleted);
  if (s.ok())
    s = drain([&](Db& db) { return pruneChunk(db, kPrunableBodies, body_cutoff, now, false); },
              kPruneChunk, &stats.bodies_pruned);
  if (s.ok()) s = drain(deleting(kDeleteAudit, audit_cutoff), kDeleteChunk, &stats.audit_deleted);
  if (s.ok()) s = drain(deleting(kDeleteDedup, now), kDeleteChunk, &stats.dedup_keys_deleted);
  if (s.ok())
    s = drain(deleting(kDeleteEarlyAcks, audit_cutoff), kDeleteChunk, &stats.acks_deleted);
  if (!s.ok()) return s;
  // Give the free pages back to the file system, then checkpoint so the file itself shrinks
  // (in WAL mode the database file is truncated when the checkpoint copies the last frames).
  auto reclaimed = call<Result<int64_t>>([](Db& db) -> Result<int64_t> {
    auto page = db.queryInt(kPageSize);
    auto before = db.queryInt(kFreePages);
    if (!page.ok() || !before.ok()) return page.ok() ? before.status() : page.status();
    Status v = db.exec("PRAGMA incremental_vacuum");
    if (!v.ok()) return v;
    auto after = db.queryInt(kFreePages);
    if (!after.ok()) return after.status();
    return (*before - *after) * *page;
  });
  if (!reclaimed.ok()) return reclaimed.status();
  stats.bytes_reclaimed = *reclaimed;
  Status checkpoint = call<Status>(
      [this](Db& db) {
        std::lock_guard run(checkpoint_run_mu_);
        return db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      },
      /*alone=*/true);
  if (!checkpoint.ok()) log::warn("store.checkpoint_failed", {{"error", checkpoint.toString()}});
  return stats;
}

Result<size_t> SqliteStore::recover(TimePoint now) {
  return call<Result<size_t>>([now](Db& db) -> Result<size_t> {
    struct InFlight {
      int64_t id, message_id;
      std::string tracking_id;
    };
    auto rows = collect<InFlight>(db, kInFlight, [](const Stmt& r) {
      return InFlight{r.int64(0), r.int64(1), r.text(2)};
    });
    if (!rows.ok()) return rows.status();
    for (const InFlight& f : *rows) {
      Status s = db.run(kBackToPending, f.id, ms(now));
      if (s.ok())
        s = insertAudit(db, now, f.message_id, f.id, f.tracking_id, audit_event::kRecovered,
                        "in flight when the router stopped; back to pending");
      if (!s.ok()) return s;
    }
    return rows->size();
  });
}

}  // namespace itk
