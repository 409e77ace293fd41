// The store's schema, written once for both SQL backends. Plain portable types (BIGINT, INTEGER,
// TEXT, a binary type), times as BIGINT milliseconds since the Unix epoch, partial indexes (both
// SQLite and PostgreSQL have them), no triggers, no JSON, no backend-only functions. Only the
// identity column and the binary type differ per dialect.
#pragma once

#include <string>
#include <vector>

namespace itk::store_schema {

enum class Dialect { kSqlite, kPostgres };

inline constexpr int kVersion = 1;

// CREATE TABLE / CREATE INDEX statements, idempotent (IF NOT EXISTS), in order.
std::vector<std::string> statements(Dialect dialect);

}  // namespace itk::store_schema
