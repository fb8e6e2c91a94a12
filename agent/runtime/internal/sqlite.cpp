// The SQLite wrappers over the C API (libsqlite3). Single-threaded, like the objects they
// implement.
#include "agent/runtime/internal/sqlite.hpp"

#include <sqlite3.h>

#include <cstdint>
#include <utility>

#include "base/assert.hpp"

namespace starling::runtime::internal {

namespace fs = std::filesystem;

namespace {

// SQLITE_TRANSIENT without the C-style cast of SQLite's macro: SQLite copies the bytes.
const sqlite3_destructor_type kCopyBytes =
    reinterpret_cast<sqlite3_destructor_type>(static_cast<std::intptr_t>(-1));

// SQLite binds NULL for a null pointer, even with a zero length: empty values need a pointer.
constexpr char kEmpty[1] = {0};

}  // namespace

Status sqlite_status(sqlite3* db, int rc, const fs::path& file, std::string_view what) {
  const int primary = rc & 0xff;
  const StatusCode code = (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB)
                              ? StatusCode::kCorrupt
                              : StatusCode::kIoError;
  // The connection's message describes `rc` only when it is the connection's latest error.
  const char* detail = (db != nullptr && sqlite3_extended_errcode(db) == rc) ? sqlite3_errmsg(db)
                                                                             : sqlite3_errstr(rc);
  std::string message = file.string();
  message += ": cannot ";
  message += what;
  message += ": ";
  message += detail;
  message += " (SQLite result code " + std::to_string(rc) + ")";
  return error(code, std::move(message));
}

// ---- Query ---------------------------------------------------------------------------------

Query::Query(Query&& other) noexcept
    : db_(other.db_), statement_(other.statement_), in_use_(other.in_use_) {
  other.statement_ = nullptr;
  other.in_use_ = nullptr;
}

Query::~Query() {
  if (statement_ == nullptr) return;
  // sqlite3_reset returns the error of the last step, which step() has already reported.
  static_cast<void>(sqlite3_reset(statement_));
  static_cast<void>(sqlite3_clear_bindings(statement_));  // always SQLITE_OK
  *in_use_ = false;
}

Status Query::bind(int index, std::int64_t value) {
  const int rc = sqlite3_bind_int64(statement_, index, value);
  return rc == SQLITE_OK ? Status::ok() : db_->status(rc, "bind a parameter");
}

Status Query::bind(int index, std::string_view text) {
  const char* data = text.empty() ? kEmpty : text.data();
  const int rc = sqlite3_bind_text64(statement_, index, data, text.size(), kCopyBytes, SQLITE_UTF8);
  return rc == SQLITE_OK ? Status::ok() : db_->status(rc, "bind a parameter");
}

Status Query::bind(int index, ByteSpan blob) {
  const void* data = blob.empty() ? static_cast<const void*>(kEmpty) : blob.data();
  const int rc = sqlite3_bind_blob64(statement_, index, data, blob.size(), kCopyBytes);
  return rc == SQLITE_OK ? Status::ok() : db_->status(rc, "bind a parameter");
}

Result<bool> Query::step() {
  const int rc = sqlite3_step(statement_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_->status(rc, std::string("run '") + sqlite3_sql(statement_) + "'");
}

Status Query::run() {
  auto row = step();
  if (!row) return row.status();
  STARLING_ASSERT(!*row, "Query::run() on a statement that returns rows");
  return Status::ok();
}

std::int64_t Query::column_int64(int column) const {
  return sqlite3_column_int64(statement_, column);
}

std::string Query::column_text(int column) const {
  const unsigned char* text = sqlite3_column_text(statement_, column);
  const int size = sqlite3_column_bytes(statement_, column);  // after the pointer, as documented
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
}

Bytes Query::column_blob(int column) const {
  const void* blob = sqlite3_column_blob(statement_, column);
  const int size = sqlite3_column_bytes(statement_, column);
  if (blob == nullptr) return {};
  const auto* first = static_cast<const std::uint8_t*>(blob);
  return Bytes(first, first + size);
}

bool Query::column_is_integer(int column) const {
  return sqlite3_column_type(statement_, column) == SQLITE_INTEGER;
}

// ---- Database ------------------------------------------------------------------------------

void Database::CloseConnection::operator()(sqlite3* db) const noexcept {
  // sqlite3_close_v2 fails only for a handle that is not a connection; statements still open
  // would merely defer the close, and the member order finalizes them first anyway.
  const int rc = sqlite3_close_v2(db);
  STARLING_ASSERT(rc == SQLITE_OK, "sqlite3_close_v2 on an invalid handle");
}

void Database::FinalizeStatement::operator()(sqlite3_stmt* statement) const noexcept {
  // The code sqlite3_finalize returns is the last step's error, already reported by step().
  static_cast<void>(sqlite3_finalize(statement));
}

Database::Database(fs::path file, sqlite3* handle) : file_(std::move(file)), handle_(handle) {}

Database::~Database() = default;

Database& Database::operator=(Database&& other) noexcept {
  if (this == &other) return *this;
  statements_.clear();  // finalize this connection's statements before closing it
  handle_ = std::move(other.handle_);
  statements_ = std::move(other.statements_);
  file_ = std::move(other.file_);
  return *this;
}

Result<Database> Database::open(const fs::path& file, int busy_timeout_ms) {
  sqlite3* raw = nullptr;
  const int flags =
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  const int rc = sqlite3_open_v2(file.c_str(), &raw, flags, nullptr);
  Database db(file, raw);  // owns the handle even when opening failed: SQLite allocates one
  if (rc != SQLITE_OK) return sqlite_status(raw, rc, file, "open the database");
  if (raw == nullptr) return error(StatusCode::kIoError, file.string() + ": out of memory");
  int config_rc = sqlite3_db_config(raw, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  if (config_rc != SQLITE_OK) return db.status(config_rc, "enable defensive mode");
  config_rc = sqlite3_busy_timeout(raw, busy_timeout_ms);
  if (config_rc != SQLITE_OK) return db.status(config_rc, "set the busy timeout");
  return db;
}

Status Database::exec(std::string_view sql, std::string_view what) {
  const std::string text(sql);  // sqlite3_exec reads a NUL-terminated string
  const int rc = sqlite3_exec(handle_.get(), text.c_str(), nullptr, nullptr, nullptr);
  return rc == SQLITE_OK ? Status::ok() : status(rc, what);
}

Result<Query> Database::query(std::string_view sql) {
  auto entry = statements_.find(sql);
  if (entry == statements_.end()) {
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v3(handle_.get(), sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    if (rc != SQLITE_OK) return status(rc, "prepare '" + std::string(sql) + "'");
    STARLING_ASSERT(raw != nullptr, "Database::query() with no SQL statement");
    CachedStatement cached;
    cached.statement.reset(raw);
    entry = statements_.emplace(std::string(sql), std::move(cached)).first;
  }
  STARLING_ASSERT(!entry->second.in_use, "a cached statement is already in use");
  entry->second.in_use = true;
  return Query(*this, entry->second.statement.get(), &entry->second.in_use);
}

Result<std::int64_t> Database::query_int64(std::string_view sql) {
  STARLING_ASSIGN_OR_RETURN(Query query_use, query(sql));
  STARLING_ASSIGN_OR_RETURN(const bool row, query_use.step());
  if (!row || !query_use.column_is_integer(0)) {
    return error(StatusCode::kInternal,
                 file_.string() + ": '" + std::string(sql) + "' returned no integer");
  }
  return query_use.column_int64(0);
}

Result<std::string> Database::query_text(std::string_view sql) {
  STARLING_ASSIGN_OR_RETURN(Query query_use, query(sql));
  STARLING_ASSIGN_OR_RETURN(const bool row, query_use.step());
  if (!row) {
    return error(StatusCode::kInternal,
                 file_.string() + ": '" + std::string(sql) + "' returned no row");
  }
  return query_use.column_text(0);
}

std::int64_t Database::changes() const noexcept { return sqlite3_changes64(handle_.get()); }

bool Database::in_autocommit() const noexcept {
  return sqlite3_get_autocommit(handle_.get()) != 0;
}

Status Database::status(int rc, std::string_view what) const {
  return sqlite_status(handle_.get(), rc, file_, what);
}

// ---- Transaction ---------------------------------------------------------------------------

Result<Transaction> Transaction::begin(Database& db) {
  STARLING_RETURN_IF_ERROR(db.exec("BEGIN IMMEDIATE", "begin a transaction"));
  return Transaction(db);
}

Transaction::~Transaction() {
  // Nothing to undo once committed, or when SQLite already rolled back after an I/O error.
  if (db_ == nullptr || db_->in_autocommit()) return;
  // A failed ROLLBACK leaves the transaction open; the next BEGIN then fails with a Status, so
  // the error is reported there rather than lost in a destructor.
  static_cast<void>(db_->exec("ROLLBACK", "roll back a transaction"));
}

Status Transaction::commit() {
  STARLING_ASSERT(db_ != nullptr, "Transaction::commit() after commit or move");
  STARLING_RETURN_IF_ERROR(db_->exec("COMMIT", "commit a transaction"));
  db_ = nullptr;
  return Status::ok();
}

}  // namespace starling::runtime::internal
