#include "store/schema.h"

#include <string_view>

namespace itk::store_schema {

namespace {

// {id} is a generated surrogate key, {key} a key given by the writer; {blob} the binary type.
constexpr std::string_view kSchema[] = {
    "CREATE TABLE IF NOT EXISTS store_meta ("
    "  name TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL)",

    // One row per accepted message: the header fields used for routing and search. The body
    // lives in message_bodies so scans never touch it and pruning frees its pages.
    "CREATE TABLE IF NOT EXISTS messages ("
    "  id {id},"
    "  received_at BIGINT NOT NULL,"
    "  format INTEGER NOT NULL,"
    "  kind INTEGER NOT NULL,"
    "  service TEXT NOT NULL,"
    "  interaction TEXT NOT NULL,"
    "  tracking_id TEXT NOT NULL,"
    "  addresses TEXT NOT NULL,"  // length-prefixed list (store_rules::encodeStrings)
    "  sender_address TEXT NOT NULL,"
    "  audit_identity TEXT NOT NULL,"
    "  infack_requested INTEGER NOT NULL,"
    "  busack_requested INTEGER NOT NULL,"
    "  acknowledged_tracking_id TEXT NOT NULL,"
    "  ack_positive INTEGER NOT NULL,"
    "  origin_transport TEXT NOT NULL,"
    "  origin_peer TEXT NOT NULL,"
    "  origin_authenticated_as TEXT NOT NULL,"
    "  transport_message_id TEXT,"        // NULL when the transport gave none
    "  origin_attributes TEXT NOT NULL,"  // length-prefixed key, value, key, value, ...
    "  body_size BIGINT NOT NULL,"
    "  finished_at BIGINT,"  // when its last delivery reached a final state
    "  body_pruned_at BIGINT)",

    "CREATE TABLE IF NOT EXISTS message_bodies ("
    "  message_id {key},"
    "  body {blob} NOT NULL)",

    // One row per (message, destination). state: 0 pending, 1 in flight, 2 delivered,
    // 3 dead letter, 4 waiting behind its FIFO key (itk::DeliveryState).
    "CREATE TABLE IF NOT EXISTS deliveries ("
    "  id {id},"
    "  message_id BIGINT NOT NULL,"
    "  route TEXT NOT NULL,"
    "  endpoint TEXT NOT NULL,"
    "  address TEXT NOT NULL,"
    "  ordering_key TEXT,"  // NULL: unordered
    "  state INTEGER NOT NULL,"
    "  attempts INTEGER NOT NULL,"
    "  max_attempts INTEGER NOT NULL,"
    "  next_attempt_at BIGINT NOT NULL,"
    "  deadline BIGINT NOT NULL,"
    "  created_at BIGINT NOT NULL,"
    "  updated_at BIGINT NOT NULL,"
    "  last_error TEXT NOT NULL,"
    "  remote_id TEXT,"
    "  dead_cause INTEGER NOT NULL,"
    "  sender_notified INTEGER NOT NULL)",

    "CREATE TABLE IF NOT EXISTS dedup_keys ("
    "  sender_address TEXT NOT NULL,"
    "  tracking_id TEXT NOT NULL,"
    "  message_id BIGINT NOT NULL,"
    "  expires_at BIGINT NOT NULL,"
    "  PRIMARY KEY (sender_address, tracking_id))",

    // state: 0 open, 1 resolved, 2 expired, 3 early (itk::PendingAckState).
    "CREATE TABLE IF NOT EXISTS pending_acks ("
    "  id {id},"
    "  message_id BIGINT NOT NULL,"  // 0 for an early ack
    "  delivery_id BIGINT NOT NULL,"
    "  tracking_id TEXT NOT NULL,"
    "  kind INTEGER NOT NULL,"
    "  address TEXT NOT NULL,"
    "  created_at BIGINT NOT NULL,"
    "  expected_by BIGINT NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  resolved_at BIGINT,"
    "  ack_message_id BIGINT NOT NULL,"
    "  positive INTEGER NOT NULL)",

    // Who/what/when of every state change; never payload content.
    "CREATE TABLE IF NOT EXISTS audit_events ("
    "  id {id},"
    "  at BIGINT NOT NULL,"
    "  message_id BIGINT NOT NULL,"
    "  delivery_id BIGINT NOT NULL,"
    "  tracking_id TEXT NOT NULL,"
    "  event TEXT NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  detail TEXT NOT NULL)",

    // Search by identifiers, never a full scan (users.md #10).
    "CREATE INDEX IF NOT EXISTS messages_tracking ON messages (tracking_id)",
    "CREATE INDEX IF NOT EXISTS messages_transport_id ON messages (transport_message_id)"
    "  WHERE transport_message_id IS NOT NULL",
    // Retention: finished messages whose body is still kept, and all finished messages.
    "CREATE INDEX IF NOT EXISTS messages_body_kept ON messages (finished_at)"
    "  WHERE finished_at IS NOT NULL AND body_pruned_at IS NULL",
    "CREATE INDEX IF NOT EXISTS messages_finished ON messages (finished_at)"
    "  WHERE finished_at IS NOT NULL",

    // Claiming: pending deliveries per endpoint in due order. Only pending rows are indexed, so
    // the history of delivered rows never slows a claim.
    "CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (endpoint, next_attempt_at, id)"
    "  WHERE state = 0",
    // Queue statistics per route, recovery of in-flight rows, FIFO keys: every row not
    // delivered. Queries repeat the literal term "state <> 2" so the planner can use them.
    "CREATE INDEX IF NOT EXISTS deliveries_queue ON deliveries (route, state, created_at)"
    "  WHERE state <> 2",
    "CREATE INDEX IF NOT EXISTS deliveries_key ON deliveries (ordering_key, state, id)"
    "  WHERE ordering_key IS NOT NULL AND state <> 2",
    // Dead letters (few): listing, replay, and the ones whose sender is still to be told.
    "CREATE INDEX IF NOT EXISTS deliveries_dead ON deliveries (id) WHERE state = 3",
    "CREATE INDEX IF NOT EXISTS deliveries_unnotified ON deliveries (id)"
    "  WHERE state = 3 AND sender_notified = 0",
    "CREATE INDEX IF NOT EXISTS deliveries_message ON deliveries (message_id)",
    "CREATE INDEX IF NOT EXISTS deliveries_remote ON deliveries (remote_id)"
    "  WHERE remote_id IS NOT NULL",

    "CREATE INDEX IF NOT EXISTS dedup_expiry ON dedup_keys (expires_at)",

    "CREATE INDEX IF NOT EXISTS pending_acks_tracking ON pending_acks (tracking_id, state)",
    "CREATE INDEX IF NOT EXISTS pending_acks_state ON pending_acks (state, expected_by)",
    "CREATE INDEX IF NOT EXISTS pending_acks_message ON pending_acks (message_id)",

    "CREATE INDEX IF NOT EXISTS audit_tracking ON audit_events (tracking_id, id)",
    "CREATE INDEX IF NOT EXISTS audit_at ON audit_events (at)",
};

void replaceAll(std::string& s, std::string_view from, std::string_view to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
}

}  // namespace

std::vector<std::string> statements(Dialect dialect) {
  // SQLite: INTEGER PRIMARY KEY is the rowid (no extra index). PostgreSQL: an identity column.
  const std::string_view id = dialect == Dialect::kSqlite
                                  ? "INTEGER PRIMARY KEY"
                                  : "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY";
  const std::string_view key =
      dialect == Dialect::kSqlite ? "INTEGER PRIMARY KEY" : "BIGINT PRIMARY KEY";
  const std::string_view blob = dialect == Dialect::kSqlite ? "BLOB" : "BYTEA";
  std::vector<std::string> out;
  for (std::string_view stmt : kSchema) {
    std::string s(stmt);
    replaceAll(s, "{id}", id);
    replaceAll(s, "{key}", key);
    replaceAll(s, "{blob}", blob);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace itk::store_schema
