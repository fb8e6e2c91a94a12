// The replicated workload table: the state machine the consensus log drives (issue 5). It holds
// workload specs (name, kind, replicas, required labels, params), one assignment per replica
// (owner, epoch, lease terms) and the last committed progress checkpoint per replica. Commands
// are encoded to Bytes, proposed through the Raft core, and applied here in log order on every
// node; apply() is a pure function of the table and the command, so every node holds the same
// table after the same entries (W7).
//
// The epoch of an assignment is its fencing token: it strictly increases per replica across
// reassignments (W1), and a checkpoint or release carrying an older epoch is rejected (W2), so
// an owner that lost its replica can never overwrite its successor's progress. Positions never
// go backwards (W3) and no node holds two replicas of one workload (W4). The rules are in
// consensus/DESIGN.md ("The workload table"); each has a test in
// tests/consensus/workloads_test.cpp or scheduler_test.cpp.
//
// No clocks here: leases are expressed as durations carried by the commands (an Assign's
// `lease` and `start_delay`), and measured by the shells on their own monotonic clocks by the
// owner-anchored lease rule W8 (DESIGN.md): an owner runs a replica only until `lease` after
// it SENT the latest Renew that it has since applied while holding the replica, and a new owner
// waits `start_delay` after applying its Assign. handoff_wait() gives the wait that makes the
// old and new owners' leases disjoint.
//
// Hostile input: decode_command() and WorkloadTable::restore() check every length against a
// limit and the bytes that remain before allocating, refuse unknown types and versions, and
// accept exactly one encoding per value (kCorrupt otherwise). Single-threaded; value types.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/bytes.hpp"
#include "base/node_id.hpp"
#include "base/status.hpp"
#include "base/time.hpp"

namespace starling::consensus {

// --- Limits. Together they bound a snapshot at about 33 MiB (kWorkloadsMax specs of at most
// kSpecMaxBytes, 16 replicas each, kCheckpointStateTotalMaxBytes of checkpoint state), below
// the consensus codec's 64 MiB snapshot limit, and a command below Config::max_entry_bytes.

inline constexpr std::size_t kWorkloadNameMaxLength = 64;    // [A-Za-z0-9._-]
inline constexpr std::size_t kWorkloadKindMaxLength = 32;    // [A-Za-z0-9._-]
inline constexpr std::uint32_t kReplicasMax = 16;
inline constexpr std::size_t kSpecLabelsMax = 32;            // required labels
inline constexpr std::size_t kSpecParamsMax = 32;
inline constexpr std::size_t kSpecKeyMaxLength = 63;         // [a-z0-9._/-], as certificate labels
inline constexpr std::size_t kSpecLabelValueMaxLength = 255;   // printable ASCII
inline constexpr std::size_t kSpecParamValueMaxLength = 1024;  // printable ASCII
inline constexpr std::size_t kSpecMaxBytes = 16 * 1024;      // a spec's encoding, all fields
inline constexpr std::size_t kWorkloadsMax = 1024;
inline constexpr std::size_t kCheckpointStateMaxBytes = 64 * 1024;
// The checkpoint state of all replicas together; a checkpoint that would exceed it is rejected
// (kTableFull), so the table stays kilobytes-to-megabytes whatever owners send.
inline constexpr std::size_t kCheckpointStateTotalMaxBytes = 16 * 1024 * 1024;
// Epochs are at most this, so that `epoch + 1` never wraps.
inline constexpr std::uint64_t kEpochMax = std::uint64_t{1} << 62;
// Bounds of an Assign's lease terms (W8).
inline constexpr Duration kLeaseMin = std::chrono::milliseconds(10);
inline constexpr Duration kLeaseMax = std::chrono::seconds(60);
inline constexpr Duration kStartDelayMax = std::chrono::minutes(5);

// --- Values.

struct WorkloadSpec {
  std::string name;     // [A-Za-z0-9._-], 1..64 characters; unique in the table
  std::string kind;     // [A-Za-z0-9._-], 1..32 characters ("stream")
  std::uint32_t replicas = 1;  // 1..kReplicasMax, each on a distinct node (W4)
  // A node is eligible only if its labels hold every one of these pairs (W6).
  std::map<std::string, std::string> required_labels;
  std::map<std::string, std::string> params;  // passed to the workload kind, uninterpreted

  friend bool operator==(const WorkloadSpec&, const WorkloadSpec&) = default;
};

// kInvalidArgument naming the first field out of the limits above.
Status validate_spec(const WorkloadSpec& spec);

// Who runs one replica of a workload, under which fencing token, and on which lease terms. As a
// command (Assign) it is the leader's scheduling decision.
struct Assignment {
  std::string workload;
  std::uint32_t replica = 0;  // 0 .. replicas - 1
  NodeId node;                // the owner; never zero in a command
  std::uint64_t epoch = 0;    // fencing token: above every earlier epoch of the replica (W1)
  // W8: the owner's lease lasts `lease` after it sent a Renew it then applied while owning.
  Duration lease{0};
  // W8: the owner starts running `start_delay` after applying this assignment, so that the
  // previous owner's lease has run out (0 when the replica had no owner or it was released).
  Duration start_delay{0};

  friend bool operator==(const Assignment&, const Assignment&) = default;
};

// Progress of one replica, committed by its owner: everything before `position` is done and
// `state` is what a successor needs to resume (opaque to the table).
struct Checkpoint {
  std::string workload;
  std::uint32_t replica = 0;
  std::uint64_t epoch = 0;     // the owner's fencing token (W2)
  std::uint64_t position = 0;  // never below the replica's previous checkpoint (W3)
  Bytes state;                 // at most kCheckpointStateMaxBytes

  friend bool operator==(const Checkpoint&, const Checkpoint&) = default;
};

// --- Commands.

struct AddWorkload {
  WorkloadSpec spec;
  friend bool operator==(const AddWorkload&, const AddWorkload&) = default;
};
// Removes the spec, its assignments and checkpoints; owners stop when they apply it.
struct RemoveWorkload {
  std::string name;
  friend bool operator==(const RemoveWorkload&, const RemoveWorkload&) = default;
};
// The owner of epoch `epoch` gives the replica up (graceful handoff): it has stopped running it
// (after its last checkpoint committed), and the next owner need not wait (start_delay 0).
struct Release {
  std::string workload;
  std::uint32_t replica = 0;
  std::uint64_t epoch = 0;
  friend bool operator==(const Release&, const Release&) = default;
};
// An owner's lease renewal (W8). Changes nothing in the table; `nonce` lets the owner match the
// applied entry to the moment it sent it (unique per proposal of a node, across restarts).
struct Renew {
  NodeId node;
  std::uint64_t nonce = 0;
  friend bool operator==(const Renew&, const Renew&) = default;
};

// One command of the workload table. An Assignment is the Assign command.
using Command = std::variant<AddWorkload, RemoveWorkload, Assignment, Checkpoint, Release, Renew>;

enum class CommandType : std::uint8_t {
  kAddWorkload = 1,
  kRemoveWorkload = 2,
  kAssign = 3,
  kCheckpoint = 4,
  kRelease = 5,
  kRenew = 6,
};
inline constexpr std::uint8_t kCommandTypeMax = 6;
CommandType command_type(const Command& command) noexcept;
std::string_view command_type_name(CommandType type) noexcept;

// kInvalidArgument unless the command is within the limits: a valid spec, names and replica
// indexes in range, non-zero nodes, epochs in 1..kEpochMax, lease terms within their bounds, a
// checkpoint state of at most kCheckpointStateMaxBytes. Proposers check with this first.
Status validate_command(const Command& command);

// Command layout (little-endian, ByteWriter/ByteReader): u8 version (1) | u8 type (1-6), then
//   AddWorkload:    spec
//   RemoveWorkload: str16 name
//   Assign:         str16 workload | u8 replica | node[16] | u64 epoch | u64 lease_us
//                   | u64 start_delay_us
//   Checkpoint:     str16 workload | u8 replica | u64 epoch | u64 position | u32 length | state
//   Release:        str16 workload | u8 replica | u64 epoch
//   Renew:          node[16] | u64 nonce
// spec = str16 name | str16 kind | u8 replicas | u8 label count | (str16 key | str16 value)*
//        | u8 param count | (str16 key | str16 value)*, keys strictly increasing.
// REQUIRES: validate_command(command) is ok (asserted).
Bytes encode_command(const Command& command);
// kCorrupt (with the reason) for anything but exactly one valid encoding.
Result<Command> decode_command(ByteSpan bytes);

// --- Lease arithmetic (W8).

// The time a new owner must wait, on its own clock, after the last moment the previous owner
// can have sent a renewal, so that the previous lease of `lease` has run out in real time when
// clocks run at rates within 1 +- `clock_rate_error` of real time: lease * (1 + e) / (1 - e),
// rounded up to a microsecond. REQUIRES: 0 <= clock_rate_error < 0.5.
Duration handoff_wait(Duration lease, double clock_rate_error);

// --- The table.

// Why a well-formed command had no effect. Every node rejects the same commands alike.
enum class Rejection : std::uint8_t {
  kNone = 0,
  kUnknownWorkload,     // no workload of that name
  kWorkloadExists,      // AddWorkload of a name in use
  kTableFull,           // kWorkloadsMax workloads, or the checkpoint state budget
  kBadReplica,          // replica index not below the workload's replicas
  kEpochNotNewer,       // W1: an Assign whose epoch is not above the replica's
  kNodeHoldsReplica,    // W4: the node already holds another replica of the workload
  kStaleEpoch,          // W2: a Checkpoint or Release of an older epoch
  kFutureEpoch,         // a Checkpoint or Release of an epoch never issued to the replica
  kNotAssigned,         // a Checkpoint or Release for a replica nobody holds
  kPositionBackwards,   // W3: a checkpoint below the replica's last position
};
std::string_view rejection_name(Rejection reason) noexcept;

struct ApplyResult {
  Command command;  // as decoded: the shell reacts to it (an owner matches its Renew nonces)
  Rejection rejection = Rejection::kNone;
  bool accepted() const noexcept { return rejection == Rejection::kNone; }
};

struct ReplicaState {
  NodeId node;  // zero: nobody may run the replica (never assigned, or released)
  std::uint64_t epoch = 0;  // the current fencing token (kept when released)
  Duration lease{0};        // terms of the current (or last) assignment
  Duration start_delay{0};
  std::optional<Checkpoint> checkpoint;  // the last accepted one, of this or an earlier epoch

  friend bool operator==(const ReplicaState&, const ReplicaState&) = default;
};

struct WorkloadState {
  WorkloadSpec spec;
  // The table's highest epoch when the workload was added: its replicas start there, so a
  // workload re-added under a removed name never reuses an epoch of the old one (W1).
  std::uint64_t base_epoch = 0;
  std::vector<ReplicaState> replicas;  // spec.replicas of them

  friend bool operator==(const WorkloadState&, const WorkloadState&) = default;
};
using WorkloadMap = std::map<std::string, WorkloadState, std::less<>>;

// Counters for metrics; node-local (not part of snapshots or of equality).
struct WorkloadStats {
  std::uint64_t applied = 0;    // commands that changed the table (Renew included)
  std::uint64_t rejected = 0;   // well-formed commands without effect
  std::uint64_t corrupt = 0;    // commands that did not decode
  std::map<std::string, std::uint64_t> rejected_by_reason;  // rejection_name() -> count
};

class WorkloadTable {
 public:
  WorkloadTable() = default;  // empty: the state of the bootstrap snapshot (no data)

  // Applies one committed command. kCorrupt when `command` does not decode (the table is
  // unchanged and counted; every node sees the same bytes and does the same). A well-formed
  // command that breaks a rule is not applied: the result says why (W1-W4).
  Result<ApplyResult> apply(ByteSpan command);
  // The same for a command already decoded. REQUIRES: validate_command(command) is ok.
  ApplyResult apply(const Command& command);

  // The whole table, deterministically: equal tables give equal bytes. Layout:
  //   u8 version (1) | u64 max_epoch | u16 workload count, then per workload in name order:
  //   spec | u64 base_epoch | per replica: node[16] | u64 epoch | u64 lease_us
  //   | u64 start_delay_us | u8 has_checkpoint | [u64 epoch | u64 position | u32 length | state]
  Bytes snapshot() const;
  // Rebuilds a table from snapshot() bytes, checking every invariant (check_invariants());
  // kCorrupt for anything else. An empty input is the empty table (the bootstrap snapshot).
  static Result<WorkloadTable> restore(ByteSpan bytes);

  // --- Queries. Pointers are valid until the next apply.
  const WorkloadMap& workloads() const noexcept { return workloads_; }
  const WorkloadState* find(std::string_view name) const;
  std::vector<WorkloadSpec> specs() const;  // in name order
  // Every replica with an owner, in (workload, replica) order.
  std::vector<Assignment> assignments() const;
  std::optional<Assignment> assignment(std::string_view workload, std::uint32_t replica) const;
  // The replicas `node` holds, in (workload, replica) order.
  std::vector<Assignment> owned_by(const NodeId& node) const;
  const Checkpoint* checkpoint(std::string_view workload, std::uint32_t replica) const;
  // The highest epoch ever issued (W1).
  std::uint64_t max_epoch() const noexcept { return max_epoch_; }
  std::size_t checkpoint_state_bytes() const noexcept { return state_bytes_; }
  const WorkloadStats& stats() const noexcept { return stats_; }

  // kCorrupt naming the first broken invariant: valid specs, one ReplicaState per replica,
  // epochs between base_epoch and max_epoch, checkpoints of an epoch at most the replica's and
  // within the state limits, no node holding two replicas of a workload (W4). Always ok for a
  // table built by apply(); restore() runs it, and the simulator's checker may.
  Status check_invariants() const;

  // Equal state (stats are not compared).
  friend bool operator==(const WorkloadTable& a, const WorkloadTable& b) {
    return a.max_epoch_ == b.max_epoch_ && a.workloads_ == b.workloads_;
  }

 private:
  Rejection apply_add(const AddWorkload& command);
  Rejection apply_remove(const RemoveWorkload& command);
  Rejection apply_assign(const Assignment& command);
  Rejection apply_checkpoint(const Checkpoint& command);
  Rejection apply_release(const Release& command);
  ReplicaState* replica_of(const std::string& workload, std::uint32_t replica,
                           Rejection& rejection);

  WorkloadMap workloads_;
  std::uint64_t max_epoch_ = 0;
  std::size_t state_bytes_ = 0;
  WorkloadStats stats_;
};

}  // namespace starling::consensus
