// Consensus configuration: timing, batching, flow control and compaction knobs, each with its
// default and the reason for it. Value type; validate() runs at construction of the core.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/status.hpp"
#include "base/time.hpp"

namespace starling::consensus {

struct Config {
  // How often a leader sends heartbeats (and retries stalled replication). 100 ms is etcd's
  // default for a LAN: one tenth of the minimum election timeout, so ~9 heartbeats in a row can
  // be lost or late before anyone campaigns, and an idle 5-voter leader sends 40 heartbeats/s.
  Duration heartbeat_interval = std::chrono::milliseconds(100);
  // Each follower waits a timeout drawn uniformly from [min, max) without hearing from a leader
  // before it campaigns (redrawn every time the timer restarts, C16). 1 s is etcd's default
  // and sits well above a LAN round trip plus an fsync on eMMC/SD storage (tens of ms) and above
  // the ~1 s loop stalls the membership profile tolerates; a range as wide as the minimum makes
  // two candidates' timers differ by far more than a round trip, so split votes are rare.
  // The minimum is also the leader lease and the CheckQuorum period (C7, C15).
  Duration election_timeout_min = std::chrono::milliseconds(1000);
  Duration election_timeout_max = std::chrono::milliseconds(2000);
  // Learners get only every Nth heartbeat (they do not vote, so they need no fast liveness
  // signal; commit advances reach them at once with the leader's appends). 1: every heartbeat.
  // The agent sets 10: with 15 learners that is most of an idle leader's traffic saved.
  std::uint32_t learner_heartbeat_rounds = 1;
  // PreVote (C6): campaign only if a quorum would vote, so that a node coming back from a
  // partition does not force a healthy leader out by raising the term.
  bool pre_vote = true;
  // CheckQuorum (C7): a leader steps down when it has not heard from a quorum of voters for an
  // election timeout, and followers ignore campaigns while they hear from a leader. Required for
  // leader leases (has_lease()).
  bool check_quorum = true;
  // A leader lease lasts election_timeout_min minus this margin, counted from the send time of
  // the heartbeat a quorum acknowledged. The margin covers clock-rate differences between the
  // leader and its followers (crystals drift by < 100 ppm; 150 ms of 1 s allows 15%) and the
  // delay between checking the lease and serving the read.
  Duration lease_margin = std::chrono::milliseconds(150);
  // At most this many entries and bytes (entry_size()) in one AppendEntries. 64 entries and
  // 256 KiB keep a message well under the transport's limit and its fsync short, while a burst
  // of small workload-table updates still goes out in one message.
  std::size_t max_append_entries = 64;
  std::size_t max_append_bytes = 256 * 1024;
  // AppendEntries in flight per follower before the leader waits for acknowledgements
  // (pipelining, C13). 16 x 256 KiB bounds what one slow follower can queue in the transport.
  std::size_t max_inflight_appends = 16;
  // propose() refuses commands larger than this (kTooLarge). A workload-table update is a few
  // hundred bytes; 1 MiB leaves room for checkpoints while keeping entries below a batch.
  std::size_t max_entry_bytes = 1024 * 1024;
  // propose() refuses a command that would take the leader's uncommitted entries (counted with
  // entry_size()) above this many bytes (kUnavailable), unless none are uncommitted: without a
  // quorum nothing commits, and the log must not grow without bound. 8 MiB is seconds of the
  // workload table's peak proposal rate.
  std::size_t max_uncommitted_bytes = 8 * 1024 * 1024;
  // Ready::snapshot_due is set once this many entries were applied since the last snapshot. The
  // workload table is small (kilobytes), so a snapshot is cheap and 4096 entries keep the log
  // of each voter at a few MiB at most.
  std::uint64_t snapshot_threshold_entries = 4096;
  // compact() keeps this many entries before the snapshot index in memory, so that a follower
  // a little behind is caught up from the log instead of with a whole snapshot.
  std::uint64_t compaction_trailing_entries = 256;

  // CANARIES FOR THE CHECKERS ONLY. Each breaks one safety rule on purpose, so that a test can
  // prove the outside checkers catch an unsafe protocol. The agent refuses them.
  // Votes are granted without the up-to-date log check (breaks C4 leader completeness).
  bool testing_unsafe_vote_without_log_check = false;
  // Entries of earlier terms commit by counting replicas (breaks C8, Raft paper figure 8).
  bool testing_unsafe_commit_earlier_terms = false;

  // kInvalidArgument naming the first field out of range.
  Status validate() const;
};

}  // namespace starling::consensus
