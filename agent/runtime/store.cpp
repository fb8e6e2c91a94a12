// Store over SQLite: connection settings, the schema migrations, and the statements behind
// each operation. Single-threaded, like Store itself.
#include "agent/runtime/store.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstdint>
#include <iterator>
#include <limits>
#include <utility>

#include "agent/runtime/internal/sqlite.hpp"
#include "base/assert.hpp"

namespace starling::runtime {

namespace fs = std::filesystem;
using internal::Database;
using internal::Query;
using internal::Transaction;

namespace {

// One step of the schema: the SQL that takes a database from `version - 1` to `version`.
// A released step is never edited (databases in the field already ran it); changes to the
// schema are new steps appended here, with kSchemaVersion raised to match.
struct Migration {
  int version;
  std::string_view description;
  std::string_view sql;
};

// STRICT tables make SQLite refuse a value of the wrong type instead of storing it as is.
constexpr Migration kMigrations[] = {
    {1, "settings and known peers", R"sql(
CREATE TABLE settings (
  key TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE peers (
  node_id BLOB PRIMARY KEY NOT NULL CHECK (length(node_id) = 16),
  address TEXT NOT NULL,
  seen_unix_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
)sql"},
    {2, "the node's incarnation; peers by time seen", R"sql(
CREATE TABLE node_state (
  id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
  incarnation INTEGER NOT NULL CHECK (incarnation >= 0)
) STRICT;
CREATE INDEX peers_by_seen ON peers (seen_unix_ms DESC, node_id);
)sql"},
    {3, "consensus: hard state, log and snapshot", R"sql(
CREATE TABLE raft_state (
  id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
  cluster TEXT NOT NULL,
  term INTEGER NOT NULL CHECK (term >= 0),
  vote BLOB NOT NULL CHECK (length(vote) = 16),
  commit_index INTEGER NOT NULL CHECK (commit_index >= 0)
) STRICT;
CREATE TABLE raft_log (
  log_index INTEGER PRIMARY KEY NOT NULL CHECK (log_index > 0),
  term INTEGER NOT NULL CHECK (term >= 0),
  kind INTEGER NOT NULL,
  data BLOB NOT NULL
) STRICT;
CREATE TABLE raft_snapshot (
  id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
  last_index INTEGER NOT NULL CHECK (last_index >= 0),
  term INTEGER NOT NULL CHECK (term >= 0),
  conf BLOB NOT NULL,
  data BLOB NOT NULL
) STRICT;
)sql"},
};

constexpr bool migrations_are_consecutive() {
  for (std::size_t i = 0; i < std::size(kMigrations); ++i) {
    if (kMigrations[i].version != static_cast<int>(i) + 1) return false;
  }
  return std::size(kMigrations) == static_cast<std::size_t>(Store::kSchemaVersion);
}
static_assert(migrations_are_consecutive(), "kMigrations must be versions 1..kSchemaVersion");

// The connection settings: WAL (readers never block the writer, and a crash mid-commit leaves
// the last committed state), synchronous=FULL (the WAL is fsynced at every commit, so a
// committed value survives power loss, not only a process crash; NORMAL would lose the last
// commits), and foreign keys enforced for the tables later issues add. These pragmas are
// per-connection: they are set at every open.
Status configure(Database& db) {
  STARLING_ASSIGN_OR_RETURN(const std::string mode, db.query_text("PRAGMA journal_mode = WAL"));
  if (mode != "wal") {
    return error(StatusCode::kIoError, db.file().string() +
                                           ": cannot use WAL journal mode (SQLite kept '" +
                                           mode + "'); is the file on a network filesystem?");
  }
  STARLING_RETURN_IF_ERROR(db.exec("PRAGMA synchronous = FULL", "set synchronous=FULL"));
  STARLING_RETURN_IF_ERROR(db.exec("PRAGMA foreign_keys = ON", "enable foreign keys"));
  STARLING_ASSIGN_OR_RETURN(const std::int64_t synchronous, db.query_int64("PRAGMA synchronous"));
  constexpr std::int64_t kSynchronousFull = 2;
  if (synchronous != kSynchronousFull) {
    return error(StatusCode::kIoError, db.file().string() + ": synchronous=FULL did not stick");
  }
  return Status::ok();
}

// The schema version stored in the file; kCorrupt for a negative one.
Result<int> read_version(Database& db) {
  STARLING_ASSIGN_OR_RETURN(const std::int64_t version, db.query_int64("PRAGMA user_version"));
  if (version < 0 || version > std::numeric_limits<int>::max()) {
    return error(StatusCode::kCorrupt, db.file().string() + ": schema version " +
                                           std::to_string(version) + " is not valid");
  }
  return static_cast<int>(version);
}

Status refuse_newer(const Database& db, int version) {
  return error(StatusCode::kInvalidArgument,
               db.file().string() + ": schema version " + std::to_string(version) +
                   " is newer than this binary knows (" + std::to_string(Store::kSchemaVersion) +
                   "); it was written by a newer release of Starling: run that release, or "
                   "move the file away to start afresh");
}

// Applies `step` in one transaction, unless another process applied it first (the version is
// read again under the write lock that BEGIN IMMEDIATE takes).
Status apply_migration(Database& db, const Migration& step) {
  STARLING_ASSIGN_OR_RETURN(Transaction transaction, Transaction::begin(db));
  STARLING_ASSIGN_OR_RETURN(const int version, read_version(db));
  if (version > Store::kSchemaVersion) return refuse_newer(db, version);
  if (version >= step.version) return transaction.commit();
  STARLING_ASSERT(version == step.version - 1, "migrations are applied in order");
  const std::string what = "migrate to schema version " + std::to_string(step.version) + " (" +
                           std::string(step.description) + ")";
  STARLING_RETURN_IF_ERROR(db.exec(step.sql, what));
  STARLING_RETURN_IF_ERROR(
      db.exec("PRAGMA user_version = " + std::to_string(step.version), what));
  return transaction.commit();
}

// Brings the schema up to kSchemaVersion, or refuses a version this binary does not know.
Status migrate(Database& db) {
  STARLING_ASSIGN_OR_RETURN(const int version, read_version(db));
  if (version > Store::kSchemaVersion) return refuse_newer(db, version);
  for (const Migration& step : kMigrations) {
    if (step.version > version) STARLING_RETURN_IF_ERROR(apply_migration(db, step));
  }
  return Status::ok();
}

Status corrupt_row(const Database& db, std::string_view what) {
  return error(StatusCode::kCorrupt, db.file().string() + ": " + std::string(what));
}

// A peers row (node_id, address, seen_unix_ms) at the current position of `query`.
Result<KnownPeer> read_peer(const Database& db, const Query& query) {
  const Bytes id = query.column_blob(0);
  if (id.size() != NodeId::kSize || !query.column_is_integer(2)) {
    return corrupt_row(db, "a malformed row in table peers");
  }
  NodeId::Raw raw{};
  std::copy(id.begin(), id.end(), raw.begin());
  return KnownPeer{NodeId(raw), query.column_text(1), query.column_int64(2)};
}

constexpr std::string_view kLoadIncarnation = "SELECT incarnation FROM node_state WHERE id = 1";
// Inserts or raises; the WHERE clause leaves a higher stored value in place (0 rows changed).
constexpr std::string_view kSaveIncarnation =
    "INSERT INTO node_state (id, incarnation) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE "
    "SET incarnation = excluded.incarnation WHERE excluded.incarnation >= incarnation";
constexpr std::string_view kRememberPeer =
    "INSERT INTO peers (node_id, address, seen_unix_ms) VALUES (?1, ?2, ?3) ON CONFLICT "
    "(node_id) DO UPDATE SET address = excluded.address, seen_unix_ms = excluded.seen_unix_ms";
constexpr std::string_view kKnownPeers =
    "SELECT node_id, address, seen_unix_ms FROM peers ORDER BY seen_unix_ms DESC, node_id "
    "LIMIT ?1";
constexpr std::string_view kForgetPeer = "DELETE FROM peers WHERE node_id = ?1";
constexpr std::string_view kPutSetting =
    "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE "
    "SET value = excluded.value";
constexpr std::string_view kGetSetting = "SELECT value FROM settings WHERE key = ?1";
constexpr std::string_view kEraseSetting = "DELETE FROM settings WHERE key = ?1";

ByteSpan id_bytes(const NodeId& id) { return {id.raw().data(), id.raw().size()}; }

Status check_setting_key(std::string_view key) {
  if (key.empty()) return error(StatusCode::kInvalidArgument, "a setting key must not be empty");
  if (key.size() > Store::kSettingKeyMaxBytes) {
    return error(StatusCode::kTooLarge, "setting key of " + std::to_string(key.size()) +
                                            " bytes; the limit is " +
                                            std::to_string(Store::kSettingKeyMaxBytes));
  }
  return Status::ok();
}

}  // namespace

// ---- Lifecycle -----------------------------------------------------------------------------

Result<Store> Store::open(const fs::path& file) {
  STARLING_ASSIGN_OR_RETURN(Database db, Database::open(file, kBusyTimeoutMs));
  // The version is checked before configure() switches the journal mode, so that a file from a
  // newer release is refused without being written to.
  STARLING_ASSIGN_OR_RETURN(const int version, read_version(db));
  if (version > kSchemaVersion) return refuse_newer(db, version);
  STARLING_RETURN_IF_ERROR(configure(db));
  STARLING_RETURN_IF_ERROR(migrate(db));
  return Store(std::make_unique<Database>(std::move(db)));
}

Store::Store(std::unique_ptr<Database> db) : db_(std::move(db)) {}
Store::Store(Store&& other) noexcept = default;
Store& Store::operator=(Store&& other) noexcept = default;
Store::~Store() = default;

Database& Store::db() {
  STARLING_ASSERT(db_ != nullptr, "use of a moved-from Store");
  return *db_;
}

Result<int> Store::schema_version() { return read_version(db()); }

Status Store::check_integrity() {
  STARLING_ASSIGN_OR_RETURN(Query query, db().query("PRAGMA integrity_check(3)"));
  std::string problems;
  while (true) {
    STARLING_ASSIGN_OR_RETURN(const bool row, query.step());
    if (!row) break;
    const std::string line = query.column_text(0);
    if (line == "ok") continue;
    problems += problems.empty() ? line : "; " + line;
  }
  if (problems.empty()) return Status::ok();
  return error(StatusCode::kCorrupt, db().file().string() + ": integrity check: " + problems);
}

// ---- Incarnation ---------------------------------------------------------------------------

Result<std::uint64_t> Store::load_incarnation() {
  STARLING_ASSIGN_OR_RETURN(Query query, db().query(kLoadIncarnation));
  STARLING_ASSIGN_OR_RETURN(const bool row, query.step());
  if (!row) return std::uint64_t{0};
  if (!query.column_is_integer(0) || query.column_int64(0) < 0) {
    return corrupt_row(db(), "the stored incarnation is not a non-negative integer");
  }
  return static_cast<std::uint64_t>(query.column_int64(0));
}

Status Store::save_incarnation(std::uint64_t incarnation) {
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (incarnation > kMax) {
    return error(StatusCode::kInvalidArgument,
                 "incarnation " + std::to_string(incarnation) + " is above INT64_MAX");
  }
  {
    STARLING_ASSIGN_OR_RETURN(Query query, db().query(kSaveIncarnation));
    STARLING_RETURN_IF_ERROR(query.bind(1, static_cast<std::int64_t>(incarnation)));
    STARLING_RETURN_IF_ERROR(query.run());
  }
  if (db().changes() == 1) return Status::ok();
  STARLING_ASSIGN_OR_RETURN(const std::uint64_t stored, load_incarnation());
  return error(StatusCode::kInvalidArgument,
               "incarnation " + std::to_string(incarnation) + " is below the stored incarnation " +
                   std::to_string(stored) + ": an incarnation never goes backwards");
}

// ---- Consensus -----------------------------------------------------------------------------

namespace {

constexpr std::string_view kLoadRaftState =
    "SELECT cluster, term, vote, commit_index FROM raft_state WHERE id = 1";
constexpr std::string_view kSaveRaftState =
    "INSERT INTO raft_state (id, cluster, term, vote, commit_index) VALUES (1, ?1, ?2, ?3, ?4) "
    "ON CONFLICT (id) DO UPDATE SET cluster = excluded.cluster, term = excluded.term, "
    "vote = excluded.vote, commit_index = excluded.commit_index";
constexpr std::string_view kLoadRaftSnapshot =
    "SELECT last_index, term, conf, data FROM raft_snapshot WHERE id = 1";
constexpr std::string_view kSaveRaftSnapshot =
    "INSERT INTO raft_snapshot (id, last_index, term, conf, data) VALUES (1, ?1, ?2, ?3, ?4) "
    "ON CONFLICT (id) DO UPDATE SET last_index = excluded.last_index, term = excluded.term, "
    "conf = excluded.conf, data = excluded.data";
constexpr std::string_view kLoadRaftLog =
    "SELECT log_index, term, kind, data FROM raft_log ORDER BY log_index";
constexpr std::string_view kDeleteRaftLogFrom = "DELETE FROM raft_log WHERE log_index >= ?1";
constexpr std::string_view kDeleteRaftLogUpTo = "DELETE FROM raft_log WHERE log_index <= ?1";
constexpr std::string_view kDeleteRaftLog = "DELETE FROM raft_log";
constexpr std::string_view kInsertRaftLog =
    "INSERT INTO raft_log (log_index, term, kind, data) VALUES (?1, ?2, ?3, ?4)";

// u8 voter count | voters[16] | u16 learner count | learners[16]
Bytes encode_conf(const consensus::ConfState& conf) {
  Bytes out;
  ByteWriter w(out);
  w.u8(static_cast<std::uint8_t>(conf.voters.size()));
  for (const NodeId& id : conf.voters) w.raw(id.raw());
  w.u16(static_cast<std::uint16_t>(conf.learners.size()));
  for (const NodeId& id : conf.learners) w.raw(id.raw());
  return out;
}

Result<consensus::ConfState> decode_conf(ByteSpan bytes) {
  ByteReader r(bytes);
  consensus::ConfState conf;
  STARLING_ASSIGN_OR_RETURN(const std::uint8_t voters, r.u8());
  for (std::uint8_t i = 0; i < voters; ++i) {
    STARLING_ASSIGN_OR_RETURN(auto raw, r.fixed<NodeId::kSize>());
    conf.voters.emplace_back(raw);
  }
  STARLING_ASSIGN_OR_RETURN(const std::uint16_t learners, r.u16());
  for (std::uint16_t i = 0; i < learners; ++i) {
    STARLING_ASSIGN_OR_RETURN(auto raw, r.fixed<NodeId::kSize>());
    conf.learners.emplace_back(raw);
  }
  STARLING_RETURN_IF_ERROR(r.expect_end());
  return conf;
}

std::int64_t as_int(std::uint64_t v) { return static_cast<std::int64_t>(v); }

// Replaces the stored snapshot (one row).
Status save_raft_snapshot(Database& db, const consensus::Snapshot& snap) {
  STARLING_ASSIGN_OR_RETURN(Query query, db.query(kSaveRaftSnapshot));
  STARLING_RETURN_IF_ERROR(query.bind(1, as_int(snap.meta.index)));
  STARLING_RETURN_IF_ERROR(query.bind(2, as_int(snap.meta.term)));
  STARLING_RETURN_IF_ERROR(query.bind(3, ByteSpan(encode_conf(snap.meta.conf))));
  STARLING_RETURN_IF_ERROR(query.bind(4, ByteSpan(snap.data)));
  return query.run();
}

}  // namespace

Status Store::save_consensus(const consensus::ControllerOutput& out) {
  if (!out.must_persist()) return Status::ok();
  STARLING_ASSIGN_OR_RETURN(Transaction transaction, Transaction::begin(db()));
  if (out.snapshot) {
    STARLING_RETURN_IF_ERROR(save_raft_snapshot(db(), *out.snapshot));
    STARLING_RETURN_IF_ERROR(db().exec(kDeleteRaftLog, "clear the consensus log"));
  }
  if (!out.entries.empty()) {
    {
      STARLING_ASSIGN_OR_RETURN(Query query, db().query(kDeleteRaftLogFrom));
      STARLING_RETURN_IF_ERROR(query.bind(1, as_int(out.entries.front().index)));
      STARLING_RETURN_IF_ERROR(query.run());
    }
    for (const consensus::Entry& e : out.entries) {
      STARLING_ASSIGN_OR_RETURN(Query query, db().query(kInsertRaftLog));
      STARLING_RETURN_IF_ERROR(query.bind(1, as_int(e.index)));
      STARLING_RETURN_IF_ERROR(query.bind(2, as_int(e.term)));
      STARLING_RETURN_IF_ERROR(query.bind(3, static_cast<std::int64_t>(e.type)));
      STARLING_RETURN_IF_ERROR(query.bind(4, ByteSpan(e.data)));
      STARLING_RETURN_IF_ERROR(query.run());
    }
  }
  if (out.hard_state || out.cluster) {
    // The row holds both: read what is not being replaced.
    consensus::HardState hs;
    std::string cluster = "0";
    {
      STARLING_ASSIGN_OR_RETURN(Query query, db().query(kLoadRaftState));
      STARLING_ASSIGN_OR_RETURN(const bool row, query.step());
      if (row) {
        cluster = query.column_text(0);
        hs.term = static_cast<std::uint64_t>(query.column_int64(1));
        const Bytes vote = query.column_blob(2);
        if (vote.size() == NodeId::kSize) {
          NodeId::Raw raw{};
          std::copy(vote.begin(), vote.end(), raw.begin());
          hs.vote = NodeId(raw);
        }
        hs.commit = static_cast<std::uint64_t>(query.column_int64(3));
      }
    }
    if (out.hard_state) hs = *out.hard_state;
    if (out.cluster) cluster = std::to_string(*out.cluster);
    STARLING_ASSIGN_OR_RETURN(Query query, db().query(kSaveRaftState));
    STARLING_RETURN_IF_ERROR(query.bind(1, std::string_view(cluster)));
    STARLING_RETURN_IF_ERROR(query.bind(2, as_int(hs.term)));
    STARLING_RETURN_IF_ERROR(query.bind(3, ByteSpan(hs.vote.raw())));
    STARLING_RETURN_IF_ERROR(query.bind(4, as_int(hs.commit)));
    STARLING_RETURN_IF_ERROR(query.run());
  }
  if (out.compacted) {
    const consensus::Snapshot& snap = *out.compacted;
    STARLING_RETURN_IF_ERROR(save_raft_snapshot(db(), snap));
    STARLING_ASSIGN_OR_RETURN(Query query, db().query(kDeleteRaftLogUpTo));
    STARLING_RETURN_IF_ERROR(query.bind(1, as_int(snap.meta.index)));
    STARLING_RETURN_IF_ERROR(query.run());
  }
  return transaction.commit();
}

Result<consensus::ControllerDurable> Store::load_consensus() {
  consensus::ControllerDurable durable;
  {
    STARLING_ASSIGN_OR_RETURN(Query query, db().query(kLoadRaftState));
    STARLING_ASSIGN_OR_RETURN(const bool row, query.step());
    if (row) {
      const std::string cluster = query.column_text(0);
      char* end = nullptr;
      durable.cluster = std::strtoull(cluster.c_str(), &end, 10);
      if (end == cluster.c_str() || *end != '\0') {
        return corrupt_row(db(), "the stored cluster id is not a number");
      }
      durable.raft.hard_state.term = static_cast<std::uint64_t>(query.column_int64(1));
      const Bytes vote = query.column_blob(2);
      NodeId::Raw raw{};
      if (vote.size() != raw.size()) return corrupt_row(db(), "the stored vote is malformed");
      std::copy(vote.begin(), vote.end(), raw.begin());
      durable.raft.hard_state.vote = NodeId(raw);
      durable.raft.hard_state.commit = static_cast<std::uint64_t>(query.column_int64(3));
    }
  }
  {
    STARLING_ASSIGN_OR_RETURN(Query query, db().query(kLoadRaftSnapshot));
    STARLING_ASSIGN_OR_RETURN(const bool row, query.step());
    if (row) {
      durable.raft.snapshot.meta.index = static_cast<std::uint64_t>(query.column_int64(0));
      durable.raft.snapshot.meta.term = static_cast<std::uint64_t>(query.column_int64(1));
      auto conf = decode_conf(query.column_blob(2));
      if (!conf) return corrupt_row(db(), "the stored snapshot configuration is malformed");
      durable.raft.snapshot.meta.conf = std::move(*conf);
      durable.raft.snapshot.data = query.column_blob(3);
    }
  }
  {
    STARLING_ASSIGN_OR_RETURN(Query query, db().query(kLoadRaftLog));
    for (;;) {
      STARLING_ASSIGN_OR_RETURN(const bool row, query.step());
      if (!row) break;
      consensus::Entry e;
      e.index = static_cast<std::uint64_t>(query.column_int64(0));
      e.term = static_cast<std::uint64_t>(query.column_int64(1));
      const std::int64_t kind = query.column_int64(2);
      if (kind < 1 || kind > 3) return corrupt_row(db(), "a stored log entry has an unknown type");
      e.type = static_cast<consensus::EntryType>(kind);
      e.data = query.column_blob(3);
      if (e.index <= durable.raft.snapshot.meta.index) continue;  // compacted
      durable.raft.entries.push_back(std::move(e));
    }
  }
  if (Status s = consensus::Controller::check_durable(durable); !s.is_ok()) {
    return error(StatusCode::kCorrupt, db().file().string() + ": consensus state: " + s.message());
  }
  return durable;
}

// ---- Known peers ---------------------------------------------------------------------------

Status Store::remember_peer(const NodeId& id, std::string_view address,
                           std::int64_t seen_unix_ms) {
  if (id.is_zero()) return error(StatusCode::kInvalidArgument, "cannot remember the zero node id");
  if (address.empty()) {
    return error(StatusCode::kInvalidArgument, "peer " + id.short_hex() + " has an empty address");
  }
  if (address.size() > kAddressMaxBytes) {
    return error(StatusCode::kTooLarge, "peer " + id.short_hex() + " has an address of " +
                                            std::to_string(address.size()) +
                                            " bytes; the limit is " +
                                            std::to_string(kAddressMaxBytes));
  }
  STARLING_ASSIGN_OR_RETURN(Query query, db().query(kRememberPeer));
  STARLING_RETURN_IF_ERROR(query.bind(1, id_bytes(id)));
  STARLING_RETURN_IF_ERROR(query.bind(2, address));
  STARLING_RETURN_IF_ERROR(query.bind(3, seen_unix_ms));
  return query.run();
}

Result<std::vector<KnownPeer>> Store::known_peers(std::size_t limit) {
  constexpr auto kMax = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  STARLING_ASSIGN_OR_RETURN(Query query, db().query(kKnownPeers));
  STARLING_RETURN_IF_ERROR(query.bind(1, static_cast<std::int64_t>(std::min(limit, kMax))));
  std::vector<KnownPeer> peers;
  while (true) {
    STARLING_ASSIGN_OR_RETURN(const bool row, query.step());
    if (!row) break;
    STARLING_ASSIGN_OR_RETURN(KnownPeer peer, read_peer(db(), query));
    peers.push_back(std::move(peer));
  }
  return peers;
}

Status Store::forget_peer(const NodeId& id) {
  STARLING_ASSIGN_OR_RETURN(Query query, db().query(kForgetPeer));
  STARLING_RETURN_IF_ERROR(query.bind(1, id_bytes(id)));
  return query.run();
}

// ---- Settings ------------------------------------------------------------------------------

Status Store::put(std::string_view key, std::string_view value) {
  STARLING_RETURN_IF_ERROR(check_setting_key(key));
  if (value.size() > kSettingValueMaxBytes) {
    return error(StatusCode::kTooLarge, "setting '" + std::string(key) + "' has a value of " +
                                            std::to_string(value.size()) +
                                            " bytes; the limit is " +
                                            std::to_string(kSettingValueMaxBytes));
  }
  STARLING_ASSIGN_OR_RETURN(Query query, db().query(kPutSetting));
  STARLING_RETURN_IF_ERROR(query.bind(1, key));
  STARLING_RETURN_IF_ERROR(query.bind(2, value));
  return query.run();
}

Result<std::string> Store::get(std::string_view key) {
  STARLING_RETURN_IF_ERROR(check_setting_key(key));
  STARLING_ASSIGN_OR_RETURN(Query query, db().query(kGetSetting));
  STARLING_RETURN_IF_ERROR(query.bind(1, key));
  STARLING_ASSIGN_OR_RETURN(const bool row, query.step());
  if (!row) return error(StatusCode::kNotFound, "setting '" + std::string(key) + "' is not set");
  return query.column_text(0);
}

Status Store::erase(std::string_view key) {
  STARLING_RETURN_IF_ERROR(check_setting_key(key));
  STARLING_ASSIGN_OR_RETURN(Query query, db().query(kEraseSetting));
  STARLING_RETURN_IF_ERROR(query.bind(1, key));
  return query.run();
}

}  // namespace starling::runtime
