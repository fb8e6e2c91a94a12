// The vocabulary of the consensus core: log entries, configurations (voters and learners),
// snapshots, the hard state to persist, protocol messages and events. Plain value types with no
// behaviour beyond small helpers; single-threaded like the core. The byte encoding of messages
// and configuration changes is in codec.hpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "base/bytes.hpp"
#include "base/node_id.hpp"
#include "base/status.hpp"

namespace starling::consensus {

// At most this many voters (Raft's fault tolerance grows with odd sizes only; 7 tolerates 3
// failures, beyond that every commit waits on more round trips for little gain at our scale).
inline constexpr std::size_t kVotersMax = 7;
// At most this many learners (each one costs the leader a replication stream).
inline constexpr std::size_t kLearnersMax = 1024;

enum class EntryType : std::uint8_t {
  kCommand = 1,       // an application command, from propose()
  kNoop = 2,          // appended by a new leader so that it commits an entry of its term (C8)
  kConfigChange = 3,  // data is an encoded ConfigChange (codec.hpp)
};
std::string_view entry_type_name(EntryType type) noexcept;

struct Entry {
  std::uint64_t index = 0;
  std::uint64_t term = 0;
  EntryType type = EntryType::kCommand;
  Bytes data;

  friend bool operator==(const Entry&, const Entry&) = default;
};

// The bytes an entry is counted as for batching and flow control: its data plus a fixed
// overhead for index, term and type.
inline std::size_t entry_size(const Entry& entry) noexcept { return entry.data.size() + 24; }

// A cluster configuration (etcd's ConfState): who votes and who only receives the log.
// Invariant (validate_conf): both lists sorted by id and free of duplicates, disjoint, no zero
// id, at most kVotersMax voters and kLearnersMax learners.
struct ConfState {
  std::vector<NodeId> voters;
  std::vector<NodeId> learners;

  bool is_voter(const NodeId& id) const noexcept;
  bool is_learner(const NodeId& id) const noexcept;
  bool contains(const NodeId& id) const noexcept { return is_voter(id) || is_learner(id); }
  // Votes (or acknowledgements) needed for a decision: a majority of the voters.
  std::size_t quorum() const noexcept { return voters.size() / 2 + 1; }

  friend bool operator==(const ConfState&, const ConfState&) = default;
};

// kCorrupt naming what breaks the invariant above.
Status validate_conf(const ConfState& conf);

// The configuration a new cluster starts with: 1, 3, 5 or 7 voters (even sizes tolerate no
// more failures than the odd size below them and need a larger quorum), no learners.
// kInvalidArgument otherwise. Configurations reached by single-server changes may pass through
// even sizes (C9); only bootstraps and propose_voters() targets must be odd.
Status validate_voter_set(const std::vector<NodeId>& voters);

// One single-server configuration change (C9).
enum class ConfigChangeType : std::uint8_t {
  kAddVoter = 1,    // adds a voter, or promotes a learner
  kAddLearner = 2,  // adds a learner, or demotes a voter
  kRemove = 3,      // removes a voter or a learner
};
std::string_view config_change_type_name(ConfigChangeType type) noexcept;

struct ConfigChange {
  ConfigChangeType type = ConfigChangeType::kAddVoter;
  NodeId node;

  friend bool operator==(const ConfigChange&, const ConfigChange&) = default;
};

// `conf` after `change`: kInvalidArgument for a zero id or a result with no voter or more than
// kVotersMax voters (or kLearnersMax learners), kAlreadyExists when the node already has the
// requested role, kNotFound when removing a node that is not in the configuration.
Result<ConfState> apply_config_change(const ConfState& conf, const ConfigChange& change);

struct SnapshotMeta {
  std::uint64_t index = 0;  // the last entry the snapshot includes (0: no snapshot)
  std::uint64_t term = 0;   // that entry's term
  ConfState conf;           // the configuration in effect at `index`

  friend bool operator==(const SnapshotMeta&, const SnapshotMeta&) = default;
};

// A snapshot of the application's state machine after applying entries 1..meta.index. The data
// is opaque to the core (the application produces it with compact() and restores from it).
struct Snapshot {
  SnapshotMeta meta;
  Bytes data;

  friend bool operator==(const Snapshot&, const Snapshot&) = default;
};

// What must survive a crash besides the log: the current term, the vote cast in it, and the
// commit index (an optimisation: a restarted node re-applies only up to what it knew).
struct HardState {
  std::uint64_t term = 0;
  NodeId vote;  // zero: no vote in `term`
  std::uint64_t commit = 0;

  friend bool operator==(const HardState&, const HardState&) = default;
};

enum class MessageType : std::uint8_t {
  kPreVote = 1,            // "would you vote for me at `term`?" (term not incremented yet, C6)
  kPreVoteResponse = 2,
  kVote = 3,               // RequestVote
  kVoteResponse = 4,
  kAppend = 5,             // AppendEntries with entries (possibly none)
  kAppendResponse = 6,
  kHeartbeat = 7,          // leader liveness and commit index, no entries
  kHeartbeatResponse = 8,
  kSnapshot = 9,           // InstallSnapshot (whole, not chunked)
  kTimeoutNow = 10,        // leadership transfer: "campaign now" (C11)
};
inline constexpr std::uint8_t kMessageTypeMax = 10;
std::string_view message_type_name(MessageType type) noexcept;

// One protocol message, as a flat struct like etcd's raftpb.Message; which fields are used
// depends on the type:
//   kPreVote, kVote: index/log_term = the candidate's last log index and term; `transfer` when
//     the campaign follows a leadership transfer (voters then ignore their leader lease, C11).
//   kPreVoteResponse, kVoteResponse: `reject`.
//   kAppend: index/log_term = the entry before `entries`; commit = the leader's commit index.
//   kAppendResponse: accepted: index = the last index known to match the leader's log;
//     rejected: index = the rejected kAppend's index, hint_index/hint_term = where the
//     follower's log might match (fast backtracking, C13).
//   kHeartbeat: commit = min(leader commit, follower match); context = the leader's send time.
//   kHeartbeatResponse: context echoed.
//   kSnapshot: `snapshot`.
struct Message {
  MessageType type = MessageType::kHeartbeat;
  NodeId from;
  NodeId to;
  std::uint64_t term = 0;
  std::uint64_t index = 0;
  std::uint64_t log_term = 0;
  std::uint64_t commit = 0;
  bool reject = false;
  bool transfer = false;
  std::uint64_t hint_index = 0;
  std::uint64_t hint_term = 0;
  std::uint64_t context = 0;
  std::vector<Entry> entries;
  std::optional<Snapshot> snapshot;

  friend bool operator==(const Message&, const Message&) = default;
};

enum class Role : std::uint8_t { kFollower = 0, kPreCandidate = 1, kCandidate = 2, kLeader = 3 };
std::string_view role_name(Role role) noexcept;

enum class EventType : std::uint8_t {
  kRoleChanged,      // this node's role changed: `role` at `term`
  kLeaderChanged,    // the leader this node knows changed: `node` (zero: none known) at `term`
  kConfigChanged,    // the configuration in effect changed to `conf`: the one of the config
                     // entry (or the snapshot) at `index`, after an append, a truncation or
                     // a snapshot install
  kTransferAborted,  // a leadership transfer to `node` did not finish in time (C11)
};
std::string_view event_type_name(EventType type) noexcept;

struct Event {
  EventType type = EventType::kRoleChanged;
  std::uint64_t term = 0;
  Role role = Role::kFollower;
  NodeId node;
  std::uint64_t index = 0;
  ConfState conf;

  friend bool operator==(const Event&, const Event&) = default;
};

}  // namespace starling::consensus
