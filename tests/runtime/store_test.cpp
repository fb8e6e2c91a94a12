// Tests of the agent's SQLite store: creation, the incarnation (durable, never backwards),
// known peers, settings, refusal of newer schemas and of non-SQLite or damaged files, the
// migration from schema version 1, and a crash test that SIGKILLs a writing child process at
// seeded random moments and checks what survives. Fixture databases are built with the
// store's own SQLite wrappers (agent/runtime/internal/sqlite.hpp).
#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "agent/runtime/internal/sqlite.hpp"
#include "agent/runtime/store.hpp"
#include "base/node_id.hpp"
#include "base/rng.hpp"
#include "tests/common/status_doctest.hpp"
#include "tests/common/test_support.hpp"

namespace starling::runtime {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

fs::path db_path(const TempDir& dir) { return dir / std::string(Store::kFileName); }

Store open_ok(const fs::path& file) {
  auto store = Store::open(file);
  REQUIRE_OK(store);
  return std::move(store).value();
}

internal::Database open_raw(const fs::path& file) {
  auto db = internal::Database::open(file, 1000);
  REQUIRE_OK(db);
  return std::move(db).value();
}

void write_bytes(const fs::path& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

std::string read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string random_bytes(Rng& rng, std::size_t size) {
  std::string bytes(size, '\0');
  for (char& byte : bytes) byte = static_cast<char>(rng.uniform(256));
  return bytes;
}

// Schema version 1 exactly as the first release created it: a fixture, never to be edited.
constexpr std::string_view kSchemaVersion1 = R"sql(
CREATE TABLE settings (
  key TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE peers (
  node_id BLOB PRIMARY KEY NOT NULL CHECK (length(node_id) = 16),
  address TEXT NOT NULL,
  seen_unix_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
PRAGMA user_version = 1;
)sql";

TEST_CASE("open creates a WAL database at the latest schema version") {
  TempDir dir;
  const fs::path file = db_path(dir);
  {
    Store store = open_ok(file);
    CHECK(fs::exists(file));
    CHECK(fs::exists(file.string() + "-wal"));
    CHECK(*store.schema_version() == Store::kSchemaVersion);
    CHECK(*store.load_incarnation() == 0);
    CHECK(store.known_peers(10)->empty());
    CHECK_CODE(store.get("name"), StatusCode::kNotFound);
    CHECK_OK(store.check_integrity());
  }
  internal::Database raw = open_raw(file);
  CHECK(*raw.query_text("PRAGMA journal_mode") == "wal");  // persistent in the file header
  CHECK(*raw.query_int64("PRAGMA user_version") == Store::kSchemaVersion);
}

TEST_CASE("open reports an unusable path with kIoError naming it") {
  TempDir dir;
  const auto missing = Store::open(dir / "no-such-dir/state.db");
  CHECK_CODE(missing, StatusCode::kIoError);
  CHECK(missing.status().message().find("no-such-dir") != std::string::npos);
  CHECK_CODE(Store::open(dir.path()), StatusCode::kIoError);
}

TEST_CASE("the incarnation survives reopening and never goes backwards") {
  TempDir dir;
  const fs::path file = db_path(dir);
  {
    Store store = open_ok(file);
    REQUIRE_OK(store.save_incarnation(5));
  }
  Store store = open_ok(file);
  CHECK(*store.load_incarnation() == 5);
  const Status lower = store.save_incarnation(4);
  CHECK_CODE(lower, StatusCode::kInvalidArgument);
  CHECK(lower.message().find("below the stored incarnation 5") != std::string::npos);
  CHECK(*store.load_incarnation() == 5);
  CHECK_OK(store.save_incarnation(5));  // saving the same value again is ok
  CHECK_OK(store.save_incarnation(6));
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  CHECK_CODE(store.save_incarnation(kMax + 1), StatusCode::kInvalidArgument);
  CHECK_OK(store.save_incarnation(kMax));
  CHECK(*store.load_incarnation() == kMax);
}

std::vector<KnownPeer> newest_first(std::vector<KnownPeer> peers) {
  std::sort(peers.begin(), peers.end(), [](const KnownPeer& a, const KnownPeer& b) {
    return a.seen_unix_ms != b.seen_unix_ms ? a.seen_unix_ms > b.seen_unix_ms : a.id < b.id;
  });
  return peers;
}

TEST_CASE("peers are upserted, listed newest first and forgotten") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: ", seed);
  Rng rng(seed);
  TempDir dir;
  const fs::path file = db_path(dir);
  Store store = open_ok(file);
  std::vector<KnownPeer> peers;
  for (std::uint64_t i = 1; i <= 30; ++i) {
    // Times from a small range, so that some are equal and the id breaks the tie.
    const std::int64_t seen = 1'700'000'000'000 + rng.uniform_range(0, 9);
    peers.push_back({NodeId::from_u64(rng.next_u64() | 1),
                     "tcp://10.0.0." + std::to_string(i) + ":7946", seen});
    REQUIRE_OK(store.remember_peer(peers.back().id, peers.back().address, seen));
  }
  peers = newest_first(peers);
  CHECK(*store.known_peers(100) == peers);
  CHECK(*store.known_peers(5) == std::vector<KnownPeer>(peers.begin(), peers.begin() + 5));
  CHECK(store.known_peers(0)->empty());

  // The latest call wins, even with an older timestamp (clocks without an RTC go backwards).
  KnownPeer& moved = peers[3];
  moved.address = "tcp://[fd00::7]:7946";
  moved.seen_unix_ms = 1'600'000'000'000;
  REQUIRE_OK(store.remember_peer(moved.id, moved.address, moved.seen_unix_ms));
  const NodeId forgotten = peers[0].id;
  REQUIRE_OK(store.forget_peer(forgotten));
  CHECK_OK(store.forget_peer(forgotten));  // already gone: nothing to do
  peers.erase(peers.begin());
  peers = newest_first(peers);
  CHECK(*store.known_peers(100) == peers);

  Store reopened = open_ok(file);
  CHECK(*reopened.known_peers(std::numeric_limits<std::size_t>::max()) == peers);
}

TEST_CASE("remember_peer validates its arguments") {
  TempDir dir;
  Store store = open_ok(db_path(dir));
  const NodeId id = NodeId::from_u64(7);
  CHECK_CODE(store.remember_peer(NodeId(), "tcp://a:1", 1), StatusCode::kInvalidArgument);
  CHECK_CODE(store.remember_peer(id, "", 1), StatusCode::kInvalidArgument);
  CHECK_CODE(store.remember_peer(id, std::string(Store::kAddressMaxBytes + 1, 'a'), 1),
             StatusCode::kTooLarge);
  CHECK_OK(store.remember_peer(id, std::string(Store::kAddressMaxBytes, 'a'), -5));
  CHECK(store.known_peers(10)->size() == 1);
}

TEST_CASE("settings are stored, replaced, erased and persist") {
  TempDir dir;
  const fs::path file = db_path(dir);
  const std::string binary("a\0b\xff", 4);  // any bytes round-trip, NUL included
  {
    Store store = open_ok(file);
    REQUIRE_OK(store.put("name", "pi-7"));
    REQUIRE_OK(store.put("name", "pi-8"));
    REQUIRE_OK(store.put("empty", ""));
    REQUIRE_OK(store.put("binary", binary));
    REQUIRE_OK(store.put("gone", "soon"));
    REQUIRE_OK(store.erase("gone"));
    CHECK_OK(store.erase("never-set"));
  }
  Store store = open_ok(file);
  CHECK(*store.get("name") == "pi-8");
  CHECK(*store.get("empty") == "");
  CHECK(*store.get("binary") == binary);
  CHECK_CODE(store.get("gone"), StatusCode::kNotFound);
  CHECK_CODE(store.put("", "x"), StatusCode::kInvalidArgument);
  CHECK_CODE(store.put(std::string(Store::kSettingKeyMaxBytes + 1, 'k'), "x"),
             StatusCode::kTooLarge);
  CHECK_CODE(store.put("big", std::string(Store::kSettingValueMaxBytes + 1, 'v')),
             StatusCode::kTooLarge);
  CHECK_OK(store.put("big", std::string(Store::kSettingValueMaxBytes, 'v')));
}

TEST_CASE("a moved Store keeps working and a moved-to Store closes its old database") {
  TempDir dir;
  Store first = open_ok(dir / "first.db");
  Store second = open_ok(dir / "second.db");
  REQUIRE_OK(first.save_incarnation(3));
  Store moved(std::move(first));
  CHECK(*moved.load_incarnation() == 3);
  second = std::move(moved);
  CHECK(*second.load_incarnation() == 3);
  REQUIRE_OK(second.save_incarnation(4));
  CHECK(*open_ok(dir / "first.db").load_incarnation() == 4);
}

TEST_CASE("a schema version newer than this binary is refused and the file left untouched") {
  TempDir dir;
  const fs::path file = db_path(dir);
  {
    internal::Database raw = open_raw(file);
    REQUIRE_OK(raw.exec(kSchemaVersion1, "create version 1"));
    REQUIRE_OK(raw.exec("PRAGMA user_version = " + std::to_string(Store::kSchemaVersion + 1),
                        "set a future version"));
  }
  const std::string before = read_bytes(file);
  const auto store = Store::open(file);
  CHECK_CODE(store, StatusCode::kInvalidArgument);
  const std::string message = store.status().message();
  CHECK(message.find(file.string()) != std::string::npos);
  CHECK(message.find("schema version " + std::to_string(Store::kSchemaVersion + 1) +
                     " is newer") != std::string::npos);
  CHECK(read_bytes(file) == before);
  CHECK_FALSE(fs::exists(file.string() + "-wal"));
}

TEST_CASE("a file that is not an SQLite database is refused with kCorrupt naming it") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: ", seed);
  Rng rng(seed);
  TempDir dir;
  const fs::path file = db_path(dir);
  const std::string contents[] = {random_bytes(rng, 8192), "not a database\n",
                                  std::string("SQLite format 3\0", 16) + random_bytes(rng, 200)};
  for (const std::string& garbage : contents) {
    write_bytes(file, garbage);
    const auto store = Store::open(file);
    CHECK_CODE(store, StatusCode::kCorrupt);
    CHECK(store.status().message().find(file.string()) != std::string::npos);
    CHECK(read_bytes(file) == garbage);
  }
}

TEST_CASE("damaged pages are reported as kCorrupt, never a crash") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: ", seed);
  Rng rng(seed);
  TempDir dir;
  const fs::path file = db_path(dir);
  {
    Store store = open_ok(file);
    for (std::uint64_t i = 1; i <= 300; ++i) {
      REQUIRE_OK(store.remember_peer(NodeId::from_u64(i), "tcp://10.1.2.3:7946",
                                     static_cast<std::int64_t>(i)));
    }
  }  // the last connection to close checkpoints the WAL into the file and removes the WAL
  REQUIRE_FALSE(fs::exists(file.string() + "-wal"));
  std::string bytes = read_bytes(file);
  constexpr std::size_t kPageSize = 4096;  // SQLite's default
  REQUIRE(bytes.size() > 3 * kPageSize);
  // Keep page 1 (header and schema), overwrite every other page with random bytes.
  bytes.replace(kPageSize, std::string::npos, random_bytes(rng, bytes.size() - kPageSize));
  write_bytes(file, bytes);
  auto store = Store::open(file);
  if (!store.is_ok()) {
    CHECK_CODE(store, StatusCode::kCorrupt);
    return;
  }
  CHECK_CODE(store->known_peers(1000), StatusCode::kCorrupt);
  const Status integrity = store->check_integrity();
  CHECK_CODE(integrity, StatusCode::kCorrupt);
  CHECK(integrity.message().find(file.string()) != std::string::npos);
}

TEST_CASE("a version 1 database migrates to the latest version and keeps its rows") {
  TempDir dir;
  const fs::path file = db_path(dir);
  const NodeId a = NodeId::from_u64(0xa1);
  const NodeId b = NodeId::from_u64(0xb2);
  {
    internal::Database raw = open_raw(file);
    REQUIRE_OK(raw.exec(kSchemaVersion1, "create version 1"));
    REQUIRE_OK(raw.exec("INSERT INTO settings VALUES ('name', 'pi-7');"
                        "INSERT INTO peers VALUES (x'" + a.to_hex() + "', 'tcp://a:1', 10);"
                        "INSERT INTO peers VALUES (x'" + b.to_hex() + "', 'tcp://b:2', 20);",
                        "fill version 1"));
  }
  {
    Store store = open_ok(file);
    CHECK(*store.schema_version() == Store::kSchemaVersion);
    CHECK(*store.get("name") == "pi-7");
    const std::vector<KnownPeer> expected = {{b, "tcp://b:2", 20}, {a, "tcp://a:1", 10}};
    CHECK(*store.known_peers(10) == expected);
    CHECK(*store.load_incarnation() == 0);
    REQUIRE_OK(store.save_incarnation(41));
    CHECK_OK(store.check_integrity());
  }
  Store store = open_ok(file);  // an up-to-date file opens without migrating again
  CHECK(*store.load_incarnation() == 41);
  internal::Database raw = open_raw(file);
  CHECK(*raw.query_int64("SELECT count(*) FROM sqlite_schema WHERE name = 'peers_by_seen'") == 1);
}

TEST_CASE("the SQLite wrappers cache statements and turn errors into a Status") {
  TempDir dir;
  internal::Database db = open_raw(dir / "raw.db");
  REQUIRE_OK(db.exec("CREATE TABLE t (v INTEGER)", "create"));
  for (int i = 0; i < 3; ++i) {
    auto insert = db.query("INSERT INTO t VALUES (?1)");
    REQUIRE_OK(insert);
    REQUIRE_OK(insert->bind(1, std::int64_t{i}));
    REQUIRE_OK(insert->run());
  }
  CHECK(db.cached_statements() == 1);
  CHECK(*db.query_int64("SELECT sum(v) FROM t") == 3);
  const auto bad = db.query("SELECT v FROM nowhere");
  CHECK_CODE(bad, StatusCode::kIoError);
  CHECK(bad.status().message().find("no such table: nowhere") != std::string::npos);
  CHECK_CODE(db.exec("NOT SQL", "run garbage"), StatusCode::kIoError);
  {
    auto transaction = internal::Transaction::begin(db);
    REQUIRE_OK(transaction);
    REQUIRE_OK(db.exec("DELETE FROM t", "delete"));
  }  // not committed: rolled back
  CHECK(*db.query_int64("SELECT count(*) FROM t") == 3);
}


// ---- Crash test: SIGKILL a writing child at random moments -----------------------------------

constexpr int kCrashRounds = 20;
constexpr std::uint64_t kCrashPeerSlots = 8;
// Set in a report for the peer row stamped with the value; clear for the incarnation itself.
constexpr std::uint64_t kPeerReportBit = std::uint64_t{1} << 63;

NodeId crash_peer_id(std::uint64_t value) { return NodeId::from_u64(1 + value % kCrashPeerSlots); }

std::string crash_peer_address(std::uint64_t value) {
  return "tcp://10.0.0." + std::to_string(value % 200 + 1) + ":7946";
}

void report(int report_fd, std::uint64_t value) {
  if (::write(report_fd, &value, sizeof value) != static_cast<ssize_t>(sizeof value)) ::_exit(14);
}

// The child: continues the incarnation from the stored one and writes as fast as it can. For
// each value v it saves incarnation v and reports v on `report_fd` once the save returned,
// then remembers the peer row stamped v and reports v | kPeerReportBit once that returned.
// Ends only when killed, or with an exit code naming what failed.
[[noreturn]] void crash_child(const fs::path& file, int report_fd) {
  auto store = Store::open(file);
  if (!store) ::_exit(10);
  const auto start = store->load_incarnation();
  if (!start) ::_exit(11);
  for (std::uint64_t value = *start + 1;; ++value) {
    if (!store->save_incarnation(value)) ::_exit(12);
    report(report_fd, value);
    const auto seen = static_cast<std::int64_t>(value);
    if (!store->remember_peer(crash_peer_id(value), crash_peer_address(value), seen)) ::_exit(13);
    report(report_fd, value | kPeerReportBit);
  }
}

// The parent's handle on the child: the read end of its report pipe, and its pid. Kills and
// reaps the child when the test leaves early, so that no writer outlives a failed round.
class CrashChild {
 public:
  CrashChild(pid_t pid, int report_fd) : pid_(pid), report_fd_(report_fd) {}
  CrashChild(const CrashChild&) = delete;
  CrashChild& operator=(const CrashChild&) = delete;
  ~CrashChild() {
    if (pid_ > 0) static_cast<void>(kill_and_reap());
    ::close(report_fd_);
  }

  // Reads acknowledged values into acked_ until `deadline`, until `enough` are held, or until
  // the pipe's end of file (the child is gone). Returns false at end of file.
  bool read_acks(std::chrono::steady_clock::time_point deadline, std::size_t enough) {
    while (acked_.size() < enough) {
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) return true;
      const auto left_ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
      pollfd poll_fd{report_fd_, POLLIN, 0};
      const int ready = ::poll(&poll_fd, 1, static_cast<int>(left_ms));
      if (ready < 0 && errno == EINTR) continue;
      REQUIRE(ready >= 0);
      if (ready == 0) continue;
      char buffer[4096];
      const ssize_t got = ::read(report_fd_, buffer, sizeof buffer);
      if (got < 0 && errno == EINTR) continue;
      REQUIRE(got >= 0);
      if (got == 0) return false;
      pending_.append(buffer, static_cast<std::size_t>(got));
      take_complete_values();
    }
    return true;
  }

  // SIGKILLs the child (a no-op for one that already exited) and returns its wait status.
  int kill_and_reap() {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return status;
  }

  const std::vector<std::uint64_t>& acked() const { return acked_; }
  // Bytes of a value cut in half; always empty, since pipe writes up to PIPE_BUF are atomic.
  std::size_t pending_bytes() const { return pending_.size(); }

 private:
  void take_complete_values() {
    std::size_t at = 0;
    for (; pending_.size() - at >= sizeof(std::uint64_t); at += sizeof(std::uint64_t)) {
      std::uint64_t value = 0;
      std::memcpy(&value, pending_.data() + at, sizeof value);
      acked_.push_back(value);
    }
    pending_.erase(0, at);
  }

  pid_t pid_;
  int report_fd_;
  std::string pending_;
  std::vector<std::uint64_t> acked_;
};

std::string describe_wait_status(int status) {
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  return "wait status " + std::to_string(status);
}

// What a writer acknowledged before it was killed, in order.
struct Acknowledged {
  std::vector<std::uint64_t> incarnations;
  std::vector<std::uint64_t> peer_stamps;
};

// One round: fork a writer, wait until it has acknowledged a first value (the condition that
// it is in its write loop), let it run for a random 1-50 ms while collecting its
// acknowledgements (reading keeps the pipe from filling and stalling it), SIGKILL it, and
// collect the acknowledgements still in the pipe.
Acknowledged crash_round(const fs::path& file, std::int64_t delay_ms) {
  using Clock = std::chrono::steady_clock;
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    crash_child(file, fds[1]);
  }
  ::close(fds[1]);
  CrashChild child(pid, fds[0]);
  const bool alive = child.read_acks(Clock::now() + std::chrono::seconds(10), 1);
  if (!alive || child.acked().empty()) {
    FAIL("the writer did not start: ", describe_wait_status(child.kill_and_reap()));
  }
  child.read_acks(Clock::now() + std::chrono::milliseconds(delay_ms),
                  std::numeric_limits<std::size_t>::max());
  const int status = child.kill_and_reap();
  INFO("writer ", describe_wait_status(status));
  REQUIRE((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
  REQUIRE_FALSE(child.read_acks(Clock::now() + std::chrono::seconds(10),
                                std::numeric_limits<std::size_t>::max()));
  CHECK(child.pending_bytes() == 0);
  Acknowledged acknowledged;
  for (const std::uint64_t value : child.acked()) {
    if ((value & kPeerReportBit) != 0) {
      acknowledged.peer_stamps.push_back(value & ~kPeerReportBit);
    } else {
      acknowledged.incarnations.push_back(value);
    }
  }
  return acknowledged;
}

// The newest peer row is the last one acknowledged, or the one in flight at the kill.
void check_newest_peer(Store& store, const std::vector<std::uint64_t>& peer_stamps) {
  const auto newest = store.known_peers(1);
  REQUIRE_OK(newest);
  REQUIRE(newest->size() == 1);
  const KnownPeer& peer = newest->front();
  const auto seen = static_cast<std::uint64_t>(peer.seen_unix_ms);
  if (!peer_stamps.empty()) {
    INFO("last acknowledged peer stamp ", peer_stamps.back(), ", stored ", seen);
    CHECK(seen >= peer_stamps.back());
    CHECK(seen <= peer_stamps.back() + 1);
  }
  CHECK(peer.id == crash_peer_id(seen));
  CHECK(peer.address == crash_peer_address(seen));
}

TEST_CASE("a writer killed with SIGKILL at random moments leaves a sound, durable database") {
  const std::uint64_t seed = testing::test_seed();
  INFO("seed: ", seed);
  Rng rng(seed);
  TempDir dir;
  const fs::path file = db_path(dir);
  std::uint64_t stored = 0;  // the incarnation found after the previous round
  std::size_t acknowledged_total = 0;
  int unacknowledged_commits = 0;
  for (int round = 0; round < kCrashRounds; ++round) {
    const std::int64_t delay_ms = rng.uniform_range(1, 50);
    INFO("round ", round, ", kill after ", delay_ms, " ms");
    const Acknowledged acked = crash_round(file, delay_ms);
    const std::vector<std::uint64_t>& incarnations = acked.incarnations;
    REQUIRE_FALSE(incarnations.empty());
    acknowledged_total += incarnations.size() + acked.peer_stamps.size();
    // The writer continued from the stored value, one value at a time.
    CHECK(incarnations.front() == stored + 1);
    CHECK(incarnations.back() == incarnations.front() + incarnations.size() - 1);

    Store store = open_ok(file);
    REQUIRE_OK(store.check_integrity());
    const std::uint64_t incarnation = *store.load_incarnation();
    // Every acknowledged value is durable, so the stored one is the last acknowledged, or the
    // save in flight when the kill came (committed, its acknowledgement not yet written).
    INFO("last acknowledged ", incarnations.back(), ", stored ", incarnation);
    CHECK(incarnation >= incarnations.back());
    CHECK(incarnation <= incarnations.back() + 1);
    if (incarnation != incarnations.back()) ++unacknowledged_commits;
    check_newest_peer(store, acked.peer_stamps);
    stored = incarnation;
  }
  MESSAGE("crash test: ", kCrashRounds, " rounds, ", acknowledged_total,
          " acknowledged writes, final incarnation ", stored, "; in ", unacknowledged_commits,
          " rounds the stored incarnation was a committed save whose acknowledgement the kill cut");
}

TEST_CASE("store: consensus state round-trips, entries are replaced and compacted") {
  TempDir dir;
  const NodeId a = NodeId::from_u64(1), b = NodeId::from_u64(2), c = NodeId::from_u64(3);
  {
    Store store = open_ok(db_path(dir));
    auto empty = store.load_consensus();
    REQUIRE_OK(empty);
    CHECK(empty->cluster == 0);
    CHECK(empty->raft.entries.empty());
    auto boot = consensus::bootstrap_state({a, b, c});
    REQUIRE_OK(boot);
    consensus::ControllerOutput out;
    out.cluster = std::uint64_t{0xfedcba9876543210};  // above INT64_MAX: stored as text
    out.snapshot = boot->snapshot;
    out.hard_state = boot->hard_state;
    for (std::uint64_t i = 2; i <= 6; ++i) {
      out.entries.push_back(consensus::Entry{i, 2, consensus::EntryType::kCommand, Bytes{1, 2}});
    }
    REQUIRE_OK(store.save_consensus(out));
    // A conflicting suffix replaces entries 5 and 6 with one entry of a later term.
    consensus::ControllerOutput next;
    next.entries.push_back(consensus::Entry{5, 3, consensus::EntryType::kNoop, {}});
    next.hard_state = consensus::HardState{3, b, 4};
    REQUIRE_OK(store.save_consensus(next));
  }
  {
    Store store = open_ok(db_path(dir));
    auto loaded = store.load_consensus();
    REQUIRE_OK(loaded);
    CHECK(loaded->cluster == 0xfedcba9876543210u);
    CHECK(loaded->raft.hard_state == consensus::HardState{3, b, 4});
    CHECK(loaded->raft.snapshot.meta.conf.voters == std::vector<NodeId>{a, b, c});
    REQUIRE(loaded->raft.entries.size() == 4);
    CHECK(loaded->raft.entries.back().index == 5);
    CHECK(loaded->raft.entries.back().term == 3);
    // Compaction at 3 drops entries 2 and 3.
    consensus::ControllerOutput compact;
    consensus::Snapshot snap;
    snap.meta.index = 3;
    snap.meta.term = 2;
    snap.meta.conf = loaded->raft.snapshot.meta.conf;
    compact.compacted = snap;
    REQUIRE_OK(store.save_consensus(compact));
    auto after = store.load_consensus();
    REQUIRE_OK(after);
    CHECK(after->raft.snapshot.meta.index == 3);
    REQUIRE(after->raft.entries.size() == 2);
    CHECK(after->raft.entries.front().index == 4);
  }
}

TEST_CASE("store: a damaged consensus row is reported as corrupt, not trusted") {
  TempDir dir;
  {
    Store store = open_ok(db_path(dir));
    auto boot = consensus::bootstrap_state({NodeId::from_u64(1)});
    REQUIRE_OK(boot);
    consensus::ControllerOutput out;
    out.cluster = std::uint64_t{7};
    out.snapshot = boot->snapshot;
    out.hard_state = boot->hard_state;
    out.entries.push_back(consensus::Entry{2, 1, consensus::EntryType::kNoop, {}});
    REQUIRE_OK(store.save_consensus(out));
  }
  {
    internal::Database raw = open_raw(db_path(dir));
    // A gap in the log: entry 2 gone, entry 4 present.
    REQUIRE_OK(raw.exec("DELETE FROM raft_log", "t"));
    REQUIRE_OK(raw.exec("INSERT INTO raft_log VALUES (4, 1, 2, x'')", "t"));
  }
  Store store = open_ok(db_path(dir));
  auto loaded = store.load_consensus();
  REQUIRE_FALSE(loaded.is_ok());
  CHECK(loaded.status().code() == StatusCode::kCorrupt);
}

}  // namespace
}  // namespace starling::runtime
