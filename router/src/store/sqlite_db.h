// A thin RAII layer over one SQLite connection: prepared statements cached per connection,
// errors turned into Status::storeError with SQLite's own words (disk full, I/O error, locked).
// A Db and its statements are used by one thread at a time.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include "itk/status.h"

namespace itk::sqlite {

// One execution of a cached prepared statement; resets it (and its bindings) when destroyed.
class Stmt {
 public:
  Stmt(sqlite3_stmt* stmt, sqlite3* db) : stmt_(stmt), db_(db) {}
  Stmt(Stmt&& other) noexcept : stmt_(std::exchange(other.stmt_, nullptr)), db_(other.db_) {}
  Stmt& operator=(Stmt&&) = delete;
  Stmt(const Stmt&) = delete;
  ~Stmt();

  // Parameters are 1-based, as in SQL (?1, ?2, ...). Text and blobs are copied by SQLite unless
  // bound with bindBlobStatic, whose bytes must outlive the statement's execution.
  Stmt& bind(int i, int64_t v);
  Stmt& bind(int i, std::string_view v);
  Stmt& bindNull(int i);
  Stmt& bindTextOrNull(int i, std::string_view v);  // NULL when empty
  Stmt& bindBlobStatic(int i, std::string_view bytes);

  // Advances: true when a row is available, false when done; storeError on failure.
  Result<bool> step();
  // Runs a statement that returns no rows.
  Status run();

  int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool isNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string text(int col) const;
  std::string blob(int col) const;

 private:
  sqlite3_stmt* stmt_;
  sqlite3* db_;
};

// Parameter wrappers for Db::run and Db::query.
struct Blob {  // bound without a copy: the bytes must outlive the statement's execution
  std::string_view bytes;
};
struct TextOrNull {  // NULL when empty
  std::string_view text;
};

template <class T>
void bindOne(Stmt& s, int i, const T& v) {
  if constexpr (std::is_same_v<T, std::nullptr_t>) {
    s.bindNull(i);
  } else if constexpr (std::is_same_v<T, Blob>) {
    s.bindBlobStatic(i, v.bytes);
  } else if constexpr (std::is_same_v<T, TextOrNull>) {
    s.bindTextOrNull(i, v.text);
  } else if constexpr (std::is_same_v<T, std::optional<int64_t>>) {
    if (v) {
      s.bind(i, *v);
    } else {
      s.bindNull(i);
    }
  } else if constexpr (std::is_integral_v<T> || std::is_enum_v<T>) {
    s.bind(i, static_cast<int64_t>(v));
  } else {
    s.bind(i, std::string_view(v));
  }
}

class Db {
 public:
  // Opens `path` with SQLITE_OPEN_* `flags` (NOMUTEX is added) through the VFS `vfs` (empty:
  // the default), with a busy timeout for locks held by other connections or processes.
  static Result<std::unique_ptr<Db>> open(const std::string& path, int flags,
                                          const std::string& vfs,
                                          std::chrono::milliseconds busy_timeout);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Runs one or more statements that return no rows (DDL, pragmas, BEGIN/COMMIT).
  Status exec(std::string_view sql);
  // The cached prepared statement for `sql`, which must be a string with static storage (the
  // cache is keyed by its address).
  Result<Stmt> prepare(const char* sql);
  // A single integer from a query such as "PRAGMA page_count"; storeError on failure.
  Result<int64_t> queryInt(const char* sql);

  // Runs the cached statement `sql` with `args` bound to ?1, ?2, ... expecting no rows.
  template <class... A>
  Status run(const char* sql, const A&... args) {
    auto stmt = prepare(sql);
    if (!stmt.ok()) return stmt.status();
    bindAll(*stmt, args...);
    return stmt->run();
  }
  // Runs a query calling `row(const Stmt&)` for each row; a row callback returning bool stops
  // the query by returning false.
  template <class Row, class... A>
  Status query(const char* sql, Row&& row, const A&... args) {
    auto stmt = prepare(sql);
    if (!stmt.ok()) return stmt.status();
    bindAll(*stmt, args...);
    for (;;) {
      auto more = stmt->step();
      if (!more.ok()) return more.status();
      if (!*more) return {};
      if constexpr (std::is_same_v<decltype(row(*stmt)), bool>) {
        if (!row(*stmt)) return {};
      } else {
        row(*stmt);
      }
    }
  }

  int64_t lastInsertId() const { return sqlite3_last_insert_rowid(db_); }
  int changes() const { return sqlite3_changes(db_); }
  sqlite3* handle() const { return db_; }

  // A Status for the result code `rc` of an operation described by `what`.
  Status error(int rc, std::string_view what) const;

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  template <class... A>
  static void bindAll(Stmt& stmt, const A&... args) {
    int i = 0;
    (bindOne(stmt, ++i, args), ...);
  }
  sqlite3* db_;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

// "disk full", "I/O error (disk I/O error)", ...: the words an operator needs.
Status errorStatus(int rc, std::string_view message, std::string_view what);

}  // namespace itk::sqlite
