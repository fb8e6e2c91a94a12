// The consensus controller: everything a node does with the Raft core and the workload table
// besides I/O, shared by the agent (starlingd) and the deterministic simulator so that both run
// the same code. It
//  - bootstraps a cluster: the first `bootstrap_expect` eligible members (by node id), once
//    membership has shown at least that many for `bootstrap_settle` and none of them advertises
//    a cluster, found it with bootstrap_state(); every other node waits and is added by the
//    leader as a learner (it adopts the cluster of the first leader message it receives);
//  - frames the core's messages with the cluster id (messages of another cluster are dropped)
//    and forwards proposals made on a follower to the leader (kinds below);
//  - as leader: keeps the voter set at the largest odd size <= `voters` among live members
//    holding `voter_labels` (dead voters are replaced, C9), adds every other live member as a
//    learner and removes learners dead for `learner_grace`, and runs the scheduler (W4-W9) when
//    membership or the table changes and periodically, with `quiet_for` measured from its
//    election and from its proposals of each node's Renews (W8);
//  - as owner: the three conditions of W8 (replica_state()), a Renew every lease / 3 (and at
//    once after applying its own Assign), Checkpoints from the runner, a Release for every
//    replica it held before a restart, on a graceful leave, and when it stops being eligible.
//
// Sans I/O like the core: time comes in as `now`, randomness from `seed`, and what the shell
// must do comes out of take_output(). THE SHELL'S CONTRACT for every Output, in order:
//   1. If must_persist(): write `cluster` (once), `snapshot` (replacing the stored log),
//      `entries` (discarding stored entries at or after the first one's index), `hard_state`,
//      and `compacted` (a snapshot of the applied table: store it and delete stored entries at
//      or below its index), as ONE atomic, durable write.
//   2. Send `messages` (best effort).
//   3. Only then act on queries (replica_state(), runnable()): the controller has already
//      applied the committed entries to its table, and what they allow must not be acted on
//      before the write in step 1.
// On restart the shell passes what it persisted to the constructor.
// Single-threaded by contract.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/bytes.hpp"
#include "base/node_id.hpp"
#include "base/status.hpp"
#include "base/time.hpp"
#include "consensus/codec.hpp"
#include "consensus/config.hpp"
#include "consensus/core.hpp"
#include "consensus/scheduler.hpp"
#include "consensus/workloads.hpp"

namespace starling::consensus {

struct ControllerOptions {
  Config raft;
  // Target voter count (1, 3, 5 or 7): the leader keeps the largest odd number of voters not
  // above it that the live eligible members allow.
  std::size_t voters = 5;
  // Members eligible as voters must hold these labels (empty: every member).
  std::map<std::string, std::string> voter_labels;
  // Founding voters of a new cluster (1, 3, 5 or 7, at most `voters`). A swarm of fewer
  // eligible members never founds one: set 1 for a single agent.
  std::size_t bootstrap_expect = 3;
  // The eligible members must have been the same for this long before a cluster is founded,
  // so that nodes whose views still differ do not found two.
  Duration bootstrap_settle = std::chrono::milliseconds(1500);
  // This node's labels and capacity as the scheduler and the voter choice see them.
  std::map<std::string, std::string> labels;
  std::uint32_t capacity = 1;
  SchedulerOptions scheduler;
  // The leader schedules at least this often even when nothing seems to change.
  Duration reschedule_interval = std::chrono::seconds(1);
  // A forwarded proposal without an answer after this is reported as kUnavailable.
  Duration forward_timeout = std::chrono::seconds(2);
  // Learners not live for this long are removed from the configuration.
  Duration learner_grace = std::chrono::seconds(10);
  // Nonces of this node's Renews start here: unique per process start (the agent uses its
  // incarnation << 32), so that a Renew sent before a restart never anchors a later lease.
  std::uint64_t nonce_base = 0;
  // CANARY FOR THE CHECKERS ONLY: owners run replicas without waiting for the start delay or
  // a valid lease (breaks W8). The agent refuses it.
  bool testing_skip_lease_check = false;

  // kInvalidArgument naming the first field out of range.
  Status validate() const;
};

// A live member as the shell's membership sees it (this node excluded).
struct PeerView {
  NodeId id;
  std::map<std::string, std::string> labels;
  std::uint32_t capacity = 1;
  std::uint64_t cluster = 0;  // the cluster it advertises (0: none yet)
  bool suspect = false;       // membership suspects it (not yet dead)
};

// How a replica this node holds stands (W8).
enum class ReplicaRun : std::uint8_t {
  kStarting,   // (b): waiting for the Assign's start delay
  kWaiting,    // (c): no applied Renew anchors a lease yet, or the lease ran out
  kRunning,    // may run now
  kReleasing,  // held from before a restart, or being given up: never run
};
std::string_view replica_run_name(ReplicaRun run) noexcept;

struct HeldReplica {
  std::string workload;
  std::uint32_t replica = 0;
  std::uint64_t epoch = 0;
  ReplicaRun run = ReplicaRun::kWaiting;
  std::optional<Instant> lease_until;  // when the current lease runs out
};

// The answer to a proposal made with submit().
struct ProposalResult {
  std::uint64_t request = 0;
  Status status;           // ok: appended to the leader's log at `index` (not yet committed)
  std::uint64_t index = 0;
};

struct ControllerOutput {
  // Step 1: durable state.
  std::optional<std::uint64_t> cluster;
  std::optional<Snapshot> snapshot;
  std::vector<Entry> entries;
  std::optional<HardState> hard_state;
  std::optional<Snapshot> compacted;
  // Step 2: messages (controller frames, see encode_frame()).
  std::vector<std::pair<NodeId, Bytes>> messages;
  // Then: answers to proposals, the core's events, and table changes applied.
  std::vector<ProposalResult> proposals;
  std::vector<Event> events;
  std::vector<ApplyResult> applied;  // every committed command, accepted or rejected

  bool must_persist() const noexcept {
    return cluster.has_value() || snapshot.has_value() || !entries.empty() ||
           hard_state.has_value() || compacted.has_value();
  }
  bool empty() const noexcept {
    return !must_persist() && messages.empty() && proposals.empty() && events.empty() &&
           applied.empty();
  }
};

// What a node persisted, given back at restart.
struct ControllerDurable {
  std::uint64_t cluster = 0;  // 0: not in a cluster yet
  DurableState raft;
};

struct ControllerStats {
  std::uint64_t frames_in = 0;
  std::uint64_t frames_out = 0;
  std::map<std::string, std::uint64_t> dropped;  // by reason: corrupt, foreign_cluster, ...
  std::uint64_t forwarded = 0;       // proposals sent to the leader
  std::uint64_t forwards_served = 0;  // proposals proposed for another node
  std::uint64_t schedules = 0;       // scheduler runs that proposed something
  std::uint64_t assigns_proposed = 0;
  std::uint64_t renews_sent = 0;
  std::uint64_t releases_sent = 0;
  std::uint64_t checkpoints_sent = 0;
};

// --- Frames: what the controllers send each other (inside the agent's envelope, type 32).
//   u8 version (1) | u8 kind | u64 cluster | payload
//   kind 1 raft:    an encoded consensus Message (codec.hpp)
//   kind 2 propose: u64 request | u32 length | command (encode_command)
//   kind 3 reply:   u64 request | u8 status code | u64 index | u16 length | message
enum class FrameKind : std::uint8_t { kRaft = 1, kPropose = 2, kReply = 3 };
struct Frame {
  FrameKind kind = FrameKind::kRaft;
  std::uint64_t cluster = 0;
  Message raft;             // kRaft
  std::uint64_t request = 0;  // kPropose, kReply
  Bytes command;            // kPropose
  StatusCode code = StatusCode::kOk;  // kReply
  std::uint64_t index = 0;            // kReply
  std::string message;                // kReply
};
Bytes encode_frame(const Frame& frame);
// kCorrupt for anything but exactly one valid frame.
Result<Frame> decode_frame(ByteSpan bytes, const CodecLimits& limits = {});

// The cluster id of a founding voter set: non-zero, the same on every node.
std::uint64_t cluster_id_of(const std::vector<NodeId>& founders);

class Controller {
 public:
  // What the shell read from disk must pass this before it is given to the constructor: the
  // Raft state (validate_durable_state), a snapshot the workload table restores, a cluster id
  // whenever there is state.
  static Status check_durable(const ControllerDurable& durable);

  // REQUIRES: options.validate() ok, check_durable(durable) ok, `self` non-zero.
  Controller(ControllerOptions options, NodeId self, ControllerDurable durable,
             std::uint64_t seed, Instant now);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // --- Inputs.
  // The live members (alive or suspect) other than this node, with what they advertise.
  void set_peers(std::vector<PeerView> peers, Instant now);
  // A frame from `from` (authenticated by the shell). Malformed frames are counted and dropped.
  void receive(const NodeId& from, ByteSpan frame, Instant now);
  void tick(Instant now);
  Instant next_deadline() const;

  // Proposes a command: on the leader directly, elsewhere forwarded to the leader. Returns the
  // request id whose ProposalResult comes out of a later take_output() (or now, for a leader).
  // kInvalidArgument for an invalid command, kUnavailable when no leader is known.
  Result<std::uint64_t> submit(const Command& command, Instant now);
  // The runner's progress for a replica this node runs: proposes a Checkpoint when the replica
  // is held under `epoch`. The runner must have made its output durable first.
  Status checkpoint(const std::string& workload, std::uint32_t replica, std::uint64_t epoch,
                    std::uint64_t position, Bytes state, Instant now);
  // Graceful leave: stops running everything, releases every held replica, and hands
  // leadership to another voter when leading.
  void leave(Instant now);

  ControllerOutput take_output();
  bool has_output() const;

  // --- Queries.
  // Whether this node may run (workload, replica) under `epoch` at `now` (W8).
  bool may_run(const std::string& workload, std::uint32_t replica, std::uint64_t epoch,
               Instant now) const;
  // Every replica this node holds in its applied table, with how it stands at `now`.
  std::vector<HeldReplica> held(Instant now) const;
  const WorkloadTable& table() const noexcept { return table_; }
  const Core* core() const noexcept { return core_.get(); }
  std::uint64_t cluster() const noexcept { return cluster_; }
  bool is_leader() const noexcept { return core_ && core_->is_leader(); }
  NodeId leader() const;
  std::uint64_t term() const;
  const ControllerStats& stats() const noexcept { return stats_; }
  const NodeId& id() const noexcept { return self_; }
  // The live members as the scheduler last saw them (leader) or as set_peers gave them.
  std::size_t peer_count() const noexcept { return peers_.size(); }

 private:
  struct Held {
    std::uint64_t epoch = 0;
    Instant applied_at{};
    Duration start_delay{0};
    Duration lease{0};
    std::optional<Instant> anchor;  // send time of the latest applied own Renew
    bool releasing = false;
    Instant release_sent_at = Instant::min();
  };
  struct Forward {
    Instant deadline;
  };

  bool eligible_voter(const std::map<std::string, std::string>& labels) const;
  void maybe_bootstrap(Instant now);
  void drive(Instant now);
  void collect_ready(Instant now);
  void apply_entry(const Entry& entry, Instant now);
  void on_applied(const ApplyResult& result, std::uint64_t index, Instant now);
  void restore_table(const Snapshot& snapshot, Instant now);
  void send_frame(const NodeId& to, Frame frame);
  void on_propose_frame(const NodeId& from, Frame frame, Instant now);
  Result<std::uint64_t> propose_local(const Command& command, Instant now);
  void owner_duties(Instant now);
  void leader_duties(Instant now);
  void manage_voters(Instant now);
  void run_scheduler(Instant now);
  std::vector<Member> live_members(Instant now) const;
  Duration quiet_for(const NodeId& node, Instant now) const;
  ReplicaRun run_of(const Held& held, Instant now) const;
  void send_renew(Instant now);

  ControllerOptions options_;
  NodeId self_;
  std::uint64_t seed_;
  std::uint64_t cluster_ = 0;
  bool cluster_dirty_ = false;
  std::unique_ptr<Core> core_;
  WorkloadTable table_;
  // Entries at or below this index were applied before the last restart: replicas they give
  // this node are released, never resumed (W8).
  std::uint64_t restart_commit_ = 0;
  bool leaving_ = false;

  // Membership.
  std::vector<PeerView> peers_;
  std::map<NodeId, Instant> last_live_;  // when each node was last in the peer set
  std::map<NodeId, Instant> heard_at_;   // when a raft frame last came from each node
  std::set<NodeId> bootstrap_view_;
  Instant bootstrap_view_since_{};

  // Owner state.
  std::map<std::pair<std::string, std::uint32_t>, Held> held_;
  std::map<std::uint64_t, Instant> renews_in_flight_;  // nonce -> send time
  std::uint64_t next_nonce_ = 0;
  Instant next_renew_at_ = Instant::max();

  // Leader state.
  Instant elected_at_{};
  std::uint64_t term_start_index_ = 0;
  std::map<NodeId, Instant> renew_proposed_at_;
  // Per replica: the leader-clock time before which the owner of this leader's latest Assign
  // could not have started (proposal time + start delay); floors later moves (run_scheduler).
  std::map<std::pair<std::string, std::uint32_t>, Instant> clear_at_;
  bool schedule_dirty_ = true;
  Instant next_schedule_at_{};
  std::uint64_t schedule_pending_index_ = 0;
  std::vector<NodeId> voter_target_;
  Instant voter_target_at_ = Instant::min();
  Instant next_membership_change_at_{};

  // Forwarding.
  std::uint64_t next_request_ = 1;
  std::map<std::uint64_t, Forward> forwards_;

  ControllerOutput out_;
  ControllerStats stats_;
  Instant now_{};
};

}  // namespace starling::consensus
