// Small RAII wrappers over the SQLite C API, private to agent/runtime: a Database owning one
// connection and a cache of prepared statements, a Query borrowing a cached statement for one
// use, and a Transaction guard. Every SQLite return code is checked and becomes a Status
// (kCorrupt for a damaged or non-SQLite file, kIoError otherwise) whose message names the file
// and carries SQLite's own message; nothing throws. sqlite3.h stays out of this header, so that
// code including it (the store's tests) needs no SQLite include path.
// Threading: a Database and everything borrowed from it are used by one thread at a time; the
// connection is opened without SQLite's per-connection mutex (SQLITE_OPEN_NOMUTEX).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "base/bytes.hpp"
#include "base/status.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace starling::runtime::internal {

// The Status for SQLite result code `rc` from `db` (which may be null when opening failed):
// kCorrupt for SQLITE_CORRUPT and SQLITE_NOTADB, kIoError for every other failure. The message
// reads "<file>: <what>: <sqlite message> (<result code name>)".
Status sqlite_status(sqlite3* db, int rc, const std::filesystem::path& file,
                     std::string_view what);

class Database;

// One use of a cached prepared statement: bind parameters, step through the rows, read
// columns. The destructor resets the statement and clears its bindings, so that a statement
// left half-stepped never holds a read transaction open (which would stall WAL checkpoints).
// Movable, not copyable. REQUIRES: the Database it came from outlives it.
class Query {
 public:
  Query(Query&& other) noexcept;
  Query& operator=(Query&&) = delete;
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  ~Query();

  // Binds parameter `index` (1-based, as in SQLite). Text and blobs are copied by SQLite.
  Status bind(int index, std::int64_t value);
  Status bind(int index, std::string_view text);
  Status bind(int index, ByteSpan blob);

  // Advances to the next row: true when a row is available, false when the statement is done.
  Result<bool> step();
  // Steps a statement that returns no rows (INSERT, UPDATE, DELETE) to its end.
  Status run();

  // Columns of the current row (0-based). REQUIRES: the last step() returned true.
  std::int64_t column_int64(int column) const;
  std::string column_text(int column) const;
  Bytes column_blob(int column) const;
  // True when the column holds an SQL integer (not NULL, text, real or blob).
  bool column_is_integer(int column) const;

 private:
  friend class Database;
  Query(const Database& db, sqlite3_stmt* statement, bool* in_use) noexcept
      : db_(&db), statement_(statement), in_use_(in_use) {}

  const Database* db_;
  sqlite3_stmt* statement_;
  bool* in_use_;  // the cache entry's flag: a cached statement has one user at a time
};

// One SQLite connection and the prepared statements cached on it. Movable, not copyable.
// Invariant: every cached statement is finalized before the connection is closed.
class Database {
 public:
  // Opens (creating if absent) the database file at `file`, with extended result codes,
  // SQLite's defensive mode (no writes to the schema through SQL) and a busy timeout of
  // `busy_timeout_ms`. Opening does not read the file: a non-SQLite file is reported by the
  // first statement, with kCorrupt.
  static Result<Database> open(const std::filesystem::path& file, int busy_timeout_ms);

  Database(Database&& other) noexcept = default;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  // Runs `sql` (one or more statements separated by semicolons; result rows are ignored).
  // `what` describes the step for the error message ("enable foreign keys").
  Status exec(std::string_view sql, std::string_view what);

  // Borrows the cached prepared statement for `sql`, preparing it on first use.
  // REQUIRES: no other Query of the same `sql` is alive (statements are not reentrant).
  Result<Query> query(std::string_view sql);

  // Runs `sql`, a statement returning one row whose first column is an integer (a PRAGMA
  // read such as "PRAGMA user_version"), and returns that integer.
  Result<std::int64_t> query_int64(std::string_view sql);

  // Runs `sql`, a statement returning one row whose first column is text, and returns it.
  Result<std::string> query_text(std::string_view sql);

  // Rows changed by the most recent INSERT, UPDATE or DELETE on this connection.
  std::int64_t changes() const noexcept;

  // True when no transaction is open (SQLite's autocommit mode).
  bool in_autocommit() const noexcept;

  // The Status for result code `rc` from this connection (see sqlite_status()).
  Status status(int rc, std::string_view what) const;

  const std::filesystem::path& file() const noexcept { return file_; }

  // Number of prepared statements currently cached (for tests).
  std::size_t cached_statements() const noexcept { return statements_.size(); }

 private:
  struct CloseConnection {
    void operator()(sqlite3* db) const noexcept;
  };
  struct FinalizeStatement {
    void operator()(sqlite3_stmt* statement) const noexcept;
  };
  struct CachedStatement {
    std::unique_ptr<sqlite3_stmt, FinalizeStatement> statement;
    bool in_use = false;  // std::map nodes never move, so a Query may point at this flag
  };

  Database(std::filesystem::path file, sqlite3* handle);

  std::filesystem::path file_;
  // Declared before statements_, so that the statements are finalized first on destruction.
  std::unique_ptr<sqlite3, CloseConnection> handle_;
  std::map<std::string, CachedStatement, std::less<>> statements_;
};

// A write transaction (BEGIN IMMEDIATE: the write lock is taken at the start, so a busy
// database fails here, before any work). Rolled back on destruction unless committed.
// Movable, not copyable. REQUIRES: the Database outlives it.
class Transaction {
 public:
  static Result<Transaction> begin(Database& db);

  Transaction(Transaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  // Commits. REQUIRES: not committed yet. After a failed commit the destructor rolls back.
  Status commit();

 private:
  explicit Transaction(Database& db) noexcept : db_(&db) {}
  Database* db_;  // null once committed or moved from
};

}  // namespace starling::runtime::internal
