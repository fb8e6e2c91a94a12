// The membership core: SWIM failure detection with suspicion and incarnation-based refutation,
// Lifeguard local health awareness and suspicion timeouts, piggy-backed infection-style
// dissemination, push-pull anti-entropy, join, leave and per-member metadata.
//
// A sans-I/O state machine in the style of etcd's raft RawNode: inputs are step(message),
// tick(now) and local requests (join, leave, set_metadata); outputs are collected with
// take_ready() (messages to send, events, the incarnation to persist before sending). Time
// arrives only as `now` arguments and randomness from a seed; records are sealed and checked
// through the injected RecordCodec. No sockets, threads, files, clocks or libsodium here.
// Single-threaded by contract. The numbered rules it implements are in DESIGN.md beside it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/membership/broadcast_queue.hpp"
#include "agent/membership/config.hpp"
#include "agent/membership/types.hpp"
#include "base/rng.hpp"

namespace starling::membership {

// Counters for metrics and the simulator's reports.
struct Stats {
  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;
  std::uint64_t records_applied = 0;
  std::uint64_t records_stale = 0;     // dropped without a signature check: nothing new in them
  std::uint64_t records_rejected = 0;  // failed to decode or verify
  std::uint64_t verifications = 0;
  std::map<std::string, std::uint64_t> rejected_by_reason;  // status code name -> count
  std::uint64_t probes = 0;
  std::uint64_t probes_failed = 0;
  std::uint64_t indirect_probes = 0;
  std::uint64_t suspicions_raised = 0;
  std::uint64_t deaths_declared = 0;
  std::uint64_t refutations = 0;
  std::uint64_t push_pulls = 0;       // full-state exchanges started
  std::uint64_t state_digests = 0;    // digests sent instead of a full state (R13)
};

// What the shell must do after driving the core.
struct Ready {
  // Send these (best effort: loss is expected and tolerated).
  std::vector<Outbound> messages;
  // Tell the application.
  std::vector<Event> events;
  // When set: persist this incarnation durably BEFORE sending `messages`, so that a restart
  // never reuses an incarnation this node already announced.
  std::optional<std::uint64_t> incarnation_to_persist;
};

class Core {
 public:
  struct Self {
    NodeId id;
    std::string address;
    Metadata meta;
    // The incarnation persisted by an earlier run (0 on first start); this run announces a
    // higher one, so that its alive record supersedes anything said about the previous run.
    std::uint64_t persisted_incarnation = 0;
  };

  // REQUIRES: config.validate() is ok and self.meta passes validate_metadata (asserted:
  // the shell validates user input first). `codec` must outlive the core.
  Core(Config config, Self self, RecordCodec& codec, std::uint64_t seed, Instant now);

  // Starts joining through `seed_addresses` (retried until one answers). With no seeds this
  // node starts a new swarm and counts as joined at once.
  void join(const std::vector<std::string>& seed_addresses, Instant now);
  // Announces a graceful leave: others will mark this node `left`, not `dead`. The shell keeps
  // stepping the core until leave_propagated() or its own deadline, then stops.
  void leave(Instant now);
  // Replaces this node's metadata (a new alive record with a higher meta_version).
  Status set_metadata(Metadata meta, Instant now);

  // A message from the network. Unknown or malformed content is counted and ignored.
  void step(const Message& message, Instant now);
  // Fires every timer due at `now`. Call it at next_deadline() (calling it earlier is harmless).
  void tick(Instant now);
  // When tick() must next be called.
  Instant next_deadline() const;
  // Takes the outputs accumulated since the last call.
  Ready take_ready();

  const NodeId& id() const noexcept { return self_.id; }
  std::uint64_t incarnation() const noexcept { return incarnation_; }
  const std::map<NodeId, Member>& members() const noexcept { return members_; }
  const Member* find(const NodeId& id) const;
  // Members in each status, this node included.
  std::size_t count(MemberStatus status) const;
  bool joined() const noexcept { return joined_; }
  bool has_left() const noexcept { return left_; }
  bool leave_propagated() const noexcept { return left_ && broadcasts_.empty(); }
  // Lifeguard health score: 0 is healthy; timeouts are stretched by (score + 1).
  int health_score() const noexcept { return health_; }
  const Stats& stats() const noexcept { return stats_; }
  const Config& config() const noexcept { return config_; }
  // A 16-byte digest of this node's view: for every member, itself included, in id order, its
  // id, incarnation, meta_version and status. Two nodes with the same view have the same
  // digest; the periodic push-pull sends it instead of the full state (Config::push_pull_digest).
  Bytes state_digest() const;

 private:
  // A probe this node runs (one at a time, SWIM).
  struct Probe {
    std::uint32_t sequence = 0;
    NodeId target;
    Instant direct_deadline;  // then indirect probes
    Instant end_deadline;     // then the probe has failed
    bool indirect_sent = false;
    int expected_nacks = 0;
    int nacks = 0;
  };
  // A probe run on behalf of another node (answering a ping request).
  struct Relay {
    NodeId origin;
    std::string origin_address;
    std::uint32_t origin_sequence = 0;
    Instant deadline;
  };
  struct Suspicion {
    Instant started;
    SuspicionBounds bounds;
    std::set<NodeId> accusers;
    Instant deadline;
    // Rule R3: when the timeout first runs out, one last direct probe (carrying the suspicion)
    // is sent and the deadline moves by a probe timeout; only then is the member declared dead.
    bool last_probe_sent = false;
    std::uint32_t last_probe_sequence = 0;
  };
  // An indexable set of node ids with O(1) insert, erase and random pick.
  class Pool {
   public:
    void insert(const NodeId& id);
    void erase(const NodeId& id);
    bool contains(const NodeId& id) const { return index_.count(id) != 0; }
    std::size_t size() const noexcept { return ids_.size(); }
    const std::vector<NodeId>& ids() const noexcept { return ids_; }
    const NodeId& at(std::size_t i) const { return ids_[i]; }

   private:
    std::vector<NodeId> ids_;
    std::unordered_map<NodeId, std::size_t> index_;
  };

  // core.cpp: records and state.
  Member* lookup(const NodeId& id);
  const Member* lookup(const NodeId& id) const;
  Member& member_at(const NodeId& id);
  void receive_record(ByteSpan bytes, Instant now);
  bool is_news(const MemberRecord& record, ByteSpan bytes) const;
  bool is_news_about_self(const MemberRecord& record, ByteSpan bytes) const;
  void apply(const MemberRecord& record, Bytes bytes, Instant now);
  void apply_alive(const MemberRecord& record, Bytes bytes, Instant now);
  void apply_suspect(const MemberRecord& record, Bytes bytes, Instant now);
  void apply_dead_or_left(const MemberRecord& record, Bytes bytes, Instant now);
  void refute(std::uint64_t accused_incarnation, Instant now);
  void announce_alive(Instant now);
  // A record of `type` about `subject` at `incarnation`, signed by this node (suspicion, death
  // or leave); sealed by the caller.
  MemberRecord own_record(RecordType type, const NodeId& subject,
                          std::uint64_t incarnation) const;
  void set_status(Member& member, MemberStatus status, Instant now);
  void set_alive_record(Member& member, Bytes record);
  void emit(EventType type, const Member& member, Instant now, const NodeId& source);
  void reject(const Status& status);
  std::size_t swarm_size() const noexcept { return live_.size() + 1; }
  Duration scaled(Duration d) const { return d * (health_ + 1); }
  void adjust_health(int delta);

  // core_probe.cpp: failure detection.
  void tick_probe(Instant now);
  void start_probe(Instant now);
  void send_indirect_probes(Instant now);
  void finish_probe(bool acked, Instant now);
  std::optional<NodeId> next_probe_target();
  void suspect(const NodeId& id, Instant now);
  void tick_suspicions(Instant now);
  void send_last_probe(const NodeId& id, Suspicion& suspicion, Instant now);
  void tick_relays(Instant now);
  void on_ping(const Message& message);
  void on_ping_request(const Message& message, Instant now);
  void on_ack(const Message& message, Instant now);
  void on_nack(const Message& message);

  // core_gossip.cpp: dissemination, anti-entropy, join, leave.
  void send(const std::string& address, const NodeId& to, Message message, bool piggyback);
  void send_to(const NodeId& to, Message message, bool piggyback);
  void broadcast(const NodeId& subject, const Bytes& record);
  std::vector<Bytes> full_state() const;
  void on_state_digest(const Message& message, Instant now);
  void tick_gossip(Instant now);
  void tick_push_pull(Instant now);
  void tick_reconnect(Instant now);
  void tick_join(Instant now);
  void send_join(Instant now);
  void on_push_pull(const Message& message, Instant now);
  void reap_tombstones(Instant now);
  std::vector<NodeId> pick_random(const Pool& pool, std::size_t k, const NodeId& exclude);

  Config config_;
  Self self_;
  RecordCodec& codec_;
  Rng rng_;
  std::uint64_t incarnation_ = 0;
  std::uint64_t meta_version_ = 0;
  bool incarnation_dirty_ = false;
  int health_ = 0;
  bool joined_ = false;
  bool left_ = false;
  bool quiet_ = false;  // while merging the answer to this node's join: see step()
  bool stale_accusation_ = false;  // the message being stepped accused this node, stalely
  std::vector<std::string> seeds_;

  std::map<NodeId, Member> members_;  // ordered: full states and reports iterate in id order
  // Hash index into members_ (std::map nodes never move): lookups are on every record and
  // message, and tree walks over thousands of members dominated simulation profiles.
  std::unordered_map<NodeId, Member*> index_;
  // Fingerprints of the alive records held: a full state repeats every record this node has,
  // and recognising them by fingerprint and byte comparison skips decoding them (R2).
  std::unordered_map<std::uint64_t, NodeId> alive_fingerprints_;
  Pool live_;                         // alive or suspect, self excluded
  Pool dead_;                         // dead (not left): reconnect candidates
  std::map<NodeId, Suspicion> suspicions_;
  std::set<std::pair<Instant, NodeId>> suspicion_deadlines_;
  BroadcastQueue broadcasts_;

  std::optional<Probe> probe_;
  std::vector<NodeId> probe_order_;
  std::size_t probe_index_ = 0;
  std::map<std::uint32_t, Relay> relays_;
  std::uint32_t next_sequence_ = 1;

  Instant next_probe_at_;
  Instant next_gossip_at_;
  Instant next_push_pull_at_;
  Instant next_reconnect_at_;
  Instant next_join_at_ = Instant::max();

  Ready ready_;
  Stats stats_;
};

}  // namespace starling::membership
