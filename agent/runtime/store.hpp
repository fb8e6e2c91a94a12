// Store: the agent's durable state in one SQLite database, DATA_DIR/state.db: the node's
// incarnation, the peers it has seen (so that a restart can rejoin without its --join seed),
// and a small key-value table of settings. The database runs in WAL mode with synchronous=FULL,
// so a value is durable (survives power loss, not only a crash) when the call that wrote it
// returns ok; a kill -9 at any moment leaves a database that opens. The schema is versioned
// (PRAGMA user_version) and migrated step by step at open.
// Threading: single-threaded. A Store is created, used and destroyed on one thread at a time
// (the agent's event-loop thread); it may be moved to that thread after open().
//
// Schema (see kMigrations in store.cpp; a released step is never edited, only new steps added):
//   1  settings(key TEXT PRIMARY KEY, value TEXT)
//      peers(node_id BLOB PRIMARY KEY (16 bytes), address TEXT, seen_unix_ms INTEGER)
//   2  node_state(id = 1, incarnation INTEGER >= 0): one row, the node's own durable state
//      index peers_by_seen(seen_unix_ms DESC, node_id), for newest-first listing
//   3  raft_state(id = 1, cluster, term, vote, commit_index), raft_log(log_index PRIMARY KEY,
//      term, kind, data), raft_snapshot(id = 1, last_index, term, conf, data): the consensus
//      controller's durable state, each ControllerOutput written in ONE transaction (the
//      workload table is kilobytes, so its snapshot lives in the database, not in files).
// Planned (not created now):
//   models (#6): model_checkpoints(round PRIMARY KEY, file, digest, created_unix_ms) and
//     workload_checkpoints(workload, round, state BLOB): tables index checkpoint files that are
//     written to a temporary file, fsynced and renamed; large tensors never go in the database.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/node_id.hpp"
#include "consensus/controller.hpp"
#include "base/status.hpp"

namespace starling::runtime {

namespace internal {
class Database;
}  // namespace internal

// A peer remembered from an earlier run: where it was last seen, and when (wall clock).
struct KnownPeer {
  NodeId id;
  std::string address;
  std::int64_t seen_unix_ms = 0;

  friend bool operator==(const KnownPeer&, const KnownPeer&) = default;
};

class Store {
 public:
  // The file name of the database inside the data directory.
  static constexpr std::string_view kFileName = "state.db";
  // The schema version this binary writes; open() migrates older files up to it.
  static constexpr int kSchemaVersion = 3;
  // How long a statement waits for a lock held by another connection (a second process
  // opening the same data directory, or an operator's sqlite3 shell) before failing with
  // kIoError: long enough to ride out a checkpoint, short enough not to stall the event loop
  // for more than one probe interval or so.
  static constexpr int kBusyTimeoutMs = 1000;
  // Peer addresses are ZeroMQ endpoints ("tcp://host:port"): a 253-byte DNS name with its
  // scheme and port fits.
  static constexpr std::size_t kAddressMaxBytes = 300;
  // Settings are small strings (a name, a port, a flag); larger state gets its own table.
  static constexpr std::size_t kSettingKeyMaxBytes = 128;
  static constexpr std::size_t kSettingValueMaxBytes = 64 * 1024;

  // Opens the database at `file` (normally DATA_DIR/state.db), creating it if absent, and
  // migrates it to kSchemaVersion, each step in its own transaction. Errors, each naming the
  // file: kCorrupt for a file that is not an SQLite database or is damaged; kInvalidArgument
  // for a schema version newer than kSchemaVersion (written by a newer release: the file is
  // left untouched); kIoError when the file cannot be opened, locked or written.
  // REQUIRES: the parent directory exists.
  static Result<Store> open(const std::filesystem::path& file);

  Store(Store&& other) noexcept;
  Store& operator=(Store&& other) noexcept;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  ~Store();

  // The schema version of the open database (kSchemaVersion after a successful open()).
  Result<int> schema_version();

  // Runs SQLite's full integrity check: ok, or kCorrupt with the first problems it lists.
  // Reads the whole database; meant for tests and an operator's "check" command, not the loop.
  Status check_integrity();

  // The node's incarnation as last saved; 0 when none was ever saved (a fresh node).
  Result<std::uint64_t> load_incarnation();

  // Durably records `incarnation`. Returns only once it would survive power loss, so the
  // membership core may announce it. Saving the stored value again is ok; a lower value is
  // refused with kInvalidArgument (an incarnation never goes backwards, or peers would keep
  // believing an old accusation), as is a value above INT64_MAX (SQLite integers are signed).
  Status save_incarnation(std::uint64_t incarnation);

  // Records that peer `id` was seen at `address` at `seen_unix_ms`, replacing what was
  // recorded for it. The latest call wins whatever its timestamp: a device without a
  // real-time clock may see its wall clock go backwards, and must not then ignore new
  // addresses. kInvalidArgument for the zero id or an empty address, kTooLarge for an address
  // longer than kAddressMaxBytes.
  Status remember_peer(const NodeId& id, std::string_view address, std::int64_t seen_unix_ms);

  // At most `limit` remembered peers, most recently seen first (ties by id, so the order is
  // deterministic). kCorrupt when a stored row is malformed.
  Result<std::vector<KnownPeer>> known_peers(std::size_t limit);

  // Forgets peer `id`. Forgetting a peer that is not remembered is ok (nothing to do).
  Status forget_peer(const NodeId& id);

  // Sets setting `key` to `value`, replacing any previous value. kInvalidArgument for an empty
  // key; kTooLarge for a key or value above kSettingKeyMaxBytes or kSettingValueMaxBytes.
  Status put(std::string_view key, std::string_view value);

  // The value of setting `key`; kNotFound when it was never set or was erased.
  Result<std::string> get(std::string_view key);

  // Removes setting `key`. Erasing a key that is not set is ok.
  Status erase(std::string_view key);

  // Writes the durable part of a consensus controller's output (consensus/controller.hpp,
  // step 1 of its contract) in one transaction: the snapshot replacing the log, the entries
  // replacing stored ones from their first index, the hard state and cluster id, and a
  // compaction snapshot deleting the entries it covers. Durable when it returns ok.
  Status save_consensus(const consensus::ControllerOutput& out);
  // What save_consensus() wrote, checked with Controller::check_durable (kCorrupt naming the
  // file otherwise); an empty ControllerDurable for a node that never joined a cluster.
  Result<consensus::ControllerDurable> load_consensus();

 private:
  explicit Store(std::unique_ptr<internal::Database> db);
  // The connection. REQUIRES: not a moved-from Store.
  internal::Database& db();

  // Non-null except in a moved-from Store. Behind a pointer so that this header needs no
  // SQLite declarations.
  std::unique_ptr<internal::Database> db_;
};

}  // namespace starling::runtime
