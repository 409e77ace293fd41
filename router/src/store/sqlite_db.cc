#include "store/sqlite_db.h"

namespace itk::sqlite {

Status errorStatus(int rc, std::string_view message, std::string_view what) {
  std::string text(what);
  switch (rc & 0xff) {
    case SQLITE_FULL:
      text += ": disk full";
      break;
    case SQLITE_IOERR:
      text += ": I/O error";
      break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      text += ": the database is locked by another connection";
      break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      text += ": the database file is damaged or not a database";
      break;
    case SQLITE_CANTOPEN:
      text += ": cannot open the database file";
      break;
    case SQLITE_READONLY:
      text += ": the database is read-only";
      break;
    default:
      break;
  }
  text += " (" + std::string(message) + ", code " + std::to_string(rc) + ")";
  return Status::storeError(std::move(text));
}

Stmt::~Stmt() {
  if (!stmt_) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Stmt& Stmt::bind(int i, int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}

Stmt& Stmt::bind(int i, std::string_view v) {
  sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}

Stmt& Stmt::bindNull(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}

Stmt& Stmt::bindTextOrNull(int i, std::string_view v) {
  return v.empty() ? bindNull(i) : bind(i, v);
}

Stmt& Stmt::bindBlobStatic(int i, std::string_view bytes) {
  sqlite3_bind_blob64(stmt_, i, bytes.data(), bytes.size(), SQLITE_STATIC);
  return *this;
}

Result<bool> Stmt::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return errorStatus(rc, sqlite3_errmsg(db_), sqlite3_sql(stmt_));
}

Status Stmt::run() {
  auto r = step();
  if (!r.ok()) return r.status();
  return {};
}

std::string Stmt::text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  if (!p) return {};
  return std::string(reinterpret_cast<const char*>(p),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

std::string Stmt::blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  if (!p) return {};
  return std::string(static_cast<const char*>(p),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

Result<std::unique_ptr<Db>> Db::open(const std::string& path, int flags, const std::string& vfs,
                                     std::chrono::milliseconds busy_timeout) {
  sqlite3* handle = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &handle, flags | SQLITE_OPEN_NOMUTEX,
                           vfs.empty() ? nullptr : vfs.c_str());
  if (rc != SQLITE_OK) {
    Status s =
        errorStatus(rc, handle ? sqlite3_errmsg(handle) : sqlite3_errstr(rc), "open " + path);
    sqlite3_close_v2(handle);
    return s;
  }
  sqlite3_extended_result_codes(handle, 1);
  sqlite3_busy_timeout(handle, static_cast<int>(busy_timeout.count()));
  return std::unique_ptr<Db>(new Db(handle));
}

Db::~Db() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Status Db::error(int rc, std::string_view what) const {
  return errorStatus(rc, sqlite3_errmsg(db_), what);
}

Status Db::exec(std::string_view sql) {
  std::string text(sql);
  char* message = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return {};
  Status s = errorStatus(rc, message ? message : sqlite3_errstr(rc), text);
  sqlite3_free(message);
  return s;
}

Result<Stmt> Db::prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return Stmt(it->second, db_);
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return error(rc, std::string("prepare ") + sql);
  cache_.emplace(sql, stmt);
  return Stmt(stmt, db_);
}

Result<int64_t> Db::queryInt(const char* sql) {
  auto stmt = prepare(sql);
  if (!stmt.ok()) return stmt.status();
  auto row = stmt->step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::storeError(std::string("no result from ") + sql);
  return stmt->int64(0);
}

}  // namespace itk::sqlite
