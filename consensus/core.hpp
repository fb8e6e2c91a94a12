// The consensus core: Raft (Ongaro and Ousterhout 2014; Ongaro's dissertation 2014) with
// PreVote, CheckQuorum, leader leases, pipelined and batched replication with fast
// backtracking, snapshots and log compaction, leadership transfer, learners and single-server
// configuration changes.
//
// A sans-I/O state machine in the style of etcd's raft RawNode: inputs are step(message, now),
// tick(now) and local requests (propose, propose_config_change, propose_voters,
// transfer_leadership, compact, campaign); outputs are collected with take_ready(). Time
// arrives only as `now` arguments and randomness from a seed. No sockets, threads, files or
// clocks here. Single-threaded by contract. The numbered rules it implements (C1-C17) are in
// DESIGN.md beside it; each has a test in tests/consensus/rules_test.cpp.
//
// THE SHELL'S CONTRACT (take_ready), in this order for every Ready:
//   1. If ready.must_persist(): write ready.snapshot (replacing the stored log entirely),
//      then ready.entries (first discarding every stored entry at or after
//      ready.entries.front().index), then ready.hard_state, as ONE atomic, durable write
//      (one SQLite transaction with synchronous=FULL, or fsync). Nothing of step 2 may happen
//      before it completes: a vote or an acknowledgement that is sent and then forgotten in a
//      crash can elect two leaders in one term or lose a committed entry.
//   2. Send ready.messages (best effort: loss, duplication and reordering are tolerated).
//   3. Restore the state machine from ready.snapshot if set, then apply
//      ready.committed_entries in order (kCommand entries carry application commands; kNoop
//      and kConfigChange entries need nothing from the application, the core has already
//      acted on them).
//   Readies must be handled one at a time, in the order they were taken. Events may be acted
//   on at any point.
// On restart the shell passes what it persisted (DurableState) to the constructor and restores
// its state machine from the stored snapshot; the core hands out again every committed entry
// after the snapshot.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/rng.hpp"
#include "base/time.hpp"
#include "consensus/config.hpp"
#include "consensus/log.hpp"
#include "consensus/progress.hpp"
#include "consensus/types.hpp"

namespace starling::consensus {

// Counters for metrics and the simulator's reports.
struct Stats {
  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;
  // Messages dropped without effect: malformed, addressed to another node, or inconsistent
  // with the sender's claims. By reason ("wrong_destination", "malformed", ...).
  std::uint64_t messages_rejected = 0;
  std::map<std::string, std::uint64_t> rejected_by_reason;
  std::uint64_t pre_votes_started = 0;
  std::uint64_t elections_started = 0;
  std::uint64_t elections_won = 0;
  std::uint64_t votes_ignored_in_lease = 0;  // C7: campaigns ignored while a leader is heard
  std::uint64_t check_quorum_step_downs = 0;
  std::uint64_t entries_appended = 0;        // entries added to this node's log
  std::uint64_t entries_truncated = 0;       // conflicting uncommitted entries removed (C3)
  std::uint64_t appends_sent = 0;
  std::uint64_t append_rejections = 0;       // rejections received by this node as leader
  std::uint64_t snapshots_sent = 0;
  std::uint64_t snapshots_installed = 0;
  std::uint64_t transfers_started = 0;
  std::uint64_t transfers_aborted = 0;
};

// What the shell must do after driving the core; see the file comment for the order.
struct Ready {
  // Durable state, all of it written atomically before any message below is sent.
  std::optional<Snapshot> snapshot;     // from the leader (C10): replaces the stored log
  std::vector<Entry> entries;           // overwrite stored entries from entries.front().index
  std::optional<HardState> hard_state;  // term, vote, commit
  // Messages to send once the durable state is written.
  std::vector<Message> messages;
  // Entries committed since the last Ready, to apply in order after the durable write (after
  // restoring from `snapshot` when set).
  std::vector<Entry> committed_entries;
  // Role, leader, configuration and transfer events.
  std::vector<Event> events;
  // Config::snapshot_threshold_entries entries were applied since the last snapshot: the
  // application should call compact() with a snapshot of its state.
  bool snapshot_due = false;

  // Whether step 1 of the shell's contract has anything to write.
  bool must_persist() const noexcept {
    return snapshot.has_value() || !entries.empty() || hard_state.has_value();
  }
  bool empty() const noexcept {
    return !must_persist() && messages.empty() && committed_entries.empty() && events.empty() &&
           !snapshot_due;
  }
};

// What a node persisted, given back at restart. The founding voters of a new cluster all start
// from bootstrap_state(voters); a node that will join an existing cluster (as a learner, then
// perhaps a voter) starts from an empty DurableState{} and receives the configuration with the
// leader's snapshot.
struct DurableState {
  HardState hard_state;
  Snapshot snapshot;           // the latest stored snapshot (index 0: none)
  std::vector<Entry> entries;  // the stored log; entries at or below snapshot.meta.index are
                               // ignored (the shell may delete them after compact())
};

// The durable state of a founding voter: a snapshot at index 1, term 1, with no data (the
// application's empty state) and `voters` as its configuration; term 1, commit 1. Using a
// snapshot rather than log entries means every node that joins later receives the initial
// configuration by InstallSnapshot. kInvalidArgument unless validate_voter_set(voters) is ok.
Result<DurableState> bootstrap_state(std::vector<NodeId> voters);

// kCorrupt unless `state` is consistent: a valid conf (and none for a snapshot at index 0),
// entries contiguous from at most snapshot index + 1 with terms that never decrease and are
// neither below the snapshot's nor above the hard state's term, a commit index within the log,
// decodable configuration changes.
// The shell checks what it read from disk with this before constructing the core.
Status validate_durable_state(const DurableState& state);

class Core {
 public:
  // REQUIRES: config.validate() and validate_durable_state(state) are ok, `self` is not zero
  // (asserted: the shell validates first). `seed` feeds the election timeouts; `now` starts
  // the first one.
  Core(Config config, NodeId self, DurableState state, std::uint64_t seed, Instant now);

  // --- Local requests. Times for the requests without `now` are those of the last input.

  // Appends an application command (leader only) and returns its index; it is committed when
  // it appears in Ready::committed_entries. kUnavailable when this node is not the leader (the
  // message names the leader if one is known, and leader() returns it: the shell forwards), a
  // leadership transfer is in progress, or too many bytes are uncommitted; kTooLarge above
  // Config::max_entry_bytes.
  Result<std::uint64_t> propose(Bytes command);
  // Appends a single-server configuration change (leader only, C9) and returns its index. It
  // takes effect on every node as soon as it is appended. kUnavailable as for propose(), and
  // while another change is uncommitted or the leader has not yet committed an entry of its
  // term; apply_config_change()'s codes for a change that does not apply.
  Result<std::uint64_t> propose_config_change(ConfigChange change);
  // Moves the voter set to `voters` (1, 3, 5 or 7 nodes; kInvalidArgument otherwise), one
  // single-server change at a time (C9): voters not in the target are removed first (this node
  // last), then each new voter is added as a learner and promoted once it has caught up. The
  // leader drives the steps as earlier ones commit; the target is forgotten if leadership is
  // lost (the shell asks the new leader again). kUnavailable when not the leader.
  Status propose_voters(std::vector<NodeId> voters);
  // Hands leadership to `target` (C11), or to the most up-to-date other voter when `target` is
  // zero (graceful leave). Proposals are refused until the transfer ends; it is aborted after
  // election_timeout_min (event kTransferAborted). kUnavailable when not the leader,
  // kInvalidArgument when the target is not another voter.
  Status transfer_leadership(const NodeId& target, Instant now);
  // Records a snapshot of the state machine after applying entries 1..index and compacts the
  // log (C10): the shell persists the returned metadata with `data`, then may delete stored
  // entries at or below `index`. kInvalidArgument when index is above applied_index(), kStale
  // when it is not above the current snapshot's.
  Result<SnapshotMeta> compact(std::uint64_t index, Bytes data);
  // Starts an election now (as if the election timeout ran out), with PreVote if configured.
  // Ignored by leaders and non-voters. For bootstraps and tests.
  void campaign(Instant now);

  // --- Network and time.

  // A message from the network (decoded by the shell). Messages that are malformed,
  // inconsistent or addressed to another node are counted and dropped, never asserted on.
  void step(const Message& message, Instant now);
  // Fires every timer due at `now`. Call it at next_deadline() (earlier is harmless).
  void tick(Instant now);
  // When tick() must next be called (Instant::max() when no timer is armed, e.g. learners).
  Instant next_deadline() const;
  // Takes the outputs accumulated since the last call (see the contract above).
  Ready take_ready();
  // Whether take_ready() would return something.
  bool has_ready() const;

  // --- Observers.
  const NodeId& id() const noexcept { return self_; }
  Role role() const noexcept { return role_; }
  bool is_leader() const noexcept { return role_ == Role::kLeader; }
  std::uint64_t term() const noexcept { return term_; }
  const NodeId& vote() const noexcept { return vote_; }
  // The leader of the current term as far as this node knows (zero when unknown).
  const NodeId& leader() const noexcept { return leader_; }
  std::uint64_t commit_index() const noexcept { return commit_; }
  std::uint64_t applied_index() const noexcept { return applied_; }
  const Log& log() const noexcept { return log_; }
  const SnapshotMeta& snapshot_meta() const noexcept { return snapshot_.meta; }
  // The configuration in effect: the latest in the log, committed or not (C9).
  const ConfState& conf() const noexcept { return conf_; }
  bool is_voter() const noexcept { return conf_.is_voter(self_); }
  // Whether this node starts elections when its timer runs out: it is a voter, or it was one in
  // the committed configuration and the change that removed it is not committed yet (C9; Ongaro
  // 4.2.2: it may still be needed to commit that change). Its own vote counts only if it is a
  // voter.
  bool may_campaign() const;
  // Leader only: what it knows of each other member, and of each node being removed until its
  // removal commits (empty on other roles).
  const std::map<NodeId, Progress>& progress() const noexcept { return progress_; }
  const NodeId& transfer_target() const noexcept { return transfer_target_; }
  // C15: whether this leader may serve a linearizable read from its state machine at `now`
  // without a round trip: it is the leader, CheckQuorum is on, no transfer is in progress, it
  // has committed an entry of its term, and a quorum acknowledged a heartbeat sent less than
  // election_timeout_min - lease_margin ago. The read must wait until applied_index() reaches
  // the commit_index() of the moment it was checked.
  bool has_lease(Instant now) const;
  HardState hard_state() const { return HardState{term_, vote_, commit_}; }
  const Stats& stats() const noexcept { return stats_; }
  const Config& config() const noexcept { return config_; }

 private:
  // core.cpp: state, configuration, Ready.
  void set_leader(const NodeId& leader);
  void set_role(Role role);
  void emit(Event event);
  void send(Message message);
  void reject(const char* reason);
  Status not_leader_status() const;
  Status check_can_propose() const;
  std::uint64_t append_as_leader(EntryType type, Bytes data);
  void on_entries_appended(std::uint64_t first);
  void on_log_truncated(std::uint64_t from);
  void update_conf();
  void count_votes(std::size_t& granted, std::size_t& rejected) const;
  ConfState conf_at(std::uint64_t index) const;
  bool has_pending_conf() const;
  bool committed_in_term() const;
  void commit_to(std::uint64_t index);
  bool well_formed(const Message& message) const;

  // core_election.cpp: roles, elections, votes, CheckQuorum, leases, transfer.
  void become_follower(std::uint64_t term, const NodeId& leader);
  void become_pre_candidate();
  void become_candidate(bool transfer);
  void become_leader();
  void reset_election_timer();
  void start_campaign();
  bool in_lease() const;
  bool on_higher_term(const Message& message);
  void on_lower_term(const Message& message);
  void on_vote_request(const Message& message);
  void on_vote_response(const Message& message);
  void on_timeout_now(const Message& message);
  void tick_leader();
  void check_quorum();
  void abort_transfer();
  void send_timeout_now(const NodeId& to);
  std::optional<NodeId> most_up_to_date_voter() const;

  // core_replication.cpp: AppendEntries, heartbeats, snapshots, commit, voter targets.
  void on_append(const Message& message);
  void on_heartbeat(const Message& message);
  void on_snapshot(const Message& message);
  void on_leader_message(const Message& message);
  bool accept_entries(const Message& message);
  void on_append_response(const Message& message);
  void on_heartbeat_response(const Message& message);
  bool maybe_send_append(const NodeId& to, bool send_if_empty);
  void send_snapshot(const NodeId& to, Progress& progress);
  void broadcast_append(bool send_if_empty);
  void broadcast_heartbeat();
  bool maybe_commit();
  void after_commit();
  void sync_progress();
  void maybe_advance_voters();
  void respond(const Message& to, Message response);
  bool paused(const Progress& progress) const;
  void become_probe(Progress& progress);
  void become_replicate(Progress& progress);
  bool maybe_decrease(Progress& progress, const Message& message);

  Config config_;
  NodeId self_;
  Rng rng_;
  Instant now_{};

  // Persistent state (HardState) and the log.
  std::uint64_t term_ = 0;
  NodeId vote_;
  std::uint64_t commit_ = 0;
  Log log_;
  Snapshot snapshot_;  // the latest snapshot: sent to followers that need it (C10)

  // Configuration: the snapshot's, then the one after each config entry in the log (C9).
  ConfState conf_;
  std::map<std::uint64_t, ConfState> conf_entries_;  // config entry index -> conf after it

  // Volatile state.
  Role role_ = Role::kFollower;
  NodeId leader_;
  std::uint64_t applied_ = 0;
  Instant election_deadline_ = Instant::max();
  // When this node last heard from a leader of its term, or started (C7, C15): campaigns are
  // ignored until election_timeout_min after it. Starting counts as hearing from a leader
  // because a restarted follower may have acknowledged a lease it no longer remembers.
  Instant heard_from_leader_at_ = Instant::min();
  std::map<NodeId, bool> votes_;  // candidate: voter -> granted

  // Leader state.
  std::map<NodeId, Progress> progress_;
  Instant heartbeat_deadline_ = Instant::max();
  std::uint64_t heartbeat_rounds_ = 0;  // heartbeats broadcast (learners get every Nth)
  Instant check_quorum_deadline_ = Instant::max();
  std::uint64_t uncommitted_bytes_ = 0;
  NodeId transfer_target_;
  Instant transfer_deadline_ = Instant::max();
  std::optional<std::vector<NodeId>> voter_target_;
  bool timeout_now_sent_ = false;  // no lease for the rest of the term once sent (C15)

  // What the next Ready must carry.
  HardState persisted_;                            // the hard state last handed out
  std::uint64_t unstable_from_ = UINT64_MAX;       // lowest index changed since the last Ready
  bool snapshot_pending_ = false;                  // snapshot_ must be persisted and restored
  Ready ready_;
  Stats stats_;
};

}  // namespace starling::consensus
